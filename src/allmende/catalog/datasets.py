"""Datasets (dcat:Dataset) and their resources (dcat:Distribution), with an activity history."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from allmende.access.policy import (
    ACCESS_LEVELS,
    Action,
    Actor,
    authorize,
    is_allowed,
    visibility,
)
from allmende.catalog import events
from allmende.catalog.indexing import reindex
from allmende.catalog.organizations import SLUG, check_slug, get_organization
from allmende.catalog.validation import (
    EMAIL,
    NOT_BLANK,
    OPTIONAL_URL,
    URL,
    check_text,
    check_url,
    parsed,
    partial,
)
from allmende.catalog.vocabularies import (
    DCATDE_LICENSE_BASE,
    DEFAULT_LICENSE,
    EU_FREQUENCY_BASE,
    EU_THEME_BASE,
    FREQUENCIES,
    LANGUAGES,
    LICENSE_ALIASES,
    LICENSES,
    THEMES,
    political_geocoding_uri,
)
from allmende.db.models import Activity, Dataset, Resource, utcnow
from allmende.errors import Conflict, FieldError, Forbidden, Invalid, Message, NotFound, msg

MAX_KEYWORDS = 50
KEYWORD_MAX_LENGTH = 100
RESOURCE_FORMATS_MAX = 30


def _codes(allowed: dict[str, Any], base: str = "") -> list[str]:
    """What _one_of accepts, for the OpenAPI document: each code, and its URI."""
    return [*allowed, *(base + code for code in allowed if base)]


def _one_of(value: str, allowed: dict[str, Any], base: str, what: Message) -> str:
    code = value.removeprefix(base)
    if code not in allowed:
        raise ValueError(msg("Unbekannte {what} „{value}“; erlaubt: {allowed}.", what=what,
                             value=value, allowed=", ".join(allowed)))
    return code


def _date_text(value: Any) -> Any:
    """A date is written as text (``2024-03-01``), as the schema says: pydantic would also
    read a number as seconds since 1970."""
    if value is None or isinstance(value, str | dt.date):
        return value
    raise ValueError("Erwartet ein Datum (JJJJ-MM-TT).")


Day = Annotated[dt.date | None, BeforeValidator(_date_text)]


class DatasetFields(BaseModel):
    """Every editable DCAT-AP.de field of a dataset, validated with German messages."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # json_schema_extra describes the validators below in the OpenAPI document
    title: str = Field(min_length=1, max_length=500, json_schema_extra={"pattern": NOT_BLANK})
    description: str = Field(min_length=1, max_length=20000,
                             json_schema_extra={"pattern": NOT_BLANK})
    keywords: list[str] = Field(default_factory=list, json_schema_extra={
        "maxItems": MAX_KEYWORDS, "items": {"type": "string", "maxLength": KEYWORD_MAX_LENGTH}})
    themes: list[str] = Field(default_factory=list, json_schema_extra={
        "items": {"type": "string", "enum": _codes(THEMES, EU_THEME_BASE)}})
    license: str = Field(DEFAULT_LICENSE,
                         json_schema_extra={"enum": _codes(LICENSES, DCATDE_LICENSE_BASE)})
    contact_point: str | None = Field(None, json_schema_extra={
        "pattern": f"^$|{EMAIL.pattern}|{URL.pattern}"})
    issued: Day = None
    temporal_start: Day = None
    temporal_end: Day = None
    spatial: str | None = Field(None, json_schema_extra={"pattern": OPTIONAL_URL})
    update_frequency: str | None = Field(None, json_schema_extra={
        "enum": [*_codes(FREQUENCIES, EU_FREQUENCY_BASE), "", None]})
    language: str = Field("de", json_schema_extra={"enum": _codes(LANGUAGES)})
    access_level: str = Field("public", json_schema_extra={"enum": list(ACCESS_LEVELS)})
    draft: bool = Field(False, strict=True)  # JSON true or false, as the schema says

    @field_validator("title", "description")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_text(value)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, values: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(check_text(v.strip()) for v in values if v.strip()))
        if len(cleaned) > MAX_KEYWORDS:
            raise ValueError(msg("Höchstens {limit} Schlagwörter.", limit=MAX_KEYWORDS))
        if any(len(v) > KEYWORD_MAX_LENGTH for v in cleaned):
            raise ValueError(msg("Ein Schlagwort darf höchstens {limit} Zeichen lang sein.",
                                 limit=KEYWORD_MAX_LENGTH))
        return cleaned

    @field_validator("themes")
    @classmethod
    def _themes(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(_one_of(v, THEMES, EU_THEME_BASE, msg("Kategorie"))
                                  for v in values))

    @field_validator("license")
    @classmethod
    def _license(cls, value: str) -> str:
        code = value.removeprefix(DCATDE_LICENSE_BASE)
        return _one_of(LICENSE_ALIASES.get(code, code), LICENSES, DCATDE_LICENSE_BASE,
                       msg("Lizenz"))

    @field_validator("update_frequency")
    @classmethod
    def _frequency(cls, value: str | None) -> str | None:
        return _one_of(value, FREQUENCIES, EU_FREQUENCY_BASE,
                       msg("Aktualisierungsfrequenz")) \
            if value else None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return _one_of(value, LANGUAGES, "", msg("Sprache"))

    @field_validator("access_level")
    @classmethod
    def _access(cls, value: str) -> str:
        if value not in ACCESS_LEVELS:
            raise ValueError("Unbekannte Zugriffsstufe; erlaubt: " + ", ".join(ACCESS_LEVELS))
        return value

    @field_validator("contact_point")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value and not (EMAIL.match(value) or URL.match(value)):
            raise ValueError("Erwartet eine E-Mail-Adresse oder eine Web-Adresse (https://…).")
        return value or None

    @field_validator("spatial")
    @classmethod
    def _spatial(cls, value: str | None) -> str | None:
        if value and not URL.match(value):
            raise ValueError("Erwartet einen URI, z. B. den politischen Geokodierungs-URI.")
        return value or None

    @field_validator("temporal_end")
    @classmethod
    def _period(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("temporal_start")
        if value and start and value < start:
            raise ValueError("Das Ende des Zeitraums liegt vor seinem Anfang.")
        return value


class DatasetCreate(DatasetFields):
    name: str = Field(json_schema_extra={"pattern": SLUG.pattern})
    organization: str
    resources: list[ResourceFields] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_slug(value)


class ResourceFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=300, json_schema_extra={"pattern": NOT_BLANK})
    description: str = ""
    format: str = Field(default="", max_length=RESOURCE_FORMATS_MAX)
    url: str | None = Field(None, json_schema_extra={"pattern": OPTIONAL_URL})

    @field_validator("name", "description")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_text(value)

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        return check_text(value.upper().lstrip("."))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value)


