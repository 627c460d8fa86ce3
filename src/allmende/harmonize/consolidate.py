"""Harmonized tables as Parquet, and their union into one regional table.

A *harmonized table* is one source's table version mapped onto a schema: one typed column per
schema field (NULL where a cell is empty or invalid; the quality report says which), a WGS84
``geometry`` column with its envelope when the schema locates its rows, and the provenance
columns :data:`PROVENANCE`. The *regional table* is the union of the harmonized tables of all
sources of a schema, with duplicates resolved on the schema's primary key:

    the row of the newest source (``quelle_stand``: when its table version was published),
    then of the higher table version (``quelle_version``), then the first row of that source.

Rows whose key has an empty field are all kept: nothing says they are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from allmende import sql
from allmende.harmonize.registry import primary_key
from allmende.harmonize.validate import register_functions, typed_expressions
from allmende.ingest import geo
from allmende.tables import store
from allmende.tables.schema import ENVELOPE_COLUMNS, SOURCE_DATASET

GEOMETRY = "geometry"
#: Provenance columns of every harmonized and regional row, with their table types.
PROVENANCE: dict[str, str] = {
    "quelle_organisation": "string",
    "quelle_ags": "string",
    SOURCE_DATASET: "string",
    "quelle_version": "integer",
    "quelle_zeile": "integer",
    "quelle_stand": "datetime",
}
_TABLE_TYPES = {"integer": "integer", "year": "integer", "number": "number",
                "boolean": "boolean", "date": "date", "datetime": "datetime", "time": "time",
                "geometry": "geometry"}
_CASTS = {"integer": "BIGINT", "number": "DOUBLE", "string": "VARCHAR"}
# DuckDB types of the table types, for a table without rows
_DUCK_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE",
               "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMPTZ", "time": "TIME",
               "geometry": "BLOB"}


@dataclass(frozen=True)
class Provenance:
    organization: str
    ags: str | None
    dataset: str
    version: int
    published: Any  # datetime of the table version


def table_columns(schema: Mapping[str, Any]) -> list[dict[str, str]]:
    """The columns of a harmonized (and regional) table: schema fields, geometry, provenance."""
    columns = [{"name": f["name"], "type": _TABLE_TYPES.get(f.get("type", "string"), "string")}
               for f in schema["fields"]]
    if not any(c["type"] == "geometry" for c in columns) and _coordinates(schema):
        columns.append({"name": GEOMETRY, "type": "geometry"})
    return columns + [{"name": n, "type": t} for n, t in PROVENANCE.items()]


def _coordinates(schema: Mapping[str, Any]) -> tuple[str, str] | None:
    pair = (schema.get("x-allmende") or {}).get("coordinates") or {}
    return (pair["lon"], pair["lat"]) if "lon" in pair and "lat" in pair else None


def _typed_select(schema: Mapping[str, Any]) -> list[str]:
    typed = typed_expressions(schema)
    select = []
    for spec in schema["fields"]:
        kind = spec.get("type", "string")
        cast = _CASTS.get(_TABLE_TYPES.get(kind, "string"))
        if kind == "geometry":
            continue  # parsed below, in Python, into WKB
        expression = f"CAST({typed[spec['name']]} AS {cast})" if cast else typed[spec["name"]]
        select.append(f"{expression} AS {sql.ident(spec['name'])}")
    return select


def _geometries(con: duckdb.DuckDBPyConnection, schema: Mapping[str, Any]
                ) -> geo.Geometries | None:
    """WGS84 geometries of the rows of ``__cells``/``__typed``: the schema's geometry field
    (WKT or GeoJSON), else, or where it is empty, the point of its coordinate pair."""
    field = next((f["name"] for f in schema["fields"] if f.get("type") == "geometry"), None)
    pair = _coordinates(schema)
    if field is None and pair is None:
        return None
    count = con.execute("SELECT count(*) FROM __typed").fetchall()[0][0]
    shapes = np.full(count, None, dtype=object)
    if field is not None:
        texts = con.execute(sql.select(f"{typed_expressions(schema)[field]} AS g", "__cells")
                            ).fetchnumpy()["g"]
        shapes = _parse_geometries(np.asarray(texts, dtype=object))
    if pair is not None:
        arrays = con.execute(sql.select([f"{sql.ident(pair[0])}::DOUBLE AS lon",
                                         f"{sql.ident(pair[1])}::DOUBLE AS lat"], "__typed")
                             ).fetchnumpy()
        lon = np.asarray(arrays["lon"], dtype=np.float64)
        lat = np.asarray(arrays["lat"], dtype=np.float64)
        located = (shapes == None) & np.isfinite(lon) & np.isfinite(lat)  # noqa: E711
        shapes[located] = shapely.points(lon[located], lat[located])
    return geo.geometries_from(shapes, geo.WGS84, [field or GEOMETRY], [])


def _parse_geometries(texts: np.ndarray) -> np.ndarray:
    present = np.array([isinstance(t, str) and t.strip() != "" for t in texts], dtype=bool)
    shapes = np.full(len(texts), None, dtype=object)
    geojson = present & np.array([isinstance(t, str) and t.lstrip().startswith("{")
                                  for t in texts], dtype=bool)
    wkt = present & ~geojson
    if wkt.any():
        shapes[wkt] = shapely.from_wkt(texts[wkt], on_invalid="ignore")
    if geojson.any():
        shapes[geojson] = shapely.from_geojson(texts[geojson], on_invalid="ignore")
    return shapes


def write_harmonized(con: duckdb.DuckDBPyConnection, mapped: str, row_column: str,
                     schema: Mapping[str, Any], provenance: Provenance, target: Path) -> int:
    """Write the mapped VARCHAR table ``mapped`` (schema field columns plus ``row_column``,
    the source's data row) typed, with geometry and provenance, as Parquet; returns rows."""
    register_functions(con)
    con.execute(sql.create_table("__cells", sql.select("*", sql.ident(mapped),
                                                       order_by=sql.ident(row_column))))
    con.execute(sql.create_table("__typed", sql.select(
        [*_typed_select(schema), f"{sql.ident(row_column)}::BIGINT AS quelle_zeile"],
        "__cells")))
    geometries = _geometries(con, schema)
    provenance_values = {
        "quelle_organisation": f"{sql.literal(provenance.organization)}::VARCHAR",
        "quelle_ags": f"{sql.literal(provenance.ags)}::VARCHAR",
        "quelle_datensatz": f"{sql.literal(provenance.dataset)}::VARCHAR",
        "quelle_version": f"{sql.number(int(provenance.version))}::BIGINT",
        "quelle_stand": sql.literal(provenance.published),
    }
    columns = table_columns(schema)
    select = [f"{provenance_values[c['name']]} AS {sql.ident(c['name'])}"
              if c["name"] in provenance_values else sql.ident(c["name"])
              for c in columns if c["type"] != "geometry"]
    names = [c["name"] for c in columns]
    beside = None
    if geometries is not None:  # named like the schema's geometry field (or "geometry")
        located = next(c["name"] for c in columns if c["type"] == "geometry")
        beside = pa.table({located: geometries.wkb, **geometries.envelope})
        names += list(ENVELOPE_COLUMNS)
    store.write_parquet(con, sql.select(select, "__typed"), target, beside, order=names)
    return con.execute("SELECT count(*) FROM __typed").fetchall()[0][0]


@dataclass
class Consolidated:
    rows: int
    duplicates: int
    rows_per_source: dict[str, int]


def consolidate_files(sources: Sequence[Path], schema: Mapping[str, Any], target: Path,
                      memory_limit: str = "1GB") -> Consolidated:
    """Union of harmonized tables with duplicates resolved (module docstring) into ``target``."""
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        files = sql.table_function("read_parquet", [str(p) for p in sources],
                                   union_by_name=True)
        con.execute(sql.create_view("__union", sql.select("*", files)))
        key = primary_key(dict(schema))
        keep = "true"
        if key:
            incomplete = " OR ".join(f"{sql.ident(k)} IS NULL" for k in key)
            keep = (f"({incomplete}) OR row_number() OVER (PARTITION BY {sql.idents(key)} "
                    "ORDER BY quelle_stand DESC, quelle_version DESC, quelle_datensatz, "
                    "quelle_zeile) = 1")
        con.execute(sql.create_table("__regional", sql.select(
            "*", "__union", qualify=keep,
            order_by="quelle_organisation, quelle_datensatz, quelle_zeile")))
        store.write_parquet(con, "SELECT * FROM __regional", target)
        total = con.execute("SELECT count(*) FROM __union").fetchall()[0][0]
        per_source = dict(con.execute("SELECT quelle_datensatz, count(*) FROM __regional "
                                      "GROUP BY ALL").fetchall())
        kept = sum(per_source.values())
        return Consolidated(kept, total - kept, per_source)
    finally:
        con.close()


def write_empty(schema: Mapping[str, Any], target: Path) -> Consolidated:
    """A regional table without sources: the columns, no rows."""
    columns = [f"NULL::{_DUCK_TYPES[c['type']]} AS {sql.ident(c['name'])}"
               for c in table_columns(schema)]
    store.write_parquet(duckdb.connect(), sql.select(columns, limit=0), target)
    return Consolidated(0, 0, {})
