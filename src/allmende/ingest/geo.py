"""Coordinates and geometries: recognizing them, finding their CRS, and making WGS84
geometries (WKB) with their envelopes, which the data API's bbox filter uses."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from allmende.catalog.text import fold
from allmende.errors import Invalid, Message, msg
from allmende.ingest.sniff import ReadOptions, Warning_

WGS84 = "EPSG:4326"
# Candidates in order of preference when several fit equally (the Ruhr is in UTM zone 32).
CANDIDATES = ("EPSG:4326", "EPSG:25832", "EPSG:25833", "EPSG:31467", "EPSG:31466", "EPSG:3857")
GERMANY = (5.5, 47.0, 15.5, 55.2)
ENVELOPE = ("__minx", "__miny", "__maxx", "__maxy")
X_NAMES = re.compile(r"^(lon|lng|long|longitude|laenge|laengengrad|x|x_?coord|xcenter\w*|"
                     r"koorx|rechtswert|rechts|rw|rechts_utm|ostwert|easting|x_utm)$")
Y_NAMES = re.compile(r"^(lat|latitude|breite|breitengrad|y|y_?coord|ycenter\w*|koory|"
                     r"hochwert|hoch|hw|hoch_utm|nordwert|northing|y_utm)$")
GEOMETRY_NAMES = re.compile(r"^(geom|geometry|the_geom|wkt|shape|geometrie|geo_?shape)$")
WKT_START = re.compile(
    r"^\s*(SRID=\d+;)?\s*((MULTI)?(POINT|LINESTRING|POLYGON)|GEOMETRYCOLLECTION)", re.IGNORECASE)
HEX_WKB = re.compile(r"^(00|01)[0-9A-Fa-f]{8,}$")
#: How many rows a warning names.
LISTED = 5
#: What a warning calls the rows of a source: GeoJSON features, GDAL objects, table rows.
FEATURES, OBJECTS, ROWS = msg("Features"), msg("Objekte"), msg("Datenzeilen")


@dataclass
class Geometries:
    """WGS84 geometries in row order with their envelopes, and where they came from."""

    wkb: pa.Array
    envelope: dict[str, pa.Array]
    crs: str
    source_columns: list[str]
    warnings: list[Warning_]


def _key(label: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", fold(label)).strip("_")


def name_keys(label: str) -> list[str]:
    """The label folded to a key, and under a multi-row header also its last word's key
    (``Allgemeine Informationen Breitengrad``); a last word of up to three letters ("x",
    "lat") says too little on its own."""
    key = _key(label)
    last = key.rsplit("_", 1)[-1]
    return [key, last] if last != key and len(last) > 3 else [key]


def _named(label: str, names: re.Pattern[str]) -> bool:
    return any(names.match(key) for key in name_keys(label))


def find_coordinate_columns(columns: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """An (x, y) pair of numeric columns named like coordinates."""
    numeric = [name for name, kind in columns if kind in ("number", "integer")]
    xs = [n for n in numeric if _named(n, X_NAMES)]
    ys = [n for n in numeric if _named(n, Y_NAMES)]
    if not xs or not ys:
        return None
    return xs[0], ys[0]


def find_geometry_column(columns: Sequence[tuple[str, str]],
                         samples: dict[str, list[str]]) -> str | None:
    """A text column holding WKT or hex EWKB."""
    for name, kind in columns:
        values = [v for v in samples.get(name, []) if v]
        if kind == "string" and values and (
                all(WKT_START.match(v) or HEX_WKB.match(v) for v in values)
                or (GEOMETRY_NAMES.match(_key(name)) and WKT_START.match(values[0]))):
            return name
    return None


@cache
def _transformer(source: str) -> Transformer:
    return Transformer.from_crs(source, WGS84, always_xy=True)


def _lon_lat(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitudes and latitudes of points in ``crs``."""
    if crs == WGS84:  # what pyproj gives too, bit for bit, without setting it up
        return x, y
    lon, lat = _transformer(crs).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _inside(lon: np.ndarray, lat: np.ndarray, box: Sequence[float]) -> float:
    ok = (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])
    return float(ok.mean()) if len(ok) else 0.0


