"""The catalog as plain, frozen records: what every interface (CKAN, DCAT, OGC API, harvesting)
reads of datasets, resources and organizations, with the access policy applied inside.

Interfaces never see ORM rows: a record is complete when it is handed out (no lazy loading
behind a closed session), cannot be changed by accident, and carries the DCAT-AP fields
whatever the database's shape becomes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from allmende.access import agreements
from allmende.access.policy import (
    Action,
    Actor,
    RowAccess,
    Visibility,
    is_allowed,
    row_access,
    visibility,
)
from allmende.catalog.search import SearchRequest, SearchResult, search_datasets
from allmende.catalog.search_index import SearchIndex
from allmende.db.models import Dataset, Organization, QualityReport, Resource, TableVersion
from allmende.errors import NotFound, msg
from allmende.privacy import held


@dataclass(frozen=True)
class OrganizationRecord:
    slug: str
    name: str
    type: str
    ags: str | None
    description: str
    website: str | None
    email: str | None
    logo_url: str | None
    created: dt.datetime
    modified: dt.datetime
    bbox: tuple[float, float, float, float] | None = None  # lon/lat min, lon/lat max (WGS84)


@dataclass(frozen=True)
class ColumnRecord:
    name: str
    type: str


@dataclass(frozen=True)
class TableRecord:
    """The current version of a resource's table."""

    version: int
    rows: int
    columns: tuple[ColumnRecord, ...]
    crs: str | None
    published: dt.datetime
    derived_from: tuple[str, ...] = ()  # a regional table: the names of its source datasets

    @property
    def geometry(self) -> bool:
        return any(c.type == "geometry" for c in self.columns)


@dataclass(frozen=True)
class QualityRecord:
    """The latest quality report of a mapped resource: its table version validated against a
    shared schema (docs/harmonize.md). Handed out only to those who may read the rows."""

    schema: str
    table_version: int
    rows: int
    rows_with_errors: int
    errors: int  # all errors of every type
    completeness: float  # mean over the schema's fields, 0..1
    score: float  # 0..100
    valid: bool
    created: dt.datetime


@dataclass(frozen=True)
class ResourceRecord:
    id: str
    name: str
    description: str
    format: str
    url: str | None  # a link resource's target; files are served by the platform
    kind: str  # link | file
    position: int
    derived: bool  # built by the platform (a regional table)
    created: dt.datetime
    modified: dt.datetime
    table: TableRecord | None  # None: a link, or a file without a published version yet
    quality: QualityRecord | None = None


@dataclass(frozen=True)
class DatasetRecord:
    uuid: str
    name: str
    title: str
    description: str
    organization: OrganizationRecord
    keywords: tuple[str, ...]
    themes: tuple[str, ...]
    license: str
    contact_point: str | None
    issued: dt.date | None
    created: dt.datetime
    modified: dt.datetime
    temporal_start: dt.date | None
    temporal_end: dt.date | None
    spatial: str | None
    update_frequency: str | None
    language: str
    access_level: str
    draft: bool
    deleted: bool
    resources: tuple[ResourceRecord, ...]

    @property
    def public(self) -> bool:
        """Whether an anonymous visitor sees it (not a draft, not members-only, not deleted)."""
        return not (self.draft or self.deleted or self.access_level == "members")


@dataclass(frozen=True)
class RecordPage:
    count: int
    records: list[DatasetRecord]
    result: SearchResult  # the facets and paging of the search the page came from


def organization_record(organization: Organization) -> OrganizationRecord:
    return OrganizationRecord(
        slug=organization.slug, name=organization.name, type=organization.type,
        ags=organization.ags, description=organization.description,
        website=organization.website, email=organization.contact_email,
        logo_url=organization.logo_url, created=organization.created_at,
        modified=organization.modified_at, bbox=_bbox(organization.bbox))


def organization_records(session: Session) -> list[OrganizationRecord]:
    """Every organization (organizations are public), by name."""
    rows = session.scalars(select(Organization).order_by(func.lower(Organization.name)))
    return [organization_record(o) for o in rows]


