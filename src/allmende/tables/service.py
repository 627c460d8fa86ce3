"""Which table version a caller may read, and where it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, authorize
from allmende.catalog.datasets import get_resource
from allmende.db.models import TableVersion
from allmende.errors import NotFound, msg


@dataclass(frozen=True)
class ReadableVersion:
    path: Path
    schema: list[dict[str, Any]]
    version: int
    resource_id: str
    resource_name: str


def readable_version(session: Session, actor: Actor, data_dir: Path, resource_id: str,
                     version: int | None = None) -> ReadableVersion:
    """The requested (default: latest) version of a resource whose rows the actor may read."""
    resource = get_resource(session, actor, resource_id)
    authorize(actor, Action.READ_ROWS, resource.dataset)
    versions: list[TableVersion] = resource.versions
    if not versions:
        raise NotFound(msg("Die Ressource „{resource}“ hat noch keine Tabellenversion.",
                           resource=resource.name), "no_version")
    chosen = versions[-1] if version is None else next(
        (v for v in versions if v.version == version), None)
    if chosen is None:
        raise NotFound(msg("Version {version} der Ressource „{resource}“ gibt es nicht; "
                           "vorhanden: 1 bis {latest}.", version=version,
                           resource=resource.name, latest=versions[-1].version),
                       "version_not_found")
    return ReadableVersion(data_dir / chosen.path, chosen.columns, chosen.version, resource.id,
                           resource.name)
