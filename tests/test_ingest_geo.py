"""Geometry building of the ingest: the vectorized point path and rows without geometry."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import shapely

from allmende.ingest import geo
from allmende.ingest.pipeline import build
from allmende.ingest.sniff import ReadOptions


def test_point_wkb_equals_shapely_and_keeps_missing_points_null():
    x = np.array([7.4653, np.nan, 391234.5, 7.2])
    y = np.array([51.5136, 51.5, 5708123.25, np.inf])
    found = geo.points(x, y, ["x", "y"], ReadOptions(crs="EPSG:4326"), None)
    values = found.wkb.to_pylist()
    assert values[0] == shapely.to_wkb(shapely.Point(7.4653, 51.5136))
    assert values[1] is None and values[3] is None
    assert found.envelope["__minx"].to_pylist()[1] is None
    utm = geo.points(np.array([391234.5]), np.array([5708123.25]), ["x", "y"],
                     ReadOptions(crs="EPSG:25832"), None)
    point = shapely.from_wkb(utm.wkb.to_pylist()[0])
    assert 7.4 < point.x < 7.5 and 51.5 < point.y < 51.55


def test_feature_without_geometry_has_no_envelope(tmp_path):
    source = tmp_path / "baustellen.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"Titel": "Kanalbau"},
         "geometry": {"type": "Point", "coordinates": [7.01, 51.45]}},
        {"type": "Feature", "properties": {"Titel": "ohne Lage"}, "geometry": None}]}),
        encoding="utf-8")
    built = build(source, source.name, ReadOptions(), tmp_path, None, lambda _f, _m: None)
    rows = pq.read_table(built.parquet).to_pylist()
    assert rows[1]["geometry"] is None and rows[1]["__minx"] is None
    assert rows[0]["__minx"] == 7.01
