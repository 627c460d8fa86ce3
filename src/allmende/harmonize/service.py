"""Harmonize as a service: schemas, a resource's mapping, its quality report and the regional
tables. Used by the web API, the UI, the CLI, the background jobs and the demo.

Flow: a person saves a mapping (a new mapping version) → :func:`harmonize_resource` maps the
resource's latest table version, validates it, keeps the typed rows as Parquet and stores the
quality report → :func:`consolidate` rebuilds the schema's regional table from the latest report
of every public source. A new table version of a mapped resource runs the same flow (the ingest
queues it). Only public, published datasets feed a regional table, which is public itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from allmende import sql
from allmende.access.policy import (
    SCHEMAS_REFUSAL,
    Action,
    Actor,
    authorize,
    is_allowed,
    sees_version,
    visibility,
)
from allmende.catalog import datasets, organizations
from allmende.db.models import (
    Consolidation,
    Dataset,
    Organization,
    QualityReport,
    Resource,
    ResourceMapping,
    SharedSchema,
    TableVersion,
)
from allmende.errors import Conflict, FieldError, Invalid, Message, NotFound, msg, stored
from allmende.harmonize import consolidate as regional
from allmende.harmonize import registry
from allmende.harmonize.mapping import (
    GROUP,
    SOURCE_ROW,
    Mapping,
    apply_mapping,
    check_mapping,
    parse_mapping,
    samples_by_group,
)
from allmende.harmonize.source import load_version_file
from allmende.harmonize.suggest import suggest_mapping
from allmende.harmonize.validate import ValidationReport, add_transform_errors, validate_columns
from allmende.jobs import queue
from allmende.jobs.attempt import Attempt
from allmende.platform import Platform
from allmende.privacy import held
from allmende.tables import store, versions
from allmende.tables.schema import HIDDEN_COLUMNS

#: Who rebuilds regional tables: the platform itself.
SYSTEM = Actor(is_sysadmin=True, name="allmende Zusammenführung")
REGION_TYPE = "region"
PREVIEW_ROWS = 20
SCHEMA_NAME = re.compile(r"[a-z][a-z0-9_-]{1,62}")
#: A schema sysadmins add, as the OpenAPI document describes it.
NEW_SCHEMA = {**registry.TABLE_SCHEMA, "required": ["name", "fields"], "properties": {
    **registry.TABLE_SCHEMA["properties"],
    "name": {"type": "string", "pattern": f"^{SCHEMA_NAME.pattern}$"}}}


# --- schemas --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemaInfo:
    name: str
    title: str
    version: str
    description: str
    fields: int
    shipped: bool


def _info(descriptor: dict[str, Any], shipped: bool) -> SchemaInfo:
    return SchemaInfo(descriptor["name"], descriptor.get("title", descriptor["name"]),
                      str(descriptor.get("version", "")), descriptor.get("description", ""),
                      len(descriptor["fields"]), shipped)


def list_schemas(session: Session) -> list[SchemaInfo]:
    """The shipped schemas and those sysadmins added, by name."""
    infos = [_info(registry.load_schema(name), True) for name in registry.shipped_names()]
    infos += [_info(s.descriptor, False) for s in session.scalars(select(SharedSchema))]
    return sorted(infos, key=lambda info: info.name)


def get_schema(session: Session, name: str) -> dict[str, Any]:
    if name in registry.shipped_names():
        return registry.load_schema(name)
    added = session.scalar(select(SharedSchema).where(SharedSchema.name == name))
    if added is None:
        names = ", ".join(info.name for info in list_schemas(session))
        raise NotFound(msg("Das Schema „{name}“ gibt es nicht; vorhanden: {names}.",
                           name=name, names=names), "schema_not_found")
    return added.descriptor


def declared_temporal(session: Session, resource_id: str) -> str | None:
    """The field that places a row of a regional table in time, as its schema declares it
    (``x-allmende.temporal``); None for any other table or a schema without one."""
    schema_name = session.scalar(select(Consolidation.schema_name).where(
        Consolidation.resource_id == resource_id))
    if schema_name is None:
        return None
    try:
        schema = get_schema(session, schema_name)
    except NotFound:
        return None
    return (schema.get("x-allmende") or {}).get("temporal")


def add_schema(session: Session, actor: Actor, descriptor: Any) -> SchemaInfo:
    """A sysadmin adds (or replaces, with a new version) a schema from Table Schema JSON."""
    authorize(actor, Action.MANAGE_SCHEMAS, refusal=SCHEMAS_REFUSAL)
    schema = registry.check_schema(descriptor)
    name = schema.get("name")
    if not isinstance(name, str) or not SCHEMA_NAME.fullmatch(name):
        raise Invalid(field_errors=[FieldError("name", msg(
            "Ein Schema braucht einen Namen aus Kleinbuchstaben, Ziffern, „-“ und „_“, "
            "beginnend mit einem Buchstaben, z. B. „spielplaetze“."))])
    if name in registry.shipped_names():
        raise Conflict(msg("„{name}“ ist ein mitgeliefertes Schema und lässt sich nicht "
                           "ersetzen.", name=name), "schema_shipped")
    existing = session.scalar(select(SharedSchema).where(SharedSchema.name == name))
    version = str(schema.get("version") or "1.0.0")
    if existing is None:
        session.add(SharedSchema(name=name, version=version, descriptor=schema,
                                 created_by_id=actor.user_id))
    else:
        existing.descriptor, existing.version = schema, version
    session.flush()
    return _info(schema, False)


# --- mappings --------------------------------------------------------------------------------

def _latest_version(session: Session, resource: Resource) -> TableVersion:
    return versions.require_current(session, resource)


def _visible_columns(version: TableVersion) -> list[dict[str, str]]:
    return [c for c in version.columns if c["name"] not in HIDDEN_COLUMNS]


def _load_version(con: duckdb.DuckDBPyConnection, data_dir: Path, version: TableVersion,
                  limit: int | None = None) -> list[dict[str, str]]:
    return load_version_file(con, data_dir / version.path, version.columns, "source", limit)


def _connection(platform: Platform) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A DuckDB connection for a look at a table (suggest, preview), within the memory every
    DuckDB connection of a job or request may use (tables.store.DUCKDB_MEMORY_LIMIT)."""
    return store.connection(store.spill_folder(platform.settings.data_dir))


