"""Builds a table version from a source file: read → type → geometry → Parquet.

Works in a scratch folder with its own DuckDB connection; nothing is visible until
``ingest.service`` publishes the result. Large tables are typed on a sample and written with
guards; when a guard fails, the write is repeated with types decided on every value (see
``ingest.values``), so the result is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from allmende import sql
from allmende.errors import TEMPLATE_KEY, Invalid, Message, msg
from allmende.ingest import geo, readers
from allmende.ingest.sniff import ReadOptions, Warning_
from allmende.ingest.values import (
    ColumnType,
    confirm,
    decide_column_types,
    is_guard_failure,
    typed_query,
)
from allmende.privacy import detect
from allmende.privacy.detect import Finding
from allmende.tables import store

Progress = Callable[[float, str], None]
GEOMETRY = "geometry"


@dataclass
class BuiltTable:
    parquet: Path
    rows: int
    columns: list[dict[str, str]]
    crs: str | None
    source_format: str
    report: dict[str, Any]
    warnings: list[Warning_] = field(default_factory=list)
    #: columns that probably hold personal data (privacy.detect; never their values)
    personal_data: list[Finding] = field(default_factory=list)


def _no_checkpoint(_phase: str) -> None:
    return None


def build(source: Path, original_name: str, options: ReadOptions, work_dir: Path,
          area: Sequence[float] | None, progress: Progress,
          checkpoint: Callable[[str], None] = _no_checkpoint) -> BuiltTable:
    """Read, type and write the file; ``checkpoint`` marks the phases (reading, typing,
    writing) for whoever runs the build (jobs.attempt)."""
    try:
        with store.connection(work_dir / "duckdb") as con:
            progress(0.05, msg("Datei wird gelesen"))
            checkpoint("reading")
            raw = readers.read(con, source, original_name, options, work_dir)
            rows = con.execute(sql.select("count(*)", sql.ident(raw.relation))).fetchall()[0][0]
            if rows == 0:
                raise Invalid(msg("{name} enthält keine Datenzeilen.", name=original_name),
                              code="no_rows")
            progress(0.45, msg("Spaltentypen werden erkannt"))
            checkpoint("typing")
            types = decide_column_types(con, raw.relation, raw.labels, rows)
            personal = detect.scan(con, raw.relation, raw.labels, rows)
            target = work_dir / "version.parquet"
            checkpoint("writing")
            try:
                written = _write(con, raw, types, options, area, target, progress)
            except duckdb.Error as error:
                if not is_guard_failure(error):
                    raise
                types = confirm(con, raw.relation, types)
                written = _write(con, raw, types, options, area, target, progress)
            notes = {t.name: t.note for t in types if t.note}
            report = {**raw.report, "notes": notes, **_note_templates(notes)}
            return BuiltTable(target, rows, written.columns, written.crs, raw.source_format, report,
                              raw.warnings + written.warnings, personal)
    except duckdb.OutOfMemoryException:
        raise Invalid(msg("{name} braucht beim Einlesen mehr als {limit} Arbeitsspeicher; die "
                          "vorherige Version bleibt unverändert. Sehr breite oder sehr große "
                          "Dateien teilen Sie am besten auf.", name=original_name,
                          limit=store.DUCKDB_MEMORY_LIMIT), code="out_of_memory") from None


def _note_templates(notes: dict[str, str]) -> dict[str, Any]:
    """The templates of the notes that have parameters, so that the version's page can show
    them in English too (``web.i18n.localized_report``)."""
    templates = {name: note.to_json() for name, note in notes.items()
                 if isinstance(note, Message)}
    return {TEMPLATE_KEY: {"notes": templates}} if templates else {}


@dataclass
class _Written:
    columns: list[dict[str, str]]
    crs: str | None
    warnings: list[Warning_]


@dataclass
class _Points:
    """Point geometries the write computes itself, from two coordinate columns in ``crs``."""

    x: str
    y: str
    crs: str
    warnings: list[Warning_]


def _write(con: duckdb.DuckDBPyConnection, raw: readers.RawTable, types: list[ColumnType],
           options: ReadOptions, area: Sequence[float] | None, target: Path,
           progress: Progress) -> _Written:
    """Geometry (from the reader, else from coordinate or WKT columns) and the typed Parquet
    file."""
    geometry = raw.geometry or _geometry_from_columns(con, raw.relation, types, options, area)
    progress(0.7, msg("Version wird geschrieben"))
    columns = [{"name": t.name, "type": t.type} for t in types]
    query = typed_query(types, raw.relation)
    if geometry is None:
        store.write_parquet(con, query, target)
        return _Written(columns, None, [])
    name = _geometry_name(raw.labels)
    warnings = list(geometry.warnings)
    if isinstance(geometry, _Points):
        _write_points(con, query, [t.name for t in types], geometry, name, target)
        warnings += _unplaced(con, target, geometry, name)
    else:
        beside = pa.table({name: geometry.wkb, **geometry.envelope})
        store.write_parquet(con, query, target, beside,
                            order=[t.name for t in types] + beside.column_names)
    columns.append({"name": name, "type": "geometry"})
    return _Written(columns, geometry.crs, warnings + _outside(con, target, area))


def _geometry_name(labels: list[str]) -> str:
    """``geometry``, or where the source has a column of that name (in any case) ``geometry
    (WGS84)``, numbered if need be."""
    taken = {label.casefold() for label in labels}
    names = [GEOMETRY, f"{GEOMETRY} (WGS84)"]
    names += [f"{GEOMETRY} (WGS84) ({number})" for number in range(2, len(labels) + 2)]
    return next(name for name in names if name.casefold() not in taken)


POINT_FUNCTION = "allmende_wgs84_point"


def _write_points(con: duckdb.DuckDBPyConnection, query: str, names: list[str],
                  points: _Points, geometry: str, target: Path) -> None:
    """The typed rows with their point geometry, computed batch by batch inside the query."""
    struct = ", ".join(f"{sql.ident(f)} {'BLOB' if f == 'wkb' else 'DOUBLE'}"
                       for f in geo.POINT_FIELDS)
    con.create_function(POINT_FUNCTION, geo.point_function(points.crs),
                        [duckdb.sqltype("DOUBLE")] * 2, duckdb.sqltype(f"STRUCT({struct})"),
                        type="arrow")
    try:
        taken = {name.casefold() for name in names}  # DuckDB compares names case-blind
        point = next(f"__point{i}" for i in range(len(names) + 1) if f"__point{i}" not in taken)
        located = sql.select(["*", f"{POINT_FUNCTION}({sql.ident(points.x)}::DOUBLE, "
                                   f"{sql.ident(points.y)}::DOUBLE) AS {sql.ident(point)}"],
                             f"({query})")
        fields = [f"{sql.ident(point)}.wkb AS {sql.ident(geometry)}"]
        fields += [f"{sql.ident(point)}.{sql.ident(e)} AS {sql.ident(e)}" for e in geo.ENVELOPE]
        with _calling_thread_only(con, points.crs != geo.WGS84):
            store.write_parquet(con, sql.select([*map(sql.ident, names), *fields],
                                                f"({located})"), target)
    finally:
        con.remove_function(POINT_FUNCTION)


@contextmanager
def _calling_thread_only(con: duckdb.DuckDBPyConnection, needed: bool) -> Iterator[None]:
    """DuckDB runs the query on the calling thread alone (``needed``: the point function
    reprojects). pyproj, called by DuckDB from its own threads - whose Python thread states
    come and go with every call - crashed the process now and then (SIGSEGV in a third to a
    half of the ingests of a CSV with 5,000 to 300,000 UTM coordinates)."""
    if not needed:
        yield
        return
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute("SET threads = ?", [threads])


def _first_rows(con: duckdb.DuckDBPyConnection, target: Path, where: str,
                parameters: Sequence[float] = ()) -> tuple[int, str]:
    """How many rows of the written file meet ``where``, and the numbers of the first five
    (data rows from 1) as text."""
    count, first = con.execute(sql.select(
        ["count(*)", "list(file_row_number + 1 ORDER BY file_row_number)[1:5]"],
        sql.table_function("read_parquet", str(target), file_row_number=True), where=where),
        list(parameters)).fetchall()[0]
    return count, ", ".join(str(row) for row in first or []) + (" …" if count > 5 else "")


def _unplaced(con: duckdb.DuckDBPyConnection, target: Path, points: _Points,
              geometry: str) -> list[Warning_]:
    """Rows whose coordinates are no place on earth keep them, without a geometry."""
    count, rows = _first_rows(con, target, f"{sql.ident(geometry)} IS NULL AND "
                                           f"{sql.ident(points.x)} IS NOT NULL AND "
                                           f"{sql.ident(points.y)} IS NOT NULL")
    if not count:
        return []
    return [Warning_("coordinates_off_earth", msg(
        "{count} Zeilen haben Koordinaten in {x}/{y}, die in {crs} keinen Ort auf der Erde "
        "ergeben; ihre Geometrie bleibt leer, die übrigen Werte sind übernommen (Datenzeilen "
        "{rows}). Bitte prüfen Sie die Koordinaten.", count=count, x=points.x, y=points.y,
        crs=points.crs, rows=rows))]


def _outside(con: duckdb.DuckDBPyConnection, target: Path,
             area: Sequence[float] | None) -> list[Warning_]:
    """Geometries beyond the organization's area are kept, and pointed out."""
    if not area:
        return []
    minx, miny, maxx, maxy = (sql.ident(n) for n in geo.ENVELOPE)
    outside = f"{maxx} < ? OR {minx} > ? OR {maxy} < ? OR {miny} > ?"
    count, rows = _first_rows(con, target, outside, [area[0], area[2], area[1], area[3]])
    if not count:
        return []
    return [Warning_("outside_area", msg(
        "{count} Geometrien liegen außerhalb des Gebiets der Organisation (Datenzeilen "
        "{rows}). Bitte prüfen Sie die Koordinaten.", count=count, rows=rows))]


