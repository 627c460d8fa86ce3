"""Runs jobs: one at a time per worker, each handler in its own unit of work."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from allmende.access.accounts import actor_for
from allmende.access.policy import ANONYMOUS, Actor
from allmende.db.models import Job, User
from allmende.errors import AllmendeError
from allmende.jobs import queue
from allmende.platform import Platform

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a handler gets: the platform, the job's payload and who asked for it."""

    platform: Platform
    job_id: int
    payload: dict[str, Any]
    actor: Actor

    def progress(self, fraction: float, message: str) -> None:
        with self.platform.db.sessions() as session:
            queue.report(session, self.job_id, fraction, message)


Handler = Callable[[JobContext], dict[str, Any]]


def handlers() -> dict[str, Handler]:
    """Every job kind and the function that does it."""
    from allmende.harmonize.jobs import consolidate_job, harmonize_job
    from allmende.ingest.jobs import ingest_job

    return {"ingest": ingest_job, "harmonize": harmonize_job, "consolidate": consolidate_job}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def execute(platform: Platform, job: Job) -> None:
    """Run one claimed job to its end: done with a result, or failed with a clear error."""
    with platform.db.sessions() as session:
        user = session.get(User, job.created_by_id) if job.created_by_id else None
        actor = actor_for(user) if user else ANONYMOUS
    context = JobContext(platform, job.id, job.payload, actor)
    handler = handlers().get(job.kind)
    try:
        if handler is None:
            raise AllmendeError(f"Unbekannte Auftragsart „{job.kind}“.", "unknown_job", 500)
        result = handler(context)
    except AllmendeError as error:
        with platform.db.sessions() as session:
            queue.fail(session, job.id, error)
        return
    except Exception:
        log.exception("job %s (%s) failed", job.id, job.kind)
        with platform.db.sessions() as session:
            queue.fail(session, job.id, AllmendeError(
                "Bei der Verarbeitung ist ein interner Fehler aufgetreten. Die vorherige "
                "Version bleibt unverändert.", "internal", 500))
        return
    with platform.db.sessions() as session:
        queue.finish(session, job.id, result)


def run_once(platform: Platform, name: str | None = None) -> bool:
    """Claim and run one job; False when the queue was empty."""
    with platform.db.sessions() as session:
        job = queue.claim(session, name or worker_name())
    if job is None:
        return False
    execute(platform, job)
    return True


def run_until(platform: Platform, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Work through the queue until ``stop`` is set; wait ``poll_seconds`` when it is empty."""
    with platform.db.sessions() as session:
        for job_id in queue.fail_stale(session):
            log.warning("job %s was interrupted and is marked failed", job_id)
    while not stop.is_set():
        if not run_once(platform):
            stop.wait(poll_seconds)
