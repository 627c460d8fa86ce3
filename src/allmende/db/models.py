"""The metadata model. Every table is created by an Alembic migration, never by ``create_all``."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar
from uuid import uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_uuid() -> str:
    return str(uuid4())


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware on both backends: SQLite stores naive UTC, so UTC is re-attached."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {
        dt.datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON,
    }


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(30), default="municipality")
    ags: Mapped[str | None] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text, default="")
    logo_url: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str | None] = mapped_column(String(300))
    website: Mapped[str | None] = mapped_column(String(500))
    # The organization's area: a GeoJSON Polygon/MultiPolygon in WGS84, and its bounding box
    # [lon_min, lat_min, lon_max, lat_max], which later capabilities check coordinates against.
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bbox: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    is_sysadmin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20))

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Only the SHA-256 of the token is kept; the token itself is shown once at creation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # None: valid until revoked (migration 0012)
    expires_at: Mapped[dt.datetime | None]


class UserSession(Base):
    """A browser sign-in; the cookie carries the token, the database only its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class LoginFailure(Base):
    """A failed sign-in: the account asked for and the caller's address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(300))
    address: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_login_failures_email_at", "email", "at"),
                      Index("ix_login_failures_address_at", "address", "at"))


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The dataset's identity outside this database (CKAN's id, DCAT's identifier, harvesting):
    # never changes, not even with the name.
    uuid: Mapped[str] = mapped_column(String(36), index=True, unique=True,
                                      default=new_uuid)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    themes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(100))
    contact_point: Mapped[str | None] = mapped_column(String(500))
    issued: Mapped[dt.date | None] = mapped_column(Date)
    temporal_start: Mapped[dt.date | None] = mapped_column(Date)
    temporal_end: Mapped[dt.date | None] = mapped_column(Date)
    spatial: Mapped[str | None] = mapped_column(String(500))
    update_frequency: Mapped[str | None] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(10), default="de")
    access_level: Mapped[str] = mapped_column(String(20), default="public")
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[dt.datetime | None]
    # Catalog revision of the last change; search indexes catch up by reading rows above theirs.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    # Normalized (folded, stemmed) search terms, kept beside the row they describe.
    search_strong: Mapped[str] = mapped_column(Text, default="")
    search_weak: Mapped[str] = mapped_column(Text, default="")
    # Harvested datasets: the source they come from (read-only here while it is set), the
    # origin's identifier and page, and when the origin last changed the record.
    harvest_source_id: Mapped[int | None] = mapped_column(Integer)
    origin_id: Mapped[str | None] = mapped_column(String(500))
    origin_url: Mapped[str | None] = mapped_column(String(1000))
    origin_modified: Mapped[dt.datetime | None]

    organization: Mapped[Organization] = relationship(lazy="joined")
    resources: Mapped[list[Resource]] = relationship(
        back_populates="dataset", order_by="Resource.position", lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (Index("ix_datasets_harvest_origin", "harvest_source_id", "origin_id",
                            unique=True),)


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(30), default="")
    url: Mapped[str | None] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(20), default="link")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Reading options a person confirmed or corrected, reused for the next upload.
    read_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The newest published table version (0: none yet). New versions take the next number by
    # incrementing it under the row's lock, so numbers never collide and reading the latest
    # version never touches the history.
    current_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Built by the platform from other datasets (a regional table): never uploaded or edited.
    derived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    dataset: Mapped[Dataset] = relationship(back_populates="resources")
    # Only the current version is ever loaded with a resource; the history is paged by query
    # (tables.versions). Versions go with their resource through ON DELETE CASCADE.
    current: Mapped[TableVersion | None] = relationship(
        primaryjoin="and_(TableVersion.resource_id == Resource.id, "
                    "TableVersion.version == Resource.current_version)",
        foreign_keys="[TableVersion.resource_id, TableVersion.version]",
        viewonly=True, uselist=False, lazy="select",
    )

    __table_args__ = (UniqueConstraint("dataset_id", "name"),)


class TableVersion(Base):
    """An immutable, typed snapshot of a resource, stored as Parquet in the data directory."""

    __tablename__ = "table_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(500))
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[Any]] = mapped_column(JSON)
    crs: Mapped[str | None] = mapped_column(String(30))
    source_name: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_size: Mapped[int] = mapped_column(BigInteger)
    source_format: Mapped[str] = mapped_column(String(30))
    read_report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    schema_changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Of a derived table: the names of the datasets its rows came from (who may read it).
    derived_from: Mapped[list[Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("resource_id", "version"),)


class Job(Base):
    """Background work: queued by any process, claimed by exactly one worker."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    # The organization the job works for: its admins may read the job.
    organization_id: Mapped[int | None] = mapped_column(Integer)
    # Files (relative to the data directory) the running attempt is about to publish; whoever
    # reclaims the job after its worker died removes those no database row points to.
    outputs: Mapped[list[Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)


class Activity(Base):
    """Who changed what in a dataset, and when."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_activities_dataset_created", "dataset_id", "created_at"),)


class SharedSchema(Base):
    """A shared schema added by a sysadmin (the shipped ones live in ``harmonize/schemas``)."""

    __tablename__ = "shared_schemas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[str] = mapped_column(String(30))
    descriptor: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ResourceMapping(Base):
    """One version of how a resource's columns become a shared schema's fields."""

    __tablename__ = "resource_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    schema_name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("resource_id", "version"),)


class QualityReport(Base):
    """A table version mapped onto its schema and validated; the mapped rows are kept as
    Parquet (``mapped_path``) for the regional consolidation."""

    __tablename__ = "quality_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    table_version: Mapped[int] = mapped_column(Integer)
    mapping_version: Mapped[int] = mapped_column(Integer)
    schema_name: Mapped[str] = mapped_column(String(100), index=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[float] = mapped_column()
    valid: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    mapped_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("resource_id", "table_version", "mapping_version"),)


class Consolidation(Base):
    """The regional table of one schema: a catalog dataset of its own, rebuilt from the latest
    quality reports of its sources."""

    __tablename__ = "consolidations"

    schema_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # {"count": N, "listed": [{"reason", "organization", "dropped": {...}, "kept": {...}}]}
    duplicates: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rebuilt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(lazy="joined")


class HarvestSource(Base):
    """Another portal (CKAN, a DCAT catalog, another allmende node) mirrored into one
    organization."""

    __tablename__ = "harvest_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(1000))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    schedule: Mapped[str] = mapped_column(String(10), default="off")
    ingest_resources: Mapped[bool] = mapped_column(Boolean, default=False)
    # The newest modification date the source reported in its last complete run: the next
    # run asks only for records changed since (the source's clock, not ours).
    high_water: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[dt.datetime | None]

    organization: Mapped[Organization] = relationship(lazy="joined")


class HarvestRun(Base):
    """One run of a harvest source and its report."""

    __tablename__ = "harvest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    job_id: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    # [{"id": origin id, "message": German text, "i18n": template}] of the records that failed
    failures: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Why the run failed as a whole (errors.stored form), None otherwise.
    reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_harvest_runs_source_queued", "source_id", "queued_at"),)


class CatalogState(Base):
    """A single row holding the catalog's revision counter."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


# --- Transparency log (allmende.transparency) ---------------------------------------------

class LogEntry(Base):
    """One event of the transparency log: its position and the exact bytes hashed as its leaf
    (RFC 8785 canonical JSON). ``type``, ``organization`` and ``dataset`` repeat what the leaf
    says, so the public pages can list an organization's or a dataset's events; the leaf is
    the truth (the verifier never reads those columns)."""

    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    type: Mapped[str] = mapped_column(String(100))
    organization: Mapped[str | None] = mapped_column(String(100))
    dataset: Mapped[str | None] = mapped_column(String(36))
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_log_entries_organization", "organization", "index"),
                      Index("ix_log_entries_dataset", "dataset", "index"))


