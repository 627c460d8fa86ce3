"""Rows, totals, distinct values and aggregates of one table version, straight from Parquet.

Contract with the ingest (who writes the Parquet files):

* Every column of the schema is stored under its exact name; names must be unique
  case-insensitively (DuckDB resolves even quoted identifiers without regard to case).
  Types: string → VARCHAR, integer → BIGINT, number → DOUBLE (or DECIMAL), boolean, date → DATE,
  datetime → TIMESTAMP WITH TIME ZONE (instants, returned in UTC with ``Z``) or TIMESTAMP
  (wall-clock values without offset, returned without one), time → TIME, json → VARCHAR
  holding JSON text, geometry → BINARY holding WKB in WGS84 (EPSG:4326, x = lon, y = lat).
* A table with a geometry column additionally gets four hidden DOUBLE columns
  ``__minx, __miny, __maxx, __maxy``: the envelope of its first geometry column (NULL for a NULL
  or empty geometry; NaN, as shapely.bounds writes it, works too). The ``bbox`` filter reads
  only them (envelope intersects the box). They are
  never returned, never listed in ``fields`` and cannot be filtered or sorted on; no user column
  may carry one of these names.

Filter values for datetime columns without an offset are taken as UTC; on a TIMESTAMP column
that means they compare with the stored wall-clock values directly.

Safety: column names from a request are validated against the schema and then quoted as
identifiers (``"…"`` with inner quotes doubled); every value, the Parquet path included, is
bound as a ``?`` parameter. Nothing from a request is spliced into SQL.

Queries run on one in-process DuckDB database, a fresh cursor (its own connection) per call, so
calls from different threads never share a connection. DuckDB's own ``max_execution_time`` is not
enforced for these queries, so a timer interrupts the cursor after ``timeout`` seconds
(:class:`QueryTimeout`, 503).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import gettempdir
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from allmende import sql
from allmende.errors import BadRequest, FieldError, Invalid, NotFound, msg
from allmende.tables.errors import QueryTimeout, TableUnavailable
from allmende.tables.schema import (
    ENVELOPE_COLUMNS,
    NUMERIC_TYPES,
    ORDERED_TYPES,
    Column,
    TableSchema,
)
from allmende.tables.values import (
    TYPE_LABELS,
    ValueProblem,
    column_values,
    parse_number,
    parse_value,
    thousands,
)

RESERVED = frozenset({"version", "limit", "offset", "sort", "fields", "format", "bbox"})
FILTER_PREFIX = "filter."
OPERATORS = ("in", "gt", "gte", "lt", "lte", "contains", "null")
FORMATS = ("csv", "csv-de", "json", "geojson", "parquet", "xlsx")
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_IN_VALUES = 1_000
QUERY_TIMEOUT = 30.0
AGGREGATE_FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max")

_COMPARISONS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_EQUALITY_TYPES = frozenset({"string", "integer", "number", "boolean", "date", "datetime",
                             "time", "json"})
_RANGE_TYPES = ORDERED_TYPES - {"boolean"}
_TEXT_TYPES = frozenset({"string", "json"})

PathLike = str | os.PathLike[str]
SchemaLike = TableSchema | Iterable[Mapping[str, Any]]
Params = Mapping[str, Any] | Iterable[tuple[str, str]]


# --- the parsed request -------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    column: str
    op: str  # eq in gt gte lt lte contains null
    value: Any  # typed value; a tuple for ``in``; a bool for ``null``
    param: str = ""  # the query parameter it came from, for error messages


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class RowQuery:
    """A validated request for rows. ``limit``/``offset`` are None when not given."""

    filters: tuple[Filter, ...] = ()
    sort: tuple[SortKey, ...] = ()
    fields: tuple[str, ...] | None = None
    limit: int | None = None
    offset: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    format: str | None = None
    #: Rows holding each of these words (case-insensitive) in some column: a scan of every
    #: row, for interfaces that search a table's text (CKAN's datastore ``q``).
    words: tuple[str, ...] = ()
    #: Only the rows numbered ``first`` to ``last`` in the version (counted from 1 in file
    #: order: a stable key of a row within its version, OGC API Features' feature ids).
    row_range: tuple[int, int] | None = None


@dataclass
class RowsResult:
    total: int
    fields: list[dict[str, str]]
    rows: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "fields": self.fields, "rows": self.rows}


@dataclass
class DistinctResult:
    field: dict[str, str]
    total: int  # number of distinct values in the selection (NULL counts as one)
    values: list[dict[str, Any]]  # [{"value": v, "count": n}]

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "total": self.total, "values": self.values}


@dataclass(frozen=True)
class Metric:
    func: str  # count count_distinct sum avg min max
    column: str | None = None  # None only for count(*)

    @property
    def name(self) -> str:
        return "count" if self.column is None else f"{self.func}({self.column})"


@dataclass
class AggregateResult:
    total: int  # number of groups
    fields: list[dict[str, str]]
    rows: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "fields": self.fields, "rows": self.rows}


# --- parsing ------------------------------------------------------------------------------

def split_list(value: str) -> list[str]:
    """Comma-separated items. An item may be put in double quotes to contain commas (``""``
    for a quote); the quotes may follow a ``-`` (sort) or a ``func:`` prefix (metrics)."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    while index < len(value):
        char = value[index]
        if quoted:
            if char == '"':
                if value[index + 1:index + 2] == '"':
                    current.append('"')
                    index += 1
                else:
                    quoted = False
            else:
                current.append(char)
        elif char == '"' and (not current or current == ["-"] or current[-1] == ":"):
            quoted = True
        elif char == ",":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    if quoted:
        raise ValueProblem(msg("Ein Anführungszeichen ist nicht geschlossen."))
    items.append("".join(current))
    return items


