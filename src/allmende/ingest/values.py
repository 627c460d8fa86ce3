"""Decides each column's type for uploaded German municipal data and converts the text values.

Everything happens in DuckDB SQL, vectorized: :func:`infer_column_types` runs one aggregate
query over the whole relation (every row, not a sample) that counts, per column, how many
values match each candidate pattern *and* actually convert; a type is only chosen when it holds
for every non-missing value. :func:`typed_select` then turns the decisions into a SELECT list.

Decisions (where the issue left room):

* Missing markers (:data:`MISSING_MARKERS`) are compared exactly (case-sensitive) after trimming
  outer whitespace (spaces, tabs, line breaks, no-break spaces, BOM). They become NULL in *every*
  column, string columns included, so that "k.A." or "-" never shows up as a value. "–"
  (Destatis "genau null") is treated as missing as well, not as 0.
* String columns keep their text, only outer whitespace is trimmed.
* Booleans: ja/nein, j/n, wahr/falsch, true/false in any case. A column whose only values are
  "0" and "1" is boolean only when *both* occur (a column of only "1"s stays integer). "x"/"X"
  reads as true; blank cells are missing (NULL) like everywhere else, not false: an "x"-only
  column becomes TRUE/NULL, which keeps exactly the information of the source.
* Numbers: a column is read German (decimal comma, thousands dot) when every value fits the German
  patterns, else English (decimal point) when every value fits those, else it stays string. So
  "1.234" is 1234 unless another value in the column (e.g. "1.5") rules the German reading out.
  A thousands group never starts a number with 0 ("0.123" is English 0.123). Integer parts longer
  than 15 digits keep the column a string (so every integer fits int64 and every number DOUBLE).
* Leading zeros ("04109", "00288001900") keep the column a string; "0", "0,5" and "0.5" are fine.
* Two-digit years: 00-69 -> 20xx, 70-99 -> 19xx (DuckDB's own %y would read 69 as 1969).
* A column mixing dates and date-times becomes datetime (dates at midnight). Date-times with a UTC
  offset or "Z" become TIMESTAMP WITH TIME ZONE (an instant, normalized to UTC); a column mixing
  values with and without offset stays string, since a value without offset is no instant.
* Epoch numbers (13 digits = milliseconds, 10 digits = seconds) become datetimes (TIMESTAMPTZ, UTC)
  only when the column name contains zeit, time, datum or date (e.g. "Timestamp").
* Times are 0:00-23:59[:59]; "24:00" keeps the column a string.
* Conversions use TRY_CAST / try_strptime only as belt and braces: the counts are computed with
  the very same conversion expressions, so no non-missing value turns into NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from allmende.catalog.text import fold

__all__ = [
    "MISSING_MARKERS",
    "ColumnType",
    "infer_column_types",
    "quote_identifier",
    "typed_select",
]

MISSING_MARKERS: tuple[str, ...] = (
    "",
    "-",
    "--",
    "\u2013",  # en dash
    "\u2014",  # em dash
    ".",
    "..",
    "...",
    "/",
    "?",
    "n/a",
    "N/A",
    "n.a.",
    "n.v.",
    "k.A.",
    "k. A.",
    "k.a.",
    "k. a.",
    "keine Angabe",
    "NULL",
    "null",
    "NA",
    "NaN",
    "nan",
    "#NV",
    "#N/A",
)
"""Cell values (after trimming) that mean "no value"; whitespace-only cells trim to ""."""

# Outer whitespace trimmed before detection and conversion: space, tab, line breaks, vertical
# tab, form feed, no-break space, figure space, narrow no-break space and a stray BOM.
_TRIM_CHARS = " \t\n\r\x0b\x0c\u00a0\u2007\u202f\ufeff"

_TRUE_WORDS = ("ja", "j", "wahr", "true", "x")
_FALSE_WORDS = ("nein", "n", "falsch", "false")
_EPOCH_NAME_HINTS = ("zeit", "time", "datum", "date")

# Regular expressions (RE2, full match). Integer parts are capped at 15 digits; plain integers
# are told apart by cheap string checks in _mask.
_DE_GROUPED = r"[1-9][0-9]{0,2}(\.[0-9]{3}){1,4}"
_DE_THOUSANDS = rf"[+-]?{_DE_GROUPED}"
_DE_DECIMAL = rf"[+-]?(0|[1-9][0-9]{{0,14}}|{_DE_GROUPED}),[0-9]+"
_EN_DECIMAL = r"[+-]?(0|[1-9][0-9]{0,14})\.[0-9]+"
_LEADING_ZERO = r"[+-]?0[0-9]+([.,][0-9]+)*"
_LONG = r"[+-]?[0-9]{16,}([.,][0-9]+)?"
_DATE_DE = r"[0-9]{1,2}\.[0-9]{1,2}\.([0-9]{2}|[0-9]{4})"
_DATE_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DT_DE = r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?"
_DT_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
_DT_TZ = rf"{_DT_ISO} ?(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)"
_TIME = r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"

# Bits of the per-value classification mask.
_B_INT = 1
_B_DE_THOUSANDS = 2
_B_DE_DECIMAL = 4
_B_EN_DECIMAL = 8
_B_LEADING_ZERO = 16
_B_LONG = 32
_B_DATE_DE = 64
_B_DATE_YY = 128
_B_DATE_ISO = 256
_B_DT_DE = 512
_B_DT_ISO = 1024
_B_DT_TZ = 2048
_B_TIME = 4096
_B_TEMPORAL_BAD = 8192
_B_TRUE = 16384
_B_FALSE = 32768
_B_X = 65536
_B_ZERO = 131072
_B_ONE = 262144
_B_EPOCH_MS = 524288  # 13 digits, no sign
_B_EPOCH_S = 1048576  # 10 digits, no sign

_COUNTED_BITS: dict[str, int] = {
    "int": _B_INT,
    "de_thousands": _B_DE_THOUSANDS,
    "de_decimal": _B_DE_DECIMAL,
    "en_decimal": _B_EN_DECIMAL,
    "leading_zero": _B_LEADING_ZERO,
    "long": _B_LONG,
    "date_de": _B_DATE_DE,
    "date_yy": _B_DATE_YY,
    "date_iso": _B_DATE_ISO,
    "dt_de": _B_DT_DE,
    "dt_iso": _B_DT_ISO,
    "dt_tz": _B_DT_TZ,
    "time": _B_TIME,
    "temporal_bad": _B_TEMPORAL_BAD,
    "true": _B_TRUE,
    "false": _B_FALSE,
    "x": _B_X,
    "zero": _B_ZERO,
    "one": _B_ONE,
    "epoch_ms": _B_EPOCH_MS,
    "epoch_s": _B_EPOCH_S,
}


@dataclass(frozen=True)
class ColumnType:
    """The type decided for one column and the SQL that converts its text."""

    name: str
    type: str  # string integer number boolean date datetime time
    expression: str
    note: str | None = None


def quote_identifier(name: str) -> str:
    """DuckDB double-quoted identifier with embedded double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _match(value: str, pattern: str) -> str:
    return f"regexp_full_match({value}, {_literal(pattern)})"