def _editable_resource(session: Session, actor: Actor, resource_id: str) -> Resource:
    """A resource the actor may map. A regional table takes no mapping: it is built from the
    mapped sources (with their provenance) and must not feed a regional table itself."""
    resource = datasets.get_resource(session, actor, resource_id)
    authorize(actor, Action.EDIT_DATASET, resource.dataset)
    datasets.refuse_built(resource.dataset, msg(
        "„{dataset}“ wird aus den Daten der Kommunen zusammengeführt und lässt sich keinem "
        "Schema zuordnen; ordnen Sie die Quellen zu.", dataset=resource.dataset.name))
    return resource


def source_columns(session: Session, actor: Actor, resource_id: str) -> list[dict[str, str]]:
    """The columns a mapping of the resource can use (of its newest version; none before the
    first upload), for someone who may edit it."""
    resource = _editable_resource(session, actor, resource_id)
    version = versions.current(session, resource)
    return _visible_columns(version) if version is not None else []


def _latest_mapping(session: Session, resource_id: str) -> ResourceMapping | None:
    return session.scalar(select(ResourceMapping).where(ResourceMapping.resource_id ==
                                                        resource_id)
                          .order_by(ResourceMapping.version.desc()).limit(1))


def _mapping_versions(session: Session, resource_id: str) -> list[ResourceMapping]:
    return list(session.scalars(select(ResourceMapping).where(
        ResourceMapping.resource_id == resource_id).order_by(ResourceMapping.version)))


def suggest(platform: Platform, session: Session, actor: Actor, resource_id: str,
            schema_name: str) -> Mapping:
    """A suggested mapping of the resource's latest version onto the schema."""
    resource = _editable_resource(session, actor, resource_id)
    schema = get_schema(session, schema_name)
    with _connection(platform) as con:
        columns = _load_version(con, platform.settings.data_dir, _latest_version(session, resource))
        return suggest_mapping(con, "source", columns, schema,
                               ags=resource.dataset.organization.ags)


