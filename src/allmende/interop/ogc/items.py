"""The items of a collection: the query parameters OGC API Features defines (``limit``,
``offset``, ``bbox`` with ``bbox-crs``, ``crs``, ``datetime``) and property filters
``name=value``, read into the table reader's query; features as GeoJSON.

Feature ids are the rows' numbers in the version (from 1, in file order): stable while the
version is the latest; a new upload is a new version with its own numbering."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from allmende.errors import FieldError, Invalid, msg
from allmende.interop.ogc import crs
from allmende.tables.query import MAX_LIMIT, Filter, RowQuery, typed_filter
from allmende.tables.reader import NumberedRows, bbox_in_wgs84
from allmende.tables.schema import Column, TableSchema
from allmende.tables.values import ValueProblem

DEFAULT_LIMIT = 100
#: The parameters of the items request (``f`` and ``lang`` are the whole API's).
PARAMETERS = ("f", "lang", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")


@dataclass(frozen=True)
class ItemsRequest:
    query: RowQuery  # filters, the WGS84 bbox, limit and offset
    crs: str  # the OGC URI of the answer's coordinates
    limit: int
    offset: int


def parse(params: Iterable[tuple[str, str]], schema: TableSchema,
          temporal: Column | None) -> ItemsRequest:
    """The request's parameters, checked: Invalid naming every parameter that cannot be
    used (a 400 in OGC's format)."""
    errors: list[FieldError] = []
    given: dict[str, str] = {}
    for key, value in params:
        if key in given:
            errors.append(FieldError(key, msg("Dieser Parameter ist mehrfach angegeben.")))
        given[key] = value
    limit = _count(given, "limit", DEFAULT_LIMIT, 1, errors)
    offset = _count(given, "offset", 0, 0, errors)
    answer_crs = _crs(given, "crs", errors)
    box = _bbox(given, errors)
    filters = [*_time_filters(given, temporal, errors), *_property_filters(given, schema,
                                                                           errors)]
    if errors:
        raise Invalid(msg("Die Abfrage ist ungültig."), errors)
    return ItemsRequest(RowQuery(filters=tuple(filters), bbox=box, limit=limit, offset=offset),
                        answer_crs, limit, offset)


def crs_of(params: Iterable[tuple[str, str]]) -> str:
    """The ``crs`` of a single item's request (CRS84 without one)."""
    errors: list[FieldError] = []
    found = _crs(dict(params), "crs", errors)
    if errors:
        raise Invalid(msg("Die Abfrage ist ungültig."), errors)
    return found


def _count(given: dict[str, str], key: str, default: int, minimum: int,
           errors: list[FieldError]) -> int:
    """``limit`` and ``offset``; a ``limit`` above 10,000 is served as 10,000 (OGC API lets
    servers return fewer features than asked for; the ``next`` link goes on from there)."""
    text = given.get(key)
    if text is None:
        return default
    if not re.fullmatch(r"\+?[0-9]{1,18}", text.strip()) or int(text) < minimum:
        errors.append(FieldError(key, msg("„{text}“ ist keine ganze Zahl ≥ {minimum}.",
                                          text=text, minimum=minimum)))
        return default
    return min(int(text), MAX_LIMIT) if key == "limit" else int(text)


def _crs(given: dict[str, str], key: str, errors: list[FieldError]) -> str:
    try:
        return crs.parse(given[key], key) if key in given else crs.CRS84
    except Invalid as error:
        errors.extend(error.field_errors)
        return crs.CRS84


def _bbox(given: dict[str, str], errors: list[FieldError]
          ) -> tuple[float, float, float, float] | None:
    """``bbox`` (four numbers, or six with heights, which are ignored) in ``bbox-crs``
    (CRS84 by default; other CRSs in their own axis order), as the WGS84 box the table's
    envelope filter takes: a feature is found when its envelope meets the box."""
    text = given.get("bbox")
    box_crs = _crs(given, "bbox-crs", errors)
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 6) or not all(_NUMBER.fullmatch(p) for p in parts):
        errors.append(FieldError("bbox", msg(
            "„{text}“ ist kein Rechteck; erwartet: vier Zahlen mit Dezimalpunkt, "
            "getrennt durch Kommas (x_min,y_min,x_max,y_max).", text=text)))
        return None
    numbers = [float(p) for p in parts]
    low_x, low_y, high_x, high_y = (numbers[:2] + numbers[2:4]) if len(numbers) == 4 \
        else (numbers[:2] + numbers[3:5])
    if low_x > high_x or low_y > high_y:
        errors.append(FieldError("bbox", msg(
            "Im Rechteck „{text}“ liegt die erste Ecke nicht unten links (über die "
            "Datumsgrenze reichende Rechtecke werden nicht unterstützt).", text=text)))
        return None
    if box_crs == crs.CRS84:
        if not (-180 <= low_x <= high_x <= 180 and -90 <= low_y <= high_y <= 90):
            errors.append(FieldError("bbox", msg(
                "„{text}“ liegt nicht innerhalb von Länge −180 bis 180 und Breite −90 bis 90.",
                text=text)))
            return None
        return low_x, low_y, high_x, high_y
    try:
        return bbox_in_wgs84((low_x, low_y, high_x, high_y), crs.code(box_crs),
                             crs_axis_order=True)
    except Invalid as error:
        errors.extend(error.field_errors)
        return None