_MARKER_BYTES = max(len(marker.encode()) for marker in MISSING_MARKERS)


def _is_marker(value: str) -> str:
    # list_contains instead of IN: DuckDB plans a long IN list as a join over every row, while a
    # function inside CASE only runs for the rows that get there.
    markers = "[" + ", ".join(_literal(m) for m in MISSING_MARKERS) + "]"
    return f"strlen({value}) <= {_MARKER_BYTES} AND list_contains({markers}, {value})"


def _clean(column: str) -> str:
    """Trimmed text of the source column, NULL for missing markers."""
    c = quote_identifier(column)
    # trim() with a character set is slow, so values that start and end with printable ASCII
    # (nearly all) skip it.
    plain = f"ascii({c}) BETWEEN 33 AND 126 AND ascii(right({c}, 1)) BETWEEN 33 AND 126"
    trimmed = f"trim({c}, {_literal(_TRIM_CHARS)})"
    # No marker starts with a digit, which spares most numeric values the marker lookup.
    digit = f"ascii({c}) BETWEEN 48 AND 57"
    return (
        f"CASE WHEN {plain} THEN CASE WHEN {digit} OR NOT ({_is_marker(c)}) THEN {c} END "
        f"WHEN {_is_marker(trimmed)} THEN NULL ELSE {trimmed} END"
    )