def guess_crs(x: np.ndarray, y: np.ndarray, area: Sequence[float] | None) -> str | None:
    """The candidate CRS under which most points land in the organization's area (else in
    Germany). None when no candidate puts even half of them there."""
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite][:2000], y[finite][:2000]
    if not len(x):
        return None
    best, best_score = None, 0.5
    highest = 3.0 if area else 1.0
    for candidate in CANDIDATES:
        lon, lat = _lon_lat(x, y, candidate)
        score = _inside(lon, lat, area) * 2 if area else 0.0
        score += _inside(lon, lat, GERMANY)
        if score > best_score + 1e-9:
            best, best_score = candidate, score
        if best_score >= highest:  # no later candidate can do better
            break
    return best


def parse_crs(value: str) -> str:
    """``EPSG:25832``, ``25832``, ``urn:ogc:def:crs:EPSG::25832`` → ``EPSG:25832``."""
    try:
        crs = CRS.from_user_input(value.strip())
    except CRSError:
        raise Invalid(msg("Unbekanntes Koordinatensystem „{value}“; erwartet z. B. "
                          "EPSG:25832.", value=value), code="unknown_crs") from None
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_string()


def _envelope(geometries: np.ndarray) -> dict[str, pa.Array]:
    bounds = shapely.bounds(geometries)
    # a row without geometry has no envelope: NULL, not NaN (max() over NaN is NaN)
    return {name: pa.array(bounds[:, i], pa.float64(), from_pandas=True)
            for i, name in enumerate(ENVELOPE)}


def _to_wgs84(geometries: np.ndarray, crs: str) -> np.ndarray:
    if crs == WGS84:
        return geometries
    transformer = _transformer(crs)

    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geometries, project)


def geometries_from(geometries: np.ndarray, crs: str, columns: list[str],
                    warnings: list[Warning_], unit: Message = ROWS) -> Geometries:
    """WGS84 geometries of ``geometries`` (in ``crs``); those that are no place on earth or
    are invalid stay empty, named in a warning by ``unit`` and their numbers."""
    wgs84, dropped = _without_invalid(_to_wgs84(geometries, crs), unit)
    wkb = pa.array(shapely.to_wkb(wgs84, include_srid=False), pa.binary())
    return Geometries(wkb, _envelope(wgs84), crs, columns, warnings + dropped)


