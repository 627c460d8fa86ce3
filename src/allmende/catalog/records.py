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

from allmende.access.policy import Actor, Visibility, visibility
from allmende.catalog.datasets import get_dataset
from allmende.catalog.search import SearchRequest, SearchResult, search_datasets
from allmende.catalog.search_index import SearchIndex
from allmende.db.models import Dataset, Organization, Resource, TableVersion
from allmende.errors import NotFound


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
    if session.scalar(select(Dataset.id).where(Dataset.name == name_or_uuid)) is None:
        found = session.scalar(select(Dataset.name).where(Dataset.uuid == name_or_uuid))
        if found is None:
            raise NotFound(f"Den Datensatz „{name_or_uuid}“ gibt es nicht.",
                           "dataset_not_found")
        name_or_uuid = found
    return records_of(session, [get_dataset(session, actor, name_or_uuid)])[0]


def resource_record(session: Session, actor: Actor, resource_id: str
                    ) -> tuple[DatasetRecord, ResourceRecord]:
    """A resource of a dataset the actor may see, with its dataset (404 otherwise)."""
    resource = session.get(Resource, resource_id)
    if resource is not None and visibility(actor).sees(resource.dataset):
        dataset = records_of(session, [resource.dataset])[0]
        return dataset, next(r for r in dataset.resources if r.id == resource_id)
    raise NotFound(f"Die Ressource „{resource_id}“ gibt es nicht.", "resource_not_found")


def search_records(session: Session, index: SearchIndex, actor: Actor,
                   request: SearchRequest, language: str = "de") -> RecordPage:
    """A page of the catalog search (the index applies the actor's visibility) as records."""
    result = search_datasets(session, index, actor, request, language)
    return RecordPage(result.count, records_of(session, result.datasets), result)


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
    rows = session.scalars(select(Dataset).where(condition)
                           .order_by(Dataset.modified_at.desc(), Dataset.id)
                           .offset(offset or None).limit(limit))
    return total, records_of(session, list(rows))


def records_of(session: Session, datasets: Sequence[Dataset]) -> list[DatasetRecord]:
    """Records of datasets already checked for visibility, with their resources' current
    tables loaded in one query."""
    tables = _current_tables(session, [r for d in datasets for r in d.resources])
    return [_dataset(d, tables) for d in datasets]


def _current_tables(session: Session, resources: Sequence[Resource]) -> dict[str, TableRecord]:
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


def _resource(resource: Resource, tables: dict[str, TableRecord]) -> ResourceRecord:
    return ResourceRecord(
        id=resource.id, name=resource.name, description=resource.description,
        format=resource.format, url=resource.url, kind=resource.kind,
        position=resource.position, derived=resource.derived, created=resource.created_at,
        modified=resource.modified_at, table=tables.get(resource.id))


def _dataset(dataset: Dataset, tables: dict[str, TableRecord]) -> DatasetRecord:
    return DatasetRecord(
        uuid=dataset.uuid, name=dataset.name, title=dataset.title,
        description=dataset.description,
        organization=organization_record(dataset.organization),
        keywords=tuple(dataset.keywords or ()), themes=tuple(dataset.themes or ()),
        license=dataset.license, contact_point=dataset.contact_point, issued=dataset.issued,
        created=dataset.created_at, modified=dataset.modified_at,
        temporal_start=dataset.temporal_start, temporal_end=dataset.temporal_end,
        spatial=dataset.spatial, update_frequency=dataset.update_frequency,
        language=dataset.language, access_level=dataset.access_level, draft=dataset.draft,
        deleted=dataset.deleted_at is not None,
        resources=tuple(_resource(r, tables) for r in dataset.resources))
