"""The shipped schemas and schemas given as files.

A schema is a Frictionless Table Schema descriptor (a plain ``dict``) with allmende's additions:
the field type ``geometry`` (WKT or GeoJSON geometry text in WGS84) and the top-level keys
``name``, ``title``, ``version`` and ``description`` (German). Cross-field checks go under the
top-level key ``x-allmende``; they run only when a schema declares them::

    "x-allmende": {
      "rules": [
        {"type": "greater-or-equal", "field": "ende", "than": "beginn"},
        {"type": "greater-than", "field": "b", "than": "a"},
        {"type": "sum-equals", "field": "insgesamt", "of": ["maennlich", "weiblich"]}
      ],
      "areaCheck": true,
      "coordinates": {"lat": "breitengrad", "lon": "laengengrad"},
      "temporal": "beginn"
    }

``rules`` yield ``cross-field-error``; ``areaCheck`` checks that ``geometry`` fields (and the
``coordinates`` pair) lie inside the area given to the validation, yielding ``area-error``.
``temporal`` names the date or date-time field that places a row in time (OGC API Features'
``datetime`` filter on the regional table; without it, the table's first such column).

:func:`check_schema` rejects descriptors that are not valid Table Schema with
:class:`~allmende.errors.Invalid`, one German :class:`~allmende.errors.FieldError` per problem.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from allmende.errors import FieldError, Invalid, NotFound

SCHEMA_DIR = Path(__file__).parent / "schemas"

# Field types and the constraints each supports (frictionless-py 5 ignores the others; we
# refuse them, so that a schema never promises a check that does not happen).
TYPES: dict[str, tuple[str, ...]] = {
    "string": ("required", "unique", "enum", "pattern", "minLength", "maxLength"),
    "integer": ("required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
                "exclusiveMaximum"),
    "number": ("required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
               "exclusiveMaximum"),
    "boolean": ("required", "unique", "enum"),
    "date": ("required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
             "exclusiveMaximum"),
    "datetime": ("required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
                 "exclusiveMaximum"),
    "time": ("required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
             "exclusiveMaximum"),
    "year": ("required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
             "exclusiveMaximum"),
    "any": ("required", "unique", "enum"),
    "geometry": ("required", "unique"),
}
STRING_FORMATS = ("default", "email", "uri", "uuid")
RULE_TYPES = ("greater-or-equal", "greater-than", "sum-equals")


def shipped_names() -> list[str]:
    """Names of the schemas shipped with allmende, sorted."""
    return sorted(path.stem for path in SCHEMA_DIR.glob("*.json"))


def load_schema(name_or_path: str | Path) -> dict[str, Any]:
    """A shipped schema by name, or a Table Schema JSON file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = SCHEMA_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise NotFound(f"Das Schema „{name_or_path}“ gibt es nicht; vorhanden: "
                           f"{', '.join(shipped_names())}.", "schema_not_found")
    return json.loads(path.read_text(encoding="utf-8"))


def field_names(schema: dict[str, Any]) -> list[str]:
    return [spec["name"] for spec in schema["fields"]]


def get_field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    for spec in schema["fields"]:
        if spec["name"] == name:
            return spec
    raise NotFound(f"Das Schema hat kein Feld „{name}“.", "field_not_found")


def primary_key(schema: dict[str, Any]) -> list[str]:
    key = schema.get("primaryKey") or []
    return [key] if isinstance(key, str) else list(key)


_TEXTS = {"type": "array", "items": {"type": "string"}}
#: What check_schema accepts, as JSON Schema for the OpenAPI document (what it cannot say:
#: names unique, constraints fitting the type, patterns that compile, the rules' fields).
TABLE_SCHEMA = {
    "type": "object", "required": ["fields"],
    "properties": {
        "fields": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"\S"},
                "type": {"enum": list(TYPES)},
                "missingValues": _TEXTS, "trueValues": _TEXTS, "falseValues": _TEXTS,
                "decimalChar": {"type": "string", "maxLength": 1},
                "groupChar": {"type": "string", "maxLength": 1},
                "constraints": {"type": "object"}}}},
        "primaryKey": {"anyOf": [{"type": "string"}, _TEXTS]},
        "missingValues": _TEXTS,
        "fieldsMatch": {"const": "exact"},
        "x-allmende": {"type": "object"}}}


