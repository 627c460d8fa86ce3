"""The ``ingest`` background job: an uploaded file waiting in the scratch area (removed by the
queue when the job ends; kept while it may be retried)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from allmende.access.policy import HARVESTER
from allmende.ingest.service import IngestRequest, ingest
from allmende.ingest.sniff import ReadOptions
from allmende.jobs.worker import JobContext


def ingest_job(context: JobContext) -> dict[str, Any]:
    payload = context.payload
    # a harvested resource's data: written by the harvester (only it writes such datasets)
    actor = HARVESTER if payload.get("harvested") else context.actor
    result = ingest(context.platform, actor, IngestRequest(
        dataset=payload["dataset"], source=Path(payload["upload"]),
        original_name=payload["filename"], resource_name=payload.get("resource_name"),
        options=ReadOptions(**payload.get("options", {}))), context.progress, context.attempt)
    return result.as_dict()