DatasetCreate.model_rebuild()
EDITABLE = tuple(DatasetFields.model_fields)
# A partial update: any subset of the editable fields (validated in full by the service).
DatasetPatch = partial(DatasetFields, "DatasetPatch")



def _touch(session: Session, dataset: Dataset) -> None:
    """Record a change: modification time, search terms and a new catalog revision."""
    dataset.modified_at = utcnow()
    reindex(session, dataset)


#: In an activity's changes: made by the platform itself (a rebuild, the demo, the CLI).
BY_PLATFORM = "_by_platform"


def _record(session: Session, dataset: Dataset, actor: Actor, action: str,
            changes: dict[str, Any]) -> None:
    if actor.user_id is None:
        changes = {**changes, BY_PLATFORM: True}
    session.add(Activity(dataset_id=dataset.id, user_id=actor.user_id, action=action,
                         changes=changes))


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


@dataclass(frozen=True)
class Origin:
    """Where a harvested dataset comes from: its source, the origin's identifier and page,
    and when the origin last changed it. Only the harvester sets it."""

    source_id: int
    identifier: str
    url: str | None = None
    modified: dt.datetime | None = None


def create_dataset(session: Session, actor: Actor, data: dict[str, Any],
                   origin: Origin | None = None) -> Dataset:
    fields = parsed(DatasetCreate, data)
    organization = get_organization(session, fields.organization)
    authorize(actor, Action.CREATE_DATASET, organization.id)
    if session.scalar(select(Dataset.id).where(Dataset.name == fields.name)) is not None:
        raise Conflict(msg("Die Kennung „{name}“ ist bereits vergeben.", name=fields.name),
                       "name_taken")
    values = fields.model_dump(include=set(EDITABLE))
    if origin is None:  # a harvested dataset says what its origin says, not our defaults
        if not values["spatial"] and organization.ags:
            values["spatial"] = political_geocoding_uri(organization.ags)
        if not values["contact_point"]:
            values["contact_point"] = organization.contact_email
    dataset = Dataset(name=fields.name, organization=organization, created_by_id=actor.user_id,
                      **values)
    for position, resource in enumerate(fields.resources):
        dataset.resources.append(_new_resource(resource, position))
    if origin is not None:
        set_origin(actor, dataset, origin)
    session.add(dataset)
    _touch(session, dataset)
    session.flush()
    _record(session, dataset, actor, "created",
            {k: [None, _jsonable(v)] for k, v in values.items() if v not in (None, [], "")})
    return dataset


