"""Mappings: how one source table's columns and values become a schema's fields.

A :class:`Mapping` names its target schema and holds one :class:`FieldRule` per schema field:
source column(s) or a constant, followed by transforms (value map, split, join, fallback,
scaling, date, datetime and number formats, CRS, geometry). An optional first step,
:class:`Groups`, turns repeated column groups of a row (a station's charging points 1 … 4) into
rows of their own, whose members the rules then name like columns. It is plain JSON (see
``docs/harmonize.md``).

:func:`apply_mapping` turns a typed source table into a table of VARCHAR cells named by the
schema's fields, in canonical lexical forms (ISO dates, ``.`` decimal, ``true``/``false``, WKT
in WGS84), plus the 1-based source row (and, with groups, the group's number). It runs as SQL
over DuckDB; only coordinate transformations and WKB decoding go through pyproj/shapely, on
whole arrays. A transform that fails on a value leaves that one cell missing and is reported
with row (and group), field, column and value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import duckdb
import numpy as np
import pyarrow as pa
import shapely
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pyproj import Transformer
from pyproj.exceptions import CRSError

from allmende import sql
from allmende.errors import (
    TEMPLATE_KEY,
    FieldError,
    Invalid,
    Message,
    joined,
    msg,
    neutral,
    restored,
)
from allmende.harmonize.source import load_source
from allmende.harmonize.validate import Sample, ValidationReport, where

SOURCE_ROW = "__row"
#: What a group is called unless the mapping says ("Gruppe 2").
DEFAULT_GROUP = "Gruppe"
GEOMETRY_DIGITS = 7  # ~1 cm in WGS84 degrees
MAX_REPORTED = 1000


@cache
def _transformer(source_crs: str) -> Transformer:
    return Transformer.from_crs(source_crs, "EPSG:4326", always_xy=True)


def number_text(value: str) -> str:
    """Canonical text of a DOUBLE expression: ``22`` for whole numbers, else the shortest
    round-trip form with ``.`` as decimal point; NULL for NaN and infinity."""
    return (f"CASE WHEN NOT isfinite({value}) THEN NULL "
            f"WHEN {value} = trunc({value}) AND abs({value}) < 1e15 "
            f"THEN CAST(CAST({value} AS BIGINT) AS VARCHAR) ELSE CAST({value} AS VARCHAR) END")


# --- transforms ----------------------------------------------------------------------------


def _kind_required(schema: dict[str, Any]) -> None:
    """``kind`` chooses the transform: the JSON schema requires it (OpenAPI asks that of a
    discriminator), though each class knows its own."""
    schema.setdefault("required", []).insert(0, "kind")


class _Transform(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False,
                              json_schema_extra=_kind_required)

    def sql(self, value: str) -> str:
        """The VARCHAR expression of this step applied to the VARCHAR expression ``value``."""
        raise NotImplementedError

    def failed(self, before: str, after: str) -> str:
        """When a row failed this step: it had a value and lost it (an empty or blank cell is
        no value, in a raw CSV read by ``allmende validate`` as much as in a typed table)."""
        return f"trim({before}) <> '' AND {after} IS NULL"

    def message(self, value: str) -> Message:
        raise NotImplementedError

    def describe(self) -> Message:
        """The step in words, for tables shown to people."""
        raise NotImplementedError


class ValueMap(_Transform):
    """Replaces listed values (``ja`` → ``true``, status codes → enum values)."""

    kind: Literal["value_map"] = "value_map"
    values: dict[str, str]
    case_sensitive: bool = False
    # "keep" leaves other values for the validation to judge; "fail" reports them here
    otherwise: Literal["keep", "fail"] = "keep"

    def _key(self, text: str) -> str:
        return text if self.case_sensitive else text.casefold()

    def sql(self, value: str) -> str:
        subject = value if self.case_sensitive else f"lower(trim({value}))"
        whens = " ".join(f"WHEN {sql.string(self._key(k.strip()))} THEN {sql.string(v)}"
                         for k, v in self.values.items())
        fallback = value if self.otherwise == "keep" else "NULL"
        return f"CASE {subject} {whens} ELSE {fallback} END" if whens else fallback

    def message(self, value: str) -> Message:
        return msg("„{value}“ steht nicht in der Werteliste der Zuordnung.", value=value)

    def describe(self) -> Message:
        pairs = ", ".join(f"{k}→{v}" for k, v in list(self.values.items())[:4])
        return msg("Werte: {pairs}", pairs=pairs + (" …" if len(self.values) > 4 else ""))


class Split(_Transform):
    """Takes one group of a regular expression (RE2), e.g. the PLZ of ``44807 Bochum``."""

    kind: Literal["split"] = "split"
    pattern: str
    group: int = Field(1, ge=0)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
            duckdb.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except (re.error, duckdb.Error) as error:
            raise ValueError(msg("ungültiger regulärer Ausdruck: {error}",
                                 error=str(error))) from None
        return pattern

    @model_validator(mode="after")
    def _has_group(self) -> Split:
        if self.group > re.compile(self.pattern).groups:
            raise ValueError(msg("das Muster {pattern} hat keine Gruppe {group}",
                                 pattern=self.pattern, group=self.group))
        return self

    def sql(self, value: str) -> str:
        pattern = sql.string(self.pattern)
        group = sql.number(self.group)
        return (f"CASE WHEN regexp_matches({value}, {pattern}) THEN "
                f"nullif(trim(regexp_extract({value}, {pattern}, {group})), '') END")

    def failed(self, before: str, after: str) -> str:
        return f"trim({before}) <> '' AND NOT regexp_matches({before}, {sql.string(self.pattern)})"

    def message(self, value: str) -> Message:
        return msg("„{value}“ passt nicht zum Muster {pattern}.", value=value,
                   pattern=self.pattern)

    def describe(self) -> Message:
        return msg("Teil {group} von {pattern}", group=self.group, pattern=self.pattern)


class Join(_Transform):
    """Joins several source columns (street and house number); empty parts are left out."""

    kind: Literal["join"] = "join"
    separator: str = " "

    def sql_many(self, values: list[str]) -> str:
        return f"nullif(concat_ws({sql.string(self.separator)}, {', '.join(values)}), '')"

    def describe(self) -> Message:
        return msg("verbinden mit „{separator}“", separator=self.separator)


class Fallback(_Transform):
    """Takes the first of several source columns that has a value (a charging point's own
    EVSE-ID where the source has one, else the identifier its group gets)."""

    kind: Literal["fallback"] = "fallback"

    def sql_many(self, values: list[str]) -> str:
        return "CASE " + " ".join(f"WHEN trim({v}) <> '' THEN {v}" for v in values) + " END"

    def describe(self) -> Message:
        return msg("die erste Spalte mit Wert")


class Prefix(_Transform):
    """Puts text in front of values that lack it (``www.bochum.de`` → ``https://www.bochum.de``;
    values that already have a scheme such as ``http:`` or ``mailto:`` stay as they are)."""

    kind: Literal["prefix"] = "prefix"
    prefix: str
    unless: str = r"^[A-Za-z][A-Za-z0-9+.-]*:"

    @field_validator("unless")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return Split._compiles(pattern)

    def sql(self, value: str) -> str:
        return (f"CASE WHEN regexp_matches({value}, {sql.string(self.unless)}) THEN {value} "
                f"ELSE {sql.string(self.prefix)} || {value} END")

    def describe(self) -> Message:
        return msg("„{prefix}“ voranstellen", prefix=self.prefix)


class Scale(_Transform):
    """Multiplies a number (W → kW: 0.001; m → cm: 100)."""

    kind: Literal["scale"] = "scale"
    factor: float

    def sql(self, value: str) -> str:
        # rounded so that 3700 W become 3.7 kW, not 3.7000000000000002
        return number_text(f"round(TRY_CAST({value} AS DOUBLE) * {sql.number(self.factor)}"
                           "::DOUBLE, 9)")

    def message(self, value: str) -> Message:
        return msg("„{value}“ ist keine Zahl und lässt sich nicht umrechnen (× {factor}).",
                   value=value, factor=f"{self.factor:g}")

    def describe(self) -> Message:
        return neutral("× {factor}", factor=f"{self.factor:g}")


class DateFormat(_Transform):
    """Reads dates written in ``format`` (strftime codes, e.g. ``%d.%m.%Y``) as ISO dates."""

    kind: Literal["date"] = "date"
    format: str
    _output = "%Y-%m-%d"

    # Values already in ISO form pass too: the next upload of the same file may arrive typed
    # (a date column), which the mapping reads as ISO text; a typed timestamp column (read as
    # ``2025-08-29T18:00:00`` or, with a time zone, ``2025-08-29T18:00:00Z``) gives its date.
    _iso: ClassVar[tuple[str, ...]] = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")

    def sql(self, value: str) -> str:
        text = f"trim({value})"
        formats = ", ".join(sql.string(f) for f in (self.format, *self._iso))
        plain = f"strftime(try_strptime({text}, [{formats}]), {sql.string(self._output)})"
        # An instant (with "Z" or an offset) is a point in time, not a wall-clock reading.
        instant = f"TRY_CAST(regexp_replace({text}, 'Z$', '+00:00') AS TIMESTAMPTZ)"
        return (f"CASE WHEN regexp_matches({text}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
                f"THEN {self._instant(instant)} ELSE {plain} END")

    @staticmethod
    def _instant(instant: str) -> str:
        # the day as people in the region see it, not the UTC day
        return f"strftime(timezone('Europe/Berlin', {instant}), '%Y-%m-%d')"

    def message(self, value: str) -> Message:
        return msg("„{value}“ entspricht nicht dem Format {format}.", value=value,
                   format=self.format)

    def describe(self) -> Message:
        return msg("Format {format}", format=self.format)


class DatetimeFormat(DateFormat):
    """Reads date-times written in ``format`` as ISO 8601 (``2022-05-01T08:30:00``)."""

    kind: Literal["datetime"] = "datetime"  # type: ignore[assignment]
    _output = "%Y-%m-%dT%H:%M:%S"
    _iso: ClassVar[tuple[str, ...]] = ("%Y-%m-%dT%H:%M:%S",)

    @staticmethod
    def _instant(instant: str) -> str:
        # kept an instant: in UTC, marked with Z
        return f"strftime(timezone('UTC', {instant}), '%Y-%m-%dT%H:%M:%SZ')"


class NumberFormat(_Transform):
    """Reads numbers with a given decimal and group character (``1.234,5`` → ``1234.5``).
    Text that is no number in that format but one in canonical form (``3.7``, from a typed
    number column of one group while another group's column is text) is read as such."""

    kind: Literal["number"] = "number"
    decimal: str = Field(",", min_length=1, max_length=1)
    group: str = Field(".", max_length=1)

    def sql(self, value: str) -> str:
        text = f"replace(trim({value}), ' ', '')"
        decimal = re.escape(self.decimal)
        local = rf"[+-]?[0-9]+({decimal}[0-9]+)?"
        if self.group:
            local += rf"|[+-]?[0-9]{{1,3}}({re.escape(self.group)}[0-9]{{3}})+({decimal}[0-9]+)?"
        read = f"replace({text}, {sql.string(self.group)}, '')" if self.group else text
        read = f"replace({read}, {sql.string(self.decimal)}, '.')"
        return number_text(f"CASE WHEN regexp_full_match({text}, {sql.string(local)}) "
                           f"THEN TRY_CAST({read} AS DOUBLE) ELSE TRY_CAST({text} AS DOUBLE) END")

    def message(self, value: str) -> Message:
        return msg("„{value}“ ist keine Zahl (Dezimalzeichen „{decimal}“).", value=value,
                   decimal=self.decimal)

    def describe(self) -> Message:
        return msg("Zahl mit Dezimalzeichen „{decimal}“", decimal=self.decimal)


Output = Literal["wkt", "lon", "lat"]
OUTPUT_LABEL = {"wkt": msg("Geometrie (WKT)"), "lon": msg("Längengrad"),
                "lat": msg("Breitengrad")}


class Crs(_Transform):
    """Turns x/y columns in ``source_crs`` (e.g. EPSG:25832) into WGS84 lon, lat or a WKT
    point. Runs on whole arrays with pyproj, before the SQL steps."""

    kind: Literal["crs"] = "crs"
    source_crs: str
    output: Output = "wkt"

    @field_validator("source_crs")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            _transformer(value)
        except CRSError:
            raise ValueError(msg("unbekanntes Koordinatensystem „{crs}“", crs=value)) from None
        return value

    def message(self, value: str) -> Message:
        return msg("Die Koordinaten „{value}“ lassen sich nicht aus {crs} umrechnen.",
                   value=value, crs=self.source_crs)

    def describe(self) -> Message:
        return neutral("{crs} → WGS84 {output}", crs=self.source_crs,
                       output=OUTPUT_LABEL[self.output])


class Geometry(_Transform):
    """Takes the table's WGS84 geometry column as WKT, or the longitude/latitude of its
    point (of its centroid for lines and areas)."""

    kind: Literal["geometry"] = "geometry"
    output: Output = "wkt"

    def message(self, value: str) -> Message:
        return msg("Die Geometrie „{value}“ ist leer oder ungültig.", value=value)

    def describe(self) -> Message:
        return OUTPUT_LABEL[self.output]


Transform = Annotated[ValueMap | Split | Join | Fallback | Prefix | Scale | DateFormat |
                      DatetimeFormat | NumberFormat | Crs | Geometry, Field(discriminator="kind")]
ARRAY_KINDS = ("crs", "geometry")  # computed with numpy before the SQL steps
MULTI_SOURCE_KINDS = ("join", "fallback", "crs")
TRANSFORM_KINDS = ("value_map", "split", "join", "fallback", "prefix", "scale", "date",
                   "datetime", "number", "crs", "geometry")


# --- the model -----------------------------------------------------------------------------


class FieldRule(BaseModel):
    """Where one schema field's values come from. Neither source nor constant: unmapped."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    source: list[str] = Field(default_factory=list)
    constant: str | None = None
    transforms: list[Transform] = Field(default_factory=list)
    # filled by the suggestion; a person confirming the mapping may drop them
    confidence: float | None = Field(None, ge=0, le=1)
    reason: str | None = None  # in German
    # the reason's template and parameters (errors.Message.to_json), to show it in the
    # reader's language
    reason_i18n: dict[str, Any] | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def mapped(self) -> bool:
        return bool(self.source) or self.constant is not None

    @property
    def why(self) -> str | None:
        """The reason, as a :class:`Message` again where its template was kept."""
        return None if self.reason is None else stated(self.reason, self.reason_i18n)


def because(reason: Message) -> dict[str, Any]:
    """A rule's ``reason`` and ``reason_i18n`` for ``reason``."""
    return {"reason": str(reason), "reason_i18n": reason.to_json()}


def stated(reason: str, template: Any) -> str:
    """A kept reason (``FieldRule.reason`` and ``reason_i18n``) as a message again."""
    return restored({"message": reason, TEMPLATE_KEY: template})


class Groups(BaseModel):
    """Repeated column groups of a source row become rows of their own ("wide → long"),
    before the field rules run: a station's charging points 1 … 4 become one row each.

    ``members`` names each member of a group and lists its source column in group 1, 2, …
    (``null`` where a group lacks it); the rules name members like columns. Two more columns
    are offered to the rules: ``number``, the group's number (1, 2, …), which also names the
    groups in messages ("Ladepunkt 2"), and ``identifier``, ``<row key>/<number>`` — the row
    key is the value of the source column ``key`` (a station's own id), else the source row's
    number. A group whose member cells are all empty is left out; a source row whose groups
    are all empty keeps one row (group 1), so that no row of the source is lost unseen.
    """

    model_config = ConfigDict(extra="forbid")

    members: dict[str, list[str | None]] = Field(min_length=1, json_schema_extra={
        "propertyNames": {"pattern": r"\S"}})
    number: str = Field(DEFAULT_GROUP, min_length=1)
    identifier: str = ""  # default: "<number>-Kennung"
    key: str | None = None

    @field_validator("members")
    @classmethod
    def _same_count(cls, members: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
        members = {name.strip(): [c or None for c in columns]
                   for name, columns in members.items()}
        if any(not name for name in members):
            raise ValueError(msg("jedes Gruppenmitglied braucht einen Namen"))
        if len({len(columns) for columns in members.values()}) != 1 or \
                not next(iter(members.values())):
            raise ValueError(msg("jedes Gruppenmitglied braucht gleich viele Spalten, eine je "
                                 "Gruppe"))
        return members

    @model_validator(mode="after")
    def _distinct_names(self) -> Groups:
        self.identifier = self.identifier.strip() or default_identifier(self.number)
        names = self.offered()
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(msg("der Name „{name}“ steht mehrfach in den Gruppen",
                                 name=twice[0]))
        return self

    @property
    def count(self) -> int:
        return len(next(iter(self.members.values())))

    def offered(self) -> list[str]:
        """The names the rules may use besides the source columns."""
        return [*self.members, self.number, self.identifier]

    def offered_types(self) -> dict[str, str]:
        return {**dict.fromkeys(self.members, "string"), self.number: "integer",
                self.identifier: "string"}

    def columns(self, group: int) -> list[str]:
        """The source columns of group ``group`` (1-based)."""
        return [c for columns in self.members.values() if (c := columns[group - 1])]


def default_identifier(number: str) -> str:
    """The name of the groups' identifier column unless one is given: "Ladepunkt-Kennung"."""
    return f"{number}-Kennung"


class Mapping(BaseModel):
    """A resource's mapping onto one schema: optional groups, then one rule per schema field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    schema_name: str
    schema_version: str | None = None
    groups: Groups | None = None
    fields: dict[str, FieldRule] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)


def parse_mapping(data: str | bytes | MappingType[str, Any]) -> Mapping:
    """A mapping from its JSON text or decoded JSON; structural errors become ``Invalid``."""
    try:
        if isinstance(data, str | bytes):
            return Mapping.model_validate_json(data)
        return Mapping.model_validate(data)
    except ValidationError as error:
        raise Invalid(msg("Die Zuordnung ist fehlerhaft."), [
            FieldError(".".join(str(part) for part in e["loc"]) or "Zuordnung",
                       _problem(e)) for e in error.errors()], code="invalid_mapping") from None


def _problem(error: Any) -> Message:
    """A pydantic error in words; the validators' own messages keep their template."""
    kind = error["type"]
    cause = error.get("ctx", {}).get("error")
    if kind == "json_invalid":
        return msg("kein gültiges JSON ({error})", error=str(cause or ""))
    if kind == "missing":
        return msg("Angabe fehlt")
    if kind == "extra_forbidden":
        return msg("unbekannte Angabe")
    if kind == "finite_number":
        return msg("muss eine endliche Zahl sein (nicht NaN oder unendlich)")
    if kind == "union_tag_invalid":
        return msg("unbekannte Umwandlung; möglich: {kinds}", kinds=", ".join(TRANSFORM_KINDS))
    said = cause.args[0] if isinstance(cause, ValueError) and cause.args else None
    return msg("ungültiger Wert: {reason}", reason=said if isinstance(said, Message)
               else error["msg"].removeprefix("Value error, "))


def load_mapping(path: str | Path) -> Mapping:
    """A mapping from a JSON file (``allmende validate --mapping FILE``). An unreadable file
    raises ``OSError``; a malformed one ``Invalid``."""
    return parse_mapping(Path(path).read_bytes())


def describe_rule(rule: FieldRule) -> Message:
    """The rule's transforms in words, for tables shown to people."""
    steps: list[Message] = [t.describe() for t in rule.transforms]
    if rule.constant is not None:
        steps.insert(0, msg("fester Wert „{value}“", value=rule.constant))
    return joined(steps, " → ")


def describe_groups(groups: Groups) -> Message:
    """The groups in words, for tables shown to people."""
    members = "; ".join(f"{name} ({', '.join(c or '–' for c in columns)})"
                        for name, columns in groups.members.items())
    key = groups.key or msg("Nummer der Quellzeile")
    return msg("Eine Zeile je {group} ({count} je Quellzeile): {members}; „{group}“ ist die "
               "Nummer, „{identifier}“ {key}/Nummer.", group=groups.number, count=groups.count,
               members=members, identifier=groups.identifier, key=key)


def skeleton(schema: MappingType[str, Any]) -> Mapping:
    """A mapping onto ``schema`` with every field unmapped."""
    return Mapping(schema_name=str(schema.get("name", "")),
                   schema_version=_version(schema),
                   fields={f["name"]: FieldRule() for f in schema["fields"]})


def _version(schema: MappingType[str, Any]) -> str | None:
    version = schema.get("version")
    return None if version is None else str(version)


# --- checking a mapping against a schema and a source ----------------------------------------


def check_mapping(mapping: Mapping, schema: MappingType[str, Any],
                  source_columns: Iterable[MappingType[str, Any]]) -> None:
    """Raises ``Invalid`` naming every schema field whose rule cannot work on this source
    (and the groups, where they name columns the source lacks)."""
    types = {c["name"]: c["type"] for c in source_columns}
    fields = {f["name"] for f in schema["fields"]}
    errors: list[FieldError] = []
    name = schema.get("name")
    if name and mapping.schema_name != name:
        errors.append(FieldError("schema_name", msg(
            "Die Zuordnung gilt für das Schema „{mapped}“, nicht für „{schema}“.",
            mapped=mapping.schema_name, schema=name)))
    if mapping.groups is not None:
        errors += [FieldError("groups", m) for m in _group_problems(mapping.groups, types)]
        types = {**types, **mapping.groups.offered_types()}
    for target, rule in mapping.fields.items():
        if target not in fields:
            errors.append(FieldError(target, msg("Das Feld „{field}“ gibt es im Schema "
                                                 "„{schema}“ nicht.", field=target,
                                                 schema=name or mapping.schema_name)))
        errors += [FieldError(target, message) for message in _rule_problems(target, rule, types)]
    if errors:
        raise Invalid(msg("Die Zuordnung passt nicht zum Schema oder zur Datei."), errors,
                      code="invalid_mapping")


def _group_problems(groups: Groups, types: dict[str, str]) -> list[Message]:
    problems = []
    for member, columns in groups.members.items():
        for number, column in enumerate(columns, start=1):
            if column is not None and column not in types:
                problems.append(msg(
                    "Gruppen: die Spalte „{column}“ ({member}, {group} {number}) gibt es in der "
                    "Datei nicht (vorhanden: {columns}).", column=column, member=member,
                    group=groups.number, number=number, columns=_listing(types)))
            elif column is not None and types[column] == "geometry":
                problems.append(msg("Gruppen: die Geometriespalte „{column}“ kann kein "
                                    "Gruppenmitglied sein.", column=column))
    empty = [n for n in range(1, groups.count + 1) if not groups.columns(n)]
    if empty:
        problems.append(msg("Gruppen: {group} {number} hat keine Spalte.", group=groups.number,
                            number=empty[0]))
    if groups.key is not None and types.get(groups.key, "geometry") == "geometry":
        problems.append(msg("Gruppen: die Schlüsselspalte „{column}“ gibt es in der Datei "
                            "nicht oder sie ist eine Geometrie.", column=groups.key))
    problems += [msg("Gruppen: „{name}“ heißt schon eine Spalte der Datei; bitte anders "
                     "benennen.", name=n) for n in groups.offered() if n in types]
    return problems


def _rule_problems(target: str, rule: FieldRule, types: dict[str, str]) -> list[Message]:
    problems = [msg("Feld „{field}“: die Quellspalte „{column}“ gibt es in der Datei nicht "
                    "(vorhanden: {columns}).", field=target, column=column,
                    columns=_listing(types)) for column in rule.source if column not in types]
    if rule.constant is not None and rule.source:
        problems.append(msg("Feld „{field}“: entweder Quellspalten oder ein fester Wert, "
                            "nicht beides.", field=target))
    kinds = [t.kind for t in rule.transforms]
    first_only = [k for k in kinds[1:] if k in (*MULTI_SOURCE_KINDS, *ARRAY_KINDS)]
    if first_only:
        problems.append(msg("Feld „{field}“: „{kind}“ kann nur die erste Umwandlung sein.",
                            field=target, kind=first_only[0]))
    first = kinds[0] if kinds else None
    if first in (*MULTI_SOURCE_KINDS, *ARRAY_KINDS) and rule.constant is not None:
        problems.append(msg("Feld „{field}“: „{kind}“ braucht Quellspalten, keinen festen "
                            "Wert.", field=target, kind=first))
    if len(rule.source) > 1 and first not in MULTI_SOURCE_KINDS:
        problems.append(msg("Feld „{field}“: mehrere Quellspalten ({columns}) brauchen "
                            "„join“, „fallback“ oder „crs“.", field=target,
                            columns=", ".join(rule.source)))
    if first == "crs" and len(rule.source) != 2:
        problems.append(msg("Feld „{field}“: „crs“ braucht genau zwei Quellspalten (x, y).",
                            field=target))
    geometry_columns = [c for c in rule.source if types.get(c) == "geometry"]
    if first == "geometry" and (len(rule.source) != 1 or not geometry_columns):
        problems.append(msg("Feld „{field}“: „geometry“ braucht genau eine Geometriespalte; "
                            "„{columns}“ ist keine.", field=target,
                            columns=", ".join(rule.source)))
    if geometry_columns and first not in (None, "geometry"):
        problems.append(msg("Feld „{field}“: die Geometriespalte „{column}“ wird mit "
                            "„geometry“ als WKT, Längen- oder Breitengrad gelesen.",
                            field=target, column=geometry_columns[0]))
    return problems


def _listing(types: dict[str, str]) -> str:
    names = list(types)
    return ", ".join(names[:12]) + (" …" if len(names) > 12 else "")


# --- applying a mapping ----------------------------------------------------------------------

#: The group's number (1, 2, …) in a table mapped with groups.
GROUP = "__group"
WIDE = "__mapping_wide"
INPUT = "__mapping_input"
DERIVED = "__mapping_derived"
STAGES = "__mapping_stages"
FAILURES = "__mapping_failures"
# the position of a row in INPUT (1-based), which joins the array results
POSITION = "__position"


@dataclass
class TransformError:
    """One cell a transform could not convert; ``row`` is the 1-based data row of the source,
    ``group`` the number of its group when the mapping has groups."""

    field: str
    column: str
    row: int
    value: str
    message: str  # a Message
    group: int | None = None


@dataclass
class MappedTable:
    """The DuckDB table ``relation``: one VARCHAR column per schema field (in schema order),
    then :data:`SOURCE_ROW` and, when ``groups`` names the groups ("Ladepunkt"), :data:`GROUP`.
    ``errors`` holds the first failed cells in row order, ``error_counts`` how many failed
    per field."""

    relation: str
    fields: list[str]
    rows: int
    errors: list[TransformError] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)
    groups: str | None = None

    @property
    def order(self) -> list[str]:
        """The columns that order its rows as the source's: row, then group."""
        return [SOURCE_ROW, GROUP] if self.groups else [SOURCE_ROW]


@dataclass
class _Input:
    """The table INPUT the rules read: ``aliases`` maps the names the rules use to its columns;
    ``row`` is the SQL of a row's source row."""

    aliases: dict[str, str]
    row: str
    groups: Groups | None = None


@dataclass
class _Chain:
    """A field's values as SQL: a start expression over the input, then SQL steps."""

    index: int
    target: str
    rule: FieldRule
    start: str
    steps: list[_Transform]
    # a first step computed with numpy before the SQL (CRS, geometry)
    array_step: Crs | Geometry | None = None

    def column(self, step: int) -> str:
        return f"v{self.index}_{step}"

    @property
    def final(self) -> str:
        return self.column(len(self.steps))


def effective_transforms(rule: FieldRule, types: MappingType[str, str]) -> list[_Transform]:
    """The rule's transforms; a geometry column read without one is read as WKT."""
    transforms: list[_Transform] = list(rule.transforms)
    reads_geometry = any(types.get(c) == "geometry" for c in rule.source)
    if reads_geometry and not (transforms and transforms[0].kind == "geometry"):
        transforms.insert(0, Geometry())
    return transforms


def apply_mapping(con: duckdb.DuckDBPyConnection, source: str,
                  source_columns: Iterable[MappingType[str, Any]], mapping: Mapping,
                  schema: MappingType[str, Any], limit: int | None = None,
                  into: str = "mapped") -> MappedTable:
    """Writes table ``into``: the source relation's rows (the first ``limit`` of them for a
    preview) mapped onto ``schema`` as VARCHAR cells. Raises ``Invalid`` for a mapping that
    does not fit schema or source; failed cells are reported, not raised."""
    columns = [dict(c) for c in source_columns]
    check_mapping(mapping, schema, columns)
    types = {c["name"]: c["type"] for c in columns}
    if mapping.groups is not None:
        types.update(mapping.groups.offered_types())
    used = sorted({c for rule in mapping.fields.values() for c in rule.source})
    rules = [(target, rule) for target, rule in mapping.fields.items() if rule.mapped]
    try:
        table = _copy_input(con, source, used, mapping.groups, limit)
        texts = _text_expressions(con, table.aliases, types)
        chains = [_chain(i, target, rule, types, texts) for i, (target, rule) in enumerate(rules)]
        _register_derived(con, chains, texts)
        _build_stages(con, chains, table)
        fields = [f["name"] for f in schema["fields"]]
        finals = {c.target: c.final for c in chains}
        columns = [f"{finals.get(name, 'NULL::VARCHAR')} AS {sql.ident(name)}"
                   for name in fields]
        result = MappedTable(into, fields, 0,
                             groups=table.groups.number if table.groups else None)
        con.execute(sql.create_table(into, sql.select(
            [*columns, *(f"{c} AS {sql.ident(c)}" for c in result.order)], STAGES,
            order_by=result.order), temporary=False))
        result.errors, result.error_counts = _failures(con, chains, table.groups)
        result.rows = con.execute(sql.select("count(*)", sql.ident(into))).fetchall()[0][0]
    finally:
        for name in (FAILURES, STAGES, INPUT, WIDE):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.unregister(DERIVED)
    return result


def _copy_input(con: duckdb.DuckDBPyConnection, source: str, used: list[str],
                groups: Groups | None, limit: int | None) -> _Input:
    """Copies the columns the rules use into INPUT, one row per source row, or with groups
    one row per group that has a value (:class:`Groups`)."""
    offered = set(groups.offered()) if groups else set()
    aliases = {name: f"c{i}" for i, name in enumerate(c for c in used if c not in offered)}
    columns = [f"{sql.ident(name)} AS {alias}" for name, alias in aliases.items()]
    if groups is None:
        # A table keeps insertion order in its rowid, which gives every row its source number.
        con.execute(sql.create_table(INPUT, sql.select(columns or "1 AS c", sql.ident(source),
                                                       limit=limit)))
        return _Input(aliases, f"{INPUT}.rowid + 1")
    wide = {name: f"w{i}" for i, name in enumerate(
        dict.fromkeys([*(c for n in range(1, groups.count + 1) for c in groups.columns(n)),
                       *([groups.key] if groups.key else [])]))}
    columns += [f"{sql.ident(name)} AS {alias}" for name, alias in wide.items()]
    con.execute(sql.create_table(WIDE, sql.select(columns, sql.ident(source), limit=limit)))
    con.execute(sql.create_table(INPUT, _long_query(con, groups, list(aliases.values()), wide)))
    offered_aliases = {member: f"m{i}" for i, member in enumerate(groups.members)}
    offered_aliases |= {groups.number: GROUP, groups.identifier: "k"}
    return _Input(aliases | offered_aliases, f"{INPUT}.{SOURCE_ROW}", groups)


def _long_query(con: duckdb.DuckDBPyConnection, groups: Groups, general: list[str],
                wide: dict[str, str]) -> str:
    """One SELECT per group over WIDE, its member cells as text, joined by UNION ALL; rows of
    groups without any value are left out unless the source row has no group with a value.
    Unsorted: the array steps line up by INPUT's rowid, the mapped table is sorted at the end."""
    duck_types = {row[0]: row[1] for row in con.execute(f"DESCRIBE {WIDE}").fetchall()}

    def text(column: str | None) -> str:
        if column is None:
            return "NULL::VARCHAR"
        return as_text(wide[column], duck_types[wide[column]])

    def present(number: int) -> str:
        cells = [f"nullif(trim({text(c)}), '') IS NOT NULL" for c in groups.columns(number)]
        return f"({' OR '.join(cells)})"

    row = "rowid + 1"
    key = f"nullif(trim({text(groups.key)}), '')" if groups.key else "NULL"
    anywhere = " OR ".join(present(n) for n in range(1, groups.count + 1))
    branches = [sql.select([
        f"{row} AS {SOURCE_ROW}", f"{sql.number(n)} AS {GROUP}", *general,
        *(f"{text(columns[n - 1])} AS m{i}" for i, columns in enumerate(groups.members.values())),
        f"coalesce({key}, CAST({row} AS VARCHAR)) || {sql.string(f'/{n}')} AS k",
        f"{present(n)} AS __present", f"({anywhere}) AS __anywhere"], WIDE)
        for n in range(1, groups.count + 1)]
    return sql.select("* EXCLUDE (__present, __anywhere)", f"({' UNION ALL '.join(branches)})",
                      where=f"__present OR ({GROUP} = 1 AND NOT __anywhere)")


def _text_expressions(con: duckdb.DuckDBPyConnection, aliases: dict[str, str],
                      types: MappingType[str, str]) -> dict[str, str]:
    """Per source column, its values as canonical text (geometry columns: as they are)."""
    duck_types = {row[0]: row[1] for row in con.execute(f"DESCRIBE {INPUT}").fetchall()}
    return {name: alias if types[name] == "geometry" else as_text(alias, duck_types[alias])
            for name, alias in aliases.items()}


def as_text(column: str, duck_type: str) -> str:
    """SQL for a column's values as canonical text, by its DuckDB type."""
    if duck_type == "VARCHAR":
        return column
    if duck_type == "BOOLEAN":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    if duck_type == "DATE":
        return f"strftime({column}, '%Y-%m-%d')"
    if duck_type == "TIMESTAMP WITH TIME ZONE":
        return f"strftime(timezone('UTC', {column}), '%Y-%m-%dT%H:%M:%SZ')"
    if duck_type.startswith("TIMESTAMP"):
        return f"strftime(CAST({column} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S')"
    if duck_type in ("DOUBLE", "FLOAT", "REAL") or duck_type.startswith("DECIMAL"):
        return number_text(f"CAST({column} AS DOUBLE)")
    return f"CAST({column} AS VARCHAR)"


def _chain(index: int, target: str, rule: FieldRule, types: MappingType[str, str],
           texts: dict[str, str]) -> _Chain:
    transforms = effective_transforms(rule, types)
    first = transforms[0] if transforms else None
    if rule.constant is not None:
        return _Chain(index, target, rule, sql.string(rule.constant), transforms)
    if isinstance(first, Crs | Geometry):
        start = f"{DERIVED}.d{index}"
        if first.output != "wkt":
            start = number_text(f"round({start}, {GEOMETRY_DIGITS})")
        return _Chain(index, target, rule, start, transforms[1:], first)
    if isinstance(first, Join | Fallback):
        return _Chain(index, target, rule, first.sql_many([texts[c] for c in rule.source]),
                      transforms[1:])
    return _Chain(index, target, rule, texts[rule.source[0]], transforms)


def _register_derived(con: duckdb.DuckDBPyConnection, chains: list[_Chain],
                      texts: dict[str, str]) -> None:
    """Computes the CRS and geometry steps on whole arrays into the view ``DERIVED``:
    ``d<i>`` the result, ``e<i>`` the input text where it failed."""
    arrays: dict[str, pa.Array] = {}
    for chain in chains:
        if isinstance(chain.array_step, Crs):
            x, y = (texts[c] for c in chain.rule.source)
            result, failed = _crs_arrays(con, chain.array_step, x, y)
        elif isinstance(chain.array_step, Geometry):
            result, failed = _geometry_arrays(con, chain.array_step, texts[chain.rule.source[0]])
        else:
            continue
        arrays[f"d{chain.index}"], arrays[f"e{chain.index}"] = result, failed
    rows = con.execute(sql.select("count(*)", INPUT)).fetchall()[0][0]
    arrays[POSITION] = pa.array(np.arange(1, rows + 1, dtype=np.int64))
    con.register(DERIVED, pa.table(arrays))


def _fetch(con: duckdb.DuckDBPyConnection, expressions: list[str]) -> list[pa.Array]:
    columns = [f"{e} AS x{i}" for i, e in enumerate(expressions)]
    table = con.sql(sql.select(columns, INPUT, order_by="rowid")).to_arrow_table()
    return [table.column(i).combine_chunks() for i in range(len(expressions))]


def _crs_arrays(con: duckdb.DuckDBPyConnection, step: Crs, x_text: str,
                y_text: str) -> tuple[pa.Array, pa.Array]:
    numbers = [f"TRY_CAST(replace({t}, ',', '.') AS DOUBLE)" for t in (x_text, y_text)]
    x, y, x_raw, y_raw = _fetch(con, [*numbers, x_text, y_text])
    lon, lat = _transformer(step.source_crs).transform(
        x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False))
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    present = _valid(x_raw) | _valid(y_raw)
    inputs = [f"{a or ''}; {b or ''}" for a, b in zip(x_raw.to_pylist(), y_raw.to_pylist(),
                                                      strict=True)]
    points = np.full(len(ok), None, dtype=object)
    points[ok] = shapely.points(lon[ok], lat[ok])
    return _result(points, lon, lat, ok, step.output), _failed(inputs, present & ~ok)


