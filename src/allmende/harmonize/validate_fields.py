"""The rules of one schema field as SQL over a VARCHAR cell, exactly as frictionless-py 5 reads
the cell (see :mod:`allmende.harmonize.validate` for the whole validation).

Where frictionless-py's rules are Python behaviour, the SQL reproduces it: cells are not
trimmed except for ``integer``/``number`` (Python's ``str.strip``), numbers follow Python's
``Decimal`` grammar (``+1``, ``007``, ``1e3``, ``NaN``, ``Infinity``, underscores), integers
Python's ``int``, dates ``datetime.strptime`` (``2020-1-5`` is a valid default date), patterns
``re.match("^" + pattern + "$")``.

Most cells are written the plain way (``123``, ``-4,5``, ``2020-01-05``): for them DuckDB's cast
decides and reads the value, where it reads as Python does: an integer or a date that the cast
gives back as the very text; a number the DOUBLE cast reads, but for a ``+-`` sign (the only
difference on 840,000 strings compared); fixed-width digits for dates with a format. Only the
other cells go through the exact Python grammar, written as regular expressions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from allmende import sql
from allmende.errors import Invalid, msg

# Python's str.strip() removes these (Unicode White_Space plus the ASCII separators).
_PY_SPACE = (r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}"
             r"\x{2029}\x{202f}\x{205f}\x{3000}]")
_DEFAULT_TRUE = ["true", "True", "TRUE", "1"]
_DEFAULT_FALSE = ["false", "False", "FALSE", "0"]
_DECIMAL = (r"[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
            r"|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[sS]?[nN][aA][nN][0-9]*)")
_INTEGER = r"[+-]?[0-9]+(_[0-9]+)*"
# The characters of a plain number besides its decimal character.
_PLAIN_NUMBER = set("0123456789-")


@dataclass(frozen=True)
class Reading:
    """How a non-empty cell is read: the exact condition that it has the type and its typed
    value; for types with a plain path, a cheap test that decides the plain cells, and what
    such a cell is (``plain_ok`` may use ``plain_value``). ``cast``, when given, is a DuckDB
    cast the plain path uses more than once, for a stage below that computes it once."""

    ok: str
    value: str
    plain: str | None = None
    plain_ok: str = "TRUE"
    plain_value: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class FieldSql:
    """SQL over one VARCHAR cell expression: when it is empty, when its type is wrong, its
    typed value and the failing checks of each constraint (in frictionless' order). ``cast``
    and ``plain`` are the cast and the test of the plain path, for stages below that compute
    them once (see :func:`field_sql`)."""

    name: str
    type: str
    blank: str
    type_error: str
    value: str
    constraints: list[tuple[str, str]]
    plain: str | None = None
    cast: str | None = None

    @property
    def typed(self) -> str:
        """The typed value, NULL for empty or invalid cells (for consolidation)."""
        return f"CASE WHEN NOT {self.blank} AND NOT {self.type_error} THEN {self.value} END"


def field_sql(field: Mapping[str, Any], cell: str, missing_values: Sequence[str] = ("",), *,
              plain_column: str | None = None, cast_column: str | None = None) -> FieldSql:
    """The checks of one schema field over the SQL expression ``cell`` (a VARCHAR; NULL when
    the row has no such cell). With ``plain_column`` and ``cast_column``, the type test and
    the value refer to those columns for the plain test and the cast
    (:attr:`FieldSql.plain`, :attr:`FieldSql.cast`) instead of repeating them."""
    missing = field.get("missingValues", missing_values)
    blank = f"({cell} IS NULL" + (f" OR {cell} IN ({_sql_list(missing)}))" if missing else ")")
    reading = _reading(field, cell, cast_column)
    ok, value = f"coalesce({reading.ok}, FALSE)", reading.value
    if reading.plain is not None:
        test = plain_column or reading.plain
        ok = f"CASE WHEN {test} THEN {reading.plain_ok} ELSE {ok} END"
        value = f"CASE WHEN {test} THEN {reading.plain_value} ELSE {value} END"
    type_error = f"(NOT {blank} AND NOT {ok})"
    # A cell with a type error gets no constraint error (frictionless checks typed values).
    checks = [(name, f"(NOT {type_error} AND {check})")
              for name, check in constraint_sql(field, blank, value)]
    return FieldSql(field["name"], field.get("type", "string"), blank, type_error, value,
                    checks, reading.plain, reading.cast)


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join(sql.string(v) for v in values) or "NULL"


def _strip(cell: str) -> str:
    # The regex only runs on the rare cells that start or end with white space.
    ends = [f"unicode(left({cell}, 1))", f"unicode(right({cell}, 1))"]
    edge = " OR ".join(f"{end} <= 32 OR {end} >= 133" for end in ends)
    return (f"CASE WHEN {edge} THEN regexp_replace({cell}, '^{_PY_SPACE}+|{_PY_SPACE}+$', '', "
            f"'g') ELSE {cell} END")


def _reading(field: Mapping[str, Any], cell: str, cast_column: str | None = None) -> Reading:
    kind = field.get("type", "string")
    fmt = field.get("format", "default")
    if kind == "integer":
        return _integer(field, cell, cast_column)
    if kind == "number":
        return _number(field, cell, cast_column)
    if kind == "boolean":
        trues = field.get("trueValues", _DEFAULT_TRUE)
        falses = field.get("falseValues", _DEFAULT_FALSE)
        value = (f"CASE WHEN {cell} IN ({_sql_list(falses)}) THEN FALSE "
                 f"WHEN {cell} IN ({_sql_list(trues)}) THEN TRUE END")
        return Reading(f"({value}) IS NOT NULL", value)
    if kind == "year":
        ok = (f"(length({cell}) = 4 AND regexp_full_match({cell}, "
              f"'{_PY_SPACE}*[+]?[0-9]+(_[0-9]+)*{_PY_SPACE}*'))")
        return Reading(ok, f"TRY_CAST(replace({_strip(cell)}, '_', '') AS INTEGER)")
    if kind in ("date", "datetime", "time"):
        return _temporal(kind, fmt, cell, cast_column)
    if kind == "string":
        return Reading(_string_format(fmt, cell), cell)
    if kind == "geometry":
        return Reading(_geometry(cell), cell)
    return Reading("TRUE", cell)  # any


def _number_text(field: Mapping[str, Any], cell: str) -> tuple[str, str]:
    """(SQL text after frictionless' number processing, SQL condition that it is usable)."""
    text = _strip(cell)
    if not field.get("bareNumber", True):
        text = f"regexp_replace({text}, '^[^-0-9]*|[^0-9]*$', '', 'g')"
    usable = "TRUE"
    if field.get("type") == "number":
        group, decimal = field.get("groupChar", ""), field.get("decimalChar", ".")
        if group:
            text = f"replace({text}, {sql.string(group)}, '')"
        if decimal != ".":
            usable = f"strpos({text}, '.') = 0"
            text = f"replace({text}, {sql.string(decimal)}, '.')"
    return text, usable


def _integer(field: Mapping[str, Any], cell: str, cast_column: str | None) -> Reading:
    text, _ = _number_text(field, cell)
    # DuckDB's cast reads more than Python's int ('1.5', '1e3'); where it gives back the very
    # text (digits, a minus, no leading zero), both read the same number.
    cast = f"TRY_CAST({cell} AS BIGINT)"
    value = cast_column or cast
    return Reading(f"regexp_full_match({text}, '{_INTEGER}')",
                   f"TRY_CAST(replace({text}, '_', '') AS HUGEINT)",
                   plain=f"{value}::VARCHAR = {cell}", plain_value=value, cast=cast)


def _number(field: Mapping[str, Any], cell: str, cast_column: str | None) -> Reading:
    text, usable = _number_text(field, cell)
    plain_text = f"replace({text}, '_', '')"
    reading = Reading(f"({usable} AND regexp_full_match({plain_text}, '{_DECIMAL}'))",
                      f"_allmende_number({plain_text})")
    decimal, group = field.get("decimalChar", "."), field.get("groupChar", "")
    if len(decimal) != 1 or decimal in _PLAIN_NUMBER or set(group) & (_PLAIN_NUMBER | {decimal}):
        return reading
    dotted = cell if decimal == "." else f"replace({cell}, {sql.string(decimal)}, '.')"
    if not field.get("bareNumber", True):
        # Digits, a minus and one decimal character: nothing for frictionless to cut off.
        shape = sql.string(f"-?[0-9]+({re.escape(decimal)}[0-9]+)?")
        return Reading(reading.ok, reading.value, plain=f"regexp_full_match({cell}, {shape})",
                       plain_value=f"CAST({dotted} AS DOUBLE)")
    # What DuckDB's DOUBLE reads, Python's Decimal reads as the same number (after strip),
    # but for a sign '+-' (compared on 840,000 strings of digits, signs, points, exponents,
    # underscores, spaces, inf and nan); a '.' is no number where the decimal character is
    # another.
    cast = f"TRY_CAST({dotted} AS DOUBLE)"
    value = cast_column or cast
    test = f"{value} IS NOT NULL AND strpos({cell}, '+-') = 0"
    if decimal != ".":
        test += f" AND strpos({cell}, '.') = 0"
    return Reading(reading.ok, reading.value, plain=f"({test})", plain_value=value, cast=cast)


def _string_format(fmt: str, cell: str) -> str:
    if fmt == "email":
        user = ("[a-z0-9!#$%&'*+/=?^_`{}|~\\-\\x{a0}-\\x{24f}]+"
                "(\\.[a-z0-9!#$%&'*+/=?^_`{}|~\\-\\x{a0}-\\x{24f}]+)*\\n?$")
        quoted = ('"([\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f!#-\\[\\]-\\x7f\\x{a0}-\\x{24f}]'
                  '|\\\\[\\t.])*"\\n?$')
        domain = (r"(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9][a-z0-9-]{0,61}"
                  r"[a-z0-9]")
        local_regex = sql.string("(?i)^(?:[\\x{a0}-\\x{24f}]|" + user + "|" + quoted + ")")
        local = f"split_part({cell}, '@', 1)"
        host = f"split_part({cell}, '@', 2)"
        return (f"(length({cell}) - length(replace({cell}, '@', '')) = 1 "
                f"AND length({local}) <= 64 AND length({host}) <= 253 "
                f"AND regexp_matches({local}, {local_regex}) "
                f"AND NOT regexp_matches({host}, '\\s|__') "
                f"AND regexp_full_match({host}, {sql.string(domain)}))")
    if fmt == "uri":
        return f"regexp_matches({cell}, '^[a-zA-Z][a-zA-Z0-9+.\\-]*:')"
    if fmt == "uuid":
        core = (f"replace(trim(replace(replace({cell}, 'urn:', ''), 'uuid:', ''), '{{}}'), "
                "'-', '')")
        return f"regexp_full_match({core}, '[0-9a-fA-F]{{32}}')"
    return "TRUE"


def _geometry(cell: str) -> str:
    wkt = ("(?is)\\s*(MULTI)?(POINT|LINESTRING|POLYGON|GEOMETRYCOLLECTION)\\s*(Z|M|ZM)?\\s*"
           "(\\(.*\\)|EMPTY)\\s*")
    geojson = (f"(json_valid({cell}) AND json_type(TRY_CAST({cell} AS JSON)) = 'OBJECT' AND "
               f"json_extract_string(TRY_CAST({cell} AS JSON), '$.type') IN ('Point', "
               "'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'MultiPolygon', "
               "'GeometryCollection'))")
    return f"(regexp_full_match({cell}, {sql.string(wkt)}) OR {geojson})"


# strptime directives as Python's _strptime matches them (ASCII digits), with the DuckDB
# format that reads the normalized text back. Year 0 matches Python's \d\d\d\d but is no date.
_DIRECTIVES: dict[str, tuple[str, str]] = {
    "Y": (r"0[0-9]{2}[1-9]|0[0-9][1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3}", "%Y"),
    "y": (r"[0-9]{2}", "%y"),
    "m": (r"1[0-2]|0[1-9]|[1-9]", "%m"),
    "d": (r"3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9]", "%d"),
    "H": (r"2[0-3]|[0-1][0-9]|[0-9]", "%H"),
    "I": (r"1[0-2]|0[1-9]|[1-9]", "%I"),
    "M": (r"[0-5][0-9]|[0-9]", "%M"),
    "S": (r"6[0-1]|[0-5][0-9]|[0-9]", "%S"),
    "f": (r"[0-9]{1,6}", "%f"),
    "p": (r"(?i:am|pm)", "%p"),
    "b": (r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", "%b"),
    "B": (r"(?i:january|february|march|april|may|june|july|august|september|october|november|"
          r"december)", "%B"),
    "j": (r"36[0-6]|3[0-5][0-9]|[12][0-9][0-9]|0[1-9][0-9]|00[1-9]|[1-9][0-9]|0[1-9]|[1-9]",
          "%j"),
    "z": (r"[+-][0-9]{2}:?[0-5][0-9](:?[0-5][0-9](\.[0-9]{1,6})?)?|(?i:z)", "%z"),
}
# The plain spelling of the directives whose value DuckDB checks as Python does once the width
# is fixed (zero-padded; years from 1000, seconds below 60).
_PLAIN_DIRECTIVES = {"Y": "[1-9][0-9]{3}", "m": "[0-9]{2}", "d": "[0-9]{2}",
                     "H": "[01][0-9]|2[0-3]", "M": "[0-5][0-9]", "S": "[0-5][0-9]"}


def _strptime_parts(fmt: str) -> list[str]:
    """A strptime format as its directives (``%Y``) and literal characters."""
    parts, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            parts.append(fmt[i:i + 2])
            i += 2
        else:
            parts.append(fmt[i])
            i += 1
    return parts


def _strptime_regex(fmt: str) -> tuple[str, str]:
    """A Python strptime format as an RE2 regex with one group per directive, and the DuckDB
    strptime format for the matched text."""
    regex, duck = [], []
    for part in _strptime_parts(fmt):
        if part == "%%":
            regex.append("%")
            duck.append("%%")
        elif part.startswith("%") and len(part) == 2:
            if part[1] not in _DIRECTIVES:
                raise Invalid(msg("Das Datumsformat „{format}“ enthält {part}, das allmende "
                                  "nicht prüfen kann.", format=fmt, part=part),
                              code="unsupported_format")
            pattern, duck_code = _DIRECTIVES[part[1]]
            regex.append(f"({pattern})")
            duck.append(duck_code)
        else:
            regex.append(r"\s+" if part.isspace() else re.escape(part))
            duck.append(" " if part.isspace() else part)
    return "".join(regex), "".join(duck)


def _plain_date_regex(fmt: str) -> str | None:
    """The plain spelling of ``fmt`` (fixed-width numbers between literal separators), or None
    when the format has directives without one or two directives side by side."""
    regex, previous = [], ""
    for part in _strptime_parts(fmt):
        if part.startswith("%") and len(part) == 2:
            if part[1] not in _PLAIN_DIRECTIVES or previous.startswith("%"):
                return None
            regex.append(f"({_PLAIN_DIRECTIVES[part[1]]})")
        elif part.isspace() or part.isdigit():
            return None
        else:
            regex.append(re.escape(part))
        previous = part
    return "".join(regex)


def _temporal(kind: str, fmt: str, cell: str, cast_column: str | None) -> Reading:
    if fmt == "any":
        raise Invalid(msg("Das Datumsformat „any“ wird nicht unterstützt; bitte ein festes "
                          "Format angeben (z. B. %d.%m.%Y)."), code="unsupported_format")
    if fmt == "default":
        if kind != "date":
            return _iso(kind, cell)
        reading = _strptime(kind, "%Y-%m-%d", cell)
        # Where DuckDB's date gives back the very text in ten characters (YYYY-MM-DD, years
        # 1–9999), Python's strptime reads the same date.
        cast = f"TRY_CAST({cell} AS DATE)"
        value = cast_column or cast
        return Reading(reading.ok, reading.value,
                       plain=f"(length({cell}) = 10 AND {value}::VARCHAR = {cell})",
                       plain_value=value, cast=cast)
    return _strptime(kind, fmt, cell)


def _strptime(kind: str, fmt: str, cell: str) -> Reading:
    target = {"date": "DATE", "datetime": "TIMESTAMP", "time": "TIME"}[kind]
    regex, duck = _strptime_regex(fmt)
    # Spaces in the text become one space, so that DuckDB reads what Python's \s+ matched.
    text = f"regexp_replace({cell}, '\\s+', ' ', 'g')"
    parsed = f"try_strptime({text}, {sql.string(duck)})"
    ok = f"(regexp_full_match({cell}, {sql.string(regex)}) AND {parsed} IS NOT NULL)"
    convert = "CAST(timezone('UTC', {}) AS {})" if "%z" in duck else "CAST({} AS {})"
    reading = Reading(ok, convert.format(parsed, target))
    plain = _plain_date_regex(fmt)
    if plain is None:
        return reading
    plain_value = convert.format(f"try_strptime({cell}, {sql.string(duck)})", target)
    return Reading(ok, reading.value, plain=f"regexp_full_match({cell}, {sql.string(plain)})",
                   plain_ok=f"{plain_value} IS NOT NULL", plain_value=plain_value)


def _iso(kind: str, cell: str) -> Reading:
    """dateutil's isoparse behind frictionless' default datetime/time (``T`` or any single
    separator, optional fraction and offset)."""
    time_part = (r"([01][0-9]|2[0-4]):[0-5][0-9]:[0-5][0-9]([.,][0-9]+)?"
                 r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?")
    if kind == "datetime":
        regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}." + time_part
        text = f"regexp_replace(substr({cell}, 1, 10) || 'T' || substr({cell}, 12), ',', '.')"
    else:
        regex = time_part
        text = f"'2000-01-01T' || replace({cell}, ',', '.')"
    stamp = f"TRY_CAST(replace({text}, 'T24:00:00', 'T00:00:00') AS TIMESTAMPTZ)"
    ok = f"(regexp_full_match({cell}, {sql.string(regex)}) AND {stamp} IS NOT NULL)"
    if kind == "time":
        return Reading(ok, f"CAST(timezone('UTC', {stamp}) AS TIME)")
    return Reading(ok, f"CAST(timezone('UTC', {stamp}) AS TIMESTAMP)")


def _python_match(pattern: str) -> str:
    """RE2 for Python's re.compile("^" + pattern + "$").match: anchored at the start for every
    alternative, and the final "$" also matches before a trailing newline."""
    return "\\A(?:^" + pattern + "\\n?$)"


def _constant(field: Mapping[str, Any], value: Any) -> str:
    """A constraint value read as the field reads a cell (frictionless applies the field's
    own value reader to minimum, maximum and enum)."""
    if isinstance(value, bool):
        return sql.literal(value)
    if isinstance(value, int | float) and field.get("type") in ("integer", "number", "year"):
        # json.loads reads NaN and Infinity, which have no literal
        return sql.literal(value) if math.isfinite(value) else f"{sql.string(str(value))}::DOUBLE"
    return _reading(field, sql.string(str(value))).value


def constraint_sql(field: Mapping[str, Any], blank: str, value: str) -> list[tuple[str, str]]:
    """(constraint, SQL condition that the cell fails it), in frictionless' check order."""
    constraints = field.get("constraints", {})
    checks: list[tuple[str, str]] = []
    present = f"NOT {blank}"
    for name in ("required", "minLength", "maxLength", "pattern", "minimum", "maximum",
                 "exclusiveMinimum", "exclusiveMaximum", "enum"):
        if name not in constraints or constraints[name] is None:
            continue
        bound = constraints[name]
        if name == "required":
            if bound:
                checks.append((name, blank))
            continue
        if name == "minLength" and int(bound) <= 0:
            continue  # every cell has it
        if name in ("minLength", "maxLength"):
            op = ">=" if name == "minLength" else "<="
            test = f"length({value}) {op} {sql.number(int(bound))}"
        elif name == "pattern":
            # Python: re.compile("^" + pattern + "$").match(cell); "$" also before a final \n.
            test = f"regexp_matches({value}, {sql.string(_python_match(bound))})"
        elif name == "enum":
            test = f"{value} IN ({', '.join(_constant(field, v) for v in bound) or 'NULL'})"
        else:
            op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
                  "exclusiveMaximum": "<"}[name]
            # NaN fails every bound in frictionless.
            nan = f" AND NOT isnan({value})" if field.get("type") == "number" else ""
            test = f"({value} {op} {_constant(field, bound)}{nan})"
        checks.append((name, f"({present} AND NOT coalesce({test}, FALSE))"))
    return checks


def typed_expressions(schema: Mapping[str, Any],
                      columns: Mapping[str, str] | None = None) -> dict[str, str]:
    """Per schema field the SQL expression of its typed value: the cell read by the field's
    rules, NULL where it is empty or invalid. ``columns`` maps field names to the SQL of their
    VARCHAR cell (default: the quoted field name). Needs :func:`register_functions`."""
    missing = schema.get("missingValues", [""])
    result = {}
    for spec in schema["fields"]:
        cell = (columns or {}).get(spec["name"], sql.ident(spec["name"]))
        result[spec["name"]] = field_sql(spec, cell, missing).typed
    return result


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Macros the expressions use (idempotent)."""
    # Decimal's NaN/sNaN with payload and Infinity spelled out are read by DuckDB as DOUBLE
    # after normalizing; '1e3' and '.5' are read directly.
    con.execute(r"""
        CREATE OR REPLACE MACRO _allmende_number(t) AS CASE
          WHEN TRY_CAST(t AS DOUBLE) IS NOT NULL THEN TRY_CAST(t AS DOUBLE)
          WHEN regexp_matches(t, '(?i)^[+-]?s?nan') THEN 'NaN'::DOUBLE END""")