def _param_items(params: Params) -> list[tuple[str, str]]:
    multi_items = getattr(params, "multi_items", None)
    if callable(multi_items):  # starlette QueryParams, multidicts
        return [(str(k), str(v)) for k, v in multi_items()]
    if isinstance(params, Mapping):
        items: list[tuple[str, str]] = []
        for key, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            items.extend((str(key), str(v)) for v in values)
        return items
    return [(str(k), str(v)) for k, v in params]


def _resolve_name(schema: TableSchema, name: str) -> str | None:
    if name in schema:
        return name
    if name.strip() in schema:
        return name.strip()
    return None


def _split_filter_key(schema: TableSchema, key: str) -> tuple[str, str]:
    """(column, op) for a filter parameter, or a ValueProblem/KeyError naming the column."""
    if key.startswith(FILTER_PREFIX):
        rest = key[len(FILTER_PREFIX):]
        if rest in schema:
            return rest, "eq"
        name, sep, op = rest.rpartition("__")
        if sep and op in OPERATORS and name in schema:
            return name, op
        if sep and name in schema:
            raise _unknown_operator(op)
        raise KeyError(rest)
    name, sep, op = key.rpartition("__")
    if sep and name in schema and op in OPERATORS:
        if name in RESERVED or "__" in name:
            raise ValueProblem(msg("Diese Spalte bitte als „filter.{name}__{op}“ angeben.",
                                   name=name, op=op))
        return name, op
    if key in schema:
        if "__" in key:
            raise ValueProblem(msg("Diese Spalte bitte als „filter.{key}“ angeben.", key=key))
        return key, "eq"
    if sep and name in schema:
        raise _unknown_operator(op)
    raise KeyError(key)


def _unknown_operator(op: str) -> ValueProblem:
    return ValueProblem(msg("Unbekannter Filter „__{op}“ (erlaubt: {allowed}).", op=op,
                            allowed=", ".join(f"__{o}" for o in OPERATORS)))


def _parse_filter(column: Column, op: str, text: str) -> Any:
    if op == "null":
        try:
            return parse_value(text, "boolean")
        except ValueProblem:
            raise ValueProblem(msg("„{text}“ ist nicht true oder false.", text=text)) from None
    allowed = {"eq": _EQUALITY_TYPES, "in": _EQUALITY_TYPES, "contains": _TEXT_TYPES}
    if column.type not in allowed.get(op, _RANGE_TYPES):
        raise ValueProblem(msg("Spalten vom Typ „{type}“ lassen sich nicht mit {operator} "
                               "filtern.", type=column.type,
                               operator="=" if op == "eq" else "__" + op))
    if op == "in":
        values = split_list(text)
        if not text or not values:
            raise ValueProblem(msg("Mindestens ein Wert ist nötig."))
        if len(values) > MAX_IN_VALUES:
            raise ValueProblem(msg("Höchstens {maximum} Werte sind erlaubt.",
                                   maximum=thousands(MAX_IN_VALUES)))
        return tuple(_typed(column, v) for v in values)
    if op == "contains":
        return text
    return _typed(column, text)


def typed_filter(column: Column, op: str, text: str, param: str) -> Filter:
    """``column <op> text`` with the value typed for the column, as the data API reads it
    (a ValueProblem when it does not fit): for interfaces with parameters of their own."""
    return Filter(column.name, op, _parse_filter(column, op, text), param)


