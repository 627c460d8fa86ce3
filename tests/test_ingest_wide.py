"""Wide tables: up to the documented 2,000 columns every format ingests; a wider one is refused
before any work is done on its values, with the file and its width named — CSV, Excel, JSON,
the properties of GeoJSON and the fields of a Shapefile alike.

The refusals run `allmende ingest` as a process with a time limit: what a refusal must prevent
is the minutes a 5,000-column table would take."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
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


def _shapefile_zip(path: Path, columns: int) -> Path:
    """A zipped Shapefile of one point with ``columns`` integer fields (a DBF takes up to
    2,046; a GeoPackage cannot be wider than SQLite's 2,000 columns, so none is refused)."""
    import warnings
    import zipfile

    import pyarrow as pa
    import pyogrio
    import shapely

    table = pa.table({**{label: pa.array([n], pa.int32())
                         for n, label in enumerate(_labels(columns))},
                      "geometry": pa.array([shapely.to_wkb(shapely.Point(7.46, 51.51))])})
    shape = path.with_suffix(".shp")
    with warnings.catch_warnings():  # "some DBF readers might only support 255 fields"
        warnings.simplefilter("ignore")
        pyogrio.write_arrow(table, shape, driver="ESRI Shapefile", geometry_name="geometry",
                            geometry_type="Point", crs="EPSG:4326")
    with zipfile.ZipFile(path, "w") as archive:
        for part in sorted(shape.parent.glob(f"{shape.stem}.*")):
            if part != path:
                archive.write(part, part.name)
    return path


def test_a_shapefile_wider_than_the_limit_is_refused_before_its_values_are_read(
        sqlite, allmende, tmp_path, monkeypatch):
    import pyogrio

    path = _shapefile_zip(tmp_path / "breit.zip", MAX_COLUMNS + 10)
    read: list[str] = []
    monkeypatch.setattr(pyogrio, "read_arrow", lambda *args, **kwargs: read.append(args[0]))
    result = allmende("ingest", path, "--org", "dortmund", "--dataset", "breit", "--json",
                      cwd=tmp_path, env=sqlite.env())
    assert result.returncode == 1, result.stdout + result.stderr
    error = one_json_object(result.stdout)["error"]
    assert error == {"code": "too_many_columns", "message": (
        f"breit.zip hat {MAX_COLUMNS + 10} Spalten; erlaubt sind höchstens {MAX_COLUMNS}.")}
    assert read == []  # refused on the fields GDAL lists, before a value was read
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



# --- wide tables up to the limit --------------------------------------------------------

KINDS = ("integer", "number", "date", "boolean", "string", "string")


def _cell(kind: int, row: int, column: int) -> str:
    """Row ``row`` of column ``column``, as a German export writes it; ``kind`` picks the
    type (KINDS): counts, decimal commas, dates, ja/nein, identifiers with leading zeros,
    words."""
    return (str(row * column), f"{row},{column % 100:02d}",
            f"{row % 28 + 1:02d}.{column % 12 + 1:02d}.2024", ("ja", "nein")[row % 2],
            f"0{4000 + column}", f"Stadtteil {row}")[kind]


def _wide_csv(path: Path, columns: int, rows: int) -> Path:
    lines = [";".join(_labels(columns))]
    lines += [";".join(_cell(c % len(KINDS), r, c) for c in range(columns))
              for r in range(1, rows + 1)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def _expected(row: int, column: int) -> object:
    kind = column % len(KINDS)
    return (row * column, float(f"{row}.{column % 100:02d}"),
            f"2024-{column % 12 + 1:02d}-{row % 28 + 1:02d}", row % 2 == 0,
            f"0{4000 + column}", f"Stadtteil {row}")[kind]


@pytest.mark.parametrize("columns", [150, MAX_COLUMNS])
def test_a_wide_csv_is_typed_column_by_column_and_served(client, world, tmp_path, columns):
    headers = world.auth("editor")
    created = client.post("/api/v1/datasets", headers=headers, json={
        "name": "breit", "title": "Breite Tabelle", "description": "Sehr viele Merkmale.",
        "organization": "dortmund"})
    assert created.status_code == 201, created.text
    rows = 10
    content = _wide_csv(tmp_path / "merkmale.csv", columns, rows).read_bytes()
    response = client.post("/api/v1/datasets/breit/resources", headers=headers,
                           files={"file": ("merkmale.csv", content, "text/csv")})
    assert response.status_code == 202, response.text
    job = finished_job(client, headers, response.json()["id"], timeout=300)
    assert job["status"] == "done", job
    result = job["result"]
    assert result["rows"] == rows
    assert [(c["name"], c["type"]) for c in result["columns"]] == \
        [(label, KINDS[i % len(KINDS)]) for i, label in enumerate(_labels(columns))]

    served = client.get(f"/api/v1/resources/{result['resource']}/rows", headers=headers)
    assert served.status_code == 200, served.text
    body = served.json()
    assert body["total"] == rows and len(body["fields"]) == columns
    for number, row in enumerate(body["rows"], start=1):
        assert row == {label: _expected(number, i) for i, label in enumerate(_labels(columns))}
    last = _labels(columns)[-1 - (columns - 1) % len(KINDS)]  # an integer column near the end
    picked = client.get(f"/api/v1/resources/{result['resource']}/rows", headers=headers,
                        params={f"{last}__gte": 5 * (columns - 1 - (columns - 1) % 6),
                                "fields": last})
    assert picked.status_code == 200, picked.text
    assert picked.json()["total"] == rows - 4
    page = client.get(f"/resources/{result['resource']}", headers=headers)
    assert page.status_code == 200 and _labels(columns)[-1] in page.text


def test_the_command_ingests_a_csv_of_150_columns(sqlite, allmende, tmp_path):
    """`allmende ingest` once ended in a traceback on 150 columns (DuckDB out of memory)."""
    path = _wide_csv(tmp_path / "merkmale.csv", 150, 10)
    result = allmende("ingest", path, "--org", "dortmund", "--dataset", "breit", "--json",
                      cwd=tmp_path, env=sqlite.env())
    assert result.returncode == 0, result.stdout + result.stderr
    body = one_json_object(result.stdout)
    assert body["rows"] == 10
    assert [(c["name"], c["type"]) for c in body["columns"]] == \
        [(label, KINDS[i % len(KINDS)]) for i, label in enumerate(_labels(150))]


def _json_value(kind: int, row: int, column: int) -> object:
    """What _cell writes, as a JSON export holds it: counts as numbers, the rest as text."""
    return row * column if kind == 0 else _cell(kind, row, column)


def test_a_json_of_200_records_with_500_keys_ingests_with_every_column(sqlite, allmende,
                                                                        tmp_path):
    """Once 65 s and 1 GB; how long it takes now is bench/wide.py's to measure."""
    rows, columns = 200, 500
    labels = _labels(columns)
    path = tmp_path / "merkmale.json"
    path.write_text(json.dumps([{label: _json_value(c % len(KINDS), r, c)
                                 for c, label in enumerate(labels)}
                                for r in range(1, rows + 1)]), encoding="utf-8")
    result = allmende("ingest", path, "--org", "dortmund", "--dataset", "breit", "--json",
                      cwd=tmp_path, env=sqlite.env())
    assert result.returncode == 0, result.stdout + result.stderr
    body = one_json_object(result.stdout)
    assert body["rows"] == rows
    assert [(c["name"], c["type"]) for c in body["columns"]] == \
        [(label, KINDS[i % len(KINDS)]) for i, label in enumerate(labels)]
    (parquet,) = (sqlite.data_dir / "tables" / body["resource"]).glob("*.parquet")
    table = pq.read_table(parquet, columns=labels)
    assert table.num_rows == rows
    for number in (1, rows):
        stored = {k: v.isoformat() if isinstance(v, dt.date) else v
                  for k, v in table.slice(number - 1, 1).to_pylist()[0].items()}
        assert stored == {label: _expected(number, c) for c, label in enumerate(labels)}


def test_the_typing_query_grows_by_a_name_per_column_not_by_an_expression():
    """DuckDB's planning time follows the query's size: what a column adds must be its name and
    a position, not the cleaning and conversion expressions (some 1,200 characters)."""
    import duckdb

    from allmende.ingest.values import decide_column_types, typed_query

    con = duckdb.connect()
    try:
        sizes = {}
        for columns in (MAX_COLUMNS // 2, MAX_COLUMNS):
            labels = _labels(columns)
            con.execute("CREATE OR REPLACE TABLE breit AS SELECT " + ", ".join(
                f"'{_cell(i % len(KINDS), 1, i)}' AS \"{label}\""
                for i, label in enumerate(labels)))
            types = decide_column_types(con, "breit", labels, 1)
            sizes[columns] = len(typed_query(types, "breit"))
            assert con.execute(typed_query(types, "breit")).fetchall()[0][:3] == \
                (0, 1.01, dt.date(2024, 3, 2))
    finally:
        con.close()
    per_column = (sizes[MAX_COLUMNS] - sizes[MAX_COLUMNS // 2]) / (MAX_COLUMNS // 2)
    assert per_column < 60, per_column
