"""Readers: each turns one file format into a DuckDB table of text columns named by the
source's own labels, plus (for geo formats) WGS84 geometries. Typing happens afterwards, the
same way for every format."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import shutil
import warnings as warnings_module
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from allmende import sql
from allmende.errors import Invalid, msg
from allmende.ingest.geo import (
    FEATURES,
    OBJECTS,
    WGS84,
    Geometries,
    geometries_from,
    legacy_crs,
    parse_crs,
)
from allmende.ingest.sniff import (
    ReadOptions,
    TextLayout,
    Warning_,
    header_position,
    labels_from,
    sniff_text,
    unique_labels,
)
from allmende.ingest.values import LIST_COLUMNS

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
JSON_SUFFIXES = {".json"}
GEOJSON_SUFFIXES = {".geojson"}
GEO_SUFFIXES = {".gpkg", ".zip", ".shp"}
MAX_COLUMNS = 2000
SPARE_COLUMNS = 4
RAW = "raw"


@dataclass
class RawTable:
    """Text columns in DuckDB (table ``relation``), with what the reader found out."""

    relation: str
    labels: list[str]
    source_format: str
    report: dict[str, Any] = field(default_factory=dict)
    warnings: list[Warning_] = field(default_factory=list)
    # WGS84 geometries in row order, for geo formats
    geometry: Geometries | None = None


def source_format(path: Path, original_name: str) -> str:
    suffix = Path(original_name).suffix.lower()
    for formats, name in ((TEXT_SUFFIXES, "csv"), (EXCEL_SUFFIXES, "excel"),
                          (GEOJSON_SUFFIXES, "geojson"), (GEO_SUFFIXES, "geo")):
        if suffix in formats:
            return name
    if suffix in JSON_SUFFIXES:
        with path.open("rb") as handle:
            head = handle.read(4096)
        return "geojson" if b'"FeatureCollection"' in head or b'"Feature"' in head else "json"
    raise Invalid(msg("Das Format von {name} wird nicht unterstützt. Möglich sind CSV, "
                      "TSV, TXT, Excel (XLSX, XLS, ODS), JSON, GeoJSON, GeoPackage und gezippte "
                      "Shapefiles.", name=original_name), code="unknown_format")


def read(con: duckdb.DuckDBPyConnection, path: Path, original_name: str,
         options: ReadOptions, work_dir: Path) -> RawTable:
    kind = source_format(path, original_name)
    if kind == "csv":
        return read_text(con, path, original_name, options, work_dir)
    if kind == "excel":
        return read_excel(con, path, original_name, options)
    if kind == "json":
        return read_json(con, path, original_name)
    if kind == "geojson":
        return read_geojson(con, path, original_name, options)
    return read_geo_file(con, path, original_name, options, work_dir)


def _utf8_copy(path: Path, encoding: str, work_dir: Path) -> Path:
    """DuckDB reads UTF-8; other encodings are transcoded in a streaming pass."""
    if encoding in ("utf-8", "utf-8-sig"):
        return path
    target = work_dir / "source.utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        while chunk := source.read(8 << 20):
            out.write(decoder.decode(chunk))
        out.write(decoder.decode(b"", final=True))
    return target


def read_text(con: duckdb.DuckDBPyConnection, path: Path, original_name: str,
              options: ReadOptions, work_dir: Path) -> RawTable:
    layout = sniff_text(path, options, original_name)
    check_width(original_name, len(layout.labels))
    source = _utf8_copy(path, layout.encoding, work_dir)
    # Rows longer than the header get spare columns, at most one beyond the limit: a value
    # there means the table is too wide.
    room = MAX_COLUMNS - len(layout.labels) + 1
    spare = _spare_names(layout.labels, min(SPARE_COLUMNS, room))
    while True:
        _load_csv(con, source, layout, layout.labels + spare, original_name)
        overflow = con.execute(sql.select("count(*)", sql.ident(RAW),
                                          where=f"{sql.ident(spare[-1])} IS NOT NULL")
                               ).fetchall()[0][0]
        if not overflow:
            break
        if len(spare) == room:
            raise Invalid(msg("In {name} haben Zeilen mehr als {maximum} Felder; erlaubt sind "
                              "höchstens {maximum} Spalten.", name=original_name,
                              maximum=MAX_COLUMNS), code="too_many_columns")
        spare = _spare_names(layout.labels, min(2 * (len(layout.labels) + len(spare)) -
                                                len(layout.labels), room))
    labels = _name_spare_columns(con, layout.labels, spare)
    _drop_footer(con, layout.footer_rows)
    warnings = list(layout.warnings) + fill_down(con, labels, options)
    if len(labels) > len(layout.labels):
        warnings.append(Warning_("extra_fields", (
            f"Einige Zeilen haben mehr Felder als die Kopfzeile; die zusätzlichen Werte stehen "
            f"in den Spalten {', '.join(labels[len(layout.labels):])}.")))
    return RawTable(RAW, labels, "csv", layout.report(), warnings)


def check_width(name: str, columns: int, sheet: str | None = None) -> None:
    """Refuse a table wider than :data:`MAX_COLUMNS` before any work is done on its values."""
    if columns <= MAX_COLUMNS:
        return
    if sheet is None:
        raise Invalid(msg("{name} hat {columns} Spalten; erlaubt sind höchstens {maximum}.",
                          name=name, columns=columns, maximum=MAX_COLUMNS),
                      code="too_many_columns")
    raise Invalid(msg("Das Tabellenblatt „{sheet}“ in {name} hat {columns} Spalten; erlaubt "
                      "sind höchstens {maximum}.", sheet=sheet, name=name, columns=columns,
                      maximum=MAX_COLUMNS), code="too_many_columns")


def _load_csv(con: duckdb.DuckDBPyConnection, source: Path, layout: TextLayout,
              names: list[str], original_name: str) -> None:
    """The records after the header as table ``raw`` with a text column per name, blank rows
    left out."""
    columns = "{" + ", ".join(f"{sql.string(f'c{i}')}: 'VARCHAR'"
                              for i in range(len(names))) + "}"
    parameters = [str(source), layout.delimiter, layout.header_lines]

    def load(parallel: bool) -> None:
        csv = ("read_csv(?, auto_detect=false, delim=?, quote='\"', escape='\"', header=false, "
               f"skip=?, null_padding=true, strict_mode=false, "
               f"parallel={str(parallel).lower()}, columns={columns})")
        con.execute(_create_raw(names, csv, keep_blank=False), parameters)

    try:
        load(parallel=True)
    except duckdb.Error as error:
        if "parallel" not in str(error):
            raise _csv_error(error, original_name) from None
        try:  # quoted line breaks together with short rows need the sequential reader
            load(parallel=False)
        except duckdb.Error as retry_error:
            raise _csv_error(retry_error, original_name) from None


# An absolute path in a library's message: not after a letter, digit or dot (km/h, 1/2, n/a).
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^\s'\"/:;,()]+/)*[^\s'\"/:;,()]+")


def library_text(error: BaseException, name: str) -> str:
    """What a library (DuckDB, GDAL, calamine) said, for the person uploading: the first line,
    every path in it replaced by the file's name (uploads are staged under other names, in
    folders of the server that are nobody's business)."""
    lines = str(error).strip().splitlines()
    return ABSOLUTE_PATH.sub(name, lines[0]) if lines else type(error).__name__