def _typed(column: Column, text: str) -> Any:
    try:
        return parse_value(text, column.type)
    except ValueProblem as problem:
        label = TYPE_LABELS.get(column.type)
        if label is None:
            raise ValueProblem(problem.message) from None
        raise ValueProblem(msg("{problem} Die Spalte „{column}“ erwartet {label}.",
                               problem=problem.message, column=column.name, label=label)
                           ) from None


#: Counts (limit, offset) fit a BIGINT; version numbers an INTEGER.
MAX_COUNT = 2**63 - 1
MAX_VERSION = 2**31 - 1
_COUNT = re.compile(r"\+?[0-9]+")


def _parse_int(text: str, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """A whole number in ASCII digits (``²`` or ``٣`` are no count) within the bounds."""
    value = text.strip()
    if not _COUNT.fullmatch(value) or int(value) < minimum:
        raise ValueProblem(msg("„{text}“ ist keine ganze Zahl ≥ {minimum}.", text=text,
                               minimum=minimum))
    if int(value) > maximum:
        raise ValueProblem(msg("„{text}“ ist zu groß (höchstens {maximum}).", text=text,
                               maximum=maximum))
    return int(value)


def parse_version(text: str | None) -> int | None:
    """The ``version`` parameter (default: the latest)."""
    if text is None or text == "":
        return None
    try:
        return _parse_int(text, minimum=1, maximum=MAX_VERSION)
    except ValueProblem as problem:
        raise Invalid(msg("Die Abfrage ist ungültig."),
                      [FieldError("version", problem.message)]) from None


_COORDINATE = r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*"
#: What _parse_bbox reads, for the OpenAPI document (the ranges and the order it checks on top)
BBOX_PATTERN = f"^{_COORDINATE}(?:,{_COORDINATE}){{3}}$"


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    problem = ValueProblem(msg("„{text}“ ist keine gültige bbox; erwartet: "
                               "lon_min,lat_min,lon_max,lat_max (WGS84, Dezimalpunkt).",
                               text=text))
    if len(parts) != 4:
        raise problem
    try:
        lon_min, lat_min, lon_max, lat_max = (float(parse_number(p)) for p in parts)
    except ValueProblem:
        raise problem from None
    if not (-180 <= lon_min <= lon_max <= 180 and -90 <= lat_min <= lat_max <= 90):
        raise problem
    return lon_min, lat_min, lon_max, lat_max


def parse_query(params: Params, schema: SchemaLike, *,
                ignore: Iterable[str] = ()) -> RowQuery:
    """Parse and validate the query parameters of ``GET …/rows``.

    ``params`` is a mapping, a multi-dict (anything with ``multi_items()``, e.g. Starlette's
    ``QueryParams``) or a list of pairs; parameters named in ``ignore`` are skipped (e.g. the
    HTTP layer's own). ``version`` is accepted and ignored (the caller picks the version).
    Raises :class:`Invalid` (422) listing every problem, or :class:`BadRequest` (400) for a
    ``limit`` above 10,000 on a row page (exports take any limit)."""
    table = TableSchema.of(schema)
    skip = set(ignore) | {"version"}
    errors: list[FieldError] = []
    reserved: dict[str, str] = {}
    filters: list[Filter] = []
    for key, text in _param_items(params):
        if key in skip:
            continue
        if key in RESERVED:
            if key in reserved:
                errors.append(FieldError(key, msg("Dieser Parameter ist mehrfach angegeben.")))
            reserved[key] = text
            continue
        try:
            name, op = _split_filter_key(table, key)
            column = table.by_name[name]
            filters.append(Filter(name, op, _parse_filter(column, op, text), key))
        except KeyError as missing:
            errors.append(table.unknown(key, missing.args[0]))
        except ValueProblem as problem:
            errors.append(FieldError(key, problem.message))

    query: dict[str, Any] = {"filters": tuple(filters)}
    for key, text in reserved.items():
        try:
            query[key] = _parse_reserved(table, key, text, errors)
        except ValueProblem as problem:
            errors.append(FieldError(key, problem.message))
    result = RowQuery(**query)
    if result.limit is not None and result.limit > MAX_LIMIT and result.format is None:
        raise BadRequest(msg("limit darf höchstens {maximum} sein. Blättern Sie mit offset "
                             "oder laden Sie die ganze Auswahl mit format=csv oder "
                             "format=parquet.", maximum=thousands(MAX_LIMIT)),
                         code="limit_too_large")
    if errors:
        raise Invalid(msg("Die Abfrage ist ungültig."), errors)
    return result


def _parse_reserved(table: TableSchema, key: str, text: str,
                    errors: list[FieldError]) -> Any:
    if key in ("limit", "offset"):
        return _parse_int(text)
    if key == "format":
        if text not in FORMATS:
            raise ValueProblem(msg("Unbekanntes Format „{format}“ (erlaubt: {allowed}).",
                                   format=text, allowed=", ".join(FORMATS)))
        return text
    if key == "bbox":
        if table.geometry is None:
            raise ValueProblem(msg("Diese Tabelle hat keine Geometrie-Spalte."))
        return _parse_bbox(text)
    items = split_list(text)
    if key == "fields":
        names: list[str] = []
        for item in items:
            name = _resolve_name(table, item)
            if name is None:
                errors.append(table.unknown(key, item))
            elif name not in names:
                names.append(name)
        if not names and not errors:
            raise ValueProblem(msg("Mindestens eine Spalte ist nötig."))
        return tuple(names)
    keys: list[SortKey] = []  # sort
    for item in items:
        descending = item.startswith("-") and _resolve_name(table, item[1:]) is not None
        name = _resolve_name(table, item[1:] if descending else item)
        if name is None:
            errors.append(table.unknown(key, item.removeprefix("-")))
        elif table.by_name[name].type not in ORDERED_TYPES | {"json"}:
            errors.append(FieldError(key, msg("Nach der Spalte „{name}“ lässt sich nicht "
                                              "sortieren.", name=name)))
        else:
            keys.append(SortKey(name, descending))
    return tuple(keys)


def parse_names(text: str, schema: SchemaLike, param: str = "group_by") -> list[str]:
    """Column names from a comma-separated parameter (quotes allowed), validated."""
    table = TableSchema.of(schema)
    names = []
    for item in split_list(text) if text else []:
        name = _resolve_name(table, item)
        if name is None:
            raise Invalid(msg("Die Abfrage ist ungültig."), [table.unknown(param, item)])
        names.append(name)
    return names


def parse_metrics(text: str, schema: SchemaLike, param: str = "metrics") -> list[Metric]:
    """Metrics from ``count,sum:Leistung [kW],avg:"a,b"`` (``func`` or ``func:column``)."""
    table = TableSchema.of(schema)
    metrics = []
    for item in split_list(text):
        func, sep, name = item.partition(":")
        func = func.strip()
        column = _resolve_name(table, name) if sep else None
        if sep and column is None:
            raise Invalid(msg("Die Abfrage ist ungültig."), [table.unknown(param, name)])
        metrics.append(Metric(func, column))
    return metrics


# --- SQL ----------------------------------------------------------------------------------

_SOURCE = "read_parquet(?)"
#: A row's number in its version, from 1 (DuckDB's file_row_number counts from 0).
ROW_NUMBER = "file_row_number + 1"


def where_clause(schema: TableSchema, query: RowQuery | None) -> tuple[list[str], list[Any]]:
    """The conditions (joined with AND) and their parameters for the filters and bbox of
    ``query``."""
    if query is None:
        return [], []
    conditions: list[str] = []
    params: list[Any] = []
    for item in query.filters:
        column = schema.column(item.column, item.param)
        ident = column.sql
        if column.type == "json" and item.op != "null":
            ident = f"CAST({ident} AS VARCHAR)"
        if item.op == "null":
            conditions.append(f"{ident} IS {'' if item.value else 'NOT '}NULL")
        elif item.op == "in":
            conditions.append(f"{ident} IN ({', '.join('?' for _ in item.value)})")
            params.extend(item.value)
        elif item.op == "contains":
            conditions.append(f"contains(lower(CAST({ident} AS VARCHAR)), lower(?))")
            params.append(item.value)
        else:
            conditions.append(f"{ident} {_COMPARISONS[item.op]} ?")
            params.append(item.value)
    if query.row_range is not None:
        # pushed down to the Parquet reader: only the row groups holding the rows are read
        conditions.append("file_row_number BETWEEN ? AND ?")
        params.extend(number - 1 for number in query.row_range)
    if query.bbox is not None:
        minx, miny, maxx, maxy = (sql.ident(n) for n in ENVELOPE_COLUMNS)
        conditions.append(f"{maxx} >= ? AND {minx} <= ? AND {maxy} >= ? AND {miny} <= ?")
        # Empty geometries have NaN envelopes; DuckDB 2.0 compares NaN read from Parquet as
        # true against both bounds (and isfinite() in WHERE misbehaves too), so rule NaN out.
        conditions.append(f"NOT isnan({minx}) AND NOT isnan({miny}) AND NOT isnan({maxx}) "
                          f"AND NOT isnan({maxy})")
        lon_min, lat_min, lon_max, lat_max = query.bbox
        params.extend([lon_min, lon_max, lat_min, lat_max])
    searched = [c.sql for c in schema.columns if c.type != "geometry"]
    for word in query.words:
        conditions.append("(" + " OR ".join(
            f"contains(lower(CAST({ident} AS VARCHAR)), lower(?))" for ident in searched
        ) + ")" if searched else "FALSE")
        params.extend([word] * len(searched))
    return conditions, params


def order_keys(schema: TableSchema, query: RowQuery | None) -> list[str]:
    if query is None or not query.sort:
        return []  # DuckDB preserves the file's row order
    keys = [f"{schema.column(k.column, 'sort').sql} {'DESC' if k.descending else 'ASC'} "
            "NULLS LAST" for k in query.sort]
    return [*keys, "file_row_number"]  # stable pages


def selected_columns(schema: TableSchema, query: RowQuery | None) -> list[Column]:
    if query is None or query.fields is None:
        return list(schema.columns)
    return [schema.column(name, "fields") for name in query.fields]


def selection_sql(schema: TableSchema, query: RowQuery | None, columns: Sequence[Column],
                  limit: int | None, offset: int | None, numbered: bool = False
                  ) -> tuple[str, list[Any]]:
    """The SELECT (without the path parameter, which comes first) of a row selection;
    ``numbered`` adds each row's number in the version (:data:`ROW_NUMBER`) as last column."""
    where, params = where_clause(schema, query)
    selected = [c.sql for c in columns] or ["NULL AS __none"]
    if numbered:
        selected.append(ROW_NUMBER)
    statement = sql.select(selected, _SOURCE, where=where,
                           order_by=order_keys(schema, query),
                           limit=sql.PARAM if limit is not None else None,
                           offset=sql.PARAM if offset else None)
    params += [v for v in (limit, offset or None) if v is not None]
    return statement, params


# --- execution ----------------------------------------------------------------------------

_database_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None


def _connection() -> duckdb.DuckDBPyConnection:
    global _database
    with _database_lock:
        if _database is None:
            database = duckdb.connect(":memory:")
            spill = Path(gettempdir()) / "allmende-duckdb"
            database.execute("SET temp_directory = ?", [str(spill)])
            # Footers are parsed once per file, not per query (half the CPU of a page from
            # a 1M-row table): safe, since a version's file never changes under its name.
            database.execute("SET GLOBAL parquet_metadata_cache = true")
            _database = database
        return _database


@contextmanager
def cursor(timeout: float | None = QUERY_TIMEOUT) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh DuckDB cursor, interrupted after ``timeout`` seconds, closed afterwards."""
    cur = _connection().cursor()
    # Session settings are per cursor: UTC for timestamps, geometry columns stay WKB BLOBs.
    cur.execute("SET TimeZone = 'UTC'")
    cur.execute("SET enable_geoparquet_conversion = false")
    timer = threading.Timer(timeout, cur.interrupt) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield cur
    except duckdb.InterruptException as error:
        raise QueryTimeout() from error
    except duckdb.Error as error:
        raise TableUnavailable(msg("Die Tabellendaten konnten nicht gelesen werden.")
                               ) from error
    finally:
        if timer is not None:
            timer.cancel()
        cur.close()


def _file_key(path: PathLike) -> tuple[str, int, int]:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise NotFound(msg("Die Daten dieser Tabellenversion wurden nicht gefunden.")
                       ) from None
    return os.fspath(path), stat.st_mtime_ns, stat.st_size


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_counts = _LRU(512)
_file_columns = _LRU(256)
_pages = _LRU(256)
_extents = _LRU(1024)
#: Larger answers are not kept, which bounds the page cache at 256 × 256 KiB.
PAGE_CACHE_MAX_BYTES = 256 * 1024


def clear_caches() -> None:
    _counts.clear()
    _file_columns.clear()
    _pages.clear()
    _extents.clear()


def check_envelope(path: PathLike, query: RowQuery | None) -> None:
    if query is None or query.bbox is None:
        return
    key = _file_key(path)
    names = _file_columns.get(key)
    if names is None:
        names = frozenset(pq.read_schema(path).names)
        _file_columns.put(key, names)
    if not set(ENVELOPE_COLUMNS) <= names:
        raise TableUnavailable(msg("Diese Tabellenversion hat keine Hüllrechtecke; der "
                                   "bbox-Filter ist für sie nicht verfügbar."),
                               code="bbox_unavailable")


def count_rows(path: PathLike, schema: SchemaLike, query: RowQuery | None = None, *,
               timeout: float | None = QUERY_TIMEOUT) -> int:
    """Rows matching the filters and bbox of ``query`` (cached: versions are immutable)."""
    table = TableSchema.of(schema)
    where, params = where_clause(table, query)
    key = (*_file_key(path), tuple(where), tuple((type(p), p) for p in params))
    cached = _counts.get(key)
    if cached is not None:
        return cached
    check_envelope(path, query)
    with cursor(timeout) as cur:
        row = cur.execute(sql.select("count(*)", _SOURCE, where=where),
                          [os.fspath(path), *params]).fetchone()
    total = int(row[0]) if row else 0
    _counts.put(key, total)
    return total


def selected_rows(path: PathLike, schema: SchemaLike, query: RowQuery, *,
                  timeout: float | None = QUERY_TIMEOUT) -> int:
    """How many rows the selection of ``query`` holds after its ``offset`` and ``limit``
    (what a download of it delivers)."""
    rows = max(count_rows(path, schema, query, timeout=timeout) - (query.offset or 0), 0)
    return rows if query.limit is None else min(rows, query.limit)


def envelope(path: PathLike, *, timeout: float | None = QUERY_TIMEOUT
             ) -> tuple[float, float, float, float] | None:
    """The WGS84 box (lon_min, lat_min, lon_max, lat_max) around every geometry of the
    table's first geometry column, from its envelope columns; None without any (cached)."""
    key = ("envelope", *_file_key(path))
    cached = _extents.get(key)
    if cached is not None:
        return cached[0]
    check_envelope(path, RowQuery(bbox=(-180.0, -90.0, 180.0, 90.0)))
    bounds = [sql.ident(n) for n in ENVELOPE_COLUMNS]
    # NaN (empty geometries) sorts above every number in DuckDB: leave it out
    statement = sql.select([f"{f}({b})" for f, b in zip(("min", "min", "max", "max"), bounds,
                                                         strict=True)], _SOURCE,
                           where=[f"NOT isnan({b})" for b in bounds])
    with cursor(timeout) as cur:
        row = cur.execute(statement, [os.fspath(path)]).fetchone()
    found = None if row is None or row[0] is None else \
        (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
    _extents.put(key, (found,))
    return found


def column_range(path: PathLike, schema: SchemaLike, column: str, *,
                 timeout: float | None = QUERY_TIMEOUT) -> tuple[Any, Any]:
    """The smallest and largest value of an ordered column as JSON values (None, None for
    a column without values; cached: versions are immutable)."""
    table = TableSchema.of(schema)
    target = table.column(column, "column")
    key = ("range", *_file_key(path), column)
    cached = _extents.get(key)
    if cached is not None:
        return cached
    statement = sql.select([f"min({target.sql})", f"max({target.sql})"], _SOURCE)
    data = fetch_arrow(path, statement, [], timeout=timeout)
    low, high = (column_values(data.column(i), target.type, "json")[0] for i in (0, 1))
    _extents.put(key, (low, high))
    return low, high


def fetch_arrow(path: PathLike, statement: str, params: Sequence[Any], *,
                timeout: float | None = QUERY_TIMEOUT) -> pa.Table:
    with cursor(timeout) as cur:
        return cur.sql(statement, params=[os.fspath(path), *params]).to_arrow_table()


def arrow_rows(table: pa.Table, columns: Sequence[Column | tuple[str, str]],
               mode: str = "json") -> list[dict[str, Any]]:
    """Row objects from an Arrow table whose i-th column is ``columns[i]``."""
    names = [c.name if isinstance(c, Column) else c[0] for c in columns]
    types = [c.type if isinstance(c, Column) else c[1] for c in columns]
    values = [column_values(table.column(i), types[i], mode) for i in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def select_rows(path: PathLike, schema: SchemaLike, query: RowQuery, *,
                timeout: float | None = QUERY_TIMEOUT, max_limit: int = MAX_LIMIT
                ) -> RowsResult:
    """One page of rows: ``{"total", "fields", "rows"}`` as the data API answers it
    (``max_limit``: another interface's own cap, CKAN's 32,000)."""
    table = TableSchema.of(schema)
    limit = DEFAULT_LIMIT if query.limit is None else query.limit
    if limit > max_limit:
        raise BadRequest(msg("limit darf höchstens {maximum} sein.",
                             maximum=thousands(max_limit)), code="limit_too_large")
    offset = query.offset or 0
    columns = selected_columns(table, query)
    fields = [c.as_field() for c in columns]
    total = count_rows(path, table, query, timeout=timeout)
    if limit == 0 or offset >= total or not columns:
        return RowsResult(total, fields, [])
    statement, params = selection_sql(table, query, columns, limit, offset)
    data = fetch_arrow(path, statement, params, timeout=timeout)
    return RowsResult(total, fields, arrow_rows(data, columns))


def numbered_page(path: PathLike, schema: SchemaLike, query: RowQuery, *,
                  timeout: float | None = QUERY_TIMEOUT) -> pa.Table:
    """The selected columns of one page (``limit`` and ``offset`` of the query) with each
    row's number in the version as last column. Small pages are kept and served again, as
    :func:`page_json` keeps the data API's (versions are immutable)."""
    key = ("numbered", *_file_key(path), query)
    data = _pages.get(key)
    if data is None:
        table = TableSchema.of(schema)
        statement, params = selection_sql(table, query, selected_columns(table, query),
                                          query.limit, query.offset, numbered=True)
        data = fetch_arrow(path, statement, params, timeout=timeout)
        if data.nbytes <= PAGE_CACHE_MAX_BYTES:
            _pages.put(key, data)
    return data


@dataclass(frozen=True)
class JsonPage:
    body: bytes
    rows: int  # how many rows the page holds


def page_json(path: PathLike, schema: SchemaLike, query: RowQuery, *,
              timeout: float | None = QUERY_TIMEOUT) -> JsonPage:
    """:func:`select_rows` as the data API's JSON body. Versions are immutable, so the same
    query on the same file gives the same bytes: small answers are kept and served again."""
    key = (*_file_key(path), query)
    page = _pages.get(key)
    if page is None:
        found = select_rows(path, schema, query, timeout=timeout)
        page = JsonPage(orjson.dumps(found.as_dict()), len(found.rows))
        if len(page.body) <= PAGE_CACHE_MAX_BYTES:
            _pages.put(key, page)
    return page


def distinct(path: PathLike, schema: SchemaLike, column: str, *, query: RowQuery | None = None,
             limit: int = 100, order: str = "count",
             timeout: float | None = QUERY_TIMEOUT) -> DistinctResult:
    """Distinct values of ``column`` in the selection, with their counts.

    ``order="count"``: most frequent first (ties by value); ``order="value"``: by value. NULL
    is one value (listed last). ``limit`` at most 10,000 (else :class:`BadRequest`)."""
    table = TableSchema.of(schema)
    target = table.column(column, "column")
    if target.type == "geometry":
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
            "column", msg("Die Spalte „{column}“ enthält Geometrien; dafür gibt es keine "
                          "Werteliste.", column=column))])
    _check_limit(limit)
    if order not in ("count", "value"):
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
            "order", msg("Erlaubt sind „count“ und „value“."))])
    check_envelope(path, query)
    where, params = where_clause(table, query)
    order_by = "2 DESC, 1 ASC NULLS LAST" if order == "count" else "1 ASC NULLS LAST"
    statement = sql.select([target.sql, "count(*)", "count(*) OVER ()"], _SOURCE, where=where,
                           group_by="1", order_by=order_by, limit=sql.PARAM)
    data = fetch_arrow(path, statement, [*params, limit], timeout=timeout)
    values = column_values(data.column(0), target.type, "json")
    counts = data.column(1).to_pylist()
    total = int(data.column(2)[0].as_py()) if data.num_rows else 0
    return DistinctResult(target.as_field(), total, [
        {"value": v, "count": int(n)} for v, n in zip(values, counts, strict=True)])


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 0:
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
            "limit", msg("limit muss eine ganze Zahl ≥ 0 sein."))])
    if limit > MAX_LIMIT:
        raise BadRequest(msg("limit darf höchstens {maximum} sein.",
                             maximum=thousands(MAX_LIMIT)), code="limit_too_large")


