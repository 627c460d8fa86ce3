"""Wide tables: up to the documented 2,000 columns every format ingests; a wider one is refused
before any work is done on its values, with the file and its width named — CSV, Excel, JSON
and the properties of GeoJSON alike.

The refusals run `allmende ingest` as a process with a time limit: what a refusal must prevent
is the minutes a 5,000-column table would take."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from allmende.ingest.readers import MAX_COLUMNS
from allmende.ingest.sniff import SAMPLE_BYTES
from cli_support import one_json_object, run_process
from databases import Installation, Templates
from support import finished_job

WIDE = 5000
# A refusal is quick; without the check, typing 5,000 columns takes minutes.
REFUSAL_SECONDS = 60


@pytest.fixture
def sqlite(templates: Templates, tmp_path: Path) -> Installation:
    """A data directory with the organization dortmund (the world template), on SQLite: the
    database plays no part in reading a file."""
    return templates.install("sqlite", "world", tmp_path / "daten")


def _ingest(installation: Installation, path: Path, timeout: float = REFUSAL_SECONDS
            ) -> subprocess.CompletedProcess:
    return run_process("ingest", path, "--org", "dortmund", "--dataset", "breit", "--json",
                       cwd=path.parent, env=installation.env(), timeout=timeout)


def _refusal(installation: Installation, path: Path) -> dict:
    result = _ingest(installation, path)
    assert result.returncode == 1, result.stdout + result.stderr
    return one_json_object(result.stdout)["error"]


def _labels(count: int) -> list[str]:
    return [f"M{i + 1}" for i in range(count)]


def _csv(path: Path, columns: int) -> Path:
    path.write_text(";".join(_labels(columns)) + "\n" + ";".join(map(str, range(columns)))
                    + "\n", encoding="utf-8")
    return path


def _xlsx(path: Path, columns: int) -> Path:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Daten")
    sheet.write_row(0, 0, _labels(columns))
    sheet.write_row(1, 0, list(range(columns)))
    workbook.close()
    return path


def _json(path: Path, columns: int) -> Path:
    path.write_text(json.dumps([dict(zip(_labels(columns), range(columns), strict=True))]),
                    encoding="utf-8")
    return path


def _geojson(path: Path, columns: int) -> Path:
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [7.46, 51.51]},
               "properties": dict(zip(_labels(columns), range(columns), strict=True))}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                    encoding="utf-8")
    return path


WRITERS = {"breit.csv": _csv, "breit.xlsx": _xlsx, "breit.json": _json,
           "breit.geojson": _geojson}


@pytest.mark.parametrize("name", WRITERS)
def test_a_table_wider_than_the_limit_is_refused_at_once_naming_file_and_width(
        sqlite, tmp_path, name):
    path = WRITERS[name](tmp_path / name, WIDE)
    if name == "breit.json":
        assert path.stat().st_size < 100_000  # small file, wide table
    error = _refusal(sqlite, path)
    assert error["code"] == "too_many_columns", error
    assert name in error["message"] and str(WIDE) in error["message"], error
    assert f"höchstens {MAX_COLUMNS}" in error["message"], error
    assert not (sqlite.data_dir / "tables").exists()


def test_rows_longer_than_the_limit_are_refused_too(sqlite, tmp_path):
    """The header is within the limit, a row after the part the sniffing reads is not: the
    spare columns that catch values beyond the header stop one past the limit."""
    path = tmp_path / "ausgefranst.csv"
    header = _labels(MAX_COLUMNS - 10)
    row = ";".join("1" * len(header)) + "\n"
    rows = SAMPLE_BYTES // len(row) + 1
    path.write_text(";".join(header) + "\n" + row * rows + ";".join("2" * (MAX_COLUMNS + 50))
                    + "\n", encoding="utf-8")
    error = _refusal(sqlite, path)
    assert error["code"] == "too_many_columns", error
    assert "ausgefranst.csv" in error["message"] and str(MAX_COLUMNS) in error["message"]


def test_a_too_wide_json_upload_fails_its_job_in_german_and_english(client, world, tmp_path):
    headers = world.auth("editor")
    created = client.post("/api/v1/datasets", headers=headers, json={
        "name": "breit", "title": "Breite Tabelle", "description": "Sehr viele Merkmale.",
        "organization": "dortmund"})
    assert created.status_code == 201, created.text
    content = _json(tmp_path / "merkmale.json", WIDE).read_bytes()
    response = client.post("/api/v1/datasets/breit/resources", headers=headers,
                           files={"file": ("merkmale.json", content, "application/json")})
    assert response.status_code == 202, response.text
    job = finished_job(client, headers, response.json()["id"], REFUSAL_SECONDS)
    assert job["status"] == "failed", job
    assert job["error"] == {"code": "too_many_columns", "message": (
        f"merkmale.json hat {WIDE} Spalten; erlaubt sind höchstens {MAX_COLUMNS}.")}
    english = client.get(f"/api/v1/jobs/{job['id']}?lang=en", headers=headers).json()
    assert english["error"]["message"] == \
        f"merkmale.json has {WIDE} columns; at most {MAX_COLUMNS} are allowed."

