"""What ingests must be readable: text in UTF-16 and UTF-32 (with and without BOM) is read as
what it is, and geometries that are no place on earth or invalid are reported row by row and
left out of the geometry column — after which every page and API call over the version
answers. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support import dataset_body, uploaded_job

ROWS_FORMATS = ("json", "csv", "csv-de", "parquet", "xlsx")


@pytest.fixture
def editor(client: TestClient, world) -> dict[str, str]:
    headers = world.auth("editor")
    response = client.post("/api/v1/datasets", headers=headers,
                           json=dataset_body(name="lesbar"))
    assert response.status_code == 201, response.text
    return headers


def _ingest(client: TestClient, headers: dict, filename: str, content: bytes) -> dict:
    job = uploaded_job(client, headers, "lesbar", filename, content)
    assert job["status"] == "done", job
    return job["result"]


def _rows(client: TestClient, headers: dict, resource: str, **params: Any) -> dict:
    response = client.get(f"/api/v1/resources/{resource}/rows", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _everything_answers(client: TestClient, headers: dict, resource: str,
                        geometry: bool) -> None:
    """The resource page, the dataset page and the rows API in every format (the map reads
    GeoJSON) answer; a bbox filter too where there is a geometry."""
    for path in (f"/resources/{resource}", "/datasets/lesbar", f"/api/v1/resources/{resource}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text[-2000:])
    formats = ROWS_FORMATS + (("geojson",) if geometry else ())
    for fmt in formats:
        response = client.get(f"/api/v1/resources/{resource}/rows", headers=headers,
                              params={"format": fmt})
        assert response.status_code == 200, (fmt, response.text[-2000:])
    if geometry:
        for params in ({"bbox": "7.0,51.0,8.0,52.0"}, {"format": "geojson", "limit": 2000},
                       {"sort": "Name"}):
            response = client.get(f"/api/v1/resources/{resource}/rows", headers=headers,
                                  params=params)
            assert response.status_code == 200, (params, response.text[-2000:])


# --- encodings ----------------------------------------------------------------------------

TABLE = "Straße;Anzahl;Datum\r\nHörder Bahnhofstraße;12;01.03.2024\r\nÖlmühle;7;15.11.2023\r\n"

ENCODED = {
    "utf32-le-bom.csv": codecs.BOM_UTF32_LE + TABLE.encode("utf-32-le"),
    "utf32-be-bom.csv": codecs.BOM_UTF32_BE + TABLE.encode("utf-32-be"),
    "utf32-le.csv": TABLE.encode("utf-32-le"),
    "utf32-be.csv": TABLE.encode("utf-32-be"),
    "utf16-le.csv": TABLE.encode("utf-16-le"),
    "utf16-be.csv": TABLE.encode("utf-16-be"),
    "utf16-be-bom.csv": codecs.BOM_UTF16_BE + TABLE.encode("utf-16-be"),
}


@pytest.mark.parametrize("filename", ENCODED)
def test_utf16_and_utf32_with_or_without_bom_are_read_as_they_are(client, editor, filename):
    result = _ingest(client, editor, filename, ENCODED[filename])
    assert [(c["name"], c["type"]) for c in result["columns"]] == \
        [("Straße", "string"), ("Anzahl", "integer"), ("Datum", "date")]
    rows = _rows(client, editor, result["resource"])["rows"]
    assert rows == [{"Straße": "Hörder Bahnhofstraße", "Anzahl": 12, "Datum": "2024-03-01"},
                    {"Straße": "Ölmühle", "Anzahl": 7, "Datum": "2023-11-15"}]
    _everything_answers(client, editor, result["resource"], geometry=False)


def test_the_footer_of_a_long_big_endian_utf16_file_is_read_in_its_byte_order(client, editor):
    """Beyond the first megabyte only the end of a file is looked at for footer lines: it must
    be decoded in the byte order the BOM named, not the machine's."""
    body = "".join(f"Messstelle {i};{i % 97};0{i % 9 + 1}.03.2024\r\n" for i in range(60_000))
    text = "Messstelle;Wert;Datum\r\n" + body + "Stand: 01.04.2024\r\n"
    result = _ingest(client, editor, "lang.csv", codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    assert result["rows"] == 60_000
    assert [(c["name"], c["type"]) for c in result["columns"]] == \
        [("Messstelle", "string"), ("Wert", "integer"), ("Datum", "date")]
    last = _rows(client, editor, result["resource"], offset=59_999)["rows"]
    assert last == [{"Messstelle": "Messstelle 59999", "Wert": 59_999 % 97,
                     "Datum": f"2024-03-0{59_999 % 9 + 1}"}]


def test_labels_are_always_usable_column_names(client, editor):
    """JSON keys that differ only in case, a blank key and a key with a NUL become distinct,
    readable column names (DuckDB compares names case-blind and refuses NUL)."""
    content = b'[{"Name": "a", "name": "b", "": "c", "x\\u0000y": "d", " Ort ": "e"}]'
    result = _ingest(client, editor, "schluessel.json", content)
    names = [c["name"] for c in result["columns"]]
    assert names == ["Name", "name (2)", "Spalte 3", "x y", "Ort"]
    assert _rows(client, editor, result["resource"])["rows"] == \
        [dict(zip(names, "abcde", strict=True))]
    _everything_answers(client, editor, result["resource"], geometry=False)


# --- geometries -----------------------------------------------------------------------------

def _feature(name: str, geometry: dict) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"Name": name}}