def _metric_sql(table: TableSchema, metric: Metric, param: str) -> tuple[str, str]:
    """(SQL expression, result type) of a metric, or Invalid."""
    def invalid(message: str) -> Invalid:
        return Invalid(msg("Die Abfrage ist ungültig."), [FieldError(param, message)])

    if metric.func not in AGGREGATE_FUNCTIONS:
        raise invalid(msg("Unbekannte Kennzahl „{func}“ (erlaubt: {allowed}).",
                          func=metric.func, allowed=", ".join(AGGREGATE_FUNCTIONS)))
    if metric.column is None:
        if metric.func != "count":
            raise invalid(msg("„{func}“ braucht eine Spalte, z. B. {func}:Spalte.",
                              func=metric.func))
        return "count(*)", "integer"
    column = table.column(metric.column, param)
    if metric.func == "count":
        return f"count({column.sql})", "integer"
    if metric.func == "count_distinct":
        return f"count(DISTINCT {column.sql})", "integer"
    if metric.func in ("sum", "avg"):
        if column.type not in NUMERIC_TYPES:
            raise invalid(msg("„{func}“ geht nur für Zahlen-Spalten, nicht für „{column}“.",
                              func=metric.func, column=column.name))
        if metric.func == "avg":
            return f"avg({column.sql})", "number"
        return f"sum({column.sql})", column.type
    if column.type not in ORDERED_TYPES:
        raise invalid(msg("„{func}“ geht nicht für die Spalte „{column}“.", func=metric.func,
                          column=column.name))
    return f"{metric.func}({column.sql})", column.type