#: Rows the choice of a schema looks at.
CHOICE_ROWS = 500


def best_schema(platform: Platform, session: Session, actor: Actor, resource_id: str
                ) -> str | None:
    """The schema the resource's columns fit best: each schema's suggested mapping scored by
    the confidence of the fields it fills from columns, over the schema's fields. None when no
    column fits any schema."""
    resource = _editable_resource(session, actor, resource_id)
    with _connection(platform) as con:
        columns = _load_version(con, platform.settings.data_dir,
                                _latest_version(session, resource), CHOICE_ROWS)
        scores = {}
        for info in list_schemas(session):
            schema = get_schema(session, info.name)
            mapping = suggest_mapping(con, "source", columns, schema)
            scores[info.name] = sum(rule.confidence or 0 for rule in mapping.fields.values()
                                    if rule.source) / max(1, len(schema["fields"]))
    best = max(scores, key=lambda name: scores[name], default=None)
    return best if best is not None and scores[best] > 0 else None


@dataclass
class Preview:
    fields: list[str]
    rows: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    error_counts: dict[str, int]
    #: per row its source row and, with groups, its group's number
    positions: list[tuple[int, int | None]] = field(default_factory=list)
    #: what the groups are called ("Ladepunkt"); None without groups
    groups: str | None = None


def preview(platform: Platform, session: Session, actor: Actor, resource_id: str,
            mapping: Mapping | dict[str, Any], limit: int = PREVIEW_ROWS) -> Preview:
    """The first ``limit`` source rows mapped (with groups, one row per group that has a
    value), with the cells that failed, before anything is saved."""
    resource = _editable_resource(session, actor, resource_id)
    mapping = mapping if isinstance(mapping, Mapping) else parse_mapping(mapping)
    schema = get_schema(session, mapping.schema_name)
    with _connection(platform) as con:
        columns = _load_version(con, platform.settings.data_dir,
                                _latest_version(session, resource), limit)
        mapped = apply_mapping(con, "source", columns, mapping, schema)
        group = GROUP if mapped.groups else f"NULL::BIGINT AS {GROUP}"
        found = con.execute(sql.select([*map(sql.ident, mapped.fields), SOURCE_ROW, group],
                                       mapped.relation, order_by=mapped.order)).fetchall()
    count = len(mapped.fields)
    return Preview(mapped.fields, [dict(zip(mapped.fields, r[:count], strict=True))
                                   for r in found],
                   [e.__dict__ for e in mapped.errors], mapped.error_counts,
                   [(r[count], r[count + 1]) for r in found], mapped.groups)


def save_mapping(platform: Platform, session: Session, actor: Actor, resource_id: str,
                 mapping: Mapping | dict[str, Any]) -> ResourceMapping:
    """Check the mapping against schema and source, store it as the next mapping version and
    queue the harmonization of the resource."""
    resource = _editable_resource(session, actor, resource_id)
    mapping = mapping if isinstance(mapping, Mapping) else parse_mapping(mapping)
    schema = get_schema(session, mapping.schema_name)
    check_mapping(mapping, schema, _visible_columns(_latest_version(session, resource)))
    number = (session.scalar(select(func.max(ResourceMapping.version)).where(
        ResourceMapping.resource_id == resource.id)) or 0) + 1
    saved = ResourceMapping(resource_id=resource.id, schema_name=mapping.schema_name,
                            version=number, rules=mapping.model_dump(mode="json",
                                                                     exclude_none=True),
                            created_by_id=actor.user_id)
    try:
        with session.begin_nested():
            session.add(saved)
            session.flush()
    except IntegrityError:
        raise Conflict(msg("Die Zuordnung wurde gerade von jemand anderem gespeichert; bitte "
                           "laden Sie sie neu und speichern Sie dann."),
                       "mapping_changed") from None
    datasets.record_change(session, actor, resource.dataset, "mapping_saved", {
        "resource": [None, resource.name], "schema": [None, mapping.schema_name],
        "mapping_version": [None, number]})
    queue.enqueue(session, "harmonize", {"resource": resource.id}, actor,
                  resource.dataset.organization_id)
    return saved