def _csv_error(error: duckdb.Error, original_name: str) -> Invalid:
    text = str(error)
    line = re.search(r"Line: (\d+)", text)
    problem = library_text(error, original_name)
    if line:
        return Invalid(msg("{name} lässt sich in Zeile {line} nicht als CSV lesen: {problem}",
                           name=original_name, line=line.group(1), problem=problem),
                       code="unreadable_csv")
    return Invalid(msg("{name} lässt sich nicht als CSV lesen: {problem}", name=original_name,
                       problem=problem), code="unreadable_csv")


def _create_raw(names: list[str], source: str, keep_blank: bool) -> str:
    """``CREATE TABLE raw`` from ``source``, whose columns ``c0``, ``c1`` … become ``names``, in
    one copy: blank rows are left out on the way (not for geo formats, whose rows belong to
    geometries)."""
    columns = [f"c{i} AS {sql.ident(name)}" for i, name in enumerate(names)] or ["*"]
    not_blank = None if keep_blank or not names else _not_blank(len(names))
    return sql.create_table(RAW, sql.select(columns, source, where=not_blank))


def _not_blank(width: int) -> str:
    """SQL true for a row of ``c0`` … ``c{width-1}`` with a cell that is not blank. Wide rows
    are tested as one list, so that the query does not grow with the columns (see
    ``values.LIST_COLUMNS``); narrow ones stop at the first filled cell."""
    cells = [f"c{i}" for i in range(width)]
    if width >= LIST_COLUMNS:
        return f"list_bool_or(list_transform([{', '.join(cells)}], lambda c: trim(c) <> ''))"
    return "COALESCE(" + ", ".join(f"NULLIF(trim({c}), '')" for c in cells) + ") IS NOT NULL"