def dataset_record(session: Session, actor: Actor, name_or_uuid: str) -> DatasetRecord:
    """One dataset the actor may see, by its name or its UUID (404 otherwise)."""
    access = (Dataset.id, Dataset.organization_id, Dataset.access_level, Dataset.draft,
              Dataset.deleted_at)
    found = session.execute(select(*access).where(Dataset.name == name_or_uuid)).first() or \
        session.execute(select(*access).where(Dataset.uuid == name_or_uuid)).first()
    if found is None or not visibility(actor).sees(found):
        # Not 403: whether an invisible dataset exists is itself not to be disclosed.
        raise NotFound(msg("Den Datensatz „{name}“ gibt es nicht.", name=name_or_uuid),
                       "dataset_not_found")
    return records_for(session, [found.id], actor)[0]


def resource_record(session: Session, actor: Actor, resource_id: str
                    ) -> tuple[DatasetRecord, ResourceRecord]:
    """A resource of a dataset the actor may see, with its dataset (404 otherwise)."""
    resource = session.get(Resource, resource_id)
    if resource is not None and visibility(actor).sees(resource.dataset):
        dataset = records_for(session, [resource.dataset_id], actor)[0]
        return dataset, next(r for r in dataset.resources if r.id == resource_id)
    raise NotFound(msg("Die Ressource „{id}“ gibt es nicht.", id=resource_id),
                   "resource_not_found")


def search_records(session: Session, index: SearchIndex, actor: Actor,
                   request: SearchRequest, language: str = "de") -> RecordPage:
    """A page of the catalog search (the index applies the actor's visibility) as records."""
    result = search_datasets(session, index, actor, request, language, load_rows=False)
    return RecordPage(result.count, records_for(session, result.ids, actor), result)


def _visible(scope: Visibility) -> ColumnElement[bool]:
    """The datasets a listing shows to ``scope``: as the search index decides, in SQL."""
    alive = Dataset.deleted_at.is_(None)
    if scope.everything:
        return alive
    own = Dataset.organization_id.in_(scope.organization_ids)
    shown = and_(alive, or_(Dataset.draft.is_(False), own))
    if not scope.member_of_alliance:
        shown = and_(shown, Dataset.access_level != "members")
    return shown


def dataset_names(session: Session, actor: Actor, offset: int = 0,
                  limit: int | None = None) -> list[str]:
    """Names of the datasets the actor sees in listings, in name order."""
    query = select(Dataset.name).where(_visible(visibility(actor))).order_by(Dataset.name)
    return list(session.scalars(query.offset(offset or None).limit(limit)))


def _listed(actor: Actor, modified_since: dt.datetime | None) -> ColumnElement[bool]:
    condition = _visible(visibility(actor))
    if modified_since is not None:
        condition = and_(condition, Dataset.modified_at >= modified_since)
    return condition


def dataset_records(session: Session, actor: Actor, offset: int = 0, limit: int = 100,
                    modified_since: dt.datetime | None = None) -> tuple[int, list[DatasetRecord]]:
    """One page of the datasets the actor sees in listings, most recently changed first, and
    how many there are in all (harvesting)."""
    condition = _listed(actor, modified_since)
    total = session.scalar(select(func.count(Dataset.id)).where(condition)) or 0
    ids = session.scalars(select(Dataset.id).where(condition)
                          .order_by(Dataset.modified_at.desc(), Dataset.id)
                          .offset(offset or None).limit(limit))
    return total, records_for(session, list(ids), actor)


@dataclass(frozen=True)
class RecordBatch:
    records: list[DatasetRecord]
    cursor: int | None  # where the next batch starts; None: this was the last


def dataset_batch(session: Session, actor: Actor, cursor: int = 0, limit: int = 1000,
                  modified_since: dt.datetime | None = None) -> RecordBatch:
    """The next ``limit`` datasets the actor sees in listings, oldest first, from ``cursor``
    (0 at the start): the whole catalog in batches, each read in a short transaction of its
    own, without an offset that grows with the catalog."""
    ids = list(session.scalars(select(Dataset.id).where(
        _listed(actor, modified_since), Dataset.id > cursor).order_by(Dataset.id).limit(limit)))
    return RecordBatch(records_for(session, ids, actor),
                       ids[-1] if len(ids) == limit else None)


#: Datasets whose records are read in one go (bind parameters of one IN list).
_CHUNK = 500


