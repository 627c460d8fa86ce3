"""The ``harmonize`` and ``consolidate`` background jobs."""

from __future__ import annotations

from typing import Any

from allmende.db.models import Consolidation, Job
from allmende.harmonize import service
from allmende.jobs.worker import JobContext


def harmonize_job(context: JobContext) -> dict[str, Any]:
    report = service.harmonize_resource(context.platform, context.payload["resource"],
                                        context.attempt)
    if report is None:
        return {"harmonized": False}
    return {"harmonized": True, "schema": report.schema_name, "score": report.score,
            "valid": report.valid, "table_version": report.table_version}


def consolidate_job(context: JobContext) -> dict[str, Any]:
    schema = context.payload["schema"]
    with context.platform.db.sessions() as session:
        queued = session.get(Job, context.job_id)
        done = session.get(Consolidation, schema)
        # A rebuild that started after this job was queued already includes its change.
        if queued is not None and done is not None and done.rebuilt_at > queued.created_at:
            return {"schema": schema, "skipped": True}
    record = service.consolidate(context.platform, schema, context.attempt)
    return {"schema": schema, "sources": len(record.sources), "skipped": False}
