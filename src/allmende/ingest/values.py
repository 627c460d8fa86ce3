"""Decides each column's type for uploaded German municipal data and converts the text values.

Everything happens in DuckDB SQL, vectorized. Every non-missing value gets a classification mask
(which candidate patterns it matches *and* converts under); a column's type follows from the set
of masks its values have (and, for a few notes, from how often each occurs), and is only chosen
when it holds for every non-missing value.

* :func:`infer_column_types` is the full pass: one aggregate query over the whole relation.
* :func:`decide_column_types` decides large tables on a sample instead, speculatively: each
  decision carries a *guard*, a condition every value of the column meets when the whole column
  would be decided the same way. The guard is proven in Python before it is used: it admits only
  masks that, added in any combination to those of the sample, leave the decision (type,
  conversion and note) unchanged, and only when that decision does not depend on counts.
  :func:`typed_query` checks the guards while it converts; the first value that breaks one
  aborts the query (:func:`is_guard_failure`), and the caller falls back to the full pass
  (:func:`confirm`). So the result is always the full pass's, only cheaper when the sample was
  right. Cheap tests of common value shapes (a regular expression, a conversion) stand in for
  the whole mask where they imply it; everything else computes the mask.

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
* Conversions use TRY_CAST / try_strptime only as belt and braces: the masks are computed with
  the very same conversion expressions, so no non-missing value turns into NULL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import combinations

import duckdb

from allmende import sql
from allmende.catalog.text import fold
from allmende.errors import Message, msg
from allmende.ingest.geo import name_keys

__all__ = [
    "MISSING_MARKERS",
    "SAMPLE_ROWS",
    "ColumnType",
    "Guard",
    "confirm",
    "decide_column_types",
    "infer_column_types",
    "is_guard_failure",
    "typed_query",
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

#: Tables of more than five times this many rows are decided on a sample of this many rows (half
#: from the start, half spread over the table), with guards; smaller ones on every value (a
#: sample of more than a fifth of the table saves less than the guards cost).
SAMPLE_ROWS = 20_000
_SAMPLE_SHARE = 5
#: At most this many masks beyond the sample's are admitted by a guard (2**n decisions prove it).
MAX_EXTRA_MASKS = 10
GUARD_FAILED = "allmende: column type contradicted by a value outside the sample"
SAMPLE = "__allmende_sample"

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
_B_OTHER = 2097152  # starts with a digit or sign, but is no number, date or time

_EPOCH = _B_EPOCH_MS | _B_EPOCH_S
_ALL_BITS = 2 * _B_OTHER - 1
_WORDS = _B_TRUE | _B_FALSE
_NUMERIC = _B_INT | _B_DE_THOUSANDS | _B_DE_DECIMAL | _B_EN_DECIMAL
_DATES = _B_DATE_DE | _B_DATE_ISO
_NAIVE = _B_DT_DE | _B_DT_ISO
_TEMPORAL = _DATES | _NAIVE | _B_DT_TZ | _B_TIME
# Families of values a column may be but for a few cells, with what those cells are not.
_FAMILIES = ((_NUMERIC, msg("keine Zahl")), (_DATES | _NAIVE | _B_DT_TZ, msg("kein Datum")),
             (_B_TIME, msg("keine Uhrzeit")))


def _same(value: str) -> str:
    return value


@dataclass(frozen=True)
class ColumnType:
    """The type decided for one column and how its (cleaned) text converts."""

    name: str
    type: str  # string integer number boolean date datetime time
    convert: Callable[[str], str] = field(repr=False, compare=False)
    note: str | None = None  # a Message where it has parameters (rendered in English too)
    # Set when the type was decided on a sample: what every value of the whole column must be
    # for the decision to hold.
    guard: Guard | None = field(default=None, repr=False, compare=False)

    @property
    def expression(self) -> str:
        """SQL converting the source column's text."""
        return self.convert(_clean(self.name))


def _match(value: str, pattern: str) -> str:
    return f"regexp_full_match({value}, {sql.string(pattern)})"


_MARKER_BYTES = max(len(marker.encode()) for marker in MISSING_MARKERS)
_MARKERS = sql.literal(list(MISSING_MARKERS))


def _is_marker(value: str) -> str:
    # list_contains instead of IN: DuckDB plans a long IN list as a join over every row, while a
    # function inside CASE only runs for the rows that get there.
    return _all(f"strlen({value}) <= {_MARKER_BYTES}", f"list_contains({_MARKERS}, {value})")


