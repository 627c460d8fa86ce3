"""Validation of a table against a schema, as SQL over DuckDB, with a quality report.

The schema's own rules are applied exactly as Frictionless Table Schema v1 and frictionless-py 5
apply them (frictionless-py is the judge in the tests): ``missingValues``, ``decimalChar``,
``groupChar``, ``bareNumber``, ``trueValues``/``falseValues``, ``format``, the constraints, the
``primaryKey``, the row errors (``blank-row``, ``extra-cell``, ``missing-cell``) and the label
errors of the header. How one cell is read is :mod:`allmende.harmonize.validate_fields`; how a
CSV file is read, :mod:`allmende.harmonize.validate_csv`.

One parallel pass of DuckDB over the cells (for a CSV straight from its reader, no table of
text) stores per row whether it has an error, its keys and, for rows with an error only, the
flag of every check and the cells; ``unique`` and ``primaryKey`` group the keys of that table,
and one aggregate counts every error type and picks the first 100 rows with errors. Python
only touches the header and those rows.

As frictionless does: ``unique`` ignores empty cells and compares typed values, a row with a
type error in a cell gets no constraint error for that cell, a blank row gets only
``blank-row`` (and ``primary-key`` when the schema has one), and ``primaryKey`` reports rows
whose key cells are all empty. Known differences: digits outside ASCII (``١٢``), numbers compared
as DOUBLE (beyond 15 significant digits), integers beyond 38 digits, ``\\d``/``\\w``/``\\s`` in
patterns match ASCII only (DuckDB's RE2), the date ``format`` ``any`` is not supported, and the
encoding is UTF-8 or else Latin-1 (frictionless asks chardet).

allmende's own checks run only when the schema asks for them under ``x-allmende`` and carry
their own error types: ``cross-field-error`` (``rules``) and ``area-error`` (``areaCheck`` with
an area given to the validation).

Quality score (0–100, one decimal)::

    score = 100 × (0.6 × V + 0.3 × C + 0.1 × H)

- V – share of data rows without any error (1 for a table without rows);
- C – mean completeness of the schema's fields: share of data rows whose cell is neither
  missing nor one of the ``missingValues`` (a field without a column counts 0);
- H – header: 1 − (label errors / schema fields), at least 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from allmende import sql
from allmende.errors import Invalid, Message, joined, msg, neutral, stored
from allmende.harmonize.registry import check_schema
from allmende.harmonize.validate_csv import Cells, read_cells, sniff
from allmende.harmonize.validate_fields import (
    FieldSql,
    constraint_sql,
    field_sql,
    register_functions,
    typed_expressions,
)
from allmende.tables import store

__all__ = ["SAMPLE_LIMIT", "SCORE_WEIGHTS", "Sample", "ValidationReport", "add_transform_errors",
           "field_sql", "quality_score", "register_functions", "typed_expressions",
           "validate_columns", "validate_file", "validate_mapped_file", "where"]

SAMPLE_LIMIT = 100
_LABEL_ERRORS = ("blank-label", "duplicate-label", "extra-label", "missing-label",
                 "incorrect-label")
SCORE_WEIGHTS = {"rows": 0.6, "completeness": 0.3, "header": 0.1}
_FLAGS = "__flags"


# --- report ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    type: str
    row: int | None
    field: str | None
    message: str  # a Message: shown in the reader's language

    def as_dict(self) -> dict[str, Any]:
        """As kept in a quality report and printed by ``allmende validate --json``: the German
        message and its template with parameters (``errors.stored``)."""
        return {"type": self.type, "row": self.row, "field": self.field,
                **stored(self.message)}


@dataclass
class ValidationReport:
    valid: bool
    rows: int
    errors: dict[str, int]
    samples: list[Sample]
    completeness: dict[str, float]
    score: float
    rows_with_errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "samples": [sample.as_dict() for sample in self.samples]}


# --- the plan: what the SQL checks -----------------------------------------------------------

@dataclass
class _Plan:
    """The expected fields (by position) over the cells ``c1 … cN``, the same checks over the
    parsed columns ``b{i}, t{i}, x{i}``, and the row-level checks."""

    schema: Mapping[str, Any]
    labels: list[str]
    fields: list[FieldSql]
    staged: list[FieldSql] = field(default_factory=list)
    header_errors: list[Sample] = field(default_factory=list)
    unique: list[int] = field(default_factory=list)
    primary_key: list[int] = field(default_factory=list)
    rules: list[tuple[str, str, Message]] = field(default_factory=list)  # (sql, field, message)
    area: list[tuple[int, str]] = field(default_factory=list)

    @property
    def checks(self) -> list[str]:
        """The names of the flags of a row's own checks (types, constraints, rules, area)."""
        names = [f"t{i}" for i in range(len(self.fields))]
        names += [f"k{i}_{j}" for i, spec in enumerate(self.staged)
                  for j in range(len(spec.constraints))]
        return names + [f"r{j}" for j in range(len(self.rules))] + [
            f"a{j}" for j in range(len(self.area))]

    @property
    def key_groups(self) -> list[tuple[list[int], str]]:
        """(fields, flag) of each unique field and of the primary key."""
        groups = [([i], f"u{i}") for i in self.unique]
        return groups + ([(self.primary_key, "pk")] if self.primary_key else [])