def on_earth(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which WGS84 coordinates are places: finite and within ±180° / ±90°."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)


def numbered(indices: Sequence[int]) -> str:
    """The numbers (from 1) of the first :data:`LISTED` row indices, `…` for more."""
    shown = ", ".join(str(index + 1) for index in indices[:LISTED])
    return shown + (" …" if len(indices) > LISTED else "")


def _without_invalid(geometries: np.ndarray, unit: Message) -> tuple[np.ndarray, list[Warning_]]:
    """The geometries with None for those that cannot be shown or queried: a coordinate off
    the earth (NaN, infinite, beyond the WGS84 range) or an invalid shape (a polygon crossing
    itself); warnings name them. Their rows keep their other values."""
    coordinates, owner = shapely.get_coordinates(geometries, return_index=True)
    off = sorted(set(owner[~on_earth(coordinates[:, 0], coordinates[:, 1])].tolist()))
    present = np.array([g is not None for g in geometries], dtype=bool)
    invalid = sorted(set(np.flatnonzero(present & ~shapely.is_valid(geometries)).tolist())
                     - set(off))
    if not off and not invalid:
        return geometries, []
    kept = geometries.copy()
    kept[off + invalid] = None
    warnings = []
    if off:
        warnings.append(Warning_("coordinates_off_earth", msg(
            "{count} Geometrien haben Koordinaten, die kein Ort auf der Erde sind (keine Zahl "
            "oder außerhalb von Längengrad −180…180 / Breitengrad −90…90); sie bleiben leer, "
            "die übrigen Werte ihrer Zeilen sind übernommen ({unit} {rows}). Bitte prüfen Sie "
            "die Quelle.", count=len(off), unit=unit, rows=numbered(off))))
    if invalid:
        warnings.append(Warning_("invalid_geometry", msg(
            "{count} Geometrien sind ungültig, etwa ein Polygon, das sich selbst schneidet; sie "
            "bleiben leer, die übrigen Werte ihrer Zeilen sind übernommen ({unit} {rows}). "
            "Bitte prüfen Sie die Quelle.", count=len(invalid), unit=unit,
            rows=numbered(invalid))))
    return kept, warnings


def points(x: np.ndarray, y: np.ndarray, columns: list[str], options: ReadOptions,
           area: Sequence[float] | None) -> Geometries | None:
    warnings: list[Warning_] = []
    crs = parse_crs(options.crs) if options.crs else guess_crs(x, y, area)
    if crs is None:
        return None
    if not options.crs:
        warnings.append(Warning_("crs_detected", f"Koordinaten in {columns[0]}/{columns[1]} "
                                                 f"als {crs} erkannt."))
    wkb, envelope = wgs84_points(x, y, crs)
    return Geometries(wkb, envelope, crs, columns, warnings)


def wgs84_points(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[pa.Array, dict[str, pa.Array]]:
    """WKB of the points (x, y) in ``crs``, in WGS84, with their envelopes; NULL where a
    coordinate is missing or does not transform to a place on earth."""
    x, y = _lon_lat(x, y, crs)
    valid = on_earth(x, y)
    x, y = np.where(valid, x, np.nan), np.where(valid, y, np.nan)
    envelope = {name: pa.array(values, pa.float64(), from_pandas=True)
                for name, values in zip(ENVELOPE, (x, y, x, y), strict=True)}
    return _point_wkb(x, y, valid), envelope


POINT_FIELDS = ("wkb", *ENVELOPE)


def point_function(crs: str) -> Callable[[pa.Array, pa.Array], pa.StructArray]:
    """An Arrow function for DuckDB (``create_function(..., type="arrow")``): coordinates in
    ``crs`` to structs of WGS84 point WKB and envelope (:data:`POINT_FIELDS`), so that a query
    writes the geometry itself, batch by batch."""
    def convert(x: pa.Array, y: pa.Array) -> pa.StructArray:
        wkb, envelope = wgs84_points(x.to_numpy(zero_copy_only=False).astype(np.float64),
                                     y.to_numpy(zero_copy_only=False).astype(np.float64), crs)
        return pa.StructArray.from_arrays([wkb, *envelope.values()], names=list(POINT_FIELDS))
    return convert


# Little-endian WKB Point: byte order 1, geometry type 1, then x and y as doubles.
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _point_wkb(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> pa.Array:
    """WKB of many points at once, straight into Arrow buffers: a million shapely objects
    would cost more than the rest of the ingest."""
    records = np.zeros(len(x), dtype=_WKB_POINT)
    records["order"], records["type"], records["x"], records["y"] = 1, 1, x, y
    size = _WKB_POINT.itemsize
    offsets = np.arange(0, (len(x) + 1) * size, size, dtype=np.int32)
    mask = pa.array(valid).buffers()[1] if not valid.all() else None
    return pa.Array.from_buffers(pa.binary(), len(x), [
        mask, pa.py_buffer(offsets), pa.py_buffer(records.tobytes())], null_count=-1)


def from_text(values: Sequence[str | None], column: str, options: ReadOptions,
              area: Sequence[float] | None) -> Geometries | None:
    """Geometries from a WKT or hex EWKB column; its CRS from SRID=, the options or the
    coordinate ranges."""
    parsed = np.full(len(values), None, dtype=object)
    srid = None
    for index, value in enumerate(values):
        if not value or not value.strip():
            continue
        text = value.strip()
        try:
            if HEX_WKB.match(text):
                geometry = shapely.from_wkb(bytes.fromhex(text))
                srid = srid or (shapely.get_srid(geometry) or None)
            else:
                if text.upper().startswith("SRID="):
                    code, _, text = text.partition(";")
                    srid = srid or int(code[5:])
                geometry = shapely.from_wkt(text)
        except (shapely.errors.GEOSException, ValueError):
            raise Invalid(msg("Ungültige Geometrie in Spalte „{column}“, Datenzeile {row}: "
                              "{text}", column=column, row=index + 1, text=text[:60]),
                          code="bad_geometry") from None
        parsed[index] = geometry
    present = parsed[parsed != None]  # noqa: E711 - element-wise comparison
    if not len(present):
        return None
    if options.crs:
        crs = parse_crs(options.crs)
    elif srid:
        crs = f"EPSG:{srid}"
    else:
        coords = shapely.get_coordinates(present[:2000])
        crs = guess_crs(coords[:, 0], coords[:, 1], area)
        if crs is None:
            return None
    warnings = [Warning_("crs_detected", f"Geometrien in „{column}“ als {crs} erkannt.")]
    return geometries_from(parsed, crs, [column], warnings)


def legacy_crs(document: dict[str, Any]) -> str | None:
    """The pre-RFC-7946 ``crs`` member of a GeoJSON document, if any."""
    member = document.get("crs")
    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    return parse_crs(name) if isinstance(name, str) else None