# DuckDB computes every operand of AND and OR for every row where they are selected rather than
# filtered by, but a CASE branch only for the rows that reach it: these two are lazy (and never
# NULL: unknown counts as false).

def _all(*conditions: str) -> str:
    """True when every condition is, evaluated from the left until one is not."""
    text = "true"
    for condition in reversed(conditions):
        text = f"CASE WHEN {condition} THEN {text} ELSE false END"
    return text


def _any(*conditions: str) -> str:
    """True when some condition is, evaluated from the left until one is."""
    whens = " ".join(f"WHEN {condition} THEN true" for condition in conditions)
    return f"CASE {whens} ELSE false END"


_MARKER_STARTS = sql.literal(sorted({ord(marker[0]) for marker in MISSING_MARKERS if marker}))


def _plain(c: str) -> str:
    """The text starts and ends with printable ASCII (so there is nothing to trim). ``c[-1]``
    is the last character, as ``right(c, 1)`` but at a third of its cost."""
    return _all(f"ascii({c}) BETWEEN 33 AND 126", f"ascii({c}[-1]) BETWEEN 33 AND 126")


def _unchanged(c: str) -> str:
    """Cleaning leaves the text as it is: nothing to trim, and no missing marker. Most values
    start with a character no marker starts with, which spares them the marker lookup."""
    return _all(_plain(c), _any(f"NOT list_contains({_MARKER_STARTS}, ascii({c}))",
                                f"NOT {_is_marker(c)}"))


def _cleaned(c: str) -> str:
    """Trimmed text, NULL for missing markers."""
    # trim() with a character set is slow, so values that need none (nearly all) skip it.
    trimmed = f"trim({c}, {sql.string(_TRIM_CHARS)})"
    return (
        f"CASE WHEN {_unchanged(c)} THEN {c} WHEN {_plain(c)} THEN NULL "
        f"WHEN {_is_marker(trimmed)} THEN NULL ELSE {trimmed} END"
    )


def _clean(column: str) -> str:
    """Trimmed text of the source column, NULL for missing markers."""
    return _cleaned(sql.ident(column))


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
    whens = [f"WHEN {sql.string(w)} THEN true" for w in (*_TRUE_WORDS, "1")]
    whens += [f"WHEN {sql.string(w)} THEN false" for w in (*_FALSE_WORDS, "0")]
    return f"CASE lower({v}) {' '.join(whens)} END"


# --- the classification mask ------------------------------------------------------------------


def _bit_if(condition: str, bit: int) -> str:
    return f"CASE WHEN {condition} THEN {bit} ELSE 0 END"


def _temporal_bits(v: str, pattern: str, conversion: str, ok_bits: str) -> str:
    """ok_bits when the value matches and converts, the BAD bit when it matches but does not."""
    return (
        f"CASE WHEN {_match(v, pattern)} THEN "
        f"CASE WHEN {conversion} IS NOT NULL THEN {ok_bits} ELSE {_B_TEMPORAL_BAD} END ELSE 0 END"
    )


def _digit_or_sign(v: str) -> str:
    return f"(ascii({v}) BETWEEN 48 AND 57 OR ascii({v}) IN (43, 45))"


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
    word_whens = " ".join(f"WHEN {sql.string(w)} THEN {b}" for w, b in word_bits)
    words = f"CASE lower({v}) {word_whens} ELSE 0 END"
    numeric = (
        f"CASE WHEN {_match(v, '[+-]?[0-9]+')} THEN {integer} "
        f"WHEN contains({v}, ':') THEN {' + '.join(with_colon)} "
        f"WHEN contains({v}, ',') THEN {' + '.join(with_comma)} "
        f"WHEN substr({v}, 5, 1) = '-' THEN {iso_date} "
        f"WHEN {_match(v, _DATE_DE)} THEN {german_date} "
        f"ELSE {' + '.join(with_dot)} END"
    )
    # Mask 0 stays for text that starts otherwise: a guard can then tell "Dortmund" (a test of
    # the first character) from "12a" (a look at every pattern).
    return (
        f"CASE WHEN {v} IS NULL THEN NULL "
        f"WHEN {_digit_or_sign(v)} THEN coalesce(nullif({numeric}, 0), {_B_OTHER}) "
        f"WHEN strlen({v}) <= 6 THEN {words} "
        "ELSE 0 END"
    )


