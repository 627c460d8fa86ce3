"""Streaming file exports of a row selection: CSV, German CSV, JSON, GeoJSON, Parquet, XLSX.

Filters and sort apply; ``limit``/``offset`` only when given, and then without the 10,000 cap
of row pages. Everything is read from DuckDB as Arrow record batches of ``BATCH_ROWS`` rows and
written out batch by batch, so memory stays flat however large the table is. XLSX is built by
xlsxwriter in constant-memory mode in a temporary file that is streamed and then deleted.

``export()`` does all validation eagerly (unknown format → 422, GeoJSON without geometry → 400,
XLSX beyond :data:`XLSX_MAX_CELLS` → 413), so the caller can still answer with an error
status; the query itself runs when the first chunk is requested. Exports have no time limit by
default (``timeout=None``): they are bounded by the data, not by a runaway query shape. They
stop between two batches once ``cancelled`` is set (the client went away): an abandoned
download costs at most one more batch, also while an XLSX file is still being built.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from allmende.errors import BadRequest, FieldError, Invalid, TooLarge, msg
from allmende.tables.query import (
    FORMATS,
    PathLike,
    RowQuery,
    SchemaLike,
    check_envelope,
    cursor,
    selected_columns,
    selected_rows,
    selection_sql,
)
from allmende.tables.schema import Column, TableSchema
from allmende.tables.values import column_values, thousands

BATCH_ROWS = 16_384
XLSX_MAX_ROWS = 1_048_575  # 1,048,576 sheet rows minus the header
#: Building an XLSX costs about 5 µs of CPU per cell; beyond this many cells CSV or Parquet.
XLSX_MAX_CELLS = 2_000_000
XLSX_MAX_STRING = 32_767
FILE_CHUNK = 1 << 20

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "csv-de": "text/csv; charset=utf-8",
    "json": "application/json",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Distinct per format, so that a CSV and its Excel-German twin never overwrite each other.
SUFFIXES = {"csv": ".csv", "csv-de": ".de.csv", "json": ".json", "geojson": ".geojson",
            "parquet": ".parquet", "xlsx": ".xlsx"}


@dataclass
class ExportStream:
    media_type: str
    filename_suffix: str
    chunks: Iterator[bytes]

    def filename(self, stem: str) -> str:
        return stem + self.filename_suffix

    def read_all(self) -> bytes:
        """The whole file (tests, small exports)."""
        return b"".join(self.chunks)


class ExportCancelled(Exception):
    """The export was abandoned (its client went away) and stopped."""


def export(path: PathLike, schema: SchemaLike, query: RowQuery, format: str | None = None,
           *, timeout: float | None = None,
           cancelled: threading.Event | None = None) -> ExportStream:
    """The selection of ``query`` as a file in ``format`` (default: ``query.format``); it stops
    with :class:`ExportCancelled` between two batches once ``cancelled`` is set."""
    fmt = format or query.format
    if fmt not in FORMATS:
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
            "format", msg("Unbekanntes Format „{format}“ (erlaubt: {allowed}).", format=fmt,
                          allowed=", ".join(FORMATS)))])
    table = TableSchema.of(schema)
    columns = selected_columns(table, query)
    if fmt == "geojson":
        geometry = table.geometry
        if geometry is None:
            raise BadRequest(msg("Diese Tabelle hat keine Geometrie-Spalte; GeoJSON gibt es "
                                 "nur für Tabellen mit Geometrie. Nehmen Sie format=json oder "
                                 "csv."), code="no_geometry")
        columns = [geometry, *(c for c in columns if c != geometry)]
    check_envelope(path, query)
    if fmt == "xlsx":
        _check_xlsx_size(path, table, query, len(columns), timeout)
    sql, params = selection_sql(table, query, columns, query.limit, query.offset)
    source = _Source(os.fspath(path), sql, params, timeout, cancelled or threading.Event())
    writers = {"csv": _csv, "csv-de": _csv, "json": _json, "geojson": _geojson,
               "parquet": _parquet, "xlsx": _xlsx}
    chunks = writers[fmt](source, columns, fmt)
    return ExportStream(MEDIA_TYPES[fmt], SUFFIXES[fmt], chunks)


def _check_xlsx_size(path: PathLike, table: TableSchema, query: RowQuery, columns: int,
                     timeout: float | None) -> None:
    rows = selected_rows(path, table, query, timeout=timeout)
    if rows > XLSX_MAX_ROWS:
        raise TooLarge(msg("Die Auswahl hat {rows} Zeilen; eine Excel-Tabelle fasst "
                           "höchstens {maximum}. Laden Sie sie als CSV oder Parquet herunter "
                           "oder grenzen Sie sie mit Filtern ein.", rows=thousands(rows),
                           maximum=thousands(XLSX_MAX_ROWS)), code="too_many_rows_for_xlsx")
    if rows * columns > XLSX_MAX_CELLS:
        raise TooLarge(msg("Die Auswahl hat {rows} Zeilen × {columns} Spalten; als Excel-Datei "
                           "liefern wir höchstens {maximum} Zellen. Laden Sie sie als CSV oder "
                           "Parquet herunter, oder wählen Sie mit fields= und Filtern weniger "
                           "aus.", rows=thousands(rows), columns=columns,
                           maximum=thousands(XLSX_MAX_CELLS)), code="too_many_cells_for_xlsx")


@dataclass
class _Source:
    path: str
    sql: str
    params: list[Any]
    timeout: float | None
    cancelled: threading.Event

    @contextmanager
    def reader(self) -> Iterator[_Batches]:
        """The selection's record batches, stopping once the export is cancelled."""
        with cursor(self.timeout) as cur:
            relation = cur.sql(self.sql, params=[self.path, *self.params])
            yield _Batches(relation.to_arrow_reader(BATCH_ROWS), self.cancelled)