class LogNode(Base):
    """The hash of one complete subtree of the log (level 0: a leaf hash), keyed by
    ``level << 48 | position``: a proof reads its few nodes in one query."""

    __tablename__ = "log_nodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogState(Base):
    """The single row every append locks: the tree's size and its frontier (the roots of its
    complete subtrees, largest first), from which the next append and the root follow."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP signed note) as it was published."""

    __tablename__ = "log_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PseudonymKey(Base):
    """An organization's key for the pseudonyms of its users in the log. Erasing it (deleting
    the row) makes the pseudonyms made with it unlinkable; the next one gets a new key."""

    __tablename__ = "log_pseudonym_keys"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
# --- data requests (Datenanträge) -----------------------------------------------------------

class OrganizationConditions(Base):
    """One version of an organization's conditions of use; a data request keeps the version
    its requester accepted."""

    __tablename__ = "organization_conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("organization_id", "version"),)


class DataRequest(Base):
    """A request for a restricted dataset (Datenantrag) and its current state."""

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"),
                                            index=True)
    # the owning organization: its admins decide (kept, so the inbox needs no join)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                              index=True)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    # the requester's language: their e-mails are written in it
    language: Mapped[str] = mapped_column(String(5), default="de")
    requester_organization: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[str] = mapped_column(String(300), default="")
    purpose: Mapped[str] = mapped_column(String(30), default="")
    purpose_text: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(String(30), default="")
    legal_basis_text: Mapped[str] = mapped_column(Text, default="")
    interest: Mapped[str] = mapped_column(Text, default="")
    columns: Mapped[list[Any] | None] = mapped_column(JSON)
    row_filter: Mapped[list[Any] | None] = mapped_column(JSON)
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    #: the date column the period refers to: the agreement keeps only that period's rows
    period_column: Mapped[str | None] = mapped_column(String(300))
    duration_days: Mapped[int | None] = mapped_column(Integer)
    recipients: Mapped[str] = mapped_column(Text, default="")
    processors: Mapped[str] = mapped_column(Text, default="")
    retention: Mapped[str] = mapped_column(Text, default="")
    conditions_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # when the request and its attachments are deleted (set when it is closed)
    purge_after: Mapped[dt.datetime | None] = mapped_column(index=True)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="joined")
    dataset: Mapped[Dataset] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")

    __table_args__ = (Index("ix_data_requests_organization_state", "organization_id", "state"),)