def _geometry_arrays(con: duckdb.DuckDBPyConnection, step: Geometry,
                     column: str) -> tuple[pa.Array, pa.Array]:
    (wkb,) = _fetch(con, [column])
    geometries = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False), on_invalid="ignore")
    ok = ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    centroids = shapely.centroid(geometries)
    lon, lat = shapely.get_x(centroids), shapely.get_y(centroids)
    inputs = [value.hex()[:40] if value else "" for value in wkb.to_pylist()]
    return _result(geometries, lon, lat, ok, step.output), _failed(inputs, _valid(wkb) & ~ok)


def _valid(array: pa.Array) -> np.ndarray:
    return array.is_valid().to_numpy(zero_copy_only=False)


def _result(geometries: np.ndarray, lon: np.ndarray, lat: np.ndarray, ok: np.ndarray,
            output: str) -> pa.Array:
    if output == "wkt":
        wkt = np.full(len(ok), None, dtype=object)
        wkt[ok] = shapely.to_wkt(geometries[ok], rounding_precision=GEOMETRY_DIGITS, trim=True)
        return pa.array(wkt, pa.string())
    values = lon if output == "lon" else lat
    return pa.array(np.where(ok, values, np.nan), pa.float64(), from_pandas=True)


def _failed(inputs: list[str], failed: np.ndarray) -> pa.Array:
    return pa.array([text if bad else None for text, bad in zip(inputs, failed, strict=True)],
                    pa.string())