@dataclass
class _Batches:
    reader: pa.RecordBatchReader
    cancelled: threading.Event

    @property
    def schema(self) -> pa.Schema:
        return self.reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self.reader:
            if self.cancelled.is_set():
                raise ExportCancelled()
            yield batch


#: What makes a spreadsheet read a text cell as a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Column types written as text; numbers, dates and booleans are never neutralized.
TEXT_TYPES = frozenset({"string", "json"})


def neutralized(text: str | None) -> str | None:
    """A text cell Excel would take for a formula gets a leading apostrophe, which Excel shows
    as text and hides (OWASP's advice against CSV injection)."""
    if text and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _csv(source: _Source, columns: Sequence[Column], fmt: str) -> Iterator[bytes]:
    """``csv`` is data for programs: cells exactly as stored. ``csv-de`` is made for Excel:
    German numbers, a BOM, and text cells that start like a formula neutralized (regional
    tables mix many organizations' rows; none may plant a formula everybody opens)."""
    german = fmt == "csv-de"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if german else ",", lineterminator="\r\n")
    writer.writerow([neutralized(c.name) if german else c.name for c in columns])
    yield ("\ufeff" if german else "").encode() + buffer.getvalue().encode()
    guarded = [german and c.type in TEXT_TYPES for c in columns]
    with source.reader() as reader:
        for batch in reader:
            buffer.seek(0)
            buffer.truncate()
            values = [column_values(batch.column(i), c.type, fmt) for i, c in enumerate(columns)]
            values = [[neutralized(v) for v in column] if guard else column
                      for column, guard in zip(values, guarded, strict=True)]
            writer.writerows(zip(*values, strict=True))
            yield buffer.getvalue().encode()


#: The formats of a summary (distinct values, aggregates) as a file.
SUMMARY_FORMATS = ("csv", "json")