def _header_errors(labels: list[str], names: list[str]) -> list[Sample]:
    """frictionless' label errors of a one-row header, fields matched by position; an empty
    header row counts as no header, which frictionless does not check."""
    if not labels:
        return []
    errors = [Sample("extra-label", 1, None, msg(
        "Spalte {number}: „{label}“ gehört zu keinem Feld des Schemas.", number=number,
        label=label)) for number, label in enumerate(labels[len(names):], start=len(names) + 1)]
    errors += [Sample("missing-label", 1, name, msg("Die Spalte für das Feld „{field}“ fehlt.",
                                                    field=name))
               for name in names[len(labels):]]
    for number, (name, label) in enumerate(zip(names, labels, strict=False), start=1):
        if not label:
            errors.append(Sample("blank-label", 1, name, msg(
                "Spalte {number} (Feld „{field}“) hat keine Überschrift.", number=number,
                field=name)))
        elif label in labels[:number - 1]:
            errors.append(Sample("duplicate-label", 1, name, msg(
                "Spalte {number}: die Überschrift „{label}“ kommt schon vorher vor.",
                number=number, label=label)))
        elif label != name:
            errors.append(Sample("incorrect-label", 1, name, msg(
                "Spalte {number}: Überschrift „{label}“, erwartet „{field}“.", number=number,
                label=label, field=name)))
    return errors


def _plan(schema: Mapping[str, Any], labels: list[str], area: Sequence[float] | None) -> _Plan:
    specs = list(schema["fields"])
    names = [spec["name"] for spec in specs]
    missing = schema.get("missingValues", [""])
    # Labels without a field are read as frictionless' 'any' fields; fields without a label
    # are not read at all.
    expected = specs[:len(labels)] + [{"name": f"Spalte {i + 1}", "type": "any"}
                                      for i in range(len(specs), len(labels))]
    if not labels:
        expected = specs
    plan = _Plan(schema, labels,
                 [field_sql(spec, f"c{i + 1}", missing, plain_column=f"q{i}",
                            cast_column=f"p{i}") for i, spec in enumerate(expected)],
                 [_staged(spec, i) for i, spec in enumerate(expected)],
                 _header_errors(labels, names))
    positions = {spec["name"]: i for i, spec in enumerate(expected)}
    plan.unique = [i for i, spec in enumerate(expected)
                   if spec.get("constraints", {}).get("unique")]
    key = schema.get("primaryKey") or []
    key = [key] if isinstance(key, str) else list(key)
    if key and all(name in positions for name in key):
        plan.primary_key = [positions[name] for name in key]
    extra = schema.get("x-allmende", {})
    plan.rules = [r for r in (_rule_sql(rule, plan.staged, positions)
                              for rule in extra.get("rules", [])) if r]
    if extra.get("areaCheck") and area:
        plan.area = [(i, _area_sql(f"x{i}", area)) for i, spec in enumerate(expected)
                     if spec.get("type") == "geometry"]
        plan.area += _coordinate_area(extra, positions, plan.staged, area)
    return plan


