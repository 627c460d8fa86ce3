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

from allmende.access.policy import Action, Actor, Visibility, is_allowed, visibility
from allmende.catalog.search import SearchRequest, SearchResult, search_datasets
from allmende.catalog.search_index import SearchIndex
from allmende.db.models import Dataset, Organization, Resource, TableVersion
from allmende.errors import NotFound, msg


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

    @property
    def geometry(self) -> bool:
        return any(c.type == "geometry" for c in self.columns)


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
        modified=organization.modified_at)


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
    return records_for(session, [found.id])[0]


def resource_record(session: Session, actor: Actor, resource_id: str
                    ) -> tuple[DatasetRecord, ResourceRecord]:
    """A resource of a dataset the actor may see, with its dataset (404 otherwise)."""
    resource = session.get(Resource, resource_id)
    if resource is not None and visibility(actor).sees(resource.dataset):
        dataset = records_for(session, [resource.dataset_id])[0]
        return dataset, next(r for r in dataset.resources if r.id == resource_id)
    raise NotFound(msg("Die Ressource „{id}“ gibt es nicht.", id=resource_id),
                   "resource_not_found")


def search_records(session: Session, index: SearchIndex, actor: Actor,
                   request: SearchRequest, language: str = "de") -> RecordPage:
    """A page of the catalog search (the index applies the actor's visibility) as records."""
    result = search_datasets(session, index, actor, request, language, load_rows=False)
    return RecordPage(result.count, records_for(session, result.ids), result)


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


def dataset_records(session: Session, actor: Actor, offset: int = 0, limit: int = 100,
                    modified_since: dt.datetime | None = None) -> tuple[int, list[DatasetRecord]]:
    """One page of the datasets the actor sees in listings, most recently changed first, and
    how many there are in all (catalog pages, harvesting)."""
    condition = _visible(visibility(actor))
    if modified_since is not None:
        condition = and_(condition, Dataset.modified_at >= modified_since)
    total = session.scalar(select(func.count(Dataset.id)).where(condition)) or 0
    ids = session.scalars(select(Dataset.id).where(condition)
                          .order_by(Dataset.modified_at.desc(), Dataset.id)
                          .offset(offset or None).limit(limit))
    return total, records_for(session, list(ids))


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
    ids = [row.id for row in candidates if is_allowed(actor, Action.READ_ROWS, row)]
    found = []
    for start in range(0, len(ids), _CHUNK):
        for dataset in records_for(session, ids[start:start + _CHUNK]):
            found += [(dataset, resource) for resource in dataset.resources
                      if resource.table is not None and (resource.table.geometry or not geometry)]
    return found


_DATASET_COLUMNS = (
    Dataset.id, Dataset.uuid, Dataset.name, Dataset.title, Dataset.description,
    Dataset.keywords, Dataset.themes, Dataset.license, Dataset.contact_point, Dataset.issued,
    Dataset.created_at, Dataset.modified_at, Dataset.temporal_start, Dataset.temporal_end,
    Dataset.spatial, Dataset.update_frequency, Dataset.language, Dataset.access_level,
    Dataset.draft, Dataset.deleted_at,
)
_ORGANIZATION_COLUMNS = tuple(getattr(Organization, name).label(f"org_{name}") for name in (
    "slug", "name", "type", "ags", "description", "website", "contact_email", "logo_url",
    "created_at", "modified_at"))
_RESOURCE_COLUMNS = (
    Resource.dataset_id, Resource.id, Resource.name, Resource.description, Resource.format,
    Resource.url, Resource.kind, Resource.position, Resource.derived, Resource.created_at,
    Resource.modified_at, Resource.current_version,
)


def records_for(session: Session, ids: Sequence[int]) -> list[DatasetRecord]:
    """Records of datasets already checked for visibility, in the order of ``ids``: three
    queries in all (datasets with their organizations, resources, current tables), plain
    rows without ORM objects (a page of 1,000 is built in milliseconds)."""
    if not ids:
        return []
    found = session.execute(
        select(*_DATASET_COLUMNS, *_ORGANIZATION_COLUMNS)
        .join(Organization, Organization.id == Dataset.organization_id)
        .where(Dataset.id.in_(list(ids)))).all()
    resources: dict[int, list[Any]] = {}
    for row in session.execute(select(*_RESOURCE_COLUMNS).where(
            Resource.dataset_id.in_(list(ids))).order_by(Resource.position)):
        resources.setdefault(row.dataset_id, []).append(row)
    tables = _current_tables(session, [r for rows in resources.values() for r in rows])
    organizations: dict[str, OrganizationRecord] = {}
    by_id = {}
    for row in found:
        organization = organizations.get(row.org_slug)
        if organization is None:
            organization = organizations[row.org_slug] = _organization(row)
        by_id[row.id] = _dataset(row, organization, tuple(
            _resource(r, tables) for r in resources.get(row.id, ())))
    return [by_id[i] for i in ids if i in by_id]


def _organization(row: Any) -> OrganizationRecord:
    return OrganizationRecord(
        slug=row.org_slug, name=row.org_name, type=row.org_type, ags=row.org_ags,
        description=row.org_description, website=row.org_website,
        email=row.org_contact_email, logo_url=row.org_logo_url, created=row.org_created_at,
        modified=row.org_modified_at)


def _current_tables(session: Session, resources: Sequence[Any]) -> dict[str, TableRecord]:
    keys = [(r.id, r.current_version) for r in resources if r.current_version]
    if not keys:
        return {}
    rows = session.execute(select(
        TableVersion.resource_id, TableVersion.version, TableVersion.rows,
        TableVersion.columns, TableVersion.crs, TableVersion.created_at,
    ).where(tuple_(TableVersion.resource_id, TableVersion.version).in_(keys)))
    return {r.resource_id: TableRecord(r.version, r.rows, _columns(r.columns), r.crs,
                                       r.created_at) for r in rows}


def _columns(columns: list[Any]) -> tuple[ColumnRecord, ...]:
    return tuple(ColumnRecord(str(c["name"]), str(c["type"])) for c in columns)


def _resource(row: Any, tables: dict[str, TableRecord]) -> ResourceRecord:
    return ResourceRecord(
        id=row.id, name=row.name, description=row.description, format=row.format,
        url=row.url, kind=row.kind, position=row.position, derived=row.derived,
        created=row.created_at, modified=row.modified_at, table=tables.get(row.id))


def _dataset(row: Any, organization: OrganizationRecord,
             resources: tuple[ResourceRecord, ...]) -> DatasetRecord:
    return DatasetRecord(
        uuid=row.uuid, name=row.name, title=row.title, description=row.description,
        organization=organization, keywords=tuple(row.keywords or ()),
        themes=tuple(row.themes or ()), license=row.license, contact_point=row.contact_point,
        issued=row.issued, created=row.created_at, modified=row.modified_at,
        temporal_start=row.temporal_start, temporal_end=row.temporal_end,
        spatial=row.spatial, update_frequency=row.update_frequency, language=row.language,
        access_level=row.access_level, draft=row.draft, deleted=row.deleted_at is not None,
        resources=resources)