def _build_stages(con: duckdb.DuckDBPyConnection, chains: list[_Chain], table: _Input) -> None:
    """One nested SELECT per transform step, so each step's input and output stay visible
    for finding the cells that failed."""
    starts = [f"{c.start} AS {c.column(0)}" for c in chains]
    starts += [f"{DERIVED}.e{c.index} AS e{c.index}" for c in chains if c.array_step]
    group = f"{INPUT}.{GROUP} AS {GROUP}" if table.groups else f"NULL::BIGINT AS {GROUP}"
    query = sql.select([f"{table.row} AS {SOURCE_ROW}", group, *starts],
                       f"{INPUT} JOIN {DERIVED} ON {DERIVED}.{POSITION} = {INPUT}.rowid + 1")
    depth = max((len(c.steps) for c in chains), default=0)
    for k in range(1, depth + 1):
        steps = [f"{c.steps[k - 1].sql(c.column(k - 1))} AS {c.column(k)}"
                 for c in chains if len(c.steps) >= k]
        query = sql.select(["*", *steps], f"({query})")
    con.execute(sql.create_table(STAGES, query))


def _failures(con: duckdb.DuckDBPyConnection, chains: list[_Chain], groups: Groups | None
              ) -> tuple[list[TransformError], dict[str, int]]:
    where = [SOURCE_ROW, GROUP]
    checks = [sql.select([f"{c.index} AS f", "0 AS s", *where, f"e{c.index} AS value"],
                         STAGES, where=f"e{c.index} IS NOT NULL")
              for c in chains if c.array_step]
    checks += [sql.select([f"{c.index} AS f", f"{k} AS s", *where,
                           f"{c.column(k - 1)} AS value"], STAGES,
                          where=step.failed(c.column(k - 1), c.column(k)))
               for c in chains for k, step in enumerate(c.steps, start=1)]
    if not checks:
        return [], {}
    con.execute(sql.create_table(FAILURES, " UNION ALL ".join(checks)))
    counts = dict(con.execute(sql.select(["f", "count(*)"], FAILURES, group_by="f")).fetchall())
    sample = con.execute(sql.select(["f", "s", *where, "value"], FAILURES,
                                    order_by=[SOURCE_ROW, GROUP, "f", "s"],
                                    limit=MAX_REPORTED)).fetchall()
    by_index = {c.index: c for c in chains}
    errors = []
    for index, step_number, row, group, value in sample:
        chain = by_index[index]
        step = chain.array_step if step_number == 0 else chain.steps[step_number - 1]
        assert step is not None
        message = step.message(value)
        if groups is not None:
            message = neutral("{group} {number}: {problem}", group=groups.number, number=group,
                              problem=message)
        errors.append(TransformError(chain.target, ", ".join(chain.rule.source) or "–", row,
                                     value, message, group))
    return errors, {by_index[i].target: n for i, n in counts.items()}