def _wants_epoch(name: str) -> bool:
    lowered = name.casefold()
    return any(hint in lowered for hint in _EPOCH_NAME_HINTS)


def _relevant(name: str) -> int:
    """The mask bits that matter for a column: epoch lengths only where the name asks."""
    return _ALL_BITS if _wants_epoch(name) else _ALL_BITS & ~_EPOCH


# --- the aggregate query ----------------------------------------------------------------------


def _histograms(con: duckdb.DuckDBPyConnection, source: str, columns: list[str]
                ) -> list[tuple[dict[int, int], str | None]]:
    """Per column: how many values have each mask, and one value that looks like a date or
    time but is none. ``source`` is a FROM item holding the columns. The columns are stacked
    into one (UNPIVOT), so that the query holds the mask's expression once, not once per
    column: DuckDB's planning time grows with the expressions."""
    stacked = f"(UNPIVOT ({sql.select(sql.idents(columns), source)}) ON COLUMNS(*) " \
              "INTO NAME name VALUE value)"
    cleaned = sql.select(["name", f"{_cleaned('value')} AS v"], stacked)
    masked = sql.select(["name", "v", f"{_mask('v')} AS m"], f"({cleaned})")
    found = {name: (histogram or {}, bad) for name, histogram, bad in con.execute(sql.select(
        ["name", "histogram(m)", f"min(v) FILTER (WHERE (m & {_B_TEMPORAL_BAD}) <> 0)"],
        f"({masked})", group_by="name")).fetchall()}
    return [found.get(name, ({}, None)) for name in columns]


def _first_outside(con: duckdb.DuckDBPyConnection, relation: str, column: str,
                   bits: int) -> tuple[int, str]:
    """The row number (from 1) and value of the column's first value with none of ``bits``.
    Asked only for the few columns whose note names such a value, so that the aggregate
    query stays as cheap as it is."""
    cleaned = sql.select(["rowid + 1 AS r", f"{_clean(column)} AS v"], sql.ident(relation))
    row, value = con.execute(sql.select(
        ["r", "v"], f"({cleaned})", where=["v IS NOT NULL", f"({_mask('v')} & {bits}) = 0"],
        order_by="r", limit=1)).fetchall()[0]
    return row, value


class _CountDependent(Exception):
    """The decision depends on how often masks occur, which a sample cannot tell."""


@dataclass(frozen=True)
class _Masks:
    """What a decision sees of a column: which masks its values have, with how many values
    each. ``exact`` False: only which masks occur is known (the counts come from a sample),
    and a question whose answer depends on counts raises :class:`_CountDependent`."""

    counts: Mapping[int, int]
    exact: bool = True
    bad_example: str | None = None
    # (bits) -> row number and value of the first value with none of the bits
    first_outside: Callable[[int], tuple[int, str]] | None = field(default=None,
                                                                     compare=False)

    @property
    def empty(self) -> bool:
        return not self.counts

    def all(self, bits: int) -> bool:
        """Every value has one of ``bits``."""
        return all(mask & bits for mask in self.counts)

    def any(self, bits: int, without: int = 0) -> bool:
        """Some value has one of ``bits`` and none of ``without``."""
        return any(mask & bits and not mask & without for mask in self.counts)

    def balance(self, group: int) -> int:
        """Sign of (the bits of ``group`` counted over all values) - (the number of values)."""
        excess = {mask: (mask & group).bit_count() - 1 for mask in self.counts}
        if self.exact:
            total = sum(self.counts[mask] * e for mask, e in excess.items())
            return (total > 0) - (total < 0)
        signs = {(e > 0) - (e < 0) for e in excess.values()}
        if {-1, 1} <= signs:
            raise _CountDependent
        return max(signs, key=abs, default=0)

    def example(self) -> str | None:
        if not self.exact:  # the sample's example need not be the whole column's
            raise _CountDependent
        return self.bad_example

    def strays_from(self, bits: int) -> int:
        """How many values lack all of ``bits``, when at least twice as many have one of
        them (a column that is ``bits`` but for a few cells); 0 otherwise."""
        strays = sum(n for mask, n in self.counts.items() if not mask & bits)
        fitting = sum(n for mask, n in self.counts.items() if mask & bits)
        if not strays or not fitting:
            return 0
        if not self.exact:
            raise _CountDependent
        return strays if fitting >= 2 * strays else 0

    def first_stray(self, bits: int) -> tuple[int, str]:
        """The row number and value of the first value lacking all of ``bits``."""
        if not self.exact or self.first_outside is None:
            raise _CountDependent
        return self.first_outside(bits)