def _staged(spec: Mapping[str, Any], i: int) -> FieldSql:
    """The checks of field ``i`` over the columns the first stage computed once per cell
    (empty, type error, value), so that no constraint repeats the parsing."""
    checks = [(name, f"(NOT t{i} AND {check})")
              for name, check in constraint_sql(spec, f"b{i}", f"x{i}")]
    return FieldSql(spec["name"], spec.get("type", "string"), f"b{i}", f"t{i}", f"x{i}", checks)


def _rule_sql(rule: Mapping[str, Any], fields: list[FieldSql],
              positions: Mapping[str, int]) -> tuple[str, str, Message] | None:
    """A cross-field rule as (SQL condition that it fails, field, German message); None when
    one of its fields has no column."""
    names = [rule["field"], *([rule["than"]] if "than" in rule else rule.get("of", []))]
    if any(name not in positions for name in names):
        return None
    typed = {name: fields[positions[name]].typed for name in names}
    this = typed[rule["field"]]
    if rule["type"] in ("greater-or-equal", "greater-than"):
        op = ">=" if rule["type"] == "greater-or-equal" else ">"
        other = typed[rule["than"]]
        says = (msg("„{field}“ muss mindestens „{other}“ sein.", field=rule["field"],
                    other=rule["than"]) if op == ">=" else
                msg("„{field}“ muss größer als „{other}“ sein.", field=rule["field"],
                    other=rule["than"]))
        return f"NOT coalesce({this} {op} {other}, TRUE)", rule["field"], says
    if rule["type"] == "sum-equals":
        # Only rows whose parts are all known are checked: a secret or missing part ("." in
        # statistics) makes the sum unknown, not wrong; completeness already shows the gap.
        total = " + ".join(typed[n] for n in rule["of"])
        return (f"coalesce({this} <> {total}, FALSE)", rule["field"],
                msg("„{field}“ muss die Summe von {parts} sein.", field=rule["field"],
                    parts=", ".join(rule["of"])))
    raise Invalid(msg("Unbekannte Regel „{rule}“ in x-allmende.rules.", rule=rule["type"]),
                  code="invalid_rule")


def _inside(x: str, y: str, area: Sequence[float]) -> str:
    lon_min, lat_min, lon_max, lat_max = (sql.number(float(v)) for v in area)
    return f"({x} BETWEEN {lon_min} AND {lon_max} AND {y} BETWEEN {lat_min} AND {lat_max})"


def _area_sql(cell: str, area: Sequence[float]) -> str:
    """SQL condition that a WKT/GeoJSON geometry has a coordinate outside the area."""
    numbers = (f"list_transform(regexp_extract_all(CASE WHEN {cell} LIKE '{{%' THEN "
               f"json_extract({cell}, '$.coordinates')::VARCHAR ELSE {cell} END, "
               "'-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?'), lambda x: x::DOUBLE)")
    return (f"(len(list_filter(range(1, len({numbers}), 2), lambda i: "
            f"NOT {_inside(f'{numbers}[i]', f'{numbers}[i + 1]', area)})) > 0)")


def _coordinate_area(extra: Mapping[str, Any], positions: Mapping[str, int],
                     fields: list[FieldSql], area: Sequence[float]) -> list[tuple[int, str]]:
    pair = extra.get("coordinates") or {}
    lat, lon = pair.get("lat"), pair.get("lon")
    if lat not in positions or lon not in positions:
        return []
    y, x = fields[positions[lat]].typed, fields[positions[lon]].typed
    return [(positions[lat], f"({x} IS NOT NULL AND {y} IS NOT NULL AND NOT "
                             f"{_inside(x, y, area)})")]


# --- the flags: one row per data row, a flag per check ---------------------------------------