def set_origin(actor: Actor, dataset: Dataset, origin: Origin) -> None:
    """Mark ``dataset`` as harvested from ``origin`` (read-only here from now on)."""
    if not actor.harvester:
        raise Forbidden(msg("Nur das Harvesting legt die Herkunft eines Datensatzes fest."))
    dataset.harvest_source_id, dataset.origin_id = origin.source_id, origin.identifier
    dataset.origin_url, dataset.origin_modified = origin.url, origin.modified


def replace_resources(session: Session, actor: Actor, name: str,
                      wanted: list[dict[str, Any]], files: bool = False) -> bool:
    """Make the dataset's resources those ``wanted`` (name, url, format, description),
    matched by name: a kept resource keeps its id and versions. ``files``: new ones are file
    resources (their data comes by ingest) that link to where they come from. True when
    anything changed."""
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.EDIT_DATASET, dataset)
    refuse_built(dataset)
    resources = [parsed(ResourceFields, data) for data in wanted]
    existing = {r.name: r for r in dataset.resources}
    changed = False
    for position, fields in enumerate(resources):
        resource = existing.pop(fields.name, None)
        if resource is None:
            resource = _new_resource(fields, position)
            if files:
                resource.kind = "file"
            dataset.resources.append(resource)
            changed = True
            continue
        values = {**fields.model_dump(), "position": position}
        if resource.kind == "file" and resource.current_version:
            values.pop("format")  # the ingested file's format, not the origin's label
        for key, value in values.items():
            if getattr(resource, key) != value:
                setattr(resource, key, value)
                changed = True
    for gone in existing.values():
        _sources_changed(session, actor, [gone])
        dataset.resources.remove(gone)
        session.delete(gone)
        changed = True
    if changed:
        _touch(session, dataset)
        session.flush()
        _record(session, dataset, actor, "resources_replaced",
                {"resources": [None, [f.name for f in resources]]})
    return changed


def _new_resource(fields: ResourceFields, position: int) -> Resource:
    return Resource(id=str(uuid.uuid4()), position=position, kind="link" if fields.url else "file",
                    **fields.model_dump())


