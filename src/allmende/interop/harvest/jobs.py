"""The ``harvest`` job (one queued run) and the periodic task that queues scheduled runs."""

from __future__ import annotations

from typing import Any

from allmende.interop.harvest import service
from allmende.jobs.worker import JobContext
from allmende.platform import Platform

#: How often the worker looks for sources whose schedule is due.
SCHEDULE_CHECK_SECONDS = 60.0


def harvest_job(context: JobContext) -> dict[str, Any]:
    report = service.execute(context.platform, int(context.payload["run"]))
    error = service.failed_run(report)
    if error is not None:  # the run's report is kept; the job ends failed with its reason
        raise error
    return report.report()


def queue_scheduled(platform: Platform) -> None:
    service.queue_due(platform)