def _flags_sql(plan: _Plan, relation: str) -> str:
    """Over ``relation`` (``__row, __width, c1 … cN`` VARCHAR), per row: whether it is blank,
    whether it has an error of its own (``__error``), whether each cell is empty (``b{i}``),
    the keys of unique fields and the primary key with the text of unique fields (``v{i}``),
    and only for rows with an error the flags of :attr:`_Plan.checks` (``__checks``) and the
    cells (``__cells``) – as lists, so that the many rows without an error cost little."""
    n = len(plan.fields)
    cells = [f"c{i + 1}" for i in range(n)]
    tested = f"({relation})"
    for stage in ([f"{spec.cast} AS p{i}" for i, spec in enumerate(plan.fields) if spec.cast],
                  [f"{spec.plain} AS q{i}" for i, spec in enumerate(plan.fields) if spec.plain]):
        tested = f"({sql.select(['*', *stage], tested)})" if stage else tested
    parsed = ["__row", "__width", *cells]
    for i, spec in enumerate(plan.fields):
        parsed += [f"{spec.blank} AS b{i}", f"{spec.type_error} AS t{i}", f"{spec.value} AS x{i}"]
    checked = ["__row", "__width", *cells, *(f"b{i}, t{i}" for i in range(n))]
    for i, spec in enumerate(plan.staged):
        checked += [f"{check} AS k{i}_{j}" for j, (_, check) in enumerate(spec.constraints)]
    checked += [f"({check}) AS r{j}" for j, (check, _, _) in enumerate(plan.rules)]
    checked += [f"coalesce({check}, FALSE) AS a{j}" for j, (_, check) in enumerate(plan.area)]
    keys = [f"{flag}_k{m}" for fields, flag in plan.key_groups for m in range(len(fields))]
    for fields, flag in plan.key_groups:
        checked += [f"{_unique_key(plan.staged[i])} AS {flag}_k{m}"
                    for m, i in enumerate(fields)]
    checked.append(f"({' AND '.join(f'b{i}' for i in range(n)) or 'TRUE'}) AS blank")
    stages = sql.select(checked, f"({sql.select(parsed, tested)})")
    stages = sql.select(["*", f"({_row_error(plan, keys=False)}) AS __error"], f"({stages})")
    return sql.select(
        ["__row", "__width", "blank", "__error", *(f"b{i}" for i in range(n)), *keys,
         *(f"c{i + 1} AS v{i}" for i in plan.unique),
         f"CASE WHEN __error THEN [{', '.join(plan.checks)}] END AS __checks",
         f"CASE WHEN __error THEN [{', '.join(cells)}] END AS __cells"], f"({stages})")


_NAN_KEY = "'NaN'"


def _unique_key(spec: FieldSql) -> str:
    """The value frictionless compares for unique and primaryKey: NULL for empty or invalid
    cells; NaN, which never equals anything, is marked (:func:`_checked` leaves it alone)."""
    typed = spec.typed
    if spec.type != "number":
        return typed
    # -0 equals 0 for Decimal; adding 0.0 turns the DOUBLE -0.0 into 0.0.
    return f"CASE WHEN isnan({typed}) THEN {_NAN_KEY} ELSE ({typed} + 0.0)::VARCHAR END"


def _row_error(plan: _Plan, *, keys: bool = True, errors: str | None = None) -> str:
    """SQL condition that a row has an error (with or without unique and primary key);
    ``errors`` is the column that holds the other errors, if one does."""
    n = len(plan.fields)
    parts = [errors] if errors else ["blank", f"__width <> {n}"]
    if not errors:
        parts += [f"t{i}" for i in range(n)]
        parts += [f"k{i}_{j}" for i, s in enumerate(plan.staged)
                  for j in range(len(s.constraints))]
        parts += [f"r{j}" for j in range(len(plan.rules))]
        parts += [f"a{j}" for j in range(len(plan.area))]
    if keys:
        parts += [flag for _, flag in plan.key_groups]
    return " OR ".join(parts)


