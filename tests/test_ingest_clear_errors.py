"""Every failure of an ingest is one clear line: a JSON document nested 10,000 levels deep is
refused as such (not an interpreter error), the messages of GDAL and DuckDB name the uploaded
file instead of the server's paths, the command line never shows a traceback, and a source
column named like one of allmende's own (``__minx`` …) keeps its values under a numbered name
while the bbox filter keeps working. Over HTTP on SQLite and PostgreSQL, and through
`allmende ingest`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from allmende.ingest.readers import library_text
from cli_support import InProcess, one_json_object
from databases import Templates
from support import dataset_body, uploaded_job

DEPTH = 10_000


@pytest.fixture
def editor(client: TestClient, world) -> dict[str, str]:
    headers = world.auth("editor")
    response = client.post("/api/v1/datasets", headers=headers,
                           json=dataset_body(name="fehler"))
    assert response.status_code == 201, response.text
    return headers


def _job(client: TestClient, headers: dict, filename: str, content: bytes) -> dict:
    return uploaded_job(client, headers, "fehler", filename, content)


def _deep_json() -> bytes:
    return b'[{"Name": "Hoerde", "Werte": ' + b"[" * DEPTH + b"]" * DEPTH + b"}]"


def _deep_geojson() -> bytes:
    nested = '{"a": ' * DEPTH + "1" + "}" * DEPTH
    return (f'{{"type": "FeatureCollection", "features": [{{"type": "Feature", "geometry": '
            f'null, "properties": {{"Tief": {nested}}}}}]}}').encode()


@pytest.mark.parametrize("filename, content", [("tief.json", _deep_json()),
                                               ("tief.geojson", _deep_geojson())])
def test_deeply_nested_json_is_refused_in_a_sentence(client, editor, filename, content):
    job = _job(client, editor, filename, content)
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "too_deep", job
    assert job["error"]["message"].startswith(f"{filename} ist zu tief verschachtelt")
    english = client.get(f"/api/v1/jobs/{job['id']}?lang=en", headers=editor).json()
    assert english["error"]["message"].startswith(f"{filename} is nested too deeply")


def _broken_shapefile_zip(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("strassen/strassen.shp", b"kein Shapefile")
        archive.writestr("strassen/strassen.dbf", b"keine Tabelle")
    return path.read_bytes()


def test_gdal_messages_name_the_file_not_the_server_paths(client, editor, platform,
                                                           tmp_path):
    for filename, content in (("flaechen.gpkg", b"kein GeoPackage"),
                              ("strassen.zip", _broken_shapefile_zip(tmp_path / "s.zip"))):
        job = _job(client, editor, filename, content)
        assert job["status"] == "failed", job
        error = job["error"]
        assert error["code"] == "unreadable_geo", error
        assert error["message"].startswith(f"{filename} lässt sich nicht als Geodatei lesen: ")
        assert f"'{filename}' not recognized" in error["message"], error
        assert str(platform.settings.data_dir) not in error["message"], error
        assert "/tmp" not in error["message"] and "upload" not in error["message"], error


@pytest.mark.parametrize("text, expected", [
    ("'/srv/allmende/daten/tmp/uploads/3f2a.upload' not recognized as being in a supported "
     "file format.", "'flaechen.gpkg' not recognized as being in a supported file format."),
    ('IO Error: No files found that match the pattern "/data/tmp/work-x/source.utf8.csv"\n'
     "more details", 'IO Error: No files found that match the pattern "flaechen.gpkg"'),
    ("Wert 12 km/h am 01/02/2024 (n/a); 'CSV:path'", "Wert 12 km/h am 01/02/2024 (n/a); "
     "'CSV:path'"),
])
def test_library_texts_lose_the_server_paths(text, expected):
    assert library_text(RuntimeError(text), "flaechen.gpkg") == expected


# --- source columns named like allmende's own ------------------------------------------

RESERVED_CSV = (b"__minx;__miny;__maxx;__maxy;__row;Name;lat;lon\r\n"
                b"1;2;3;4;5;Westfalenpark;51.4937;7.4795\r\n"
                b"10;20;30;40;50;Rombergpark;51.4820;7.4750\r\n"
                b"100;200;300;400;500;Fredenbaumpark;51.5352;7.4598\r\n")


def test_source_columns_named_like_allmendes_own_keep_their_values(client, editor):
    job = _job(client, editor, "parks.csv", RESERVED_CSV)
    assert job["status"] == "done", job
    result = job["result"]
    renamed = ["__minx (2)", "__miny (2)", "__maxx (2)", "__maxy (2)", "__row (2)"]
    assert [c["name"] for c in result["columns"]] == [*renamed, "Name", "lat", "lon",
                                                      "geometry"]
    notes = [w["message"] for w in result["warnings"] if w["code"] == "reserved_label"]
    assert "Die Spalte „__minx“ heißt „__minx (2)“: den Namen „__minx“ braucht allmende " \
           "selbst." in notes and len(notes) == 5
    rows = f"/api/v1/resources/{result['resource']}/rows"
    body = client.get(rows, headers=editor).json()
    assert [[r[name] for name in renamed] for r in body["rows"]] == \
        [[1, 2, 3, 4, 5], [10, 20, 30, 40, 50], [100, 200, 300, 400, 500]]
    # the box holds Westfalenpark and Rombergpark (south of 51.5), whatever the columns say
    south = client.get(rows, headers=editor, params={"bbox": "7.4,51.4,7.5,51.5"}).json()
    assert [r["Name"] for r in south["rows"]] == ["Westfalenpark", "Rombergpark"]
    picked = client.get(rows, headers=editor,
                        params={"filter.__minx (2)__gt": 5, "bbox": "7.4,51.4,7.5,51.6"})
    assert picked.status_code == 200, picked.text
    assert [r["Name"] for r in picked.json()["rows"]] == ["Rombergpark", "Fredenbaumpark"]
    for fmt in ("csv", "geojson", "parquet", "xlsx"):
        response = client.get(rows, headers=editor, params={"format": fmt})
        assert response.status_code == 200, (fmt, response.text)
    assert client.get(f"/resources/{result['resource']}", headers=editor).status_code == 200


def test_a_source_column_called_geometry_in_any_case_stays_apart(client, editor):
    content = b"Geometry;lat;lon\r\nPunkt A;51.4937;7.4795\r\nPunkt B;51.4820;7.4750\r\n"
    job = _job(client, editor, "punkte.csv", content)
    assert job["status"] == "done", job
    columns = {c["name"]: c["type"] for c in job["result"]["columns"]}
    assert columns["Geometry"] == "string" and columns["geometry (WGS84)"] == "geometry"
    body = client.get(f"/api/v1/resources/{job['result']['resource']}/rows",
                      headers=editor).json()
    assert body["rows"][0]["Geometry"] == "Punkt A"
    assert body["rows"][0]["geometry (WGS84)"] == {"type": "Point",
                                                   "coordinates": [7.4795, 51.4937]}


# --- the command line -------------------------------------------------------------------

@pytest.fixture
def data(templates: Templates, tmp_path: Path) -> Path:
    """A data directory with the organization dortmund."""
    return templates.install("sqlite", "world", tmp_path / "daten").data_dir


def _ingest(allmende: InProcess, data: Path, path: Path, *extra: str):
    return allmende("--data-dir", data, "ingest", path, "--org", "dortmund", "--dataset",
                    "fehler", *extra, cwd=path.parent)


def test_the_command_refuses_deep_json_in_one_line(allmende, data, tmp_path):
    path = tmp_path / "tief.json"
    path.write_bytes(_deep_json())
    result = _ingest(allmende, data, path, "--json")
    assert result.returncode == 1, result.stderr
    assert one_json_object(result.stdout)["error"]["code"] == "too_deep"
    plain = _ingest(allmende, data, path)
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.strip().startswith("Fehler: tief.json ist zu tief verschachtelt")
    assert len(plain.stderr.strip().splitlines()) <= 2  # one sentence, wrapped at most once


def test_an_unforeseen_error_is_one_line_and_debug_shows_the_traceback(allmende, data,
                                                                        tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("unerwartet\nzweite Zeile")

    monkeypatch.setattr("allmende.ingest.pipeline.build", broken)
    path = tmp_path / "parks.csv"
    path.write_text("Name;Besucher\nWestfalenpark;1200\n", encoding="utf-8")
    result = _ingest(allmende, data, path, "--json")
    assert result.returncode == 1
    assert one_json_object(result.stdout)["error"] == {
        "code": "internal", "message": "Interner Fehler (RuntimeError: unerwartet). Mit --debug "
                                       "zeigt allmende, wo er auftrat."}
    plain = _ingest(allmende, data, path)
    assert plain.returncode == 1 and "zweite Zeile" not in plain.stderr
    with pytest.raises(RuntimeError, match="unerwartet"):
        allmende("--data-dir", data, "--debug", "ingest", path, "--org", "dortmund",
                 "--dataset", "fehler", cwd=tmp_path)


def test_duckdb_out_of_memory_is_one_clear_line(allmende, data, tmp_path, monkeypatch):
    """DuckDB stops at its memory limit with an OutOfMemoryException (here raised where the
    columns are typed, the step that once ran out on 150 columns): the command says which file
    needs more than how much, in one line, with exit status 1."""
    def out_of_memory(*_args, **_kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of "
                                          "size 256.0 KiB (953.6 MiB/953.6 MiB used)")

    monkeypatch.setattr("allmende.ingest.pipeline.decide_column_types", out_of_memory)
    path = tmp_path / "merkmale.csv"
    path.write_text("Name;Besucher\nWestfalenpark;1200\n", encoding="utf-8")
    expected = ("merkmale.csv braucht beim Einlesen mehr als 1 GB Arbeitsspeicher; die "
                "vorherige Version bleibt unverändert. Sehr breite oder sehr große Dateien "
                "teilen Sie am besten auf.")
    result = _ingest(allmende, data, path, "--json")
    assert result.returncode == 1, result.stderr
    assert one_json_object(result.stdout)["error"] == {"code": "out_of_memory",
                                                       "message": expected}
    plain = _ingest(allmende, data, path)
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.strip() == f"Fehler: {expected}"  # one line, no traceback
    assert "Out of Memory Error" not in plain.stderr
    assert not (data / "tables").exists()


def test_the_command_names_the_file_not_the_server_path(allmende, data, tmp_path):
    path = tmp_path / "flaechen.gpkg"
    path.write_bytes(b"kein GeoPackage")
    result = _ingest(allmende, data, path, "--json")
    assert result.returncode == 1
    error = one_json_object(result.stdout)["error"]
    assert error["code"] == "unreadable_geo"
    assert str(tmp_path) not in error["message"] and "'flaechen.gpkg'" in error["message"]
    assert str(tmp_path) not in result.stderr, result.stderr  # nor GDAL's own notes