def summary_file(names: Sequence[str], rows: Sequence[dict[str, Any]], format: str) -> bytes:
    """A small computed table (its rows already in memory) as CSV or a JSON array; empty
    cells for null, so that a suppressed count stays empty."""
    if format == "json":
        return orjson.dumps([{name: row.get(name) for name in names} for row in rows])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    writer.writerows([_csv_cell(row.get(name)) for name in names] for row in rows)
    return buffer.getvalue().encode()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _rows(batch: pa.RecordBatch, columns: Sequence[Column]) -> list[dict[str, Any]]:
    if not columns:
        return [{} for _ in range(batch.num_rows)]
    values = [column_values(batch.column(i), c.type, "fragment") for i, c in enumerate(columns)]
    names = [c.name for c in columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _json_array(items: Iterator[list[Any]], head: bytes, tail: bytes) -> Iterator[bytes]:
    yield head
    first = True
    for batch in items:
        if not batch:
            continue
        body = orjson.dumps(batch)[1:-1]
        yield body if first else b"," + body
        first = False
    yield tail


def _json(source: _Source, columns: Sequence[Column], fmt: str) -> Iterator[bytes]:
    def batches() -> Iterator[list[Any]]:
        with source.reader() as reader:
            for batch in reader:
                yield _rows(batch, columns)

    return _json_array(batches(), b"[", b"]")


def _geojson(source: _Source, columns: Sequence[Column], fmt: str) -> Iterator[bytes]:
    geometry, properties = columns[0], columns[1:]

    def batches() -> Iterator[list[Any]]:
        with source.reader() as reader:
            for batch in reader:
                shapes = column_values(batch.column(0), geometry.type, "fragment")
                props = _rows(batch.drop_columns([batch.schema.names[0]]), properties)
                yield [{"type": "Feature", "geometry": shape, "properties": prop}
                       for shape, prop in zip(shapes, props, strict=True)]

    return _json_array(batches(), b'{"type":"FeatureCollection","features":[', b"]}")


class _Sink:
    """A write-only file for pyarrow whose written bytes are drained after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _geo_metadata(columns: Sequence[Column]) -> dict[bytes, bytes]:
    geometries = [c.name for c in columns if c.type == "geometry"]
    if not geometries:
        return {}
    geo = {"version": "1.1.0", "primary_column": geometries[0],
           "columns": {name: {"encoding": "WKB", "geometry_types": []} for name in geometries}}
    return {b"geo": orjson.dumps(geo)}


def _parquet(source: _Source, columns: Sequence[Column], fmt: str) -> Iterator[bytes]:
    sink = _Sink()
    with source.reader() as reader:
        schema = reader.schema
        metadata = {**(schema.metadata or {}), **_geo_metadata(columns)}
        schema = schema.with_metadata(metadata)
        writer = pq.ParquetWriter(sink, schema, compression="zstd")
        try:
            for batch in reader:
                writer.write_batch(batch.replace_schema_metadata(metadata))
                data = sink.drain()
                if data:
                    yield data
        finally:
            writer.close()
    yield sink.drain()


def _xlsx(source: _Source, columns: Sequence[Column], fmt: str) -> Iterator[bytes]:
    handle, name = tempfile.mkstemp(prefix="allmende-", suffix=".xlsx")
    os.close(handle)
    try:
        _write_xlsx(name, source, columns)
        with open(name, "rb") as file:
            while chunk := file.read(FILE_CHUNK):
                yield chunk
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _write_xlsx(name: str, source: _Source, columns: Sequence[Column]) -> None:
    # imported here: every process's start would spend some 50 ms on a library that only an
    # Excel download uses
    import xlsxwriter

    workbook = xlsxwriter.Workbook(name, {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "tmpdir": tempfile.gettempdir()})
    # The same selection of a version is the same file, byte for byte (caches and checksums
    # rely on it): the workbook is dated by the version's file, not by the clock.
    workbook.set_properties({"created": datetime.fromtimestamp(os.path.getmtime(source.path),
                                                               UTC)})
    try:
        sheet = workbook.add_worksheet("Daten")
        bold = workbook.add_format({"bold": True})
        formats = {"date": workbook.add_format({"num_format": "dd.mm.yyyy"}),
                   "datetime": workbook.add_format({"num_format": "dd.mm.yyyy hh:mm:ss"}),
                   "time": workbook.add_format({"num_format": "hh:mm:ss"})}
        for col, column in enumerate(columns):
            sheet.write_string(0, col, column.name, bold)
        row = 1
        with source.reader() as reader:
            for batch in reader:
                values = [column_values(batch.column(i), c.type, "xlsx")
                          for i, c in enumerate(columns)]
                for record in zip(*values, strict=True):
                    for col, value in enumerate(record):
                        _write_cell(sheet, row, col, value, formats)
                    row += 1
    finally:
        workbook.close()


def _write_cell(sheet: Any, row: int, col: int, value: Any, formats: dict[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int):
        if abs(value) > 2**53:  # beyond what Excel's doubles hold exactly
            sheet.write_string(row, col, str(value))
        else:
            sheet.write_number(row, col, value)
    elif isinstance(value, float):
        if math.isfinite(value):
            sheet.write_number(row, col, value)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats["date"])
    elif isinstance(value, time):
        sheet.write_datetime(row, col, value, formats["time"])
    else:
        text = value if isinstance(value, str) else str(value)
        sheet.write_string(row, col, text[:XLSX_MAX_STRING])