def _geometry_from_columns(con: duckdb.DuckDBPyConnection, relation: str,
                           types: list[ColumnType], options: ReadOptions,
                           area: Sequence[float] | None) -> _Points | geo.Geometries | None:
    pairs = [(t.name, t.type) for t in types]
    by_name = {t.name: t for t in types}
    coordinates = geo.find_coordinate_columns(pairs)
    if coordinates:
        x, y = (by_name[c] for c in coordinates)
        # the CRS is told by the first points (geo.guess_crs looks at 2,000)
        converted = sql.select([f"({x.expression})::DOUBLE AS x",
                                f"({y.expression})::DOUBLE AS y"], sql.ident(relation))
        first = con.execute(sql.select(["x", "y"], f"({converted})",
                                       where="isfinite(x) AND isfinite(y)", limit=2000)
                            ).fetchnumpy()
        found = geo.points(first["x"], first["y"], list(coordinates), options, area)
        if found is not None:
            return _Points(x.name, y.name, found.crs, found.warnings)
    column = geo.find_geometry_column(
        pairs, _samples(con, relation, [t.name for t in types if t.type == "string"]))
    if column is None:
        return None
    values = [r[0] for r in con.execute(
        sql.select(sql.ident(column), sql.ident(relation))).fetchall()]
    return geo.from_text(values, column, options, area)


SAMPLE_VALUES = 20
HEAD_ROWS = 1000


def _samples(con: duckdb.DuckDBPyConnection, relation: str, names: list[str]
             ) -> dict[str, list[str]]:
    """The first values of each column (up to :data:`SAMPLE_VALUES`), from the table's first
    rows in one query; only a column without values there gets a query of its own (a query
    per column cost seconds on wide tables)."""
    if not names:
        return {}
    head = con.execute(sql.select(sql.idents(names), sql.ident(relation),
                                  limit=HEAD_ROWS + 1)).fetchall()
    samples = {name: [row[i] for row in head if row[i] is not None][:SAMPLE_VALUES]
               for i, name in enumerate(names)}
    for name in [n for n, values in samples.items() if not values and len(head) > HEAD_ROWS]:
        samples[name] = [r[0] for r in con.execute(sql.select(
            sql.ident(name), sql.ident(relation), where=f"{sql.ident(name)} IS NOT NULL",
            limit=SAMPLE_VALUES)).fetchall()]
    return samples