# --- quality --------------------------------------------------------------------------------

def _latest_report(session: Session, resource_id: str,
                   hidden: Iterable[int] = ()) -> QualityReport | None:
    """The newest report, of a table version not in ``hidden``."""
    return session.scalar(select(QualityReport).where(
        QualityReport.resource_id == resource_id,
        QualityReport.table_version.not_in(list(hidden)))
        .order_by(QualityReport.table_version.desc(),
                  QualityReport.mapping_version.desc()).limit(1))


def reports_for(session: Session, actor: Actor, resources: list[Resource]
                ) -> dict[str, QualityReport]:
    """The latest report of each resource whose rows the actor may read (badges in lists:
    they link to the report, which shows cells)."""
    ids = [r.id for r in resources if is_allowed(actor, Action.READ_ROWS, r.dataset)]
    found: dict[str, QualityReport] = {}
    if not ids:
        return found
    rows = session.scalars(select(QualityReport).where(QualityReport.resource_id.in_(
        ids)).order_by(QualityReport.table_version, QualityReport.mapping_version))
    for report in rows:
        found[report.resource_id] = report
    return found


@dataclass(frozen=True)
class _HarmonizeInput:
    """What harmonizing a resource needs, read in one short transaction."""

    version: TableVersion
    mapping: Mapping
    mapping_version: int
    schema: dict[str, Any]
    area: list[float] | None
    provenance: regional.Provenance


def _harmonize_input(session: Session, resource_id: str
                     ) -> _HarmonizeInput | QualityReport | None:
    """The inputs, or the existing report when this table and mapping version are done,
    or None for a resource without a version or a mapping."""
    resource = session.get(Resource, resource_id)
    saved = _latest_mapping(session, resource_id)
    version = versions.current(session, resource) if resource is not None else None
    if saved is None or version is None:
        return None
    existing = _report_of(session, resource_id, version.version, saved.version)
    if existing is not None:
        return existing
    organization = resource.dataset.organization
    return _HarmonizeInput(
        version, parse_mapping(saved.rules), saved.version, get_schema(session, saved.schema_name),
        organization.bbox, regional.Provenance(organization.slug, organization.ags,
                                               resource.dataset.name, version.version,
                                               version.created_at))


def _report_of(session: Session, resource_id: str, table_version: int, mapping_version: int
               ) -> QualityReport | None:
    return session.scalar(select(QualityReport).where(
        QualityReport.resource_id == resource_id, QualityReport.table_version == table_version,
        QualityReport.mapping_version == mapping_version))


def harmonize_resource(platform: Platform, resource_id: str, attempt: Attempt | None = None
                       ) -> QualityReport | None:
    """Map, validate and keep the latest version of a mapped resource (idempotent: an
    existing report for the same table and mapping version is returned as it is, also when
    another process stored it while this one worked). No transaction is open while DuckDB
    maps and validates."""
    data_dir = platform.settings.data_dir
    with platform.db.session() as session:
        found = _harmonize_input(session, resource_id)
    if not isinstance(found, _HarmonizeInput):
        return found
    attempt = attempt or Attempt(data_dir, pause_at=platform.settings.pause_at)
    try:
        built = attempt.scratch / "harmonized.parquet"
        report = _map_and_validate(data_dir, found.version, found.mapping, found.schema,
                                   found.area, found.provenance, built,
                                   attempt.scratch / "duckdb")
        attempt.checkpoint("mapping")
        relative = attempt.output(resource_id, "harmonized")
        target = store.publish(data_dir, built, relative)
    finally:
        attempt.close()
    stored = QualityReport(
        resource_id=resource_id, table_version=found.version.version,
        mapping_version=found.mapping_version, schema_name=found.schema["name"],
        rows=report.rows, score=report.score, valid=report.valid, report=report.as_dict(),
        mapped_path=relative)
    try:
        attempt.checkpoint("publishing")
        with platform.db.session() as session:
            attempt.guard(session)
            session.add(stored)
            session.flush()
            queue.enqueue(session, "consolidate", {"schema": stored.schema_name}, SYSTEM)
    except IntegrityError:  # another process stored the same report first: keep theirs
        target.unlink(missing_ok=True)
        with platform.db.sessions() as session:
            return _report_of(session, resource_id, found.version.version,
                              found.mapping_version)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return stored