def _masks(name: str, histogram: Mapping[int, int], bad_example: str | None,
           first_outside: Callable[[int], tuple[int, str]] | None = None) -> _Masks:
    """The exact masks of a column (from every value)."""
    relevant = _relevant(name)
    counts: dict[int, int] = {}
    for mask, n in histogram.items():
        counts[mask & relevant] = counts.get(mask & relevant, 0) + n
    return _Masks(counts, True, bad_example, first_outside)


def infer_column_types(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]
) -> list[ColumnType]:
    """Decide the type of every column of ``relation`` (all VARCHAR) in one aggregate query over
    every row. ``relation`` is a single table or view name; it is quoted here."""
    if not columns:
        return []
    return [
        _column(name, _decide(_rules(name), _masks(
            name, histogram, bad, partial(_first_outside, con, relation, name))))
        for name, (histogram, bad) in zip(
            columns, _histograms(con, sql.ident(relation), columns), strict=True)
    ]


def decide_column_types(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str],
                        rows: int, sample_rows: int | None = None) -> list[ColumnType]:
    """Like :func:`infer_column_types`, but a table of more than five times ``sample_rows`` rows
    is decided on a sample of that many, each column with a guard (see the module's
    description). A column whose
    decision a sample cannot prove is decided on every row here. ``relation`` is a table (its
    ``rowid`` picks the sample)."""
    sample_rows = sample_rows or SAMPLE_ROWS
    if rows <= _SAMPLE_SHARE * sample_rows or not columns:
        return infer_column_types(con, relation, columns)
    head = sample_rows // 2
    stride = max(1, rows // (sample_rows - head))
    # a table of its own: DuckDB filters the rowids once, not inside the stacked query
    con.execute(sql.create_table(SAMPLE, sql.select(
        sql.idents(columns), sql.ident(relation),
        where=f"rowid < {sql.number(head)} OR rowid % {sql.number(stride)} = 0")))
    try:
        decided = {
            name: _speculate(name, histogram, min_values=sample_rows // 100)
            for name, (histogram, _bad) in zip(
                columns, _histograms(con, sql.ident(SAMPLE), columns), strict=True)
        }
    finally:
        con.execute(f"DROP TABLE {sql.ident(SAMPLE)}")
    unproven = [name for name, column in decided.items() if column is None]
    exact = {t.name: t for t in infer_column_types(con, relation, unproven)}
    return [decided[name] or exact[name] for name in columns]


def confirm(con: duckdb.DuckDBPyConnection, relation: str,
            types: list[ColumnType]) -> list[ColumnType]:
    """The full pass for the columns decided on a sample (after a guard failed)."""
    exact = {t.name: t for t in infer_column_types(
        con, relation, [t.name for t in types if t.guard is not None])}
    return [exact.get(t.name, t) for t in types]


# --- the decision ---------------------------------------------------------------------------


# Postcodes and official keys are identifiers even where no value has a leading zero.
IDENTIFIER_NAME = re.compile(r"(^|[^a-z])(plz|postleitzahl|ags|gemeindeschluessel|"
                             r"regionalschluessel|kreisschluessel|gkz)([^a-z]|$)")


# Coordinates in degrees: "51.513" is a latitude with three decimals, not 51,513.
DEGREE_NAME = re.compile(r"^(lat|latitude|breite|breitengrad|lon|lng|long|longitude|laenge|"
                         r"laengengrad)$")


def _is_degree_column(name: str) -> bool:
    return any(DEGREE_NAME.match(key) for key in name_keys(name))


@dataclass(frozen=True)
class _Rules:
    """What a column's name says about its type."""

    identifier: bool
    degree: bool


def _rules(name: str) -> _Rules:
    return _Rules(bool(IDENTIFIER_NAME.search(fold(name))), _is_degree_column(name))


@dataclass(frozen=True)
class _Decision:
    type: str
    convert: Callable[[str], str]
    note: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What must stay equal for two decisions to give the same table."""
        return self.type, self.convert("v"), self.note


def _column(name: str, decision: _Decision, guard: Guard | None = None) -> ColumnType:
    return ColumnType(name, decision.type, decision.convert, decision.note, guard)


def _decide(rules: _Rules, c: _Masks) -> _Decision:
    if c.empty:
        return _Decision("string", _same, "keine Werte: als Text")

    if c.all(_WORDS | _B_ZERO | _B_ONE) and (c.any(_WORDS) or (c.any(_B_ZERO) and
                                                               c.any(_B_ONE))):
        if c.all(_B_X):
            note = "nur „x“: als wahr gelesen, leere Felder bleiben leer"
        elif not c.any(_WORDS):
            note = "nur 0 und 1: als Wahrheitswert gelesen"
        else:
            note = "Ja/Nein-Werte erkannt"
        return _Decision("boolean", _conv_bool, note)

    if c.all(_B_EPOCH_MS):
        return _Decision("datetime", _conv_epoch_ms, "Unix-Zeit in Millisekunden (UTC)")
    if c.all(_B_EPOCH_S):
        return _Decision("datetime", _conv_epoch_s, "Unix-Zeit in Sekunden (UTC)")

    if c.all(_B_INT) and rules.identifier:
        return _Decision("string", _same, "Kennziffer (Name der Spalte): als Text behalten")
    if c.any(_B_DE_THOUSANDS) and c.all(_B_INT | _B_EN_DECIMAL) and rules.degree:
        return _Decision("number", _conv_number_en,
                         "Koordinate in Grad (Name der Spalte): Punkt als Dezimaltrennzeichen")
    if c.all(_B_INT | _B_DE_THOUSANDS | _B_DE_DECIMAL):
        if not c.any(_B_DE_DECIMAL):
            if not c.any(_B_DE_THOUSANDS):
                return _Decision("integer", _conv_int)
            return _Decision("integer", _conv_int_de, "Tausenderpunkt erkannt")
        return _Decision("number", _conv_number_de, "Dezimalkomma erkannt")
    if c.all(_B_INT | _B_EN_DECIMAL):
        return _Decision("number", _conv_number_en, "Dezimalpunkt erkannt")

    if c.all(_DATES):
        return _Decision("date", lambda v: _date_expression(v, c), _date_note(c))
    if c.any(_NAIVE) and c.all(_NAIVE | _DATES):
        return _Decision("datetime", lambda v: _datetime_expression(v, c), _datetime_note(c))
    if c.all(_B_DT_TZ):
        return _Decision("datetime", _conv_dt_tz, "UTC-Versatz erkannt: nach UTC umgerechnet")
    if c.all(_B_TIME):
        return _Decision("time", _conv_time, "Uhrzeit hh:mm[:ss]")

    return _Decision("string", _same, _string_note(c))


def _date_expression(v: str, c: _Masks) -> str:
    german = _conv_date_de(v, two_digit_years=c.any(_B_DATE_YY))
    if not c.any(_B_DATE_ISO):
        return german
    if not c.any(_B_DATE_DE):
        return _conv_date_iso(v)
    return f"CASE WHEN substr({v}, 5, 1) = '-' THEN {_conv_date_iso(v)} ELSE {german} END"


def _datetime_expression(v: str, c: _Masks) -> str:
    branches = []
    if c.any(_B_DT_ISO):
        branches.append((f"contains({v}, ':') AND substr({v}, 5, 1) = '-'", _conv_dt_iso(v)))
    if c.any(_B_DT_DE):
        branches.append((f"contains({v}, ':')", _conv_dt_de(v)))
    if c.any(_DATES):
        branches.append(("true", f"CAST({_date_expression(v, c)} AS TIMESTAMP)"))
    if len(branches) == 1:
        return branches[0][1]
    whens = " ".join(f"WHEN {cond} THEN {expr}" for cond, expr in branches)
    return f"CASE {whens} END"


def _date_note(c: _Masks) -> str:
    formats = []
    if c.any(_B_DATE_DE, without=_B_DATE_YY):
        formats.append("TT.MM.JJJJ")
    if c.any(_B_DATE_YY):
        formats.append("TT.MM.JJ (00–69 → 20xx, 70–99 → 19xx)")
    if c.any(_B_DATE_ISO):
        formats.append("JJJJ-MM-TT")
    return "Datumsformat " + ", ".join(formats)


def _datetime_note(c: _Masks) -> str:
    formats = []
    if c.any(_B_DT_DE):
        formats.append("TT.MM.JJJJ hh:mm[:ss]")
    if c.any(_B_DT_ISO):
        formats.append("JJJJ-MM-TT hh:mm[:ss]")
    note = "Zeitstempelformat " + ", ".join(formats)
    if c.any(_DATES):
        note += "; reine Datumsangaben als 00:00 Uhr gelesen"
    return note


def _string_note(c: _Masks) -> str | None:
    # "balance >= 0": the values with these bits, counted once per bit, are at least as many as
    # all values (a value such as "1.234" reads as German thousands and English decimal at once).
    if c.any(_B_LEADING_ZERO) and c.balance(_B_LEADING_ZERO | _NUMERIC) >= 0:
        return "führende Nullen: als Text behalten"
    if c.any(_B_LONG) and c.balance(_B_LONG | _NUMERIC) >= 0:
        return "mehr als 15 Ziffern: als Text behalten"
    if c.any(_B_TEMPORAL_BAD) and c.balance(_B_TEMPORAL_BAD | _TEMPORAL) == 0:
        return f"ungültige Datums-/Zeitangabe „{c.example()}“: als Text behalten"
    if c.any(_B_DE_DECIMAL) and c.any(_B_EN_DECIMAL) and c.balance(
            _B_INT | _B_DE_DECIMAL | _B_EN_DECIMAL) >= 0:
        return "uneinheitliche Dezimaltrennzeichen: als Text behalten"
    if c.any(_B_DT_TZ) and c.balance(_B_DT_TZ | _B_DT_ISO | _B_DATE_ISO) == 0:
        return "Zeitstempel teils mit, teils ohne UTC-Versatz: als Text behalten"
    return _stray_note(c)


_EXAMPLE_LENGTH = 40


def _stray_note(c: _Masks) -> Message | None:
    """Which cells kept a column of numbers, dates or times text."""
    for bits, kind in _FAMILIES:
        strays = c.strays_from(bits)
        if not strays:
            continue
        row, value = c.first_stray(bits)
        if len(value) > _EXAMPLE_LENGTH:
            value = value[:_EXAMPLE_LENGTH - 1].rstrip() + "…"
        if strays == 1:
            return msg("bleibt Text: „{value}“ (Datenzeile {row}) ist {kind}",
                       value=value, row=row, kind=kind)
        return msg("bleibt Text: {count} Zellen wie „{value}“ (Datenzeile {row}) sind {kind}",
                   count=strays, value=value, row=row, kind=kind)
    return None


# --- decisions on a sample, and their guards ----------------------------------------------


@lru_cache(maxsize=4096)
def _decide_on(rules: _Rules, masks: frozenset[int]) -> _Decision | None:
    """The decision for a column whose values have exactly these masks, however many of each;
    None when it depends on how many."""
    try:
        return _decide(rules, _Masks(dict.fromkeys(masks, 1), exact=False))
    except _CountDependent:
        return None


@dataclass(frozen=True)
class _Shape:
    """A common value shape with a cheap SQL test, and every mask a value passing it has.
    ``plain``: a value passing the test is left as it is by the cleaning (it cannot start or
    end with white space, and no missing marker passes it). ``complete``: every value with one
    of the masks passes the test."""

    test: Callable[[str], str]
    masks: frozenset[int]
    plain: bool = True
    complete: bool = True


def _converts(pattern: str, conversion: Callable[[str], str]) -> Callable[[str], str]:
    return lambda v: _all(_match(v, pattern), f"{conversion(v)} IS NOT NULL")


def _matches(pattern: str) -> Callable[[str], str]:
    return lambda v: _match(v, pattern)


_WORD_LIST = sql.literal([*_TRUE_WORDS, *_FALSE_WORDS])
_WORD_MASKS = frozenset({_B_TRUE, _B_TRUE | _B_X, _B_FALSE})

# Narrow shapes first: a guard takes a shape on only where that keeps its decision. Each test
# implies the masks listed (checked value by value in tests/test_ingest_speculative.py).
_SHAPES = (
    _Shape(_matches(r"[+-]?(0|[1-9][0-9]{0,14})"), frozenset({
        _B_INT, _B_INT | _B_ZERO, _B_INT | _B_ONE, _B_INT | _B_EPOCH_MS, _B_INT | _B_EPOCH_S})),
    _Shape(_matches(r"[+-]?0[0-9]+"), frozenset({_B_LEADING_ZERO}), complete=False),
    _Shape(_matches(_DE_DECIMAL), frozenset({_B_DE_DECIMAL})),
    _Shape(_matches(_DE_THOUSANDS), frozenset({_B_DE_THOUSANDS,
                                                _B_DE_THOUSANDS | _B_EN_DECIMAL})),
    _Shape(_matches(_EN_DECIMAL), frozenset({_B_EN_DECIMAL, _B_DE_THOUSANDS | _B_EN_DECIMAL})),
    _Shape(_converts(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}",
                     lambda v: _conv_date_de(v, two_digit_years=False)),
           frozenset({_B_DATE_DE})),
    _Shape(_converts(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{2}", _conv_date_de),
           frozenset({_B_DATE_DE | _B_DATE_YY})),
    _Shape(_converts(_DATE_ISO, _conv_date_iso), frozenset({_B_DATE_ISO})),
    _Shape(_converts(_DT_DE, _conv_dt_de), frozenset({_B_DT_DE})),
    _Shape(_converts(_DT_ISO, _conv_dt_iso), frozenset({_B_DT_ISO})),
    _Shape(_converts(_DT_TZ, _conv_dt_tz), frozenset({_B_DT_TZ})),
    _Shape(_converts(_TIME, _conv_time), frozenset({_B_TIME})),
    _Shape(lambda v: f"list_contains({_WORD_LIST}, lower({v}))", _WORD_MASKS),
    _Shape(lambda v: f"NOT {_digit_or_sign(v)}", _WORD_MASKS | {0}, plain=False),
)


def _stable(rules: _Rules, decision: _Decision, seen: frozenset[int],
            allowed: frozenset[int]) -> bool:
    """Whether every column whose masks include ``seen`` and lie within ``allowed`` gets
    ``decision``, whatever the counts."""
    extra = sorted(allowed - seen)
    if len(extra) > MAX_EXTRA_MASKS:
        return False
    for size in range(1, len(extra) + 1):
        for added in combinations(extra, size):
            other = _decide_on(rules, seen | frozenset(added))
            if other is None or other.key != decision.key:
                return False
    return True


def _speculate(name: str, histogram: Mapping[int, int], min_values: int) -> ColumnType | None:
    """The column's type decided on the sample's masks, with a guard admitting every mask that
    cannot change it; None when the sample cannot prove a decision, or has too few values
    (``min_values``) for its guard to hold with some likelihood: a failed guard costs a second
    pass over the table."""
    relevant = _relevant(name)
    seen = frozenset(mask & relevant for mask in histogram)
    rules = _rules(name)
    decision = _decide_on(rules, seen)
    if decision is None or sum(histogram.values()) < min_values:
        return None
    allowed, shapes = seen, []
    for shape in _SHAPES:
        masks = frozenset(mask & relevant for mask in shape.masks)
        if masks & seen and (masks <= allowed or _stable(rules, decision, seen,
                                                         allowed | masks)):
            allowed |= masks
            shapes.append(shape)
    return _column(name, decision, Guard(tuple(shapes), allowed, relevant))


@dataclass(frozen=True)
class Guard:
    """What every value of a column decided on a sample must be: missing, or of one of the
    ``shapes``, or else of a mask in ``allowed`` (the masks being reduced to ``relevant``)."""

    shapes: tuple[_Shape, ...]
    allowed: frozenset[int]
    relevant: int

    def fast(self, c: str) -> str | None:
        """SQL true for source text ``c`` that needs no cleaning and passes a shape's test (so
        that most values skip both the cleaning and the guard); None without shapes."""
        tests = [shape.test(c) if shape.plain else _all(_unchanged(c), shape.test(c))
                 for shape in self.shapes]
        return _any(*tests) if tests else None

    def check(self, v: str) -> str:
        """SQL true for a cleaned value ``v`` the column may hold. Values that pass no shape
        test get their whole mask computed, unless no admitted mask needs it: the mask is a
        large expression, and DuckDB's planning time grows with every copy of it."""
        shortcuts = " ".join(f"WHEN {shape.test(v)} THEN true" for shape in self.shapes)
        covered = {mask & self.relevant for shape in self.shapes if shape.complete
                   for mask in shape.masks}
        mask = _mask(v) if self.relevant == _ALL_BITS else f"(({_mask(v)}) & {self.relevant})"
        whole = (f"list_contains({sql.literal(sorted(self.allowed))}, {mask})"
                 if self.allowed - covered else "false")
        return f"CASE WHEN {v} IS NULL THEN true {shortcuts} ELSE {whole} END"


# --- the typed table ------------------------------------------------------------------------


def typed_select(columns: list[ColumnType]) -> str:
    """SELECT list converting every column of the source: ``expr AS "name", ...`` (guards are
    not checked here; see :func:`typed_query`)."""
    return ", ".join(f"{c.expression} AS {sql.ident(c.name)}" for c in columns)


#: From this many columns on, :func:`typed_query` writes each expression once for lists of
#: cells instead of once per column. DuckDB's planning time grows with the query's size (some
#: 1,200 characters a column) faster than linearly: 2,000 columns took half a minute and a
#: gigabyte to plan, whatever the rows. Per value, the lists cost some 40 ns more.
LIST_COLUMNS = 48


def typed_query(columns: list[ColumnType], relation: str, lists: bool | None = None) -> str:
    """The typed rows of ``relation``. A value that breaks a column's guard aborts the query
    with an error that :func:`is_guard_failure` recognizes. ``lists``: the form for wide
    tables (:func:`_typed_lists`); by default from :data:`LIST_COLUMNS` columns on.

    Three steps: the source text ``c`` with, for guarded columns, whether it passes the guard's
    fast test ``f``; the cleaned value ``v`` (the text itself where the test passed); the
    converted value, the guard checked where the fast test did not pass."""
    if not columns:
        return sql.select("1 AS __none", sql.ident(relation))
    if lists or (lists is None and len(columns) >= LIST_COLUMNS):
        return _typed_lists(columns, relation)
    fast = [column.guard.fast(f"c{i}") if column.guard else None
            for i, column in enumerate(columns)]
    source = [f"{sql.ident(c.name)} AS c{i}" for i, c in enumerate(columns)]
    source += [f"{test} AS f{i}" for i, test in enumerate(fast) if test]
    cleaned = [f"CASE WHEN f{i} THEN c{i} ELSE {_cleaned(f'c{i}')} END AS v{i}" if test
               else f"{_cleaned(f'c{i}')} AS v{i}" for i, test in enumerate(fast)]
    cleaned += [f"f{i}" for i, test in enumerate(fast) if test]
    converted = []
    for i, column in enumerate(columns):
        value = _checked(column, f"v{i}")
        if fast[i]:
            value = f"CASE WHEN f{i} THEN {column.convert(f'v{i}')} ELSE {value} END"
        converted.append(f"{value} AS {sql.ident(column.name)}")
    inner = sql.select(cleaned, f"({sql.select(source, sql.ident(relation))})")
    return sql.select(converted, f"({inner})")


def _checked(column: ColumnType, v: str) -> str:
    """The converted value of the cleaned value ``v``; a value its guard does not admit aborts
    the query."""
    value = column.convert(v)
    if column.guard is None:
        return value
    return f"CASE WHEN {column.guard.check(v)} THEN {value} " \
           f"ELSE error({sql.string(GUARD_FAILED)}) END"


def _typed_lists(columns: list[ColumnType], relation: str) -> str:
    """:func:`typed_query` for wide tables, so that the query's size hardly grows with the
    columns: a row's cells form one list, cleaned by one lambda; the columns that share a
    conversion and guard are picked from it and converted by one lambda per group; each
    column is then an element of its group's list. (No fast test: it pays off on long
    tables, which are narrow.)"""
    cells = "[" + ", ".join(sql.ident(c.name) for c in columns) + "]"
    cleaned = sql.select(f"list_transform({cells}, lambda c: {_cleaned('c')}) AS v",
                         sql.ident(relation))
    groups: dict[tuple[str, Guard | None], list[int]] = {}
    for index, column in enumerate(columns):
        groups.setdefault((column.convert("v"), column.guard), []).append(index)
    converted, element = [], {}
    for number, members in enumerate(groups.values()):
        picked = f"list_select(v, {sql.literal([index + 1 for index in members])})"
        converted.append(f"list_transform({picked}, lambda v: "
                         f"{_checked(columns[members[0]], 'v')}) AS g{number}")
        element.update({index: f"g{number}[{place + 1}]"
                        for place, index in enumerate(members)})
    inner = sql.select(converted, f"({cleaned})")
    return sql.select([f"{element[i]} AS {sql.ident(c.name)}" for i, c in enumerate(columns)],
                      f"({inner})")


def is_guard_failure(error: BaseException) -> bool:
    """Whether a DuckDB error is a guard of :func:`typed_query` that failed."""
    return isinstance(error, duckdb.Error) and GUARD_FAILED in str(error)
