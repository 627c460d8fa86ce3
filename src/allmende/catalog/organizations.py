"""Organizations (Kommunen, Kreise, regional bodies, companies, research)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, authorize
from allmende.catalog.indexing import reindex
from allmende.catalog.validation import (
    NOT_BLANK,
    OPTIONAL_EMAIL,
    OPTIONAL_URL,
    check_email,
    check_text,
    check_url,
    parsed,
    partial,
)
from allmende.catalog.vocabularies import ORGANIZATION_TYPES
from allmende.db.models import Dataset, Organization, utcnow
from allmende.errors import Conflict, NotFound, msg

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
SLUG_MESSAGE = msg("Nur Kleinbuchstaben a-z, Ziffern und Bindestriche, beginnend mit Buchstabe "
                   "oder Ziffer, höchstens 100 Zeichen.")


def check_slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError(SLUG_MESSAGE)
    return value


def check_bbox(value: list[float] | None) -> list[float] | None:
    if value is None:
        return None
    if len(value) != 4:
        raise ValueError(msg("Erwartet vier Zahlen: Länge min, Breite min, Länge max, Breite "
                             "max."))
    lon_min, lat_min, lon_max, lat_max = value
    if not (-180 <= lon_min < lon_max <= 180 and -90 <= lat_min < lat_max <= 90):
        raise ValueError(msg("Die Ausdehnung ist keine gültige WGS84-Box (Länge min < max, "
                             "Breite min < max)."))
    return [float(v) for v in value]


def _position(point: Any) -> tuple[float, float]:
    """A GeoJSON position: a list of numbers, longitude and latitude first."""
    if not isinstance(point, list) or len(point) < 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in point[:2]):
        raise ValueError(point)
    return float(point[0]), float(point[1])


def bbox_of_area(area: dict[str, Any]) -> list[float]:
    """The bounding box of a GeoJSON Polygon or MultiPolygon, validating its structure."""
    kind = area.get("type")
    coordinates = area.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = coordinates
    else:
        raise ValueError(msg("Das Gebiet muss ein GeoJSON-Polygon oder -MultiPolygon sein."))
    try:
        points = [_position(p) for poly in polygons for ring in poly for p in ring]
    except (TypeError, IndexError, KeyError, ValueError):
        raise ValueError(msg("Die Koordinaten des Gebiets sind unvollständig.")) from None
    if len(points) < 4:
        raise ValueError(msg("Ein Polygon braucht mindestens vier Punkte."))
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return check_bbox([min(lons), min(lats), max(lons), max(lats)])  # type: ignore[return-value]


# The OpenAPI document's words for check_bbox and bbox_of_area (the order of the corners and
# the number of points it cannot say).
_LONGITUDE = {"type": "number", "minimum": -180, "maximum": 180}
_LATITUDE = {"type": "number", "minimum": -90, "maximum": 90}
BBOX_SCHEMA = {"prefixItems": [_LONGITUDE, _LATITUDE, _LONGITUDE, _LATITUDE],
               "minItems": 4, "maxItems": 4}
_RING = {"type": "array", "minItems": 4, "items": {"type": "array", "minItems": 2,
                                    "prefixItems": [_LONGITUDE, _LATITUDE]}}
_POLYGON = {"type": "array", "minItems": 1, "items": _RING}
AREA_SCHEMA = {"anyOf": [
    {"type": "null"},
    {"type": "object", "required": ["type", "coordinates"],
     "properties": {"type": {"const": "Polygon"}, "coordinates": _POLYGON}},
    {"type": "object", "required": ["type", "coordinates"],
     "properties": {"type": {"const": "MultiPolygon"},
                    "coordinates": {"type": "array", "minItems": 1, "items": _POLYGON}}},
]}


class OrganizationFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # json_schema_extra describes the validators below in the OpenAPI document
    name: str = Field(min_length=1, max_length=300, json_schema_extra={"pattern": NOT_BLANK})
    type: str = Field("municipality", json_schema_extra={"enum": list(ORGANIZATION_TYPES)})
    ags: str | None = Field(None, json_schema_extra={"pattern": r"^$|^[0-9]{8}$"})
    description: str = ""
    logo_url: str | None = Field(None, json_schema_extra={"pattern": OPTIONAL_URL})
    contact_email: str | None = Field(None, json_schema_extra={"pattern": OPTIONAL_EMAIL})
    website: str | None = Field(None, json_schema_extra={"pattern": OPTIONAL_URL})
    bbox: list[float] | None = Field(None, json_schema_extra=BBOX_SCHEMA)
    area: dict[str, Any] | None = Field(None, json_schema_extra=AREA_SCHEMA)

    @field_validator("name", "description")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_text(value)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in ORGANIZATION_TYPES:
            raise ValueError(msg("Unbekannte Art; erlaubt: {allowed}.",
                                 allowed=", ".join(ORGANIZATION_TYPES)))
        return value

    @field_validator("ags")
    @classmethod
    def _ags(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"\d{8}", value):
            raise ValueError(msg("Der Amtliche Gemeindeschlüssel hat genau acht Ziffern, "
                                 "z. B. 05913000 für Dortmund."))
        return value or None

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, value: list[float] | None) -> list[float] | None:
        return check_bbox(value)

    @field_validator("area")
    @classmethod
    def _area(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            bbox_of_area(value)
        return value

    @field_validator("logo_url", "website")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return check_url(value)

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value)


class OrganizationCreate(OrganizationFields):
    slug: str = Field(json_schema_extra={"pattern": SLUG.pattern})

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)


OrganizationPatch = partial(OrganizationFields, "OrganizationPatch")



def _apply_area(organization: Organization, area: dict[str, Any] | None) -> None:
    """Store a (validated) area and the bounding box derived from it; None removes the area."""
    organization.area = area
    if area is not None:
        organization.bbox = bbox_of_area(area)


def create_organization(session: Session, actor: Actor, data: dict[str, Any]) -> Organization:
    authorize(actor, Action.CREATE_ORGANIZATION)
    fields = parsed(OrganizationCreate, data)
    if session.scalar(select(Organization.id).where(Organization.slug == fields.slug)):
        raise Conflict(msg("Die Kennung „{name}“ ist bereits vergeben.", name=fields.slug),
                       "slug_taken")
    values = fields.model_dump(exclude={"area"})
    organization = Organization(**values)
    if fields.area is not None:
        _apply_area(organization, fields.area)
    session.add(organization)
    session.flush()
    return organization


def update_organization(
    session: Session, actor: Actor, slug: str, changes: dict[str, Any]
) -> Organization:
    organization = get_organization(session, slug)
    authorize(actor, Action.EDIT_ORGANIZATION, organization.id)
    current = {c: getattr(organization, c) for c in OrganizationFields.model_fields}
    fields = parsed(OrganizationFields, {**current, **changes})
    for name in changes:
        if name != "area":
            setattr(organization, name, getattr(fields, name))
    if "area" in changes:
        _apply_area(organization, fields.area)
    organization.modified_at = utcnow()
    if "name" in changes:  # datasets are found by their organization's name
        for dataset in session.scalars(
                select(Dataset).where(Dataset.organization_id == organization.id)):
            reindex(session, dataset)
    return organization


def get_organization(session: Session, slug: str) -> Organization:
    organization = session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        raise NotFound(msg("Die Organisation „{slug}“ gibt es nicht.", slug=slug),
                       "organization_not_found")
    return organization


def list_organizations(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(func.lower(Organization.name))))


def area_map(session: Session) -> dict[str, Any]:
    """The organizations' areas as a GeoJSON FeatureCollection (WGS84), each with its slug
    and name: the base layer of maps when no tile server is configured. An organization with a
    bounding box only is drawn as that box."""
    features = [{"type": "Feature", "geometry": o.area or _box(o.bbox),
                 "properties": {"slug": o.slug, "name": o.name}}
                for o in list_organizations(session) if o.area or o.bbox]
    return {"type": "FeatureCollection", "features": features}


def _box(bbox: list[float]) -> dict[str, Any]:
    west, south, east, north = bbox
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                [west, north], [west, south]]]}
