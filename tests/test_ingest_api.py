"""Ingest over HTTP: uploads become jobs, jobs become versions (or clear rejections), and the
data API reads the versions — on SQLite and, when configured, on PostgreSQL.

The files are small and generated here; what they contain is what a municipal export looks
like (German headers, ``;``, decimal commas, ``dd.mm.yyyy`` dates, coordinates)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from allmende.config import Settings
from allmende.platform import Platform
from allmende.web.app import create_app
from databases import Installation
from support import dataset_body, quick_jobs, version_files

JOB_TIMEOUT = 60.0
GERMAN_HINTS = ("Datei", "nicht", "kein", "enthält", "lässt sich", "Format")

PARKS_V1 = (
    "Name;Eröffnet;Besucher;Fläche;lat;lon\r\n"
    "Westfalenpark;15.04.1959;1200;70,5;51.4937;7.4795\r\n"
    "Rombergpark;01.05.1822;800;65,0;51.4820;7.4750\r\n"
    "Fredenbaumpark;10.06.1893;500;63,2;51.5352;7.4598\r\n"
)
# Fläche is gone, Bezirk is new, Besucher now has decimals
PARKS_V2 = (
    "Name;Eröffnet;Besucher;Bezirk;lat;lon\r\n"
    "Westfalenpark;15.04.1959;1200,5;Innenstadt-Ost;51.4937;7.4795\r\n"
    "Rombergpark;01.05.1822;800,25;Hombruch;51.4820;7.4750\r\n"
)


# --- helpers ---------------------------------------------------------------------------

def _dataset(client: TestClient, headers: dict, name: str = "parks", **extra) -> None:
    response = client.post("/api/v1/datasets", json=dataset_body(name=name, **extra),
                           headers=headers)
    assert response.status_code == 201, response.text


def _upload(client: TestClient, headers: dict, dataset: str, filename: str,
            content: bytes | str, **form: str):
    data = content.encode() if isinstance(content, str) else content
    return client.post(f"/api/v1/datasets/{dataset}/resources", headers=headers,
                       files={"file": (filename, data, "application/octet-stream")},
                       data=form)


def _wait(client: TestClient, headers: dict, job_id: int) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish within {JOB_TIMEOUT} s: {job}")


def _ingest(client: TestClient, headers: dict, dataset: str, filename: str,
            content: bytes | str, **form: str) -> dict:
    """Upload, wait, and return the finished job (done or failed)."""
    response = _upload(client, headers, dataset, filename, content, **form)
    assert response.status_code == 202, response.text
    return _wait(client, headers, response.json()["id"])


def _done(client: TestClient, headers: dict, dataset: str, filename: str,
          content: bytes | str, **form: str) -> dict:
    job = _ingest(client, headers, dataset, filename, content, **form)
    assert job["status"] == "done", job
    return job["result"]


def _rows(client: TestClient, resource: str, headers: dict | None = None, **params):
    return client.get(f"/api/v1/resources/{resource}/rows", params=params,
                      headers=headers or {})


def _versions(client: TestClient, resource: str, headers: dict) -> list[dict]:
    response = client.get(f"/api/v1/resources/{resource}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["versions"]


# --- upload, job, versions -------------------------------------------------------------

def test_upload_becomes_a_job_then_version_1(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    response = _upload(client, editor, "parks", "parks.csv", PARKS_V1, name="Parkanlagen")
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "ingest" and job["status"] in ("queued", "running", "done")
    assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"

    finished = _wait(client, editor, job["id"])
    assert finished["status"] == "done", finished
    result = finished["result"]
    assert result["dataset"] == "parks" and result["version"] == 1 and result["rows"] == 3
    assert isinstance(result["resource"], str) and result["resource"]
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types == {"Name": "string", "Eröffnet": "date", "Besucher": "integer",
                     "Fläche": "number", "lat": "number", "lon": "number",
                     "geometry": "geometry"}
    assert result["crs"] == "EPSG:4326"
    assert isinstance(result["warnings"], list)
    assert all(set(w) >= {"code", "message"} for w in result["warnings"])

    detail = client.get(f"/api/v1/resources/{result['resource']}", headers=editor)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["name"] == "Parkanlagen" and body["dataset"] == "parks"
    assert [v["version"] for v in body["versions"]] == [1]
    assert body["versions"][0]["rows"] == 3
    assert body["versions"][0]["source_name"] == "parks.csv"
    # the dataset lists the new resource
    listed = client.get("/api/v1/datasets/parks").json()["resources"]
    assert result["resource"] in [r["id"] for r in listed]


def test_same_name_makes_version_2_with_schema_changes_and_version_1_stays(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    first = _done(client, editor, "parks", "parks.csv", PARKS_V1, name="Parkanlagen")
    second = _done(client, editor, "parks", "parks-2025.csv", PARKS_V2, name="Parkanlagen")
    assert second["resource"] == first["resource"]
    assert second["version"] == 2 and second["rows"] == 2
    changes = second["schema_changes"]
    assert changes["added"] == ["Bezirk"]
    assert changes["removed"] == ["Fläche"]
    assert changes["retyped"] == [{"name": "Besucher", "from": "integer", "to": "number"}]

    versions = _versions(client, first["resource"], editor)
    assert sorted(v["version"] for v in versions) == [1, 2]
    by_number = {v["version"]: v for v in versions}
    assert by_number[2]["schema_changes"] == changes
    assert by_number[1]["schema_changes"] == {}

    latest = _rows(client, first["resource"]).json()
    assert latest["total"] == 2
    assert latest["rows"][0]["Bezirk"] == "Innenstadt-Ost"
    assert latest["rows"][0]["Besucher"] == pytest.approx(1200.5)
    old = _rows(client, first["resource"], version=1).json()
    assert old["total"] == 3
    assert [f["name"] for f in old["fields"]][:4] == ["Name", "Eröffnet", "Besucher", "Fläche"]
    assert old["rows"][2] == {**old["rows"][2], "Name": "Fredenbaumpark", "Fläche": 63.2,
                              "Besucher": 500}
    assert _rows(client, first["resource"], version=3).status_code == 404
    # a different name is a different resource
    other = _done(client, editor, "parks", "parks.csv", PARKS_V1, name="Andere Parks")
    assert other["resource"] != first["resource"] and other["version"] == 1


def test_resource_name_defaults_to_the_file_name(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    first = _done(client, editor, "parks", "parks.csv", PARKS_V1)
    again = _done(client, editor, "parks", "parks.csv", PARKS_V1)
    assert again["resource"] == first["resource"] and again["version"] == 2
    assert again["schema_changes"] == {"added": [], "removed": [], "retyped": []}
    detail = client.get(f"/api/v1/resources/{first['resource']}", headers=editor).json()
    assert detail["name"] == "parks.csv"


# --- permissions -----------------------------------------------------------------------

def test_who_may_upload(client, world):
    _dataset(client, world.auth("editor"))
    assert _upload(client, {}, "parks", "p.csv", PARKS_V1).status_code == 401
    assert _upload(client, world.auth("member"), "parks", "p.csv", PARKS_V1).status_code == 403
    assert _upload(client, world.auth("outsider"), "parks", "p.csv",
                   PARKS_V1).status_code == 403
    assert _upload(client, world.auth("bochum-editor"), "parks", "p.csv",
                   PARKS_V1).status_code == 403
    assert _upload(client, world.auth("editor"), "nicht-da", "p.csv",
                   PARKS_V1).status_code == 404
    for key in ("editor", "admin", "sysadmin"):
        job = _ingest(client, world.auth(key), "parks", "p.csv", PARKS_V1)
        assert job["status"] == "done", (key, job)
    # nothing of the refused uploads stayed behind
    uploads = world.platform.settings.data_dir / "tmp" / "uploads"
    assert not list(uploads.glob("*")) if uploads.exists() else True


def test_jobs_are_visible_only_to_who_started_them_and_their_organization_s_admins(client,
                                                                                  world):
    editor = world.auth("editor")
    _dataset(client, editor)
    job = _upload(client, editor, "parks", "p.csv", PARKS_V1).json()
    _wait(client, editor, job["id"])
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code in (401, 404)
    assert client.get(f"/api/v1/jobs/{job['id']}",
                      headers=world.auth("admin")).status_code == 200
    for other in ("member", "bochum-editor"):
        assert client.get(f"/api/v1/jobs/{job['id']}",
                          headers=world.auth(other)).status_code == 404
    assert client.get(f"/api/v1/jobs/{job['id']}",
                      headers=world.auth("sysadmin")).status_code == 200


def test_rows_of_a_restricted_dataset_only_for_its_organization(client, world):
    editor = world.auth("editor")
    _dataset(client, editor, access_level="restricted")
    resource = _done(client, editor, "parks", "parks.csv", PARKS_V1)["resource"]
    # restricted metadata is public, its rows are not: anonymous must sign in (401),
    # signed-in outsiders are refused (403)
    assert _rows(client, resource).status_code == 401
    assert _rows(client, resource, format="csv").status_code == 401
    for key in ("outsider", "bochum-editor"):
        assert _rows(client, resource, world.auth(key)).status_code == 403, key
        assert _rows(client, resource, world.auth(key), format="csv").status_code == 403, key
        assert _rows(client, resource, world.auth(key), version=1).status_code == 403, key
    for key in ("member", "editor", "admin", "sysadmin"):
        response = _rows(client, resource, world.auth(key))
        assert response.status_code == 200, (key, response.text)
        assert response.json()["total"] == 3


def test_rows_of_a_members_dataset_are_invisible_outside_the_alliance(client, world):
    editor = world.auth("editor")
    _dataset(client, editor, access_level="members")
    resource = _done(client, editor, "parks", "parks.csv", PARKS_V1)["resource"]
    assert _rows(client, resource).status_code == 404
    assert _rows(client, resource, world.auth("outsider")).status_code == 404
    assert _rows(client, resource, world.auth("bochum-editor")).status_code == 200


# --- rejections ------------------------------------------------------------------------

BROKEN = [
    ("muell.csv", bytes(range(256)) * 40),  # binary junk
    ("leer.csv", b""),
    ("nur-kopf.csv", b"Name;Datum;Wert\r\n"),
    ("bericht.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
    ("tabelle.xlsx", b"Name;Wert\nkein;Excel\n"),
]


@pytest.mark.parametrize(("filename", "content"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_upload_fails_clearly_and_keeps_the_previous_version(client, world, filename,
                                                                     content):
    editor = world.auth("editor")
    _dataset(client, editor)
    first = _done(client, editor, "parks", "parks.csv", PARKS_V1, name="Parkanlagen")
    before = _rows(client, first["resource"]).json()

    job = _ingest(client, editor, "parks", filename, content, name="Parkanlagen")
    assert job["status"] == "failed", job
    assert job["result"] is None
    error = job["error"]
    assert error["code"] not in ("internal", "error"), error
    message = error["message"]
    assert filename in message, f"the message should name {filename}: {message!r}"
    assert any(hint in message for hint in GERMAN_HINTS), message
    assert "Traceback" not in message

    assert [v["version"] for v in _versions(client, first["resource"], editor)] == [1]
    assert _rows(client, first["resource"]).json() == before
    assert _rows(client, first["resource"], version=2).status_code == 404
    tables = world.platform.settings.data_dir / "tables" / first["resource"]
    assert list(tables.iterdir()) == [version_files(world.platform, first["resource"])[1]]


def test_unknown_sheet_and_crs_are_rejections_naming_what_exists(client, world, tmp_path):
    import xlsxwriter

    editor = world.auth("editor")
    _dataset(client, editor)
    path = tmp_path / "tabelle.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Messwerte")
    sheet.write_row(0, 0, ["Name", "Wert"])
    sheet.write_row(1, 0, ["A", 1.5])
    workbook.close()
    job = _ingest(client, editor, "parks", "tabelle.xlsx", path.read_bytes(), sheet="Gibtsnicht")
    assert job["status"] == "failed" and job["error"]["code"] == "unknown_sheet", job
    assert "Gibtsnicht" in job["error"]["message"] and "Messwerte" in job["error"]["message"]
    done = _done(client, editor, "parks", "tabelle.xlsx", path.read_bytes(), sheet="Messwerte")
    assert done["rows"] == 1
    # a CRS that does not exist is refused at the door, before a job is queued
    refused = _upload(client, editor, "parks", "parks.csv", PARKS_V1, crs="EPSG:999999")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_crs"
    assert "EPSG:999999" in refused.json()["error"]["fields"][0]["message"]


def test_header_row_below_1_is_refused_at_the_door(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    response = _upload(client, editor, "parks", "parks.csv", PARKS_V1, header_row="0")
    assert response.status_code == 422, response.text


def test_upload_size_limit_is_413(world, platform):
    settings = Settings(data_dir=platform.settings.data_dir,
                        database_url=platform.settings.resolved_database_url,
                        secret_key="test-secret", upload_limit_bytes=1000)
    small = Platform(settings)
    try:
        with TestClient(create_app(small)) as client:
            editor = world.auth("editor")
            _dataset(client, editor)
            content = "Name;Wert\r\n" + "".join(f"Ort {i};{i}\r\n" for i in range(500))
            assert len(content) > 1000
            response = _upload(client, editor, "parks", "gross.csv", content)
            assert response.status_code == 413, response.text
            assert response.json()["error"]["code"] == "too_large"
            # far beyond the limit: refused from the declared length alone
            huge = _upload(client, editor, "parks", "riesig.csv", b"x" * (3 << 20))
            assert huge.status_code == 413, huge.text
            # nothing was queued, nothing stays in the upload folder
            assert client.get("/api/v1/datasets/parks").json()["resources"] == []
            uploads = settings.data_dir / "tmp" / "uploads"
            assert not uploads.exists() or not list(uploads.iterdir())
            # under the limit it works
            assert _ingest(client, editor, "parks", "klein.csv",
                           "Name;Wert\r\nA;1\r\nB;2\r\n")["status"] == "done"
    finally:
        small.close()


def test_read_options_are_remembered_for_the_next_upload(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    # ":" is no delimiter the sniffer considers: without the override this is no table
    colon_v1 = "Name:Wert\r\nHörde:1\r\nAplerbeck:2\r\n"
    colon_v2 = "Name:Wert\r\nHörde:3\r\nAplerbeck:4\r\nHuckarde:5\r\n"
    unremembered = _ingest(client, editor, "parks", "doppelpunkt.csv", colon_v1,
                           name="Andere")
    assert unremembered["status"] == "failed", unremembered

    first = _done(client, editor, "parks", "doppelpunkt.csv", colon_v1, name="Bezirke",
                  delimiter=":")
    assert [c["name"] for c in first["columns"]] == ["Name", "Wert"]
    detail = client.get(f"/api/v1/resources/{first['resource']}", headers=editor).json()
    assert detail["read_options"] == {"delimiter": ":"}

    second = _done(client, editor, "parks", "doppelpunkt-neu.csv", colon_v2, name="Bezirke")
    assert second["version"] == 2 and second["rows"] == 3
    assert [c["name"] for c in second["columns"]] == ["Name", "Wert"]
    rows = _rows(client, first["resource"]).json()["rows"]
    assert rows[-1] == {"Name": "Huckarde", "Wert": 5}


def test_form_overrides_encoding_header_row_and_crs(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    content = ("Auszug aus dem Baumkataster\r\n"
               "Stand: 2024\r\n"
               "Straße;Rechtswert;Hochwert\r\n"
               "Kampstraße;393500;5708500\r\n"
               "Hansaplatz;393600;5708400\r\n").encode("cp1252")
    result = _done(client, editor, "parks", "baeume.csv", content, encoding="cp1252",
                   header_row="3", crs="EPSG:25832")
    assert result["crs"] == "EPSG:25832"
    assert [c["name"] for c in result["columns"]][:3] == ["Straße", "Rechtswert", "Hochwert"]
    rows = _rows(client, result["resource"]).json()["rows"]
    assert rows[0]["Straße"] == "Kampstraße"
    lon, lat = rows[0]["geometry"]["coordinates"]
    assert 7.4 < lon < 7.5 and 51.5 < lat < 51.52  # Dortmund city centre


# --- the data API ----------------------------------------------------------------------

def _big_table() -> str:
    """250 rows; a column named like a reserved parameter and one containing ``__``."""
    lines = ["Name;Datum;Wert;Anzahl;Kategorie;limit;Typ__Code;lat;lon"]
    start = dt.date(2024, 1, 1)
    for i in range(250):
        day = start + dt.timedelta(days=i)
        lines.append(f"Ort {i};{day:%d.%m.%Y};{i},5;{i};{'ABC'[i % 3]};{i % 5};T{i % 2};"
                     f"{51.4 + i * 0.001:.6f};{7.4 + i * 0.001:.6f}")
    return "\r\n".join(lines) + "\r\n"


def _seed_table(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """`messorte`: the big table uploaded by the editor and ingested by a job."""
    editor = {"Authorization": f"Bearer {seeded['tokens']['editor']}"}
    with quick_jobs(platform), TestClient(create_app(platform)) as client:
        _dataset(client, editor, name="messorte")
        result = _done(client, editor, "messorte", "messorte.csv", _big_table())
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types == {"Name": "string", "Datum": "date", "Wert": "number", "Anzahl": "integer",
                     "Kategorie": "string", "limit": "integer", "Typ__Code": "string",
                     "lat": "number", "lon": "number", "geometry": "geometry"}
    return {"table": result["resource"]}


# The tests with the fixture `table` start from the world with `messorte` in it, written once
# per session and backend (tests/conftest.py).
TEMPLATES = {"table": (_seed_table, "world")}


@pytest.fixture
def table(installation: Installation) -> str:
    """The resource id of `messorte`."""
    return installation.seeded["table"]


def test_rows_contract(client, table):
    page = _rows(client, table)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 250
    assert len(body["rows"]) == 100  # the default limit
    assert [f["name"] for f in body["fields"]][:3] == ["Name", "Datum", "Wert"]
    assert all(set(f) >= {"name", "type"} for f in body["fields"])
    first = body["rows"][0]
    assert first["Name"] == "Ort 0" and first["Datum"] == "2024-01-01"
    assert first["Wert"] == 0.5 and first["Anzahl"] == 0 and first["limit"] == 0
    assert first["geometry"]["type"] == "Point"
    assert first["geometry"]["coordinates"] == pytest.approx([7.4, 51.4])
    assert not any(k.startswith("__") for k in first)  # envelope columns stay hidden

    assert _rows(client, table, limit=10001).status_code == 400
    assert len(_rows(client, table, limit=10000).json()["rows"]) == 250
    assert _rows(client, table, limit=0).json() == {**body, "rows": []}
    paged = _rows(client, table, limit=5, offset=100).json()["rows"]
    assert [r["Anzahl"] for r in paged] == [100, 101, 102, 103, 104]
    assert _rows(client, table, sort="-Anzahl", limit=1).json()["rows"][0]["Anzahl"] == 249
    two = _rows(client, table, sort="Kategorie,-Anzahl", limit=2).json()["rows"]
    assert [(r["Kategorie"], r["Anzahl"]) for r in two] == [("A", 249), ("A", 246)]
    assert list(_rows(client, table, fields="Anzahl,Name", limit=1).json()["rows"][0]) == \
        ["Anzahl", "Name"]
    assert _rows(client, table, fields="Gibtsnicht").status_code == 422


FILTERS = [
    ({"Kategorie": "A"}, 84),
    ({"Anzahl__gte": "200"}, 50),
    ({"Anzahl__gt": "200"}, 49),
    ({"Anzahl__lt": "10"}, 10),
    ({"Anzahl__lte": "10"}, 11),
    ({"Anzahl__in": "1,2,3,999"}, 3),
    ({"Name__contains": "ORT 24"}, 11),  # Ort 24, Ort 240 … 249
    ({"Wert": "10,5"}, 1),  # German decimal comma
    ({"Wert": "10.5"}, 1),
    ({"Datum": "2024-01-31"}, 1),
    ({"Datum__gte": "2024-09-01"}, 250 - 244),
    ({"Kategorie__null": "true"}, 0),
    ({"Kategorie__null": "false"}, 250),
    ({"filter.limit": "3"}, 50),
    ({"filter.limit__in": "0,1"}, 100),
    ({"filter.Typ__Code": "T1"}, 125),
    ({"filter.Kategorie": "B", "Anzahl__lt": "100"}, 33),
    ({"bbox": "7.39,51.39,7.4095,51.4095"}, 10),
    ({"bbox": "7.39,51.39,7.4095,51.4095", "Kategorie": "A"}, 4),
    ({"bbox": "0,0,1,1"}, 0),
]


def test_filters(client, table):
    wrong = []
    for params, total in FILTERS:
        response = _rows(client, table, **params)
        found = response.json().get("total") if response.status_code == 200 else response.text
        if found != total:
            wrong.append((params, total, response.status_code, found))
    assert not wrong, wrong


def test_reserved_and_double_underscore_names_need_the_filter_prefix(client, table):
    assert _rows(client, table, **{"Typ__Code": "T1"}).status_code == 422
    # plain "limit" is the page size, not a filter on the column
    assert len(_rows(client, table, limit="3").json()["rows"]) == 3
    assert _rows(client, table, **{"Gibtsnicht": "1"}).status_code == 422
    assert _rows(client, table, **{"Anzahl__foo": "1"}).status_code == 422


EXPORTS = {
    "csv": "text/csv",
    "csv-de": "text/csv",
    "json": "application/json",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def test_downloads_return_the_whole_selection(client, table, tmp_path):
    for fmt in EXPORTS:
        _check_download(client, table, fmt, tmp_path)


def _check_download(client, table, fmt, tmp_path):
    response = _rows(client, table, format=fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(EXPORTS[fmt])
    assert "attachment" in response.headers.get("content-disposition", "")
    content = response.content
    if fmt in ("csv", "csv-de"):
        text = content.decode("utf-8")
        if fmt == "csv-de":
            assert text.startswith("\ufeff")
            text = text[1:]
        records = list(csv.reader(io.StringIO(text), delimiter=";" if fmt == "csv-de" else ","))
        assert records[0][:3] == ["Name", "Datum", "Wert"]
        assert len(records) == 251  # no 100-row page, no cap
        row = dict(zip(records[0], records[1], strict=True))
        assert row["Wert"] == ("0,5" if fmt == "csv-de" else "0.5")
    elif fmt == "json":
        rows = json.loads(content)
        assert isinstance(rows, list) and len(rows) == 250
        assert rows[0]["Name"] == "Ort 0" and rows[0]["Datum"] == "2024-01-01"
    elif fmt == "geojson":
        collection = json.loads(content)
        assert collection["type"] == "FeatureCollection"
        assert len(collection["features"]) == 250
        feature = collection["features"][0]
        assert feature["geometry"]["coordinates"] == pytest.approx([7.4, 51.4])  # lon, lat
        assert feature["properties"]["Name"] == "Ort 0"
    elif fmt == "parquet":
        path = tmp_path / "export.parquet"
        path.write_bytes(content)
        exported = pq.read_table(path)
        assert exported.num_rows == 250 and "Name" in exported.column_names
    else:
        from python_calamine import CalamineWorkbook

        path = tmp_path / "export.xlsx"
        path.write_bytes(content)
        sheet = CalamineWorkbook.from_path(str(path))
        rows = sheet.get_sheet_by_index(0).to_python()
        assert rows[0][:2] == ["Name", "Datum"] and len(rows) == 251


def test_downloads_apply_filters_sort_and_given_limits(client, table):
    filtered = json.loads(_rows(client, table, format="json", Kategorie="A",
                                sort="-Anzahl").content)
    assert len(filtered) == 84 and filtered[0]["Anzahl"] == 249
    limited = json.loads(_rows(client, table, format="json", limit=20000, offset=240).content)
    assert [r["Anzahl"] for r in limited] == list(range(240, 250))
    assert _rows(client, table, format="pdf").status_code == 422


def test_geojson_needs_a_geometry(client, world):
    editor = world.auth("editor")
    _dataset(client, editor)
    resource = _done(client, editor, "parks", "ohne.csv", "Name;Wert\r\nA;1\r\nB;2\r\n")
    response = _rows(client, resource["resource"], format="geojson")
    assert response.status_code == 400, response.text
    assert _rows(client, resource["resource"], bbox="7,51,8,52").status_code == 422


INJECTIONS = [
    {"Name": "x' OR '1'='1"},
    {"Name": "Ort 1'; DROP TABLE resources; --"},
    {"Name__in": "a','b') OR 1=1 --"},
    {"Name__contains": "%"},
    {"Name__contains": "_"},
    {"Name__contains": "' || (SELECT 1) || '"},
    {"Anzahl": "1 OR 1=1"},
    {"Anzahl__gt": "0; SELECT * FROM read_csv('/etc/passwd')"},
    {"Datum": "2024-01-01' OR '1'='1"},
    {"sort": "Name; DROP TABLE x"},
    {"sort": "Name DESC, (SELECT 1)"},
    {"fields": 'Name", "__minx'},
    {"fields": "*"},
    {"filter.Name\") OR 1=1 --": "x"},
    {"Name\" = \"Name\" OR \"Name": "x"},
    {"__minx": "0"},
    {"filter.__minx__lt": "100"},
    {"bbox": "7,51,8,52) OR (1=1"},
    {"bbox": "nan,nan,nan,nan"},
    {"limit": "10; DROP TABLE x"},
    {"limit": "-1"},
    {"offset": "1e9999"},
    {"version": "1 OR 1=1"},
    {"version": "0"},
    {"Name": "\x00"},
    {"Name__in": '"unclosed'},
    {"format": "csv'; COPY (SELECT 1) TO '/tmp/x"},
    {"Anzahl__in": ",".join(str(i) for i in range(2000))},
]


def test_injection_attempts_are_4xx_or_empty_never_500(client, table):
    wrong = []
    for params in INJECTIONS:
        for extra in ({}, {"format": "csv"}):
            response = _rows(client, table, **{**extra, **params})
            if response.status_code >= 500 or (
                    response.status_code == 200 and not extra
                    and response.json()["total"] not in (0, 250)):
                wrong.append((params, extra, response.status_code, response.text[:300]))
    assert not wrong, wrong
    # the table and the catalog are unharmed
    assert _rows(client, table).json()["total"] == 250
    assert client.get(f"/api/v1/resources/{table}").status_code == 200


def test_distinct_and_aggregate_survive_hostile_names(client, table):
    for path in ("/distinct/Name%22%3B%20DROP", "/aggregate?group_by=Name%22--",
                 "/aggregate?metrics=sum:Name;DROP", "/aggregate?metrics=exec:Anzahl"):
        response = client.get(f"/api/v1/resources/{table}{path}")
        assert 400 <= response.status_code < 500, (path, response.text)


def test_upload_keeps_only_the_file_name(client, world):
    """A multipart file name with a path must not write or be recorded outside."""
    editor = world.auth("editor")
    _dataset(client, editor)
    result = _done(client, editor, "parks", "../../../etc/parks.csv", PARKS_V1)
    detail = client.get(f"/api/v1/resources/{result['resource']}", headers=editor).json()
    assert detail["name"] == "parks.csv"
    assert detail["versions"][0]["source_name"] == "parks.csv"
    stored = version_files(world.platform, result["resource"])[1]
    assert stored.is_file()
    assert stored.parent == world.platform.settings.data_dir / "tables" / result["resource"]


@pytest.mark.parametrize(("option", "value"), [
    ("delimiter", "False"), ("delimiter", ";;"), ("encoding", "klingonisch"),
    ("crs", "EPSG:99999999"), ("crs", "False")])
def test_options_that_can_never_work_are_refused_before_a_job(client, world, option, value):
    editor = world.auth("editor")
    _dataset(client, editor)
    refused = _upload(client, editor, "parks", "parks.csv", "Name;Wert\nA;1\n",
                      **{option: value})
    assert refused.status_code == 422, refused.text
    (field,) = refused.json()["error"]["fields"]
    assert field["field"] == option and value not in ("", None)
    assert client.get("/api/v1/datasets/parks", headers=editor).json()["resources"] == []
