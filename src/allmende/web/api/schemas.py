"""Response shapes of the REST API: explicit, so nothing internal leaks into responses."""

from __future__ import annotations

import datetime as dt
from typing import Any, Self

from pydantic import BaseModel, Field

from allmende.catalog.datasets import BY_PLATFORM
from allmende.catalog.search import SearchResult
from allmende.db.models import (
    Activity,
    Dataset,
    Resource,
)
from allmende.tables.versions import VersionPage
from allmende.web.i18n import DEFAULT_LANGUAGE, localized_entry, localized_report


class FromRow(BaseModel):
    """A response shape read from a database row's attributes of the same names."""

    @classmethod
    def of(cls, row: Any) -> Self:
        return cls.model_validate(row, from_attributes=True)


class OrganizationSummary(FromRow):
    slug: str
    name: str
    type: str
    ags: str | None


class OrganizationOut(OrganizationSummary):
    description: str
    logo_url: str | None
    contact_email: str | None
    website: str | None
    bbox: list[float] | None
    area: dict[str, Any] | None
    created_at: dt.datetime
    modified_at: dt.datetime



class ResourceOut(FromRow):
    id: str
    name: str
    description: str
    format: str
    url: str | None
    kind: str
    created_at: dt.datetime
    modified_at: dt.datetime



class PersonalDataOut(BaseModel):
    column: str
    kind: str = Field(description="email phone iban tax_id social_security licence_plate "
                                  "birth_date name")
    confidence: float


class VersionOut(FromRow):
    version: int
    rows: int
    columns: list[dict[str, str]]
    crs: str | None
    source_name: str
    source_sha256: str
    source_size: int
    source_format: str
    read_report: dict[str, Any]
    warnings: list[dict[str, Any]]
    schema_changes: dict[str, Any]
    created_at: dt.datetime
    held: bool = Field(False, description="Held until an admin decides on its personal data: "
                                          "readable only by the organization's editors and "
                                          "admins (docs/privacy.md)")
    personal_data: list[PersonalDataOut] = Field(
        default_factory=list, description="Columns that probably hold personal data")
    privacy_status: str | None = Field(
        None, description="pending | replaced | confirmed | published; null: nothing found")
    privacy_related_version: int | None = Field(
        None, description="Of a replaced version the one published from it, of a published "
                          "one the held version it was built from")
    privacy_decisions: list[dict[str, Any]] = Field(
        default_factory=list, description="The decisions taken on this (held) version")

    @classmethod
    def of(cls, row: Any, language: str = DEFAULT_LANGUAGE, privacy: Any = None) -> Self:
        """The version with its warnings and column notes in ``language``, and its privacy
        state (privacy.held.PrivacyState) where it has one."""
        version = cls.model_validate(row, from_attributes=True)
        update: dict[str, Any] = {
            "read_report": localized_report(version.read_report, language),
            "warnings": [localized_entry(w, language) for w in version.warnings]}
        if privacy is not None:
            update.update(held=privacy.held, privacy_status=privacy.status,
                          privacy_related_version=privacy.related_version,
                          privacy_decisions=privacy.decisions,
                          personal_data=[PersonalDataOut(**f) for f in privacy.personal_data])
        return version.model_copy(update=update)


class ResourceDetail(ResourceOut):
    dataset: str
    read_options: dict[str, Any]
    current_version: int | None = Field(description="The newest version (null: none yet)")
    versions: list[VersionOut] = Field(description="The newest 20 versions, newest first; "
                                                   "all of them page through /versions")
    versions_total: int

    @classmethod
    def of(cls, r: Resource, newest: VersionPage, language: str = DEFAULT_LANGUAGE
           ) -> ResourceDetail:
        return cls(**ResourceOut.of(r).model_dump(), dataset=r.dataset.name,
                   read_options=r.read_options or {}, current_version=r.current_version or None,
                   versions=[VersionOut.of(v, language, newest.privacy.get(v.version))
                             for v in newest.versions],
                   versions_total=newest.total)


class VersionList(BaseModel):
    count: int = Field(description="All versions of the resource")
    page: int
    per_page: int
    results: list[VersionOut] = Field(description="This page's versions, newest first")

    @classmethod
    def of(cls, found: VersionPage, language: str = DEFAULT_LANGUAGE) -> VersionList:
        return cls(count=found.total, page=found.page, per_page=found.per_page,
                   results=[VersionOut.of(v, language, found.privacy.get(v.version))
                            for v in found.versions])


class JobOut(FromRow):
    id: int
    kind: str
    status: str
    progress: float
    message: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None



class OriginOut(BaseModel):
    """Where a harvested dataset comes from (its origin owns it: read-only here)."""

    id: str = Field(description="The origin's identifier of the dataset")
    url: str | None = Field(description="The dataset's page at its origin")
    modified: dt.datetime | None = Field(description="When the origin last changed it")
    read_only: bool = Field(description="True while its harvest source keeps it current")