def samples_by_group(con: duckdb.DuckDBPyConnection, report: ValidationReport, relation: str,
                     *, report_row: str, file_row: str, groups: str, source: str = "") -> None:
    """Tells the samples of a validation by the source's row and the group.

    With groups several mapped rows share a source row, so the validation (which needs one
    number per row for its samples and its unique checks) runs over ``report_row``, the rows
    numbered one by one (``row_number() OVER (ORDER BY __row, __group) + 1``). Here each
    sample gets back ``file_row`` (SQL over ``relation``: the source row as the file counts
    it, the header being row 1) and its message the group: „ladesaeulen.csv, Zeile 7,
    Ladepunkt 2: …“ (the message's parameter ``where``, see ``validate.where``)."""
    numbers = sorted({s.row for s in report.samples if s.row is not None})
    if not numbers:
        return
    found = con.execute(sql.select([report_row, file_row, GROUP], relation,
                                   where=f"list_contains(?, {report_row})"), [numbers]).fetchall()
    places = {number: (row, group) for number, row, group in found}

    def told(sample: Sample) -> Sample:
        if sample.row not in places:
            return sample
        row, group = places[sample.row]
        place = where(source, row, joined([groups, group], " "))
        said = sample.message
        if isinstance(said, Message) and "where" in said.params:
            message = Message(said.template, {**said.params, "where": place})
        else:
            message = neutral("{where}: {problem}", where=place, problem=said)
        return replace(sample, row=row, message=message)

    report.samples[:] = [told(sample) for sample in report.samples]


def mapped_table_for_file(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping,
                          schema: MappingType[str, Any], limit: int | None = None
                          ) -> MappedTable:
    """Reads and types a file like an upload, then maps it into a table of ``con``."""
    source = load_source(con, path)
    return apply_mapping(con, source.relation, source.columns, mapping, schema, limit)