def _property_filters(given: dict[str, str], schema: TableSchema,
                      errors: list[FieldError]) -> list[Filter]:
    filters = []
    for key, text in given.items():
        if key in PARAMETERS:
            continue
        column = schema.by_name.get(key)
        if column is None:
            errors.append(FieldError(key, msg(
                "Unbekannter Parameter: „{name}“ ist weder ein Parameter der Schnittstelle "
                "noch eine Spalte dieser Sammlung.", name=key)))
            continue
        try:
            if column.type == "geometry":
                raise ValueProblem(msg("Nach der Geometrie lässt sich nicht filtern; dafür "
                                       "gibt es bbox."))
            filters.append(typed_filter(column, "eq", text, key))
        except ValueProblem as problem:
            errors.append(FieldError(key, problem.message))
    return filters


# --- datetime -----------------------------------------------------------------------------

def _time_filters(given: dict[str, str], temporal: Column | None,
                  errors: list[FieldError]) -> list[Filter]:
    """``datetime``: an instant or an interval (``start/end``, either end open with ``..``)
    on the collection's temporal column. A date means the whole day; a date column meets a
    date-time on that instant's day (UTC)."""
    text = given.get("datetime")
    if text is None:
        return []
    if temporal is None:
        errors.append(FieldError("datetime", msg(
            "Diese Sammlung hat keine Datums- oder Zeitpunkt-Spalte.")))
        return []
    try:
        return _interval(temporal, text)
    except ValueProblem as problem:
        errors.append(FieldError("datetime", problem.message))
        return []


def _interval(column: Column, text: str) -> list[Filter]:
    start_text, slash, end_text = text.partition("/")
    if not slash:
        instant = _instant(text)
        if instant is None:
            raise _bad_time(text)
        return _between(column, instant, instant)
    start, end = _instant(start_text), _instant(end_text)
    if start is None and end is None:
        raise ValueProblem(msg("Mindestens ein Ende des Zeitraums „{text}“ ist nötig.",
                               text=text))
    if start is not None and end is not None and _start_of(start) > _start_of(end):
        raise ValueProblem(msg("Der Zeitraum „{text}“ endet vor seinem Beginn.", text=text))
    return _between(column, start, end)


def _between(column: Column, start: dt.date | None, end: dt.date | None) -> list[Filter]:
    filters = []
    if column.type == "date":
        if start is not None:
            filters.append(Filter(column.name, "gte", _day(start), "datetime"))
        if end is not None:
            filters.append(Filter(column.name, "lte", _day(end), "datetime"))
        return filters
    if start is not None:
        filters.append(Filter(column.name, "gte", _start_of(start), "datetime"))
    if end is not None:
        whole_day = not isinstance(end, dt.datetime)
        filters.append(Filter(column.name, "lt" if whole_day else "lte",
                              _start_of(end + dt.timedelta(days=1)) if whole_day else end,
                              "datetime"))
    return filters


def _instant(text: str) -> dt.date | None:
    """A date, a date-time (RFC 3339; without offset: UTC) or None for an open end."""
    value = text.strip().upper()
    if value in ("", ".."):
        return None
    try:
        if _DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
        if _DATETIME.fullmatch(value):
            moment = dt.datetime.fromisoformat(value)
            return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else \
                moment.astimezone(dt.UTC)
    except ValueError:
        pass
    raise _bad_time(text)


def _bad_time(text: str) -> ValueProblem:
    return ValueProblem(msg("„{text}“ ist kein Zeitpunkt und kein Zeitraum (z. B. "
                            "2024-05-01, 2024-05-01T12:00:00Z, 2024-01-01/2024-06-30 oder "
                            "2024-01-01/..).", text=text))


def _day(value: dt.date) -> dt.date:
    return value.astimezone(dt.UTC).date() if isinstance(value, dt.datetime) else value


def _start_of(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), dt.UTC)


# --- GeoJSON ------------------------------------------------------------------------------

def features(page: NumberedRows, geometry: Column | None, mode: str = "fragment"
             ) -> list[dict[str, Any]]:
    """The page's rows as GeoJSON features (``fragment``: geometries as ready-made JSON
    text for orjson; ``json``: as objects)."""
    names = [c.name for c in page.columns]
    values = page.values(mode)
    position = page.columns.index(geometry) if geometry in page.columns else None
    found = []
    for index, number in enumerate(page.numbers):
        properties = {name: values[i][index] for i, name in enumerate(names) if i != position}
        shape = values[position][index] if position is not None else None
        found.append({"type": "Feature", "id": number, "geometry": shape,
                      "properties": properties})
    return found