class DatasetOut(BaseModel):
    id: str = Field(description="Stable UUID: never changes, not even with the name (CKAN's "
                                "id, DCAT's identifier)")
    name: str
    title: str
    description: str
    organization: OrganizationSummary
    keywords: list[str]
    themes: list[str]
    license: str
    license_uri: str
    contact_point: str | None
    issued: dt.date | None
    modified: dt.datetime
    created: dt.datetime
    temporal_start: dt.date | None
    temporal_end: dt.date | None
    spatial: str | None
    update_frequency: str | None
    language: str
    access_level: str
    draft: bool
    deleted: bool
    origin: OriginOut | None = Field(None, description="Harvested datasets: their origin")
    resources: list[ResourceOut]

    @classmethod
    def of(cls, d: Dataset) -> DatasetOut:
        from allmende.catalog.vocabularies import DCATDE_LICENSE_BASE

        return cls(
            id=d.uuid, name=d.name, title=d.title, description=d.description,
            organization=OrganizationSummary.of(d.organization), keywords=d.keywords,
            themes=d.themes, license=d.license, license_uri=DCATDE_LICENSE_BASE + d.license,
            contact_point=d.contact_point, issued=d.issued, modified=d.modified_at,
            created=d.created_at, temporal_start=d.temporal_start, temporal_end=d.temporal_end,
            spatial=d.spatial, update_frequency=d.update_frequency, language=d.language,
            access_level=d.access_level, draft=d.draft, deleted=d.deleted_at is not None,
            origin=OriginOut(id=d.origin_id, url=d.origin_url, modified=d.origin_modified,
                             read_only=d.harvest_source_id is not None)
            if d.origin_id is not None else None,
            resources=[ResourceOut.of(r) for r in d.resources],
        )


class FacetValueOut(BaseModel):
    value: str
    label: str
    count: int


class SearchOut(BaseModel):
    count: int
    page: int
    per_page: int
    results: list[DatasetOut]
    facets: dict[str, list[FacetValueOut]]

    @classmethod
    def of(cls, result: SearchResult) -> SearchOut:
        return cls(
            count=result.count, page=result.page, per_page=result.per_page,
            results=[DatasetOut.of(d) for d in result.datasets],
            facets={k: [FacetValueOut(value=f.value, label=f.label, count=f.count) for f in v]
                    for k, v in result.facets.items()},
        )


class OrganizationList(BaseModel):
    count: int
    results: list[OrganizationOut]


class ActivityOut(BaseModel):
    action: str
    user: str | None
    user_email: str | None = None
    by_platform: bool = Field(False, description="Made by allmende itself (a regional "
                                                 "rebuild, the demo, the command line)")
    changes: dict[str, Any]
    created_at: dt.datetime

    @classmethod
    def of(cls, a: Activity, show_email: bool) -> ActivityOut:
        """The author by name; e-mail addresses are personal data, shown to signed-in users only."""
        changes = {k: v for k, v in a.changes.items() if not k.startswith("_")}
        return cls(action=a.action, user=a.user.name if a.user else None,
                   user_email=a.user.email if a.user and show_email else None,
                   by_platform=bool(a.changes.get(BY_PLATFORM)), changes=changes,
                   created_at=a.created_at)


class ActivityList(BaseModel):
    count: int
    results: list[ActivityOut]


class TokenOut(FromRow):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    expires_at: dt.datetime | None = None



class NewTokenOut(TokenOut):
    token: str


class TokenList(BaseModel):
    count: int
    results: list[TokenOut]


class MeOut(BaseModel):
    email: str | None
    name: str
    sysadmin: bool
    organizations: dict[str, str]


class ColumnOut(BaseModel):
    name: str
    type: str = Field(description="string integer number boolean date datetime time json "
                                  "geometry")


class RowPage(BaseModel):
    total: int = Field(description="Zeilen der Auswahl (alle Seiten)")
    fields: list[ColumnOut]
    rows: list[dict[str, Any]] = Field(description="Je Zeile ein Objekt: Spaltenname → Wert; "
                                                   "Geometrien als GeoJSON")


class DistinctValueOut(BaseModel):
    value: Any
    count: int | None = Field(description="null where suppressed")
    suppressed: bool | None = Field(None, description="Only where small counts are "
                                                      "suppressed (docs/privacy.md)")


class SuppressionOut(BaseModel):
    k: int = Field(description="Counts below k are suppressed")
    cells: int = Field(description="Suppressed cells (primary and secondary)")


class DistinctOut(BaseModel):
    field: ColumnOut
    total: int = Field(description="Verschiedene Werte der Auswahl (leer zählt als einer)")
    values: list[DistinctValueOut]
    suppression: SuppressionOut | None = None


class AggregateOut(BaseModel):
    total: int = Field(description="Anzahl der Gruppen")
    fields: list[ColumnOut]
    rows: list[dict[str, Any]]
    suppression: SuppressionOut | None = None