def _checked(plan: _Plan) -> tuple[dict[str, str], str]:
    """(common table expressions, relation): the flags with a flag per unique field and for
    the primary key: the row repeats the key of an earlier row. The repeated keys are grouped
    once (a few rows) and joined, far cheaper in DuckDB than a window partitioned by a million
    keys. In a primary key, empty cells equal each other and a key of only empty cells is an
    error of its own (frictionless); a unique field ignores them."""
    ctes, joins, flags = {}, [], []
    for fields, flag in plan.key_groups:
        keys = [f"{flag}_k{m}" for m in range(len(fields))]
        present = " OR ".join(f"{k} IS NOT NULL" for k in keys)
        comparable = [f"coalesce({k} <> {_NAN_KEY}, TRUE)"
                      for k, i in zip(keys, fields, strict=True) if plan.fields[i].type == "number"]
        grouped = sql.select([*keys, "min(__row) AS first", "count(*) AS n"], _FLAGS,
                             where=[present, *comparable], group_by="ALL")
        ctes[f"__repeated_{flag}"] = sql.select([*keys, f"first AS {flag}_first"],
                                                f"({grouped})", where="n > 1")
        on = " AND ".join(f"f.{k} IS NOT DISTINCT FROM d_{flag}.{k}" for k in keys)
        joins.append(f"LEFT JOIN __repeated_{flag} d_{flag} ON {on}")
        repeated = f"coalesce(f.__row > d_{flag}.{flag}_first, FALSE)"
        if flag == "pk":
            repeated = f"({repeated} OR NOT ({' OR '.join(f'f.{k} IS NOT NULL' for k in keys)}))"
        flags.append(f"{repeated} AS {flag}")
    if not joins:
        return ctes, _FLAGS
    return ctes, f"({sql.select(['f.*', *flags], f'{_FLAGS} f ' + ' '.join(joins))})"


def _validate(con: duckdb.DuckDBPyConnection, plan: _Plan, cells: Cells) -> dict[str, Any]:
    """The flags of every row in a table (one parallel pass of DuckDB over the cells; the
    table keeps their order, which numbers the rows), then one statement with every count and
    the first rows with errors (``__samples``)."""
    con.execute(sql.create_table("__flag_table", _flags_sql(plan, cells.rows)))
    # A view, not a common table expression: DuckDB would copy every column of it once for
    # its three readers, where each of them reads only the columns it needs.
    con.execute(sql.create_view(_FLAGS, cells.numbered(
        "__flag_table", _flags_sql(plan, cells.empty) if cells.empty else None)))
    ctes, checked = _checked(plan)
    query = sql.select(_counts_sql(plan), checked)
    result = con.execute(sql.with_(ctes, query) if ctes else query)
    return dict(zip([d[0] for d in result.description], result.fetchall()[0], strict=True))


# --- counts and samples -----------------------------------------------------------------------

def _counts_sql(plan: _Plan) -> list[str]:
    """Every count, the completeness of each field, and the first rows with an error as
    structs (``__samples``). Only rows with an error add to most counts: the terms are
    computed for them alone (a FILTER would still compute them for every row)."""
    n = len(plan.fields)
    position = {name: i for i, name in enumerate(plan.checks, start=1)}

    def flags(prefix: str) -> list[str]:
        return [f"__checks[{i}]::INTEGER" for name, i in position.items()
                if name.startswith(prefix)]

    parts = {"type-error": flags("t"), "constraint-error": flags("k"),
             "extra-cell": [f"greatest(__width - {n}, 0)"],
             "missing-cell": [f"greatest({n} - __width, 0)"],
             "cross-field-error": flags("r"), "area-error": flags("a")}
    sums = ["count(*) AS rows", "count(*) FILTER (WHERE blank) AS \"blank-row\""]
    sums += [f"sum(CASE WHEN __error AND NOT blank THEN {' + '.join(terms)} END) "
             f"AS {sql.ident(kind)}" for kind, terms in parts.items() if terms]
    if plan.unique:
        sums.append(f"sum({' + '.join(f'u{i}::INTEGER' for i in plan.unique)}) "
                    "AS \"unique-error\"")
    sums += ["sum(pk::INTEGER) AS \"primary-key\""] if plan.primary_key else []
    error = _row_error(plan, errors="__error")
    sums.append(f"count(*) FILTER (WHERE {error}) AS __rows_with_errors")
    # what _samples_of_row reads (a struct of the whole row costs a tenth more)
    sample = ["__row", "__width", "blank", "__checks", "__cells",
              *(f"v{i}" for i in plan.unique), *(flag for _, flag in plan.key_groups)]
    row = f"struct_pack({', '.join(f'{name} := {name}' for name in sample)})"
    sums.append(f"arg_min(CASE WHEN {error} THEN {row} END, __row, {SAMPLE_LIMIT}) "
                f"FILTER (WHERE {error}) AS __samples")
    sums += [f"avg((NOT b{i})::INTEGER) AS __complete{i}" for i in range(n)]
    return sums