def _load(session: Session, name: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        raise NotFound(msg("Den Datensatz „{name}“ gibt es nicht.", name=name),
                       "dataset_not_found")
    return dataset


def get_dataset(session: Session, actor: Actor, name: str) -> Dataset:
    """A dataset the actor may see; deleted ones only for those who may restore them."""
    dataset = _load(session, name)
    if not visibility(actor).sees(dataset):
        # Not 403: whether an invisible dataset exists is itself not to be disclosed.
        raise NotFound(msg("Den Datensatz „{name}“ gibt es nicht.", name=name),
                       "dataset_not_found")
    return dataset


def update_dataset(session: Session, actor: Actor, name: str, changes: dict[str, Any]) -> Dataset:
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.EDIT_DATASET, dataset)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid(field_errors=[FieldError(f, msg("Dieses Feld kann nicht geändert werden."))
                                    for f in sorted(unknown)])
    current = {f: getattr(dataset, f) for f in EDITABLE}
    fields = parsed(DatasetFields, {**current, **changes})
    diff = {}
    for name_ in changes:
        new = getattr(fields, name_)
        if new != current[name_]:
            diff[name_] = [_jsonable(current[name_]), _jsonable(new)]
            setattr(dataset, name_, new)
    if diff:
        _touch(session, dataset)
        _record(session, dataset, actor, "updated", diff)
    if REGIONAL_FIELDS & set(diff):
        _sources_changed(session, actor, dataset.resources)
    return dataset


def delete_dataset(session: Session, actor: Actor, name: str) -> Dataset:
    """Soft delete: hidden everywhere, restorable by the organization's admins."""
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.DELETE_DATASET, dataset)
    if dataset.deleted_at is None:
        dataset.deleted_at = utcnow()
        _touch(session, dataset)
        _record(session, dataset, actor, "deleted", {})
        _sources_changed(session, actor, dataset.resources)
    return dataset


def restore_dataset(session: Session, actor: Actor, name: str) -> Dataset:
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.RESTORE_DATASET, dataset)
    if dataset.deleted_at is not None:
        dataset.deleted_at = None
        _touch(session, dataset)
        _record(session, dataset, actor, "restored", {})
        _sources_changed(session, actor, dataset.resources)
    return dataset


#: Changes that decide whether a dataset may feed the public regional tables.
REGIONAL_FIELDS = frozenset({"access_level", "draft"})


def _sources_changed(session: Session, actor: Actor, resources: list[Resource]) -> None:
    """Tell whoever derives tables from these resources that their access changed."""
    if resources:
        events.emit(session, actor, events.SourcesChanged(tuple(r.id for r in resources)))


def deleted_datasets(session: Session, actor: Actor) -> list[Dataset]:
    """The trash: deleted datasets the actor may restore."""
    scope = visibility(actor)
    query = select(Dataset).where(Dataset.deleted_at.is_not(None))
    if not scope.everything:
        query = query.where(Dataset.organization_id.in_(scope.admin_organization_ids))
    return list(session.scalars(query.order_by(Dataset.deleted_at.desc())))


def activity(session: Session, actor: Actor, name: str, limit: int = 100) -> list[Activity]:
    dataset = get_dataset(session, actor, name)
    return list(session.scalars(
        select(Activity).where(Activity.dataset_id == dataset.id)
        .order_by(Activity.created_at.desc(), Activity.id.desc()).limit(limit)))


def add_resource(session: Session, actor: Actor, name: str, data: dict[str, Any]) -> Resource:
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.EDIT_DATASET, dataset)
    refuse_built(dataset)
    fields = parsed(ResourceFields, data)
    if any(r.name == fields.name for r in dataset.resources):
        raise Conflict(msg("Der Datensatz hat bereits eine Ressource „{name}“.",
                           name=fields.name),
                       "resource_exists")
    resource = _new_resource(fields, len(dataset.resources))
    dataset.resources.append(resource)
    _touch(session, dataset)
    session.flush()
    _record(session, dataset, actor, "resource_added", {"resource": [None, fields.name]})
    return resource