def check_schema(schema: Any, source: str = "Schema") -> dict[str, Any]:
    """``schema`` when it is a valid Table Schema (with allmende's additions), else
    :class:`Invalid` naming every faulty field."""
    problems = list(_schema_problems(schema))
    if problems:
        raise Invalid(f"{source} ist kein gültiges Table Schema.", problems, "invalid_schema")
    return schema


def _schema_problems(schema: Any) -> Any:
    if not isinstance(schema, dict):
        yield FieldError("(Schema)", "Ein Schema ist ein JSON-Objekt.")
        return
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        yield FieldError("fields", "„fields“ muss eine nicht leere Liste von Feldern sein.")
        return
    yield from _non_finite_numbers(schema)
    seen: dict[str, Any] = {}  # name → type
    for number, spec in enumerate(fields, start=1):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) \
                or not spec["name"].strip():
            yield FieldError(f"fields[{number}]", f"Feld {number} braucht einen Namen.")
            continue
        if spec["name"] in seen:
            yield FieldError(spec["name"], f"Der Feldname „{spec['name']}“ kommt doppelt vor.")
        seen[spec["name"]] = spec.get("type", "string")
        yield from _field_problems(spec)
    key = schema.get("primaryKey", [])
    if isinstance(key, str) or (isinstance(key, list) and all(isinstance(k, str) for k in key)):
        yield from (FieldError("primaryKey", f"Der Primärschlüssel nennt „{name}“, das Schema "
                                             "hat kein solches Feld.")
                    for name in primary_key(schema) if name not in seen)
    else:
        yield FieldError("primaryKey", "„primaryKey“ muss ein Feldname oder eine Liste von "
                                       "Feldnamen sein.")
    yield from _list_of_strings(schema, "missingValues", "(Schema)")
    if schema.get("fieldsMatch", "exact") != "exact":
        yield FieldError("fieldsMatch", "allmende prüft Spalten nach ihrer Reihenfolge; nur "
                                        "„exact“ wird unterstützt.")
    yield from _extra_problems(schema.get("x-allmende", {}), seen)


def _non_finite_numbers(value: Any, where: str = "(Schema)") -> Any:
    """NaN and infinities (JSON ``NaN``, ``1e999``) can be neither compared nor written as
    SQL: each is named by the field (or the part of the schema) that holds it."""
    if isinstance(value, float) and not math.isfinite(value):
        yield FieldError(where, f"„{where}“ enthält {value}, keine endliche Zahl.")
    elif isinstance(value, dict):
        for key, item in value.items():
            inside = value["name"] if key != "name" and isinstance(value.get("name"), str) \
                else where
            yield from _non_finite_numbers(item, inside)
    elif isinstance(value, list):
        for item in value:
            yield from _non_finite_numbers(item, where)


def _names_a_field(name: Any, names: set[str]) -> bool:
    return isinstance(name, str) and name in names


def _field_problems(spec: dict[str, Any]) -> Any:
    name, kind = spec["name"], spec.get("type", "string")
    if not isinstance(kind, str) or kind not in TYPES:
        yield FieldError(name, f"Feld „{name}“: unbekannter Typ „{kind}“ (erlaubt: "
                               f"{', '.join(TYPES)}).")
        return
    fmt = spec.get("format", "default")
    if kind == "string" and fmt not in STRING_FORMATS:
        yield FieldError(name, f"Feld „{name}“: unbekanntes Format „{fmt}“.")
    if kind in ("date", "datetime", "time") and fmt != "default" and "%" not in str(fmt):
        yield FieldError(name, f"Feld „{name}“: das Format „{fmt}“ wird nicht unterstützt "
                               "(„default“ oder ein Muster wie %d.%m.%Y).")
    yield from _list_of_strings(spec, "missingValues", name)
    for key in ("trueValues", "falseValues"):
        yield from _list_of_strings(spec, key, name)
    for key in ("decimalChar", "groupChar"):
        if key in spec and (not isinstance(spec[key], str) or len(spec[key]) > 1):
            yield FieldError(name, f"Feld „{name}“: „{key}“ muss ein einzelnes Zeichen sein.")
    constraints = spec.get("constraints", {})
    if not isinstance(constraints, dict):
        yield FieldError(name, f"Feld „{name}“: „constraints“ muss ein Objekt sein.")
        return
    for key, value in constraints.items():
        yield from _constraint_problems(name, kind, key, value)