def readable_tables(session: Session, actor: Actor, geometry: bool = False
                    ) -> list[tuple[DatasetRecord, ResourceRecord]]:
    """Every table (a resource with a published version) whose rows the actor may read, with
    its dataset, by dataset name and resource position; ``geometry``: only tables with a
    geometry column (OGC API Features' collections)."""
    tables = select(Resource.dataset_id).join(TableVersion, and_(
        TableVersion.resource_id == Resource.id,
        TableVersion.version == Resource.current_version))
    if geometry:  # a table with geometries names a CRS (the columns are checked below)
        tables = tables.where(TableVersion.crs.is_not(None))
    candidates = session.execute(
        select(Dataset.id, Dataset.organization_id, Dataset.access_level, Dataset.draft,
               Dataset.deleted_at)
        .where(_visible(visibility(actor)), Dataset.id.in_(tables))
        .order_by(Dataset.name)).all()
    held = agreements.held_dataset_ids(session, actor)
    ids = [row.id for row in candidates if is_allowed(actor, Action.READ_ROWS, row)
           or (row.id in held and row_access(actor, row) is RowAccess.AGREEMENT)]
    found = []
    for start in range(0, len(ids), _CHUNK):
        for dataset in records_for(session, ids[start:start + _CHUNK], actor):
            found += [(dataset, resource) for resource in dataset.resources
                      if resource.table is not None and (resource.table.geometry or not geometry)]
    return found


_DATASET_COLUMNS = (
    Dataset.id, Dataset.uuid, Dataset.name, Dataset.title, Dataset.description,
    Dataset.organization_id, Dataset.keywords, Dataset.themes, Dataset.license,
    Dataset.contact_point, Dataset.issued, Dataset.created_at, Dataset.modified_at,
    Dataset.temporal_start, Dataset.temporal_end, Dataset.spatial, Dataset.update_frequency,
    Dataset.language, Dataset.access_level, Dataset.draft, Dataset.deleted_at,
)
_ORGANIZATION_COLUMNS = (
    Organization.id, Organization.slug, Organization.name, Organization.type,
    Organization.ags, Organization.description, Organization.website,
    Organization.contact_email, Organization.logo_url, Organization.created_at,
    Organization.modified_at, Organization.bbox,
)
_RESOURCE_COLUMNS = (
    Resource.dataset_id, Resource.id, Resource.name, Resource.description, Resource.format,
    Resource.url, Resource.kind, Resource.position, Resource.derived, Resource.created_at,
    Resource.modified_at, Resource.current_version,
)


def records_for(session: Session, ids: Sequence[int], actor: Actor | None = None
                ) -> list[DatasetRecord]:
    """Records of datasets already checked for visibility, in the order of ``ids``: a few
    queries in all (datasets, their organizations, resources, current tables, quality
    reports), plain rows without ORM objects, read by position (a whole catalog of 100,000
    streams through here). Quality reports are included for the datasets whose rows
    ``actor`` may read."""
    if not ids:
        return []
    found = session.execute(select(*_DATASET_COLUMNS).where(Dataset.id.in_(list(ids)))).all()
    readable = {row.id for row in found
                if actor is not None and is_allowed(actor, Action.READ_ROWS, row)}
    organizations = {row[0]: _organization(*row) for row in session.execute(
        select(*_ORGANIZATION_COLUMNS).where(Organization.id.in_({r[5] for r in found})))}
    resources: dict[int, list[Any]] = {}
    for row in session.execute(select(*_RESOURCE_COLUMNS).where(
            Resource.dataset_id.in_(list(ids))).order_by(Resource.position)):
        resources.setdefault(row[0], []).append(row)
    tables = _current_tables(session, [r for rows in resources.values() for r in rows],
                             actor, {row.id: row for row in found})
    quality = _latest_quality(session, [r[1] for i in readable for r in resources.get(i, ())])
    by_id = {row[0]: _dataset(*row, organizations=organizations, resources=tuple(
        _resource(*r, tables=tables, quality=quality) for r in resources.get(row[0], ())))
        for row in found}
    return [by_id[i] for i in ids if i in by_id]


def _organization(_id: int, slug: str, name: str, type_: str, ags: str | None,
                  description: str, website: str | None, email: str | None,
                  logo_url: str | None, created: dt.datetime, modified: dt.datetime,
                  bbox: list[Any] | None) -> OrganizationRecord:
    return OrganizationRecord(slug, name, type_, ags, description, website, email, logo_url,
                              created, modified, _bbox(bbox))