def _report(plan: _Plan, values: Mapping[str, Any], source: str) -> ValidationReport:
    counts: dict[str, int] = {}
    for sample in plan.header_errors:
        counts[sample.type] = counts.get(sample.type, 0) + 1
    for name, value in values.items():
        if not name.startswith("__") and name != "rows" and value:
            counts[name] = counts.get(name, 0) + int(value)
    rows = int(values["rows"])
    rows_with_errors = int(values["__rows_with_errors"] or 0)
    samples = plan.header_errors[:SAMPLE_LIMIT]
    if not plan.labels and not rows:
        counts["source-error"] = 1
        samples.append(Sample("source-error", None, None, msg("Die Datei ist leer.")))
    for row in sorted(values["__samples"] or [], key=lambda row: row["__row"]):
        if len(samples) >= SAMPLE_LIMIT:
            break
        checks = row["__checks"] or [False] * len(plan.checks)
        flat = {**row, **dict(zip(plan.checks, checks, strict=True))}
        flat.update((f"v{i}", cell) for i, cell in enumerate(row["__cells"] or []))
        samples += _samples_of_row(plan, flat, source)
    completeness = _completeness(plan, values, rows)
    score = quality_score(rows, rows_with_errors, completeness,
                          sum(counts.get(kind, 0) for kind in _LABEL_ERRORS),
                          len(plan.schema["fields"]))
    return ValidationReport(not counts, rows, counts, samples[:SAMPLE_LIMIT], completeness,
                            score, rows_with_errors)


def _completeness(plan: _Plan, values: Mapping[str, Any], rows: int) -> dict[str, float]:
    result = {spec["name"]: 0.0 for spec in plan.schema["fields"]}
    for i, spec in enumerate(plan.fields[:len(plan.schema["fields"])]):
        share = values.get(f"__complete{i}")
        result[spec.name] = round(float(share), 4) if rows and share is not None else 0.0
    return result


def quality_score(rows: int, rows_with_errors: int, completeness: Mapping[str, float],
                  label_errors: int, fields: int) -> float:
    """The documented score (module docstring): 60 % error-free rows, 30 % completeness,
    10 % header."""
    error_free = 1.0 if rows == 0 else 1 - rows_with_errors / rows
    complete = sum(completeness.values()) / len(completeness) if completeness else 0.0
    header = max(0.0, 1 - label_errors / fields) if fields else 0.0
    score = (SCORE_WEIGHTS["rows"] * error_free + SCORE_WEIGHTS["completeness"] * complete
             + SCORE_WEIGHTS["header"] * header)
    return round(100 * score, 1)


def where(source: str, row: int, group: Message | None = None) -> Message:
    """Where a sample is: "ladesaeulen.csv, Zeile 7" (with ``group``: "…, Ladepunkt 2")."""
    place = msg("{source}, Zeile {row}", source=source, row=row) if source else \
        msg("Zeile {row}", row=row)
    return place if group is None else joined([place, group])