def check_editable(session: Session, actor: Actor, name: str) -> Dataset:
    """The dataset, if the actor may change it and upload to it (checked before accepting an
    upload)."""
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.EDIT_DATASET, dataset)
    refuse_built(dataset)
    return dataset


def is_built(dataset: Dataset) -> bool:
    """Whether the platform builds ``dataset`` (a regional table: its resources are derived)."""
    return any(r.derived for r in dataset.resources)


def tables_changeable(actor: Actor, dataset: Dataset) -> bool:
    """Whether the actor may upload into the dataset and map its tables (what the pages offer):
    an editor's dataset, not deleted, not built by the platform."""
    return (is_allowed(actor, Action.EDIT_DATASET, dataset) and dataset.deleted_at is None
            and not is_built(dataset))


def refuse_built(dataset: Dataset, refusal: Message | None = None) -> None:
    """A dataset of derived resources (a regional table) is built by the platform alone: its
    rows come with their provenance from the sources, which an upload (or a mapping feeding
    it back into a regional table) would forge. ``refusal`` says what was refused (default:
    files and links)."""
    if is_built(dataset):
        raise Conflict(refusal or msg(
            "„{dataset}“ wird aus den Daten der Kommunen zusammengeführt und nimmt keine "
            "Dateien oder Verweise an; ändern Sie die Quellen.", dataset=dataset.name),
            "built_dataset")


def file_resource(session: Session, actor: Actor, name: str, resource_name: str,
                  derived: bool = False) -> Resource:
    """The dataset's file resource of that name, created if it does not exist yet (an upload
    of the same name makes a new version of the same resource). Two first uploads of one name
    at the same moment end with the same resource: the one that loses the insert takes the
    other's. ``derived``: the platform builds it (a regional table); only such a caller finds
    or creates derived resources, an upload is refused there."""
    dataset = get_dataset(session, actor, name)
    authorize(actor, Action.EDIT_DATASET, dataset)
    if not derived:
        refuse_built(dataset)
    found = _named_file_resource(dataset, resource_name)
    if found is not None:
        return found
    resource = _new_resource(parsed(ResourceFields, {"name": resource_name}),
                             len(dataset.resources))
    resource.kind, resource.derived = "file", derived
    if derived:
        resource.format = "PARQUET"  # built as a table version, downloadable in every format
    try:
        with session.begin_nested():
            dataset.resources.append(resource)
            session.flush()
    except IntegrityError:
        session.refresh(dataset, ["resources"])
        found = _named_file_resource(dataset, resource_name)
        if found is None:
            raise
        return found
    _record(session, dataset, actor, "resource_added", {"resource": [None, resource_name]})
    return resource


def _named_file_resource(dataset: Dataset, resource_name: str) -> Resource | None:
    for resource in dataset.resources:
        if resource.name == resource_name:
            if resource.kind != "file":
                raise Conflict(msg("Die Ressource „{name}“ ist ein Verweis, keine Datei.",
                                   name=resource_name),
                               "resource_is_link")
            return resource
    return None


def record_change(session: Session, actor: Actor, dataset: Dataset, action: str,
                  changes: dict[str, Any]) -> None:
    """A change made by another capability (a new table version, say): history and index."""
    _touch(session, dataset)
    _record(session, dataset, actor, action, changes)


def get_resource(session: Session, actor: Actor, resource_id: str) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None or not visibility(actor).sees(resource.dataset):
        raise NotFound(msg("Die Ressource „{id}“ gibt es nicht.", id=resource_id),
                       "resource_not_found")
    return resource


def delete_resource(session: Session, actor: Actor, resource_id: str) -> None:
    resource = get_resource(session, actor, resource_id)
    dataset = resource.dataset
    authorize(actor, Action.EDIT_DATASET, dataset)
    refuse_built(dataset)
    _sources_changed(session, actor, [resource])
    dataset.resources.remove(resource)
    session.delete(resource)
    _touch(session, dataset)
    _record(session, dataset, actor, "resource_deleted", {"resource": [resource.name, None]})