# --- conversions of a cleaned value `v` (NULL in, NULL out) ------------------------------------


def _conv_int_de(v: str) -> str:
    return f"TRY_CAST(replace({v}, '.', '') AS BIGINT)"


def _conv_int(v: str) -> str:
    return f"TRY_CAST({v} AS BIGINT)"


def _conv_number_de(v: str) -> str:
    return f"TRY_CAST(replace(replace({v}, '.', ''), ',', '.') AS DOUBLE)"


def _conv_number_en(v: str) -> str:
    return f"TRY_CAST({v} AS DOUBLE)"


def _conv_date_de(v: str, two_digit_years: bool = True) -> str:
    if not two_digit_years:
        return f"CAST(try_strptime({v}, '%d.%m.%Y') AS DATE)"
    # Two-digit years get their century first: 00-69 -> 20xx, 70-99 -> 19xx (DuckDB's own %y
    # would read 69 as 1969).
    full_year = (
        f"CASE WHEN substr({v}, length({v}) - 2, 1) = '.' "
        f"THEN left({v}, -2) || CASE WHEN right({v}, 2) <= '69' THEN '20' ELSE '19' END "
        f"|| right({v}, 2) ELSE {v} END"
    )
    return f"CAST(try_strptime({full_year}, '%d.%m.%Y') AS DATE)"


def _conv_date_iso(v: str) -> str:
    return f"TRY_CAST({v} AS DATE)"


def _conv_dt_de(v: str) -> str:
    return f"try_strptime({v}, ['%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M'])"


def _conv_dt_iso(v: str) -> str:
    return f"TRY_CAST({v} AS TIMESTAMP)"


def _conv_dt_tz(v: str) -> str:
    # DuckDB's cast knows "+02:00", "+0200" and "+02" but neither "Z" nor a blank before them.
    normalized = f"replace(replace(replace({v}, ' +', '+'), ' -', '-'), 'Z', '+00:00')"
    return f"TRY_CAST({normalized} AS TIMESTAMPTZ)"


def _conv_time(v: str) -> str:
    return f"TRY_CAST({v} AS TIME)"


def _conv_epoch_ms(v: str) -> str:
    return f"timezone('UTC', epoch_ms(TRY_CAST({v} AS BIGINT)))"


def _conv_epoch_s(v: str) -> str:
    return f"timezone('UTC', epoch_ms(TRY_CAST({v} AS BIGINT) * 1000))"


def _conv_bool(v: str) -> str:
    whens = [f"WHEN {_literal(w)} THEN true" for w in (*_TRUE_WORDS, "1")]
    whens += [f"WHEN {_literal(w)} THEN false" for w in (*_FALSE_WORDS, "0")]
    return f"CASE lower({v}) {' '.join(whens)} END"


# --- the aggregate query ----------------------------------------------------------------------


def _bit_if(condition: str, bit: int) -> str:
    return f"CASE WHEN {condition} THEN {bit} ELSE 0 END"


def _temporal_bits(v: str, pattern: str, conversion: str, ok_bits: str) -> str:
    """ok_bits when the value matches and converts, the BAD bit when it matches but does not."""
    return (
        f"CASE WHEN {_match(v, pattern)} THEN "
        f"CASE WHEN {conversion} IS NOT NULL THEN {ok_bits} ELSE {_B_TEMPORAL_BAD} END ELSE 0 END"
    )