def _samples_of_row(plan: _Plan, row: Mapping[str, Any], source: str) -> Iterator[Sample]:
    """The samples of one row; each message names the place as its parameter ``where``."""
    number, n = row["__row"], len(plan.fields)
    place = where(source, number)
    if row["blank"]:
        yield Sample("blank-row", number, None, msg("{where}: die Zeile ist leer.", where=place))
    else:
        for i, spec in enumerate(plan.fields):
            cell = row.get(f"v{i}")
            if row[f"t{i}"]:
                yield Sample("type-error", number, spec.name,
                             _type_error(place, spec.name, cell, spec.type, _format(plan, i)))
                continue
            for j, (constraint, _) in enumerate(plan.staged[i].constraints):
                if row[f"k{i}_{j}"]:
                    yield Sample("constraint-error", number, spec.name, msg(
                        "{where}, Feld „{field}“: „{value}“ verletzt {constraint}.", where=place,
                        field=spec.name, value=cell or "",
                        constraint=_constraint_text(plan, i, constraint)))
        for extra in range(n + 1, row["__width"] + 1):
            yield Sample("extra-cell", number, None, msg(
                "{where}: Zelle {cell} gehört zu keiner Spalte.", where=place, cell=extra))
        for i in range(row["__width"], n):
            name = plan.fields[i].name
            yield Sample("missing-cell", number, name, msg(
                "{where}: die Zelle für „{field}“ fehlt.", where=place, field=name))
    for i in plan.unique:
        if row[f"u{i}"]:
            name = plan.fields[i].name
            yield Sample("unique-error", number, name, msg(
                "{where}, Feld „{field}“: der Wert „{value}“ kommt schon in einer früheren Zeile "
                "vor.", where=place, field=name, value=row.get(f"v{i}")))
    if plan.primary_key and row["pk"]:
        names = ", ".join(plan.fields[i].name for i in plan.primary_key)
        yield Sample("primary-key", number, None, msg(
            "{where}: der Primärschlüssel ({fields}) ist leer oder kommt schon in einer früheren "
            "Zeile vor.", where=place, fields=names))
    if row["blank"]:
        return
    for j, (_, name, message) in enumerate(plan.rules):
        if row[f"r{j}"]:
            yield Sample("cross-field-error", number, name,
                         neutral("{where}: {rule}", where=place, rule=message))
    for j, (i, _) in enumerate(plan.area):
        if row[f"a{j}"]:
            name = plan.fields[i].name
            yield Sample("area-error", number, name, msg(
                "{where}, Feld „{field}“: die Lage liegt außerhalb des Gebiets.", where=place,
                field=name))


def _type_error(place: Message, name: str, cell: Any, kind: str, fmt: str) -> Message:
    if fmt == "default":
        return msg("{where}, Feld „{field}“: „{value}“ ist kein gültiger Wert vom Typ {type}.",
                   where=place, field=name, value=cell, type=kind)
    return msg("{where}, Feld „{field}“: „{value}“ ist kein gültiger Wert vom Typ {type} "
               "(Format {format}).", where=place, field=name, value=cell, type=kind, format=fmt)


def _format(plan: _Plan, index: int) -> str:
    spec = _spec(plan, index)
    return spec.get("format", "default") if spec else "default"


def _spec(plan: _Plan, index: int) -> dict[str, Any] | None:
    fields = plan.schema["fields"]
    return fields[index] if index < len(fields) else None


def _constraint_text(plan: _Plan, index: int, constraint: str) -> Message:
    spec = _spec(plan, index) or {}
    bound = spec.get("constraints", {}).get(constraint)
    if constraint == "required":
        return msg("die Pflichtangabe (Wert fehlt)")
    if constraint == "enum":
        return msg("die erlaubten Werte {values}", values=json.dumps(bound, ensure_ascii=False))
    words = {"minLength": msg("die Mindestlänge {bound}", bound=bound),
             "maxLength": msg("die Höchstlänge {bound}", bound=bound),
             "pattern": msg("das Muster {bound}", bound=bound),
             "minimum": msg("das Minimum {bound}", bound=bound),
             "maximum": msg("das Maximum {bound}", bound=bound),
             "exclusiveMinimum": msg("die Untergrenze {bound}", bound=bound),
             "exclusiveMaximum": msg("die Obergrenze {bound}", bound=bound)}
    return words[constraint]


# --- entry points -----------------------------------------------------------------------------

def _not_applicable(error: duckdb.Error) -> Invalid:
    return Invalid(msg("Das Schema lässt sich nicht anwenden: {error}", error=str(error)),
                   code="schema_not_applicable")


def validate_file(path: str | Path, schema: Mapping[str, Any], *,
                  area: Sequence[float] | None = None) -> ValidationReport:
    """Validate a CSV file (header in row 1) against ``schema`` as frictionless-py does."""
    path = Path(path)
    check_schema(dict(schema))
    layout = sniff(path)
    plan = _plan(schema, layout.labels, area)
    try:
        with store.connection() as con:
            register_functions(con)
            values = read_cells(con, path, layout, len(plan.fields),
                                lambda cells: _validate(con, plan, cells))
    except duckdb.Error as error:
        raise _not_applicable(error) from None
    return _report(plan, values, path.name)