def _map_and_validate(data_dir: Path, version: TableVersion, mapping: Mapping,
                      schema: dict[str, Any], area: list[float] | None,
                      provenance: regional.Provenance, target: Path, spill: Path
                      ) -> ValidationReport:
    with store.connection(spill) as con:
        columns = _load_version(con, data_dir, version)
        mapped = apply_mapping(con, "source", columns, mapping, schema)
        # The validation needs one number per row; with groups several rows share a source
        # row, so they are numbered one by one and the samples told by source row and group.
        number = (f"row_number() OVER (ORDER BY {', '.join(mapped.order)}) + 1"
                  if mapped.groups else f"{SOURCE_ROW} + 1")
        con.execute(sql.create_view(REPORT_ROWS, sql.select(
            ["*", f"{number} AS __report_row"], mapped.relation)))
        report = validate_columns(con, REPORT_ROWS, schema, row_column="__report_row",
                                  area=area, source=version.source_name)
        if mapped.groups:
            samples_by_group(con, report, REPORT_ROWS, report_row="__report_row",
                             file_row=f"{SOURCE_ROW} + 1", groups=mapped.groups,
                             source=version.source_name)
        regional.write_harmonized(con, mapped.relation, SOURCE_ROW, schema, provenance,
                                  target)
        return add_transform_errors(report, mapped)


REPORT_ROWS = "__numbered"



# --- the regional tables ------------------------------------------------------------------

def _region_organization(session: Session) -> Organization:
    """The organization that publishes the regional tables: the first of type "region",
    created when there is none."""
    found = session.scalar(select(Organization).where(Organization.type == REGION_TYPE)
                           .order_by(Organization.id).limit(1))
    if found is not None:
        return found
    return organizations.create_organization(session, SYSTEM, {
        "slug": "region", "name": "Region", "type": REGION_TYPE,
        "description": "Regionale Datensätze, aus den Daten der Kommunen zusammengeführt."})


def regional_dataset_name(schema_name: str) -> str:
    return f"region-{schema_name}"


def _regional_title(schema_title: str) -> Message:
    return msg("{title} in der Region", title=schema_title)


def _regional_description(schema_title: str, schema_name: str) -> Message:
    return msg("Regionaler Datensatz nach dem gemeinsamen Schema „{title}“ ({name}): die "
               "zusammengeführten Daten aller Kommunen, die ihre Daten diesem Schema zugeordnet "
               "haben, mit Herkunft je Zeile (Spalten quelle_…). Wird neu gebaut, sobald sich "
               "eine Quelle ändert.", title=schema_title, name=schema_name)


def _regional_resource(session: Session, schema: dict[str, Any]) -> Resource:
    name = regional_dataset_name(schema["name"])
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        title = schema.get("title", schema["name"])
        dataset = datasets.create_dataset(session, SYSTEM, {
            "name": name, "organization": _region_organization(session).slug,
            "title": str(_regional_title(title)),
            "description": str(_regional_description(title, schema["name"])),
            "keywords": ["Regional", "Harmonisiert", title], "access_level": "public"})
    return datasets.file_resource(session, SYSTEM, dataset.name, schema["name"], derived=True)


@dataclass(frozen=True)
class DatasetTexts:
    """A dataset's title and description: what users wrote (``str``), or, where allmende
    wrote them (a regional dataset), a :class:`Message` to show in the reader's language."""

    title: str
    description: str