def _mask(v: str) -> str:
    """Classification bit mask of one cleaned value (NULL when missing).

    The value's first characters pick the few patterns it could match at all, so that each value
    runs through one to five regular expressions instead of all of them.
    """
    signed = f"ascii({v}) IN (43, 45)"
    integer = (
        f"CASE WHEN {v} = '0' THEN {_B_INT | _B_ZERO} WHEN {v} = '1' THEN {_B_INT | _B_ONE} "
        f"WHEN starts_with({v}, '0') THEN {_B_LEADING_ZERO} "
        f"WHEN {signed} THEN CASE WHEN substr({v}, 2, 1) = '0' AND strlen({v}) > 2 "
        f"THEN {_B_LEADING_ZERO} WHEN strlen({v}) > 16 THEN {_B_LONG} ELSE {_B_INT} END "
        f"WHEN strlen({v}) > 15 THEN {_B_LONG} "
        f"WHEN strlen({v}) = 13 THEN {_B_INT | _B_EPOCH_MS} "
        f"WHEN strlen({v}) = 10 THEN {_B_INT | _B_EPOCH_S} ELSE {_B_INT} END"
    )
    odd_numbers = [
        _bit_if(_match(v, _LEADING_ZERO), _B_LEADING_ZERO),
        _bit_if(_match(v, _LONG), _B_LONG),
    ]
    with_colon = [
        _temporal_bits(v, _DT_DE, _conv_dt_de(v), str(_B_DT_DE)),
        _temporal_bits(v, _DT_ISO, _conv_dt_iso(v), str(_B_DT_ISO)),
        _temporal_bits(v, _DT_TZ, _conv_dt_tz(v), str(_B_DT_TZ)),
        _temporal_bits(v, _TIME, _conv_time(v), str(_B_TIME)),
    ]
    with_comma = [_bit_if(_match(v, _DE_DECIMAL), _B_DE_DECIMAL), *odd_numbers]
    with_dot = [
        _bit_if(_match(v, _DE_THOUSANDS), _B_DE_THOUSANDS),
        _bit_if(_match(v, _EN_DECIMAL), _B_EN_DECIMAL),
        *odd_numbers,
    ]
    two_digit_year = f"substr({v}, length({v}) - 2, 1) = '.'"
    german_date = _temporal_bits(
        v, _DATE_DE, _conv_date_de(v), f"{_B_DATE_DE} + {_bit_if(two_digit_year, _B_DATE_YY)}"
    )
    iso_date = _temporal_bits(v, _DATE_ISO, _conv_date_iso(v), str(_B_DATE_ISO))
    word_bits = [(w, _B_TRUE | (_B_X if w == "x" else 0)) for w in _TRUE_WORDS]
    word_bits += [(w, _B_FALSE) for w in _FALSE_WORDS]
    word_whens = " ".join(f"WHEN {_literal(w)} THEN {b}" for w, b in word_bits)
    words = f"CASE lower({v}) {word_whens} ELSE 0 END"
    digits_or_sign = f"(ascii({v}) BETWEEN 48 AND 57 OR ascii({v}) IN (43, 45))"
    return (
        f"CASE WHEN {v} IS NULL THEN NULL "
        f"WHEN {digits_or_sign} THEN CASE "
        f"WHEN {_match(v, '[+-]?[0-9]+')} THEN {integer} "
        f"WHEN contains({v}, ':') THEN {' + '.join(with_colon)} "
        f"WHEN contains({v}, ',') THEN {' + '.join(with_comma)} "
        f"WHEN substr({v}, 5, 1) = '-' THEN {iso_date} "
        f"WHEN {_match(v, _DATE_DE)} THEN {german_date} "
        f"ELSE {' + '.join(with_dot)} END "
        f"WHEN strlen({v}) <= 6 THEN {words} "
        "ELSE 0 END"
    )


def _wants_epoch(name: str) -> bool:
    lowered = name.casefold()
    return any(hint in lowered for hint in _EPOCH_NAME_HINTS)