def _bbox(value: list[Any] | None) -> tuple[float, float, float, float] | None:
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3])) \
        if value and len(value) == 4 else None


def _current_tables(session: Session, resources: Sequence[Any], actor: Actor | None,
                    datasets: dict[int, Any]) -> dict[str, TableRecord]:
    """Each resource's current table; where the actor may not read a version held for a
    personal-data decision, the newest earlier one (privacy.held), or none."""
    instead = held.shown_versions(session, actor, datasets,
                                  [(r[1], r[0], r[11]) for r in resources])
    keys = [(r[1], instead.get(r[1], r[11])) for r in resources if r[11]]
    keys = [key for key in keys if key[1]]  # (id, the version shown)
    if not keys:
        return {}
    rows = session.execute(select(
        TableVersion.resource_id, TableVersion.version, TableVersion.rows,
        TableVersion.columns, TableVersion.crs, TableVersion.created_at,
        TableVersion.derived_from,
    ).where(tuple_(TableVersion.resource_id, TableVersion.version).in_(keys)))
    return {r.resource_id: TableRecord(r.version, r.rows, _columns(r.columns), r.crs,
                                       r.created_at, tuple(r.derived_from or ()))
            for r in rows}


def _latest_quality(session: Session, resource_ids: list[str]) -> dict[str, QualityRecord]:
    """The latest report of each resource (newest table version, then mapping version): its
    key first, then the whole row of only those (reports keep samples: not every one)."""
    if not resource_ids:
        return {}
    latest: dict[str, tuple[int, int, int]] = {}
    for row in session.execute(select(
            QualityReport.resource_id, QualityReport.table_version,
            QualityReport.mapping_version, QualityReport.id).where(
            QualityReport.resource_id.in_(resource_ids))):
        key = (row.table_version, row.mapping_version, row.id)
        if row.resource_id not in latest or key > latest[row.resource_id]:
            latest[row.resource_id] = key
    if not latest:
        return {}
    reports = session.scalars(select(QualityReport).where(
        QualityReport.id.in_([key[2] for key in latest.values()])))
    return {r.resource_id: _quality(r) for r in reports}


def _quality(report: QualityReport) -> QualityRecord:
    body = report.report or {}
    completeness = list((body.get("completeness") or {}).values())
    return QualityRecord(
        schema=report.schema_name, table_version=report.table_version, rows=report.rows,
        rows_with_errors=int(body.get("rows_with_errors") or 0),
        errors=sum(int(n) for n in (body.get("errors") or {}).values()),
        completeness=sum(completeness) / len(completeness) if completeness else 1.0,
        score=report.score, valid=report.valid, created=report.created_at)


def _columns(columns: list[Any]) -> tuple[ColumnRecord, ...]:
    return tuple(ColumnRecord(str(c["name"]), str(c["type"])) for c in columns)


def _resource(_dataset_id: int, id_: str, name: str, description: str, format_: str,
              url: str | None, kind: str, position: int, derived: bool,
              created: dt.datetime, modified: dt.datetime, _version: int, *,
              tables: dict[str, TableRecord], quality: dict[str, QualityRecord]
              ) -> ResourceRecord:
    return ResourceRecord(id_, name, description, format_, url, kind, position, derived,
                          created, modified, tables.get(id_), quality.get(id_))


def _dataset(_id: int, uuid: str, name: str, title: str, description: str,
             organization_id: int, keywords: list[str] | None, themes: list[str] | None,
             license_: str, contact_point: str | None, issued: dt.date | None,
             created: dt.datetime, modified: dt.datetime, temporal_start: dt.date | None,
             temporal_end: dt.date | None, spatial: str | None, update_frequency: str | None,
             language: str, access_level: str, draft: bool, deleted_at: dt.datetime | None, *,
             organizations: dict[int, OrganizationRecord],
             resources: tuple[ResourceRecord, ...]) -> DatasetRecord:
    return DatasetRecord(
        uuid, name, title, description, organizations[organization_id],
        tuple(keywords or ()), tuple(themes or ()), license_, contact_point, issued, created,
        modified, temporal_start, temporal_end, spatial, update_frequency, language,
        access_level, draft, deleted_at is not None, resources)