def _spare_names(labels: list[str], count: int) -> list[str]:
    """Names for the columns beyond the header, unlike every label."""
    taken = {label.casefold() for label in labels}
    prefix = "__spare"
    while any(name.startswith(prefix) for name in taken):
        prefix = "_" + prefix
    return [f"{prefix}{i}" for i in range(count)]


def _name_spare_columns(con: duckdb.DuckDBPyConnection, labels: list[str],
                        spare: list[str]) -> list[str]:
    """The labels with ``Spalte N`` for the spare columns that hold values (rows longer than
    the header); the other spare columns are dropped."""
    filled = con.execute(sql.select([f"count({sql.ident(s)})" for s in spare],
                                    sql.ident(RAW))).fetchall()[0]
    used = max((i + 1 for i, n in enumerate(filled) if n), default=0)
    extra = [f"Spalte {len(labels) + i + 1}" for i in range(used)]
    for name, label in zip(spare, extra, strict=False):
        con.execute(f"ALTER TABLE {RAW} RENAME COLUMN {sql.ident(name)} TO {sql.ident(label)}")
    for name in spare[used:]:
        con.execute(f"ALTER TABLE {RAW} DROP COLUMN {sql.ident(name)}")
    return labels + extra


def _drop_footer(con: duckdb.DuckDBPyConnection, footer_rows: int) -> None:
    """Remove the last rows (notes such as "Stand: …" after the data); DuckDB keeps the
    insertion order, so they are the rows with the highest rowids."""
    if footer_rows:
        con.execute("DELETE FROM raw WHERE rowid IN "
                    "(SELECT rowid FROM raw ORDER BY rowid DESC LIMIT ?)", [footer_rows])


MAX_MERGED_COLUMNS = 6
#: Share of rows that must follow the merged-cell pattern: real exports have a few exceptions.
MERGED_AGREEMENT = 0.9


def _blank(label: str) -> str:
    return f"(NULLIF(trim({sql.ident(label)}), '') IS NULL)"


def merged_block(con: duckdb.DuckDBPyConnection, labels: list[str]) -> tuple[list[str], int]:
    """The leading columns that look like merged cells of an Excel export, and the number of
    continuation rows (rows whose first column is blank while the rest holds values): in
    continuation rows the block is (nearly always) blank, in the other rows it is (nearly
    always) filled, and the first row is no continuation. Only a block of two or more columns
    counts, so that a column that is merely optional is not mistaken for merged cells."""
    candidates = labels[:min(len(labels) - 1, MAX_MERGED_COLUMNS)]
    if not candidates:
        return [], 0
    first = _blank(candidates[0])
    # A cheap look at the first column first: most tables have no blank cell there.
    first_row = sql.select(first, sql.ident(RAW), order_by="rowid", limit=1)
    total, continuation, first_is_blank = con.execute(sql.select(
        ["count(*)", f"count(*) FILTER (WHERE {first})", f"({first_row})"], sql.ident(RAW)
    )).fetchall()[0]
    if not continuation or first_is_blank:
        return [], 0
    counts = con.execute(sql.select([
        f"count(*) FILTER (WHERE {first} AND {_blank(label)}), "
        f"count(*) FILTER (WHERE NOT {first} AND NOT {_blank(label)})"
        for label in candidates], sql.ident(RAW))).fetchall()[0]
    width = 0
    for blank_in_continuation, filled_elsewhere in zip(counts[::2], counts[1::2], strict=True):
        if (blank_in_continuation < MERGED_AGREEMENT * continuation
                or filled_elsewhere < MERGED_AGREEMENT * (total - continuation)):
            break
        width += 1
    return candidates[:width], continuation