def infer_column_types(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]
) -> list[ColumnType]:
    """Decide the type of every column of ``relation`` (all VARCHAR) in one aggregate query.

    ``relation`` is a single table or view name; it is quoted here. Per column the query yields
    the histogram of the classification masks (a handful of distinct masks) and one value that
    looks like a date or time but is none, which the decision below turns into counts per pattern.
    """
    if not columns:
        return []
    cleaned = ", ".join(f"{_clean(c)} AS v{i}" for i, c in enumerate(columns))
    masked = ", ".join(f"v{i}, {_mask(f'v{i}')} AS m{i}" for i in range(len(columns)))
    aggregates = ", ".join(
        f"histogram(m{i}), min(v{i}) FILTER (WHERE (m{i} & {_B_TEMPORAL_BAD}) <> 0)"
        for i in range(len(columns))
    )
    query = (
        f"SELECT {aggregates} FROM (SELECT {masked} FROM "
        f"(SELECT {cleaned} FROM {quote_identifier(relation)}))"
    )
    row = con.execute(query).fetchall()[0]
    assert row is not None  # an aggregate without GROUP BY always yields one row
    result = []
    for i, name in enumerate(columns):
        histogram: dict[int, int] = row[2 * i] or {}
        counts: dict = {
            key: sum(n for mask, n in histogram.items() if mask & bit)
            for key, bit in _COUNTED_BITS.items()
        }
        counts["n"] = sum(histogram.values())
        counts["bad_example"] = row[2 * i + 1]
        if not _wants_epoch(name):
            counts["epoch_ms"] = counts["epoch_s"] = 0
        result.append(_decide(name, counts))
    return result


# --- the decision ---------------------------------------------------------------------------


# Postcodes and official keys are identifiers even where no value has a leading zero.
IDENTIFIER_NAME = re.compile(r"(^|[^a-z])(plz|postleitzahl|ags|gemeindeschluessel|"
                             r"regionalschluessel|kreisschluessel|gkz)([^a-z]|$)")


# Coordinates in degrees: "51.513" is a latitude with three decimals, not 51,513.
DEGREE_NAME = re.compile(r"^(lat|latitude|breite|breitengrad|lon|lng|long|longitude|laenge|"
                         r"laengengrad)$")


def _is_degree_column(name: str) -> bool:
    return bool(DEGREE_NAME.match(re.sub(r"[^a-z0-9]+", "_", fold(name)).strip("_")))


def _decide(name: str, c: dict[str, int | str | None]) -> ColumnType:
    n = c["n"]
    v = _clean(name)

    def make(type_: str, expression: str, note: str | None = None) -> ColumnType:
        return ColumnType(name=name, type=type_, expression=expression, note=note)

    if n == 0:
        return make("string", v, "keine Werte: als Text")

    words = c["true"] + c["false"]
    zero_one = c["zero"] + c["one"]
    if words + zero_one == n and (words > 0 or (c["zero"] > 0 and c["one"] > 0)):
        if c["x"] == n:
            note = "nur „x“: als wahr gelesen, leere Felder bleiben leer"
        elif words == 0:
            note = "nur 0 und 1: als Wahrheitswert gelesen"
        else:
            note = "Ja/Nein-Werte erkannt"
        return make("boolean", _conv_bool(v), note)

    if c["epoch_ms"] == n:
        return make("datetime", _conv_epoch_ms(v), "Unix-Zeit in Millisekunden (UTC)")
    if c["epoch_s"] == n:
        return make("datetime", _conv_epoch_s(v), "Unix-Zeit in Sekunden (UTC)")

    if c["int"] == n and IDENTIFIER_NAME.search(fold(name)):
        return make("string", v, "Kennziffer (Name der Spalte): als Text behalten")
    if c["de_thousands"] and c["int"] + c["en_decimal"] == n and _is_degree_column(name):
        return make("number", _conv_number_en(v),
                    "Koordinate in Grad (Name der Spalte): Punkt als Dezimaltrennzeichen")
    if c["int"] + c["de_thousands"] + c["de_decimal"] == n:
        if c["de_decimal"] == 0:
            if c["de_thousands"] == 0:
                return make("integer", _conv_int(v))
            return make("integer", _conv_int_de(v), "Tausenderpunkt erkannt")
        return make("number", _conv_number_de(v), "Dezimalkomma erkannt")
    if c["int"] + c["en_decimal"] == n:
        return make("number", _conv_number_en(v), "Dezimalpunkt erkannt")

    dates = c["date_de"] + c["date_iso"]
    naive = c["dt_de"] + c["dt_iso"]
    if dates == n:
        return make("date", _date_expression(v, c), _date_note(c))
    if naive > 0 and naive + dates == n:
        return make("datetime", _datetime_expression(v, c), _datetime_note(c))
    if c["dt_tz"] == n:
        return make("datetime", _conv_dt_tz(v), "UTC-Versatz erkannt: nach UTC umgerechnet")
    if c["time"] == n:
        return make("time", _conv_time(v), "Uhrzeit hh:mm[:ss]")

    return make("string", v, _string_note(c))