def dataset_texts(dataset: Dataset) -> DatasetTexts:
    """The title and description of ``dataset`` as messages where allmende made them: those
    of a regional dataset are kept in German in the catalog (search, DCAT) and taken for
    allmende's own again while nobody changed them."""
    schema_name = next((r.name for r in dataset.resources if r.derived), None)
    texts = DatasetTexts(dataset.title, dataset.description)
    suffix = str(_regional_title(""))
    if schema_name is None or not dataset.title.endswith(suffix):
        return texts
    schema_title = dataset.title.removesuffix(suffix)
    description = _regional_description(schema_title, schema_name)
    return DatasetTexts(_regional_title(schema_title),
                        description if description == dataset.description
                        else dataset.description)


@dataclass(frozen=True)
class Source:
    """A source of a regional table, as read when the rebuild started."""

    dataset: str
    themes: tuple[str, ...]
    path: Path
    listing: dict[str, Any]  # what the consolidation record lists of it


def _sources(session: Session, data_dir: Path, schema_name: str
             ) -> tuple[list[Source], list[dict[str, Any]]]:
    """The latest report of every public source whose current mapping targets the schema;
    sources not yet harmonized are listed as problems. A regional table is never a source
    (not even one mapped before mappings of regional tables were refused)."""
    latest = select(ResourceMapping.resource_id, func.max(ResourceMapping.version).label("v")
                    ).group_by(ResourceMapping.resource_id).subquery()
    mappings = session.scalars(select(ResourceMapping).join(latest, (
        ResourceMapping.resource_id == latest.c.resource_id) & (ResourceMapping.version ==
                                                               latest.c.v))
        .where(ResourceMapping.schema_name == schema_name))
    sources, problems = [], []
    for saved in mappings:
        resource = session.get(Resource, saved.resource_id)
        dataset = resource.dataset
        if (dataset.deleted_at is not None or dataset.draft or dataset.access_level != "public"
                or not resource.current_version or datasets.is_built(dataset)):
            continue
        report = _usable_report(session, data_dir, resource, saved)
        if report is None:
            problems.append({"dataset": dataset.name, **stored(msg(
                "Noch keine harmonisierten Daten (die Prüfung läuft noch oder ist "
                "gescheitert)."))})
            continue
        if (report.table_version, report.mapping_version) != (resource.current_version,
                                                              saved.version):
            problems.append({"dataset": dataset.name, **stored(msg(
                "Die neueste Version ist noch nicht harmonisiert; bis dahin gilt Version "
                "{version} (Zuordnung {mapping}).", version=report.table_version,
                mapping=report.mapping_version))})
        sources.append(Source(dataset.name, tuple(dataset.themes), data_dir / report.mapped_path,
                              _listing(dataset, report)))
    return sources, problems


def _listing(dataset: Dataset, report: QualityReport) -> dict[str, Any]:
    organization = dataset.organization
    return {"dataset": dataset.name, "title": dataset.title, "resource": report.resource_id,
            "organization": organization.slug, "organization_name": organization.name,
            "ags": organization.ags, "table_version": report.table_version,
            "mapping_version": report.mapping_version, "rows": report.rows,
            "score": report.score, "valid": report.valid}


def _usable_report(session: Session, data_dir: Path, resource: Resource,
                   saved: ResourceMapping) -> QualityReport | None:
    """The report of the current table and mapping version; while that is missing (queued or
    failed), the newest earlier one of the same schema, so a source does not drop out of the
    regional table because its latest upload is not harmonized yet. A version held for a
    decision on its personal data (privacy.held) never reaches the public regional table."""
    reports = session.scalars(select(QualityReport).where(
        QualityReport.resource_id == resource.id,
        QualityReport.schema_name == saved.schema_name).order_by(
        QualityReport.table_version.desc(), QualityReport.mapping_version.desc()))
    withheld = held.held_versions(session, resource.id)
    return next((r for r in reports if r.table_version not in withheld
                 and (data_dir / r.mapped_path).is_file()), None)


@dataclass(frozen=True)
class _RebuildInput:
    schema: dict[str, Any]
    sources: list[Source]
    problems: list[dict[str, Any]]
    resource_id: str
    current_version: int


