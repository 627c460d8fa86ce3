"""Which table version a caller may read, and where it is."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende import sql
from allmende.access import agreements
from allmende.access.policy import (
    Action,
    Actor,
    RowAccess,
    authorize,
    is_allowed,
    read_is_logged,
    row_access,
)
from allmende.catalog.datasets import get_resource
from allmende.db.models import Dataset, Resource, TableVersion
from allmende.db.session import on_failure
from allmende.errors import AllmendeError, FieldError, Invalid, NotFound, msg
from allmende.privacy import held, suppression
from allmende.tables import versions
from allmende.tables.schema import SOURCE_DATASET
from allmende.transparency import reads
from allmende.transparency.reads import Interface


@dataclass(frozen=True)
class ReadableVersion:
    path: Path
    schema: list[dict[str, Any]]
    version: int
    resource_id: str
    resource_name: str
    version_row: TableVersion
    #: counts below this are suppressed in aggregates (None: exact counts)
    suppression_k: int | None = None
    #: what an agreement lets the caller read (None: the whole version)
    scope: agreements.Scope | None = None
    #: this read in the transparency log (None: a read that is not logged)
    read: reads.Read | None = None

    def delivered(self, rows: int) -> None:
        """The answer holds ``rows`` rows of this version (for the transparency log)."""
        if self.read is not None:
            self.read.delivered(rows)


def readable_version(session: Session, actor: Actor, data_dir: Path, resource_id: str,
                     version: int | None = None, *, interface: Interface
                     ) -> ReadableVersion:
    """The requested (default: latest) version of a resource whose rows the actor may read.
    A read under an agreement is counted here as one access (refused once the agreement no
    longer allows it); a read the transparency log records (``policy.read_is_logged``) is
    started here, its rows reported by the caller with :meth:`ReadableVersion.delivered`. The
    caller's transaction commits the count and the log's entry with its answer."""
    resource = get_resource(session, actor, resource_id)
    scope = None
    if row_access(actor, resource.dataset) is RowAccess.AGREEMENT:
        scope = agreements.consume(session, actor, resource.dataset)
        on_failure(session, partial(agreements.record_refusal, agreement=scope.agreement))
    else:
        authorize(actor, Action.READ_ROWS, resource.dataset)
    latest = versions.require_current(session, resource)
    chosen = latest if version is None or version == latest.version else \
        versions.version_of(session, resource.id, version)
    if chosen is None:
        raise NotFound(msg("Version {version} der Ressource „{resource}“ gibt es nicht; "
                           "vorhanden: 1 bis {latest}.", version=version,
                           resource=resource.name, latest=latest.version),
                       "version_not_found")
    chosen = held.readable(session, actor, resource, chosen, asked=version is not None)
    if resource.derived:
        _check_sources(session, actor, data_dir, resource, chosen)
    read = None
    if read_is_logged(actor, resource.dataset):
        read = reads.start(session, actor, resource.dataset, resource.id, chosen.version,
                           interface, scope.agreement if scope else None,
                           scope.purpose if scope else None)
    return ReadableVersion(data_dir / chosen.path, chosen.columns, chosen.version, resource.id,
                           resource.name, chosen,
                           suppression.threshold(session, actor, resource, chosen.version),
                           scope, read)


class Withheld(AllmendeError):
    def __init__(self, version: int, resource: str) -> None:
        super().__init__(msg(
            "Version {version} von „{resource}“ enthält Zeilen aus Datensätzen, die Sie nicht "
            "(mehr) lesen dürfen (zurückgezogen, gelöscht oder eingeschränkt), und ist deshalb "
            "für Sie nicht abrufbar. Die neueste Version wird ohne diese Quellen gebaut.",
            version=version, resource=resource), "version_withheld", 410)


def _check_sources(session: Session, actor: Actor, data_dir: Path, resource: Resource,
                   version: TableVersion) -> None:
    """A derived version (a regional table) is readable only by those who may read the rows
    of every dataset it was built from *now*: a source withdrawn later (restricted, a draft,
    deleted) takes its rows out of every older version for those readers, in every format."""
    names = version.derived_from
    if names is None:  # built before versions recorded their sources
        names = _sources_in_file(data_dir / version.path)
    found = {d.name: d for d in session.scalars(select(Dataset).where(Dataset.name.in_(names)))}
    if any(name not in found or not is_allowed(actor, Action.READ_ROWS, found[name])
           for name in names):
        raise Withheld(version.version, resource.name)


def _sources_in_file(path: Path) -> list[str]:
    column = sql.ident(SOURCE_DATASET)
    with duckdb.connect() as con:
        rows = con.execute(sql.select(f"DISTINCT {column}",
                                      sql.table_function("read_parquet", str(path)),
                                      where=f"{column} IS NOT NULL")).fetchall()
    return [name for (name,) in rows]


def version_history(session: Session, actor: Actor, resource_id: str, page: int = 1,
                    per_page: int = versions.PAGE_SIZE) -> versions.VersionPage:
    """One page of a visible resource's versions, newest first (what was uploaded when, with
    how many rows and columns: metadata, visible like the dataset's)."""
    if page < 1:
        raise Invalid(field_errors=[FieldError("page", msg("Die Seite zählt ab 1."))])
    if not 1 <= per_page <= versions.MAX_PAGE_SIZE:
        raise Invalid(field_errors=[FieldError("per_page", msg(
            "Zwischen 1 und {limit}.", limit=versions.MAX_PAGE_SIZE))])
    resource = get_resource(session, actor, resource_id)
    found = versions.history(session, resource, page, per_page)
    return replace(found, privacy=held.states(session, resource.dataset, resource.id,
                                              [v.version for v in found.versions]))