def _date_expression(v: str, c: dict) -> str:
    german = _conv_date_de(v, two_digit_years=c["date_yy"] > 0)
    if c["date_iso"] == 0:
        return german
    if c["date_de"] == 0:
        return _conv_date_iso(v)
    return f"CASE WHEN substr({v}, 5, 1) = '-' THEN {_conv_date_iso(v)} ELSE {german} END"


def _datetime_expression(v: str, c: dict) -> str:
    branches = []
    if c["dt_iso"]:
        branches.append((f"contains({v}, ':') AND substr({v}, 5, 1) = '-'", _conv_dt_iso(v)))
    if c["dt_de"]:
        branches.append((f"contains({v}, ':')", _conv_dt_de(v)))
    if c["date_de"] + c["date_iso"]:
        branches.append(("true", f"CAST({_date_expression(v, c)} AS TIMESTAMP)"))
    if len(branches) == 1:
        return branches[0][1]
    whens = " ".join(f"WHEN {cond} THEN {expr}" for cond, expr in branches)
    return f"CASE {whens} END"


def _date_note(c: dict) -> str:
    formats = []
    if c["date_de"] > c["date_yy"]:
        formats.append("TT.MM.JJJJ")
    if c["date_yy"]:
        formats.append("TT.MM.JJ (00–69 → 20xx, 70–99 → 19xx)")
    if c["date_iso"]:
        formats.append("JJJJ-MM-TT")
    return "Datumsformat " + ", ".join(formats)


def _datetime_note(c: dict) -> str:
    formats = []
    if c["dt_de"]:
        formats.append("TT.MM.JJJJ hh:mm[:ss]")
    if c["dt_iso"]:
        formats.append("JJJJ-MM-TT hh:mm[:ss]")
    note = "Zeitstempelformat " + ", ".join(formats)
    if c["date_de"] + c["date_iso"]:
        note += "; reine Datumsangaben als 00:00 Uhr gelesen"
    return note


def _string_note(c: dict) -> str | None:
    n = c["n"]
    numeric = c["int"] + c["de_thousands"] + c["de_decimal"] + c["en_decimal"]
    if c["leading_zero"] and c["leading_zero"] + numeric >= n:
        return "führende Nullen: als Text behalten"
    if c["long"] and c["long"] + numeric >= n:
        return "mehr als 15 Ziffern: als Text behalten"
    temporal = sum(c[k] for k in ("date_de", "date_iso", "dt_de", "dt_iso", "dt_tz", "time"))
    if c["temporal_bad"] and c["temporal_bad"] + temporal == n:
        return f"ungültige Datums-/Zeitangabe „{c['bad_example']}“: als Text behalten"
    if c["de_decimal"] and c["en_decimal"] and c["int"] + c["de_decimal"] + c["en_decimal"] >= n:
        return "uneinheitliche Dezimaltrennzeichen: als Text behalten"
    if c["dt_tz"] and c["dt_tz"] + c["dt_iso"] + c["date_iso"] == n:
        return "Zeitstempel teils mit, teils ohne UTC-Versatz: als Text behalten"
    return None


def typed_select(columns: list[ColumnType]) -> str:
    """SELECT list converting every column: ``expr AS "name", ...``."""
    return ", ".join(f"{c.expression} AS {quote_identifier(c.name)}" for c in columns)