def _rebuild_input(platform: Platform, schema_name: str) -> _RebuildInput:
    """Read (and on the first rebuild create) what a rebuild starts from; two first rebuilds
    racing to create the regional dataset end with one, the loser reading it again."""
    for _ in range(2):
        try:
            with platform.db.session() as session:
                schema = get_schema(session, schema_name)
                sources, problems = _sources(session, platform.settings.data_dir, schema_name)
                resource = _regional_resource(session, schema)
                return _RebuildInput(schema, sources, problems, resource.id,
                                     resource.current_version)
        except IntegrityError:
            continue
    raise Conflict(msg("Der regionale Datensatz „{schema}“ konnte nicht angelegt werden.",
                       schema=schema_name), "regional_conflict")


#: Rebuilds of one schema that lose the race to publish start again from the new state.
REBUILD_ATTEMPTS = 50


def consolidate(platform: Platform, schema_name: str, attempt: Attempt | None = None
                ) -> Consolidation:
    """Rebuild the regional table of a schema as the next version of its resource. The
    version is published only if no other rebuild published since this one read its
    sources; otherwise it starts again, so the newest version always reflects the newest
    state and versions are numbered without gaps."""
    attempt = attempt or Attempt(platform.settings.data_dir, pause_at=platform.settings.pause_at)
    try:
        for _ in range(REBUILD_ATTEMPTS):
            start = _rebuild_input(platform, schema_name)
            try:
                return _rebuild(platform, attempt, start)
            except versions.StaleVersion:
                continue
    finally:
        attempt.close()
    raise Conflict(msg("Der regionale Datensatz „{schema}“ wird gerade ständig neu gebaut; "
                       "bitte versuchen Sie es später erneut.", schema=schema_name),
                   "regional_busy")


def _rebuild(platform: Platform, attempt: Attempt, start: _RebuildInput) -> Consolidation:
    target = attempt.scratch / f"regional-{start.current_version}.parquet"
    problems = list(start.problems)
    sources = _readable(start.sources, problems)
    built = (regional.consolidate_files([s.path for s in sources], start.schema, target,
                                        attempt.scratch / "duckdb")
             if sources else regional.write_empty(start.schema, target))
    attempt.checkpoint("consolidating")
    size, digest = target.stat().st_size, store.sha256_of(target)

    def record(session: Session, resource: Resource, number: int, path: str) -> Consolidation:
        session.add(TableVersion(
            resource_id=resource.id, version=number, path=path, rows=built.rows,
            columns=regional.table_columns(start.schema), crs="EPSG:4326",
            source_name=f"Zusammenführung von {len(sources)} Quellen", source_sha256=digest,
            source_size=size, source_format="parquet",
            read_report={"duplicates_removed": built.duplicates, "sources": len(sources)},
            warnings=[],
            schema_changes={}, derived_from=sorted({s.dataset for s in sources})))
        datasets.record_change(session, SYSTEM, resource.dataset, "version_added",
                               {"resource": [None, resource.name], "version": [None, number]})
        _inherit_themes(session, resource.dataset, sources)
        return _record_consolidation(session, start.schema["name"], resource, sources,
                                     problems, built)

    return versions.publish(platform.db, attempt, start.resource_id, target, record,
                            expected=start.current_version)


def _inherit_themes(session: Session, regional_dataset: Dataset, sources: list[Source]) -> None:
    """The regional dataset is found under the themes of its sources (search facets)."""
    themes = sorted({t for s in sources for t in s.themes})
    if themes and themes != sorted(regional_dataset.themes):
        datasets.update_dataset(session, SYSTEM, regional_dataset.name, {"themes": themes})


def _readable(sources: list[Source], problems: list[dict[str, Any]]) -> list[Source]:
    """The sources whose harmonized file can be read; the others are listed as problems."""
    readable = []
    for source in sources:
        try:
            duckdb.execute("SELECT count(*) FROM read_parquet(?)", [str(source.path)]).fetchall()
            readable.append(source)
        except duckdb.Error as error:
            problems.append({"dataset": source.dataset, **stored(msg(
                "Die harmonisierten Daten sind nicht lesbar: {error}", error=str(error)))})
    return readable


