"""Harmonize's answers to catalog events (light: no DuckDB, no geometry libraries)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende.access.policy import Actor
from allmende.catalog.events import SourcesChanged
from allmende.db.models import ResourceMapping
from allmende.jobs import queue


def rebuild_regional(session: Session, actor: Actor, event: SourcesChanged) -> None:
    """A regional table follows its sources' access: when a mapped resource is deleted or its
    dataset is deleted, restored, restricted or drafted, its schemas' tables are rebuilt."""
    if not event.resource_ids:
        return
    schemas = session.scalars(select(ResourceMapping.schema_name).where(
        ResourceMapping.resource_id.in_(event.resource_ids)).distinct())
    for schema in schemas:
        queue.enqueue(session, "consolidate", {"schema": schema}, actor)