def _constraint_problems(name: str, kind: str, key: str, value: Any) -> Any:
    if key not in TYPES[kind]:
        yield FieldError(name, f"Feld „{name}“: die Bedingung „{key}“ passt nicht zum Typ "
                               f"„{kind}“.")
    elif key in ("required", "unique") and not isinstance(value, bool):
        yield FieldError(name, f"Feld „{name}“: „{key}“ muss true oder false sein.")
    elif key in ("minLength", "maxLength") and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0):
        yield FieldError(name, f"Feld „{name}“: „{key}“ muss eine ganze Zahl ≥ 0 sein.")
    elif key == "enum" and (not isinstance(value, list) or not value):
        yield FieldError(name, f"Feld „{name}“: „enum“ muss eine nicht leere Liste sein.")
    elif key == "pattern":
        try:
            re.compile(value)
        except (re.error, TypeError) as error:
            yield FieldError(name, f"Feld „{name}“: das Muster „{value}“ ist kein gültiger "
                                   f"regulärer Ausdruck ({error}).")
    elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and \
            kind in ("integer", "number", "year") and (
            not isinstance(value, int | float | str) or isinstance(value, bool)):
        yield FieldError(name, f"Feld „{name}“: „{key}“ muss eine Zahl sein.")


def _list_of_strings(spec: dict[str, Any], key: str, name: str) -> Any:
    if key in spec and (not isinstance(spec[key], list)
                        or not all(isinstance(v, str) for v in spec[key])):
        yield FieldError(name, f"„{key}“ muss eine Liste von Texten sein.")


def _extra_problems(extra: Any, names: dict[str, Any]) -> Any:
    if not isinstance(extra, dict):
        yield FieldError("x-allmende", "„x-allmende“ muss ein Objekt sein.")
        return
    rules = extra.get("rules", [])
    if not isinstance(rules, list):
        yield FieldError("x-allmende", "„rules“ muss eine Liste von Regeln sein.")
        rules = []
    for rule in rules:
        kind = rule.get("type") if isinstance(rule, dict) else None
        if not isinstance(kind, str) or kind not in RULE_TYPES:
            yield FieldError("x-allmende", f"Unbekannte Regel „{kind}“ (erlaubt: "
                                           f"{', '.join(RULE_TYPES)}).")
            continue
        others = [rule.get("than")] if kind != "sum-equals" else rule.get("of") or []
        for name in [rule.get("field"), *(others if isinstance(others, list) else [others])]:
            if not _names_a_field(name, names):
                yield FieldError("x-allmende", f"Die Regel „{kind}“ nennt „{name}“, das "
                                               "Schema hat kein solches Feld.")
    address = extra.get("address") or []
    if not isinstance(address, list) or not all(isinstance(a, str) for a in address):
        yield FieldError("x-allmende", "„address“ muss eine Liste von Feldnamen sein.")
    else:
        for name in address:
            if name not in names:
                yield FieldError("x-allmende", f"„address“ nennt „{name}“, das Schema hat kein "
                                               "solches Feld.")
    coordinates = extra.get("coordinates") or {}
    if not isinstance(coordinates, dict):
        yield FieldError("x-allmende", "„coordinates“ muss ein Objekt sein.")
        coordinates = {}
    for name in coordinates.values():
        if not _names_a_field(name, names):
            yield FieldError("x-allmende", f"„coordinates“ nennt „{name}“, das Schema hat kein "
                                           "solches Feld.")
    temporal = extra.get("temporal")
    if temporal is not None and names.get(temporal) not in ("date", "datetime"):
        yield FieldError("x-allmende", f"„temporal“ nennt „{temporal}“, das Schema hat kein "
                                       "solches Datums- oder Zeitpunkt-Feld.")
