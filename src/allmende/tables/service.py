"""Which table version a caller may read, and where it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, authorize
from allmende.catalog.datasets import get_resource
from allmende.db.models import TableVersion
from allmende.errors import FieldError, Invalid, NotFound, msg
from allmende.tables import versions


@dataclass(frozen=True)
class ReadableVersion:
    path: Path
    schema: list[dict[str, Any]]
    version: int
    resource_id: str
    resource_name: str
    version_row: TableVersion


def readable_version(session: Session, actor: Actor, data_dir: Path, resource_id: str,
                     version: int | None = None) -> ReadableVersion:
    """The requested (default: latest) version of a resource whose rows the actor may read."""
    resource = get_resource(session, actor, resource_id)
    authorize(actor, Action.READ_ROWS, resource.dataset)
    latest = versions.require_current(session, resource)
    chosen = latest if version is None or version == latest.version else \
        versions.version_of(session, resource.id, version)
    if chosen is None:
        raise NotFound(msg("Version {version} der Ressource „{resource}“ gibt es nicht; "
                           "vorhanden: 1 bis {latest}.", version=version,
                           resource=resource.name, latest=latest.version),
                       "version_not_found")
    return ReadableVersion(data_dir / chosen.path, chosen.columns, chosen.version, resource.id,
                           resource.name, chosen)


def version_history(session: Session, actor: Actor, resource_id: str, page: int = 1,
                    per_page: int = versions.PAGE_SIZE) -> versions.VersionPage:
    """One page of a visible resource's versions, newest first (what was uploaded when, with
    how many rows and columns: metadata, visible like the dataset's)."""
    if page < 1:
        raise Invalid(field_errors=[FieldError("page", msg("Die Seite zählt ab 1."))])
    if not 1 <= per_page <= versions.MAX_PAGE_SIZE:
        raise Invalid(field_errors=[FieldError("per_page", msg(
            "Zwischen 1 und {limit}.", limit=versions.MAX_PAGE_SIZE))])
    return versions.history(session, get_resource(session, actor, resource_id), page, per_page)
