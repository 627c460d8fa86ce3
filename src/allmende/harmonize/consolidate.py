"""Harmonized tables as Parquet, and their union into one regional table.

A *harmonized table* is one source's table version mapped onto a schema: one typed column per
schema field (NULL where a cell is empty or invalid; the quality report says which), a WGS84
``geometry`` column with its envelope when the schema locates its rows, and the provenance
columns :data:`PROVENANCE`. The *regional table* is the union of the harmonized tables of all
sources of a schema, with duplicates resolved **within each organization** (keys are an
organization's own: Dortmund's id 1 and Bochum's id 1 are two objects):

- rows with the same primary key are one object;
- rows from two sources of one organization at the same normalized address
  (``x-allmende.address``) and at most 10 m apart are one object too (the same station in two
  uploads, once without identifiers).

Of one object the row of the newest source wins (``quelle_stand``: when its table version was
published), then of the higher table version (``quelle_version``), then the first row of that
source; the dropped rows are listed beside the kept ones as "doppelt". Rows whose key has an
empty field are kept unless their address and place match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


#: Listed duplicates per regional table (the count is always complete).
MAX_LISTED_DUPLICATES = 200
#: Two located rows of one organization nearer than this, at the same address, are one object.
SAME_PLACE_METRES = 10.0
#: The order in which rows win: the newest source, then the higher table version, then the
#: first row of that source.
RANK = "quelle_stand DESC, quelle_version DESC, quelle_datensatz, quelle_zeile"


@dataclass
class Consolidated:
    rows: int
    duplicates: int
    rows_per_source: dict[str, int]
    #: dropped rows with the row that was kept instead (at most MAX_LISTED_DUPLICATES)
    listed: list[dict[str, Any]] = field(default_factory=list)


def consolidate_files(sources: Sequence[Path], schema: Mapping[str, Any], target: Path,
                      spill: Path | None = None) -> Consolidated:
    """Union of harmonized tables with duplicates resolved (module docstring) into ``target``;
    DuckDB within tables.store.DUCKDB_MEMORY_LIMIT, spilling into ``spill``."""
    with store.connection(spill) as con:
        files = sql.table_function("read_parquet", [str(p) for p in sources],
                                   union_by_name=True)
        con.execute(sql.create_table("__union", sql.select(
            ["*", f"row_number() OVER (ORDER BY {RANK}) AS __rank"], files)))
        con.execute(sql.create_table("__dropped", " UNION ALL ".join(
            [_same_key(schema), *_same_place(con, schema)])))
        columns = [sql.ident(c) for c in _union_columns(con) if c != "__rank"]
        con.execute(sql.create_table("__regional", sql.select(
            columns, "__union", where="__rank NOT IN (SELECT dropped FROM __dropped)",
            order_by="quelle_organisation, quelle_datensatz, quelle_zeile")))
        store.write_parquet(con, "SELECT * FROM __regional", target)
        total = con.execute("SELECT count(*) FROM __union").fetchall()[0][0]
        per_source = dict(con.execute("SELECT quelle_datensatz, count(*) FROM __regional "
                                      "GROUP BY ALL").fetchall())
        kept = sum(per_source.values())
        return Consolidated(kept, total - kept, per_source, _listed(con, schema))


def _union_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("DESCRIBE __union").fetchall()]


def _same_key(schema: Mapping[str, Any]) -> str:
    """Rows of one organization with the same primary key: all but the best-ranked. Keys are
    the organization's own: Dortmund's id 1 is not Bochum's id 1. Rows with an empty key field
    are all kept: nothing says they are the same."""
    key = primary_key(dict(schema))
    if not key:
        return sql.select(["NULL::BIGINT AS dropped", "NULL::BIGINT AS kept",
                           "NULL::VARCHAR AS reason"], where="false")
    partition = ", ".join(["quelle_organisation", *(sql.ident(k) for k in key)])
    complete = [f"{sql.ident(k)} IS NOT NULL" for k in key]
    ranked = sql.select(["__rank", f"first_value(__rank) OVER (PARTITION BY {partition} "
                                   "ORDER BY __rank) AS best"], "__union", where=complete)
    return sql.select(["r.__rank AS dropped", "r.best AS kept", "'key' AS reason"],
                      f"({ranked}) r", where="r.__rank <> r.best")


def _same_place(con: duckdb.DuckDBPyConnection, schema: Mapping[str, Any]) -> list[str]:
    """Rows from different sources of one organization at the same normalized address and
    within SAME_PLACE_METRES (a station exported twice, once without identifiers): all but
    the best-ranked. Only for schemas that name their address fields (x-allmende.address)
    and locate their rows."""
    fields = (schema.get("x-allmende") or {}).get("address") or []
    available = set(_union_columns(con))
    if not fields or not {*ENVELOPE_COLUMNS, *fields} <= available:
        return []
    address = " || ' ' || ".join(f"coalesce({sql.ident(f)}, '')" for f in fields)
    con.execute(sql.create_table("__places", sql.select([
        "__rank", "quelle_organisation", "quelle_datensatz",
        f"{_normalized(address)} AS place",
        "(__minx + __maxx) / 2 AS lon", "(__miny + __maxy) / 2 AS lat"], "__union",
        where=["__minx IS NOT NULL", "NOT isnan(__minx)"])))
    metres = ("sqrt(power((a.lon - b.lon) * cos(radians(a.lat)) * 111320, 2) + "
              "power((a.lat - b.lat) * 110540, 2))")
    pairs = sql.select(["a.__rank AS dropped", "min(b.__rank) AS kept"],
                       "__places a JOIN __places b ON a.quelle_organisation = "
                       "b.quelle_organisation AND a.place = b.place AND a.quelle_datensatz <> "
                       "b.quelle_datensatz AND b.__rank < a.__rank",
                       where=["a.place <> ''", f"{metres} <= {sql.number(SAME_PLACE_METRES)}"],
                       group_by="a.__rank")
    return [sql.select(["dropped", "kept", "'place' AS reason"], f"({pairs})")]


def _normalized(text: str) -> str:
    """An address as one key: lower case, umlauts and ß spelt out, Straße/Strasse/Str. alike,
    nothing but letters and digits."""
    folded = f"lower({text})"
    for umlaut, spelt in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = f"replace({folded}, {sql.string(umlaut)}, {sql.string(spelt)})"
    folded = f"regexp_replace(strip_accents({folded}), 'strasse|str\\.', 'str', 'g')"
    return f"regexp_replace({folded}, '[^a-z0-9]', '', 'g')"


def _listed(con: duckdb.DuckDBPyConnection, schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dropped rows beside the kept ones: dataset, row and key of both, and why."""
    key = primary_key(dict(schema))

    def label(table: str) -> str:
        parts = [f"coalesce(CAST({table}.{sql.ident(k)} AS VARCHAR), '–')" for k in key]
        return " || ' / ' || ".join(parts) if parts else "''"

    rows = con.execute(sql.select([
        "d.reason", "dr.quelle_organisation", "dr.quelle_datensatz", "dr.quelle_zeile",
        label("dr"), "kr.quelle_datensatz", "kr.quelle_zeile", label("kr")],
        "(SELECT DISTINCT ON (dropped) * FROM __dropped ORDER BY dropped, kept) d "
        "JOIN __union dr ON dr.__rank = d.dropped JOIN __union kr ON kr.__rank = d.kept",
        order_by="dr.quelle_organisation, dr.quelle_datensatz, dr.quelle_zeile",
        limit=MAX_LISTED_DUPLICATES)).fetchall()
    return [{"reason": reason, "organization": organization,
             "dropped": {"dataset": dataset, "row": row, "key": dropped_key},
             "kept": {"dataset": kept_dataset, "row": kept_row, "key": kept_key}}
            for reason, organization, dataset, row, dropped_key, kept_dataset, kept_row, kept_key
            in rows]


def write_empty(schema: Mapping[str, Any], target: Path) -> Consolidated:
    """A regional table without sources: the columns, no rows."""
    columns = [f"NULL::{_DUCK_TYPES[c['type']]} AS {sql.ident(c['name'])}"
               for c in table_columns(schema)]
    with store.connection() as con:
        store.write_parquet(con, sql.select(columns, limit=0), target)
    return Consolidated(0, 0, {})