def group_counts(path: PathLike, schema: SchemaLike, group_by: Sequence[str],
                 query: RowQuery | None = None, timeout: float | None = QUERY_TIMEOUT
                 ) -> tuple[list[list[Any]], list[int]]:
    """Every group of the selection (JSON values of the group columns) with its row count,
    without a limit: small-cell suppression judges the complete table."""
    table = TableSchema.of(schema)
    groups = [table.column(name, "group_by") for name in group_by]
    check_envelope(path, query)
    where, params = where_clause(table, query)
    statement = sql.select([*(c.sql for c in groups), "count(*)"], _SOURCE, where=where,
                           group_by=[str(i + 1) for i in range(len(groups))] or None)
    data = fetch_arrow(path, statement, params, timeout=timeout)
    counts = [int(n) for n in data.column(len(groups)).to_pylist()]
    values = [column_values(data.column(i), c.type, "json") for i, c in enumerate(groups)]
    return [list(group) for group in zip(*values, strict=True)] if groups else \
        [[] for _ in counts], counts


def aggregate(path: PathLike, schema: SchemaLike, *, group_by: Sequence[str] = (),
              metrics: Sequence[Metric | tuple[str, str | None]] = (Metric("count"),),
              query: RowQuery | None = None, limit: int = 1_000,
              timeout: float | None = QUERY_TIMEOUT) -> AggregateResult:
    """Count/sum/avg/min/max (and count_distinct) over the selection, grouped by columns.

    ``metrics`` are :class:`Metric` or ``(func, column)`` pairs (``("count", None)`` counts
    rows). Rows come ordered by the group columns (NULL last); a metric's result name is
    ``count`` for ``count(*)``, else ``func(column)``. ``total`` is the number of groups."""
    table = TableSchema.of(schema)
    _check_limit(limit)
    groups = [table.column(name, "group_by") for name in group_by]
    for column in groups:
        if column.type == "geometry":
            raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
                "group_by", msg("Nach der Geometrie-Spalte „{column}“ lässt sich nicht "
                                "gruppieren.", column=column.name))])
    parsed = [m if isinstance(m, Metric) else Metric(*m) for m in metrics]
    if not parsed:
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
            "metrics", msg("Mindestens eine Kennzahl ist nötig."))])
    expressions = [_metric_sql(table, m, "metrics") for m in parsed]
    out = [(c.name, c.type) for c in groups] + [
        (m.name, kind) for m, (_, kind) in zip(parsed, expressions, strict=True)]
    names = [name for name, _ in out]
    if len(set(names)) != len(names):
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
            "metrics", msg("Kennzahlen und Gruppenspalten müssen verschiedene Namen ergeben."))])
    check_envelope(path, query)
    where, params = where_clause(table, query)
    positions = [str(i + 1) for i in range(len(groups))]
    statement = sql.select(
        [*(c.sql for c in groups), *(expression for expression, _ in expressions),
         "count(*) OVER ()"], _SOURCE, where=where, group_by=positions or None,
        order_by=[f"{p} ASC NULLS LAST" for p in positions], limit=sql.PARAM)
    data = fetch_arrow(path, statement, [*params, limit], timeout=timeout)
    total = int(data.column(len(out))[0].as_py()) if data.num_rows else 0
    return AggregateResult(total, [{"name": n, "type": t} for n, t in out],
                           arrow_rows(data, out))