def fill_down(con: duckdb.DuckDBPyConnection, labels: list[str],
              options: ReadOptions) -> list[Warning_]:
    """Fill the blank cells of the merged-cell block in continuation rows from the rows above
    (see :func:`merged_block`); ``options.fill_down`` False switches it off, True also accepts
    a block of one column."""
    if options.fill_down is False:
        return []
    block, rows = merged_block(con, labels)
    if len(block) < (1 if options.fill_down else 2):
        return []
    continuation = _blank(block[0])

    def filled(label: str) -> str:
        column = sql.ident(label)
        above = (f"last_value(NULLIF(trim({column}), '') IGNORE NULLS) OVER "
                 "(ORDER BY rowid ROWS UNBOUNDED PRECEDING)")
        return f"CASE WHEN {continuation} THEN coalesce(NULLIF(trim({column}), ''), {above}) " \
               f"ELSE {column} END AS {column}"

    columns = [filled(label) if label in block else sql.ident(label) for label in labels]
    numbered = sql.select([*columns, "rowid AS __row"], sql.ident(RAW))
    con.execute(sql.create_table("raw_filled", sql.select("* EXCLUDE (__row)", f"({numbered})",
                                                          order_by="__row")))
    con.execute("DROP TABLE raw")
    con.execute("ALTER TABLE raw_filled RENAME TO raw")
    names = ", ".join(f"„{label}“" for label in block)
    return [Warning_("filled_down", (
        f"{rows} Folgezeilen ohne Werte in {names} (verbundene Zellen aus Excel): die leeren "
        "Zellen wurden aus der Zeile darüber übernommen."))]


def _cell_text(value: Any) -> str | None:
    """Excel and JSON cells as text in a form the typing recognizes."""
    if type(value) is str:  # the most common cells first: a table has millions
        return value or None
    if type(value) is int:
        return str(value)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _load_rows(con: duckdb.DuckDBPyConnection, labels: list[str],
               rows: Iterable[list[Any]], keep_blank: bool = False) -> None:
    width = len(labels)
    cells = [row[:width] if len(row) >= width else [*row, *[None] * (width - len(row))]
             for row in rows]
    columns = zip(*cells, strict=True) if cells else [() for _ in labels]
    table = pa.table({f"c{i}": pa.array(list(map(_cell_text, column)), pa.string())
                      for i, column in enumerate(columns)})
    con.register("raw_arrow", table)
    con.execute(_create_raw(labels, "raw_arrow", keep_blank))
    con.unregister("raw_arrow")