class DataRequestEvent(Base):
    """One step in a request's history: who did what, with their written reason."""

    __tablename__ = "data_request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("data_requests.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class DataRequestAttachment(Base):
    """A PDF attached to a request, kept in the data directory."""

    __tablename__ = "data_request_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("data_requests.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Registration(Base):
    """A self-registered account waiting for (or past) its e-mail confirmation; the account
    stays inactive until the signed link is opened."""

    __tablename__ = "registrations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    language: Mapped[str] = mapped_column(String(5), default="de")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]


# --- personal data (privacy) ---------------------------------------------------------------

class VersionPrivacy(Base):
    """What the personal-data scan found in one table version, and where its decision stands.

    ``status``: ``pending`` (found, no decision yet: held while the dataset is public),
    ``replaced`` (decided; the decision was applied to a new version, this raw one stays
    held), ``confirmed`` (decided: every column kept with a reason, published as it is),
    ``published`` (a version built from a held one by the decision). A version without a row
    had nothing found."""

    __tablename__ = "version_privacy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # [{"column", "kind", "confidence"}]: never values
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # of a published version: the held version it was built from; of a replaced one: the
    # version that published it
    related_version: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("resource_id", "version"),)


class PrivacyDecision(Base):
    """An admin's decision on one column of a held version."""

    __tablename__ = "privacy_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    published_version: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str | None] = mapped_column(String(30))  # as detected; None: not detected
    action: Mapped[str] = mapped_column(String(20))  # drop hash truncate generalize confirm
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_privacy_decisions_resource_version", "resource_id", "version"),)


class DatasetPrivacy(Base):
    """A dataset's own privacy settings: its hashing key (never shown) and the smallest count
    its aggregates show (None: the default)."""

    __tablename__ = "dataset_privacy"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    hash_key: Mapped[str | None] = mapped_column(String(64))
    suppression_k: Mapped[int | None] = mapped_column(Integer)


class Agreement(Base):
    """An ODRL usage agreement: the assignee may read a restricted dataset's agreed columns
    and rows within a time window, at most ``max_count`` times (access/agreements.py)."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    # the assigner: the dataset's organization when the agreement was made
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                             index=True)
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # the data request it came from (access/requests.py), if any
    request_id: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime]
    max_count: Mapped[int | None] = mapped_column(Integer)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    columns: Mapped[list[Any] | None] = mapped_column(JSON)
    row_filter: Mapped[list[Any] | None] = mapped_column(JSON)
    purpose_code: Mapped[str] = mapped_column(String(50))
    purpose_text: Mapped[str] = mapped_column(Text, default="")
    duties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # active | expired | exhausted | revoked; "expired" is stored by the periodic sweep (or
    # the first refused read after valid_until) and read from valid_until until then
    state: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # when the holder was told that the agreement ends soon (migration 0013)
    expiry_notified_at: Mapped[dt.datetime | None]

    dataset: Mapped[Dataset] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id], lazy="joined")

    __table_args__ = (Index("ix_agreements_dataset_assignee", "dataset_id", "assignee_id"),)


__all__ = [
    "Activity", "Agreement", "ApiToken", "Base", "CatalogState", "Consolidation", "DataRequest",
    "DataRequestAttachment", "DataRequestEvent", "Dataset", "DatasetPrivacy", "HarvestRun",
    "HarvestSource", "Job", "LogCheckpoint", "LogEntry", "LogNode", "LogState", "LoginFailure",
    "Membership", "Organization", "OrganizationConditions", "PrivacyDecision", "PseudonymKey",
    "QualityReport", "Registration", "Resource", "ResourceMapping", "SharedSchema", "TableVersion",
    "User", "UserSession", "VersionPrivacy", "utcnow",
]