def _record_consolidation(session: Session, schema_name: str, resource: Resource,
                          sources: list[Source], problems: list[dict[str, Any]],
                          built: regional.Consolidated) -> Consolidation:
    listed = [{**s.listing, "kept": built.rows_per_source.get(s.dataset, 0)} for s in sources]
    record = session.get(Consolidation, schema_name)
    if record is None:
        record = Consolidation(schema_name=schema_name, dataset_id=resource.dataset_id,
                               resource_id=resource.id)
        session.add(record)
    record.sources, record.problems = listed, problems
    record.duplicates = {"count": built.duplicates, "listed": built.listed}
    record.rebuilt_at = dt.datetime.now(dt.UTC)
    session.flush()
    return record


def get_consolidation(session: Session, actor: Actor, schema_name: str) -> Consolidation:
    """The regional table of a schema, if the actor may see its dataset."""
    record = session.get(Consolidation, schema_name)
    if record is None or not visibility(actor).sees(record.dataset):
        raise NotFound(msg("Für das Schema „{schema}“ gibt es noch keinen regionalen "
                           "Datensatz.", schema=schema_name), "no_consolidation")
    return record


def list_consolidations(session: Session, actor: Actor) -> list[Consolidation]:
    """The regional tables whose datasets the actor may see."""
    scope = visibility(actor)
    return [c for c in session.scalars(select(Consolidation).order_by(Consolidation.schema_name))
            if scope.sees(c.dataset)]


def harmonize_and_consolidate(platform: Platform, resource_id: str) -> QualityReport | None:
    """Both steps at once, in-process (the demo and the CLI do not wait for a worker); None
    for a resource without mapping."""
    report = harmonize_resource(platform, resource_id)
    if report is not None:
        consolidate(platform, report.schema_name)
    return report


# --- reading a resource's mapping and report (web API) ---------------------------------------
# Mappings and reports carry cell values (value maps, error samples), so reading them needs
# the same right as reading the rows.

def _readable_resource(session: Session, actor: Actor, resource_id: str) -> Resource:
    resource = datasets.get_resource(session, actor, resource_id)
    authorize(actor, Action.READ_ROWS, resource.dataset)
    return resource


def find_mapping(session: Session, actor: Actor, resource_id: str) -> ResourceMapping | None:
    """The latest mapping of a resource whose rows the actor may read; None when unmapped."""
    return _latest_mapping(session, _readable_resource(session, actor, resource_id).id)


def current_mapping(session: Session, actor: Actor, resource_id: str) -> ResourceMapping:
    """The latest mapping of a resource whose rows the actor may read."""
    saved = find_mapping(session, actor, resource_id)
    if saved is None:
        resource = datasets.get_resource(session, actor, resource_id)
        raise NotFound(msg("Die Ressource „{name}“ ist noch keinem gemeinsamen Schema "
                           "zugeordnet.", name=resource.name), "no_mapping")
    return saved


def mapping_history(session: Session, actor: Actor, resource_id: str) -> list[ResourceMapping]:
    """Every saved mapping version of a resource whose rows the actor may read, oldest first."""
    return _mapping_versions(session, _readable_resource(session, actor, resource_id).id)


def find_report(session: Session, actor: Actor, resource_id: str) -> QualityReport | None:
    """The latest quality report of a resource whose rows the actor may read (its samples show
    cells: not of a version held from the actor); None when there is none yet."""
    resource = _readable_resource(session, actor, resource_id)
    hidden = () if sees_version(actor, resource.dataset, "pending") else \
        held.held_versions(session, resource.id)
    return _latest_report(session, resource.id, hidden)


def quality_for(session: Session, actor: Actor, resource_id: str) -> QualityReport:
    """The latest quality report of a resource whose rows the actor may read."""
    report = find_report(session, actor, resource_id)
    if report is None:
        resource = datasets.get_resource(session, actor, resource_id)
        raise NotFound(msg("Für die Ressource „{name}“ gibt es noch keinen Qualitätsbericht: "
                           "sie ist keinem Schema zugeordnet oder wird gerade geprüft.",
                           name=resource.name), "no_quality_report")
    return report