def validate_columns(con: duckdb.DuckDBPyConnection, relation: str, schema: Mapping[str, Any],
                     *, row_column: str, labels: Sequence[str] | None = None,
                     area: Sequence[float] | None = None, source: str = ""
                     ) -> ValidationReport:
    """Validate the table or view ``relation`` of VARCHAR cells with one column per header
    label (default: the schema's field names, in schema order) and ``row_column``, the row
    number as frictionless counts it (the header is row 1)."""
    labels = list(labels if labels is not None else [f["name"] for f in schema["fields"]])
    plan = _plan(schema, labels, area)
    cells = sql.select([f"{sql.ident(row_column)} AS __row", f"{len(labels)} AS __width",
                        *(f"{sql.ident(label)}::VARCHAR AS c{i}"
                          for i, label in enumerate(labels, start=1))], sql.ident(relation))
    register_functions(con)
    try:
        return _report(plan, _validate(con, plan, Cells(cells)), source)
    except duckdb.Error as error:
        raise _not_applicable(error) from None


def validate_mapped_file(path: str | Path, mapping_path: str | Path,
                         schema: Mapping[str, Any]) -> ValidationReport:
    """Validate a CSV after applying a mapping (``harmonize.mapping``) to its columns; rows
    keep the file's numbering. Cells a transform could not convert count as
    ``mapping-error``."""
    from allmende.harmonize.mapping import (
        GROUP,
        SOURCE_ROW,
        apply_mapping,
        load_mapping,
        samples_by_group,
    )

    path = Path(path)
    check_schema(dict(schema))
    mapping = load_mapping(mapping_path)
    layout = sniff(path)
    names = _column_names(layout.labels)
    with store.connection() as con:
        def load(cells: Cells) -> None:
            con.execute(sql.create_table("__read", cells.rows))
            con.execute(sql.create_table("cells", cells.numbered("__read", cells.empty)))

        read_cells(con, path, layout, len(names), load)
        columns = [f"c{i} AS {sql.ident(name)}" for i, name in enumerate(names, start=1)]
        con.execute(sql.create_table("__source", sql.select(columns, "cells",
                                                            order_by="__row")))
        mapped = apply_mapping(con, "__source", [{"name": n, "type": "string"} for n in names],
                               mapping, schema)
        numbered = sql.select(["__row", "row_number() OVER (ORDER BY __row) AS n"], "cells")
        # with groups, several rows share a file row: the checks number rows one by one, the
        # samples then name the file row and the group
        order = f"m.{sql.ident(SOURCE_ROW)}" + (f", m.{sql.ident(GROUP)}" if mapped.groups
                                                  else "")
        con.execute(sql.create_table("__mapped", sql.select(
            ["m.*", "c.__row AS __file_row",
             f"row_number() OVER (ORDER BY {order}) + 1 AS __report_row"],
            f"{sql.ident(mapped.relation)} m JOIN ({numbered}) c "
            f"ON m.{sql.ident(SOURCE_ROW)} = c.n")))
        if mapped.groups:
            report = validate_columns(con, "__mapped", schema, row_column="__report_row",
                                      source=path.name)
            samples_by_group(con, report, "__mapped", report_row="__report_row",
                             file_row="__file_row", groups=mapped.groups, source=path.name)
        else:
            report = validate_columns(con, "__mapped", schema, row_column="__file_row",
                                      source=path.name)
    return add_transform_errors(report, mapped)


def add_transform_errors(report: ValidationReport, mapped: Any) -> ValidationReport:
    """Cells a mapping's transform could not convert (``harmonize.mapping.MappedTable``)
    count as ``mapping-error``, numbered like the file's rows (the header is row 1)."""
    if mapped.error_counts:
        report.errors["mapping-error"] = sum(mapped.error_counts.values())
        report.valid = False
        report.samples[:0] = [Sample("mapping-error", e.row + 1, e.field, e.message)
                              for e in mapped.errors[:SAMPLE_LIMIT]]
        del report.samples[SAMPLE_LIMIT:]
    return report


def _column_names(labels: Sequence[str]) -> list[str]:
    """Header labels as ingest names columns: a blank label becomes ``Spalte N``, a repeated
    one gets `` (2)``."""
    names: list[str] = []
    for number, label in enumerate(labels, start=1):
        name = label or f"Spalte {number}"
        base, copy = name, 2
        while name in names:
            name, copy = f"{base} ({copy})", copy + 1
        names.append(name)
    return names