# NaN is what some exporters write; Python's json reads it (as the upload does)
GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    _feature("Kein Wert", {"type": "Point", "coordinates": [float("nan"), 51.5]}),
    _feature("Jenseits", {"type": "Point", "coordinates": [500, 100]}),
    _feature("Schleife", {"type": "Polygon", "coordinates": [[
        [7.40, 51.50], [7.50, 51.60], [7.50, 51.50], [7.40, 51.60], [7.40, 51.50]]]}),
    _feature("Westfalenpark", {"type": "Point", "coordinates": [7.4795, 51.4937]}),
]}).encode()


def test_geojson_features_off_the_earth_or_invalid_are_reported_and_left_empty(client,
                                                                                editor):
    result = _ingest(client, editor, "orte.geojson", GEOJSON)
    warnings = {w["code"]: w["message"] for w in result["warnings"]}
    assert warnings["coordinates_off_earth"].startswith(
        "2 Geometrien haben Koordinaten, die kein Ort auf der Erde sind"), warnings
    assert "(Features 1, 2)" in warnings["coordinates_off_earth"]
    assert warnings["invalid_geometry"].startswith("1 Geometrien sind ungültig, etwa ein "
                                                   "Polygon, das sich selbst schneidet")
    assert "(Features 3)" in warnings["invalid_geometry"]
    english = client.get(f"/api/v1/resources/{result['resource']}?lang=en",
                         headers=editor).json()["versions"][0]["warnings"]
    assert any(w["message"].startswith("2 geometries have coordinates that are no place on "
                                       "earth") and "(features 1, 2)" in w["message"]
               for w in english), english
    rows = _rows(client, editor, result["resource"])["rows"]
    assert [r["Name"] for r in rows] == ["Kein Wert", "Jenseits", "Schleife", "Westfalenpark"]
    assert [r["geometry"] for r in rows] == [None, None, None, {
        "type": "Point", "coordinates": [7.4795, 51.4937]}]
    inside = _rows(client, editor, result["resource"], bbox="7.0,51.0,8.0,52.0")
    assert [r["Name"] for r in inside["rows"]] == ["Westfalenpark"]
    _everything_answers(client, editor, result["resource"], geometry=True)


def test_coordinates_off_the_earth_in_a_csv_keep_their_row_without_geometry(client, editor):
    content = (b"Name;lat;lon\r\nWestfalenpark;51.4937;7.4795\r\n"
               b"Rombergpark;51.4820;7.4750\r\nJenseits;100;500\r\n"
               b"Fredenbaumpark;51.5352;7.4598\r\n")
    result = _ingest(client, editor, "parks.csv", content)
    assert result["crs"] == "EPSG:4326"
    off = [w["message"] for w in result["warnings"] if w["code"] == "coordinates_off_earth"]
    assert len(off) == 1 and "(Datenzeilen 3)" in off[0], result["warnings"]
    assert off[0].startswith("1 Zeilen haben Koordinaten in lon/lat, die in EPSG:4326 keinen "
                             "Ort auf der Erde ergeben")
    rows = _rows(client, editor, result["resource"])["rows"]
    assert rows[2] == {"Name": "Jenseits", "lat": 100, "lon": 500, "geometry": None}
    assert all(r["geometry"] for i, r in enumerate(rows) if i != 2)
    _everything_answers(client, editor, result["resource"], geometry=True)