def read_excel(con: duckdb.DuckDBPyConnection, path: Path, original_name: str,
               options: ReadOptions) -> RawTable:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises its own error types for broken files
        raise Invalid(msg("{name} lässt sich nicht als Excel-Datei öffnen: {problem}",
                          name=original_name, problem=library_text(error, original_name)),
                      code="unreadable_excel") from None
    names = workbook.sheet_names
    sheet = options.sheet or names[0]
    if sheet not in names:
        raise Invalid(msg("Das Tabellenblatt „{sheet}“ gibt es in {name} nicht; "
                          "vorhanden: {sheets}.", sheet=sheet, name=original_name,
                          sheets=", ".join(names)), code="unknown_sheet")
    rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=True)
    rows = [r for r in rows if any(c not in (None, "") for c in r)]
    if len(rows) < 2:
        raise Invalid(msg("Das Tabellenblatt „{sheet}“ in {name} enthält keine "
                          "Datenzeilen.", sheet=sheet, name=original_name), code="no_rows")
    width = max(max((i + 1 for i, c in enumerate(r) if c not in (None, "")), default=0)
                for r in rows)
    check_width(original_name, width, sheet)
    text_rows = [[_cell_text(c) or "" for c in r[:width]] for r in rows]
    header = header_position(text_rows, options, width)
    labels, warnings = labels_from(text_rows[header.title_rows:header.end], width,
                                   header.banners)
    warnings += [header.doubt] if header.doubt else []
    data = [r[:width] for r in rows[header.end:]]
    _load_rows(con, labels, data)
    warnings += fill_down(con, labels, options)
    report = {"sheet": sheet, "sheets": names, "title_rows": header.title_rows,
              "header_rows": header.rows}
    return RawTable(RAW, labels, "excel", report, warnings)


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``parent.child`` columns; lists stay JSON."""
    if not prefix and dict not in map(type, record.values()):  # most records are flat
        return record
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@contextmanager
def _nesting(original_name: str) -> Iterator[None]:
    """Python's JSON reader, the flattening and shapely recurse per level of nesting: a
    document nested a few thousand levels deep is refused, not an interpreter error."""
    try:
        yield
    except RecursionError:
        raise Invalid(msg("{name} ist zu tief verschachtelt (Objekte oder Listen in "
                          "Tausenden Ebenen ineinander); so lässt es sich nicht als Tabelle "
                          "lesen.", name=original_name), code="too_deep") from None


def _parse_json(path: Path, original_name: str, kind: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise Invalid(msg("{name} ist kein gültiges {kind}: {problem}", name=original_name,
                          kind=kind, problem=str(error)),
                      code=f"unreadable_{kind.lower()}") from None


def read_json(con: duckdb.DuckDBPyConnection, path: Path, original_name: str) -> RawTable:
    with _nesting(original_name):
        return _read_json(con, _parse_json(path, original_name, "JSON"), original_name)


def _read_json(con: duckdb.DuckDBPyConnection, document: Any, original_name: str) -> RawTable:
    if isinstance(document, dict):  # {"data": [...]} and similar wrappers
        lists = [v for v in document.values() if isinstance(v, list)]
        document = lists[0] if len(lists) == 1 else None
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise Invalid(msg("{name} enthält keine Liste von Datensätzen (JSON-Objekten).",
                          name=original_name), code="unsupported_json")
    if not document:
        raise Invalid(msg("{name} enthält keine Datensätze.", name=original_name),
                      code="no_rows")
    records = [_flatten(r) for r in document]
    keys = list(dict.fromkeys(k for r in records for k in r))
    check_width(original_name, len(keys))
    labels, warnings = unique_labels(keys)
    _load_rows(con, labels, ([r.get(k) for k in keys] for r in records))
    return RawTable(RAW, labels, "json", {"records": len(records)}, warnings)


def unpack_zip(path: Path, original_name: str, work_dir: Path,
               max_bytes: int = 4 << 30) -> Path:
    """Unpack an upload's zip safely: no paths outside the folder, no zip bombs."""
    target = work_dir / "unzipped"
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(i.file_size for i in archive.infolist())
            if total > max_bytes:
                raise Invalid(msg("{name} würde entpackt {megabytes} MB groß; das ist zu "
                                  "viel.", name=original_name, megabytes=total // (1 << 20)),
                              code="zip_too_large")
            for info in archive.infolist():
                name = Path(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                destination = target / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
    except zipfile.BadZipFile:
        raise Invalid(msg("{name} ist keine gültige ZIP-Datei.", name=original_name),
                      code="bad_zip") from None
    return target


def read_geojson(con: duckdb.DuckDBPyConnection, path: Path, original_name: str,
                 options: ReadOptions) -> RawTable:
    with _nesting(original_name):
        return _read_geojson(con, _parse_json(path, original_name, "GeoJSON"), original_name,
                             options)


def _read_geojson(con: duckdb.DuckDBPyConnection, document: Any, original_name: str,
                  options: ReadOptions) -> RawTable:
    features = document.get("features") if isinstance(document, dict) and \
        document.get("type") == "FeatureCollection" else [document]
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise Invalid(msg("{name} ist kein GeoJSON: erwartet wird eine FeatureCollection oder "
                          "ein Feature.", name=original_name), code="unsupported_geojson")
    if not features:
        raise Invalid(msg("{name} enthält keine Features.", name=original_name),
                      code="no_rows")
    crs = parse_crs(options.crs) if options.crs else (legacy_crs(document) or WGS84)
    properties = [p if isinstance(p := f.get("properties"), dict) else {} for f in features]
    keys = list(dict.fromkeys(k for p in properties for k in p))
    check_width(original_name, len(keys))
    labels, warnings = unique_labels(keys)
    geometries = np.full(len(features), None, dtype=object)
    for index, feature in enumerate(features):
        if feature.get("geometry"):
            try:
                geometries[index] = shapely.geometry.shape(feature["geometry"])
            except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
                raise Invalid(msg("Ungültige Geometrie in Feature {feature} von {name}.",
                                  feature=index + 1, name=original_name),
                              code="bad_geometry") from None
    if not keys:
        keys = labels = ["id"]
        properties = [{"id": feature.get("id", index + 1)}
                      for index, feature in enumerate(features)]
    _load_rows(con, labels, ([p.get(k) for k in keys] for p in properties), keep_blank=True)
    if crs != WGS84:
        warnings.append(Warning_("legacy_crs", f"Koordinaten in {crs} (veraltetes "
                                               "„crs“-Element) nach WGS84 umgerechnet."))
    geo = geometries_from(geometries, crs, [], [], unit=FEATURES)
    return RawTable(RAW, labels, "geojson", {"features": len(features), "crs": crs},
                    warnings, geometry=geo)


def read_geo_file(con: duckdb.DuckDBPyConnection, path: Path, original_name: str,
                  options: ReadOptions, work_dir: Path) -> RawTable:
    """GeoPackage and (zipped) Shapefile through GDAL, as shipped with pyogrio."""
    import pyogrio

    source = path
    if original_name.lower().endswith(".zip"):
        folder = unpack_zip(path, original_name, work_dir)
        shapes = sorted(folder.rglob("*.shp")) + sorted(folder.rglob("*.gpkg"))
        if not shapes:
            raise Invalid(msg("{name} enthält kein Shapefile (.shp) und kein GeoPackage.",
                              name=original_name), code="no_shapefile")
        source = shapes[0]
    elif original_name.lower().endswith(".gpkg") and path.suffix != ".gpkg":
        source = path.rename(path.with_suffix(".gpkg"))
    try:
        with warnings_module.catch_warnings():  # GDAL's notes name the server's paths
            warnings_module.simplefilter("ignore")
            check_width(original_name, len(pyogrio.read_info(str(source), layer=options.sheet)
                                            ["fields"]))
            meta, table = pyogrio.read_arrow(str(source), layer=options.sheet)
    except Invalid:
        raise
    except Exception as error:  # GDAL's errors come in many types
        raise Invalid(msg("{name} lässt sich nicht als Geodatei lesen: {problem}",
                          name=original_name, problem=library_text(error, original_name)),
                      code="unreadable_geo") from None
    geometry_name = meta.get("geometry_name") or "wkb_geometry"
    fields = [c for c in table.column_names if c != geometry_name]
    labels, warnings = unique_labels(fields)
    columns = [table.column(c).to_pylist() for c in fields]
    _load_rows(con, labels, (list(row) for row in zip(*columns, strict=True)) if labels
               else ([] for _ in range(table.num_rows)), keep_blank=True)
    crs = parse_crs(options.crs or meta.get("crs") or WGS84)
    wkb = table.column(geometry_name).to_pylist() if geometry_name in table.column_names \
        else [None] * table.num_rows
    geometries = np.array([shapely.from_wkb(w) if w else None for w in wkb], dtype=object)
    geo = geometries_from(geometries, crs, [], [], unit=OBJECTS)
    return RawTable(RAW, labels, "geo", {"features": table.num_rows, "crs": crs}, warnings,
                    geometry=geo)
