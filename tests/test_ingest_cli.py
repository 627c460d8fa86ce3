"""`allmende ingest`: one JSON object on stdout, exit status 0/1/2, the source's own column
labels, versions of the same resource, and the reading options --sheet, --encoding,
--delimiter, --header-row and --crs. SQLite in a data directory, and PostgreSQL through
ALLMENDE_DATABASE_URL when the tests have one.

The command runs in this process (tests/cli_support.py); against the configured database the
first ingest runs as the real console script, whose stdout must hold nothing but one JSON
object while DuckDB and the progress display work in the same process."""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import shapely
from sqlalchemy import select

from allmende.db.models import Dataset, Resource, TableVersion
from cli_support import Cli, InProcess, one_json_object
from databases import Templates
from support import BACKENDS, OPERATOR, version_files

REALDATA = Path(__file__).parent / "data" / "realdata"
TYPES = {"string", "integer", "number", "boolean", "date", "datetime", "time", "json",
         "geometry"}


def _check_result(result: dict) -> None:
    """The fixed points of `allmende ingest --json`."""
    assert {"dataset", "resource", "version", "rows", "columns", "crs", "warnings"} <= \
        set(result)
    assert isinstance(result["resource"], str) and result["resource"]
    assert isinstance(result["version"], int) and result["version"] >= 1
    assert isinstance(result["rows"], int)
    assert all(set(c) >= {"name", "type"} and c["type"] in TYPES for c in result["columns"])
    assert result["crs"] is None or result["crs"].startswith("EPSG:")
    assert all(set(w) >= {"code", "message"} for w in result["warnings"])


def _error(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 1, result.stderr + result.stdout
    body = one_json_object(result.stdout)
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"], body
    return body["error"]


def _parquet(cli: Cli, result: dict) -> list[dict]:
    platform = cli.platform()
    try:
        path = version_files(platform, result["resource"])[result["version"]]
    finally:
        platform.close()
    return pq.read_table(path).to_pylist()


@pytest.fixture
def cli(allmende: InProcess, templates: Templates, tmp_path: Path) -> Cli:
    """A data directory holding a migrated database (copied) and the organization dortmund."""
    instance = Cli(allmende, templates.install("sqlite", "migrated", tmp_path / "daten").data_dir)
    created = instance("org", "create", "dortmund", "--name", "Stadt Dortmund", "--json")
    assert created.returncode == 0, created.stderr
    return instance


# --- the JSON result and versions ------------------------------------------------------

def test_ingest_prints_one_json_object_and_the_same_name_makes_version_2(cli):
    source = REALDATA / "bochum_sportanlagen.csv"
    first = cli.ok(source, "--title", "Sportanlagen", "--resource", "Sportanlagen")
    _check_result(first)
    assert first["dataset"] == "daten" and first["version"] == 1 and first["rows"] > 10
    names = [c["name"] for c in first["columns"]]
    assert names[:8] == ["Art", "Bezeichnung", "Adresse", "Bezirk", "Spielfeld", "Belag",
                         "Maße", "Beleuchtung vorhanden"]
    assert names[9] == "Spalte 10"
    assert first["crs"] is None

    second = cli.ok(source, "--resource", "Sportanlagen")
    _check_result(second)
    assert second["resource"] == first["resource"] and second["version"] == 2
    assert second["rows"] == first["rows"]

    platform = cli.platform()
    try:
        with platform.db.session() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.name == "daten"))
            assert dataset.title == "Sportanlagen" and dataset.access_level == "public"
            assert dataset.organization.slug == "dortmund"
            assert [r.name for r in dataset.resources] == ["Sportanlagen"]
            assert sorted(version_files(platform, dataset.resources[0].id)) == [1, 2]
    finally:
        platform.close()


def test_resource_defaults_to_the_file_name_and_title_to_its_stem(cli, tmp_path):
    source = tmp_path / "baeume-2024.csv"
    source.write_text("Baumart;Pflanzjahr\nLinde;1990\nEiche;2001\n", encoding="utf-8")
    first = cli.ok(source, "--access", "restricted", dataset="baeume")
    again = cli.ok(source, dataset="baeume")
    assert (again["resource"], again["version"]) == (first["resource"], 2)
    platform = cli.platform()
    try:
        with platform.db.session() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.name == "baeume"))
            assert dataset.title == "baeume-2024" and dataset.access_level == "restricted"
            assert dataset.resources[0].name == "baeume-2024.csv"
    finally:
        platform.close()


def test_genesis_column_names_are_the_joined_header_labels(cli):
    result = cli.ok(REALDATA / "itnrw_genesis_33111-02ir_koeln.csv", dataset="flaechen")
    _check_result(result)
    names = [c["name"] for c in result["columns"]]
    assert names[0] == "Spalte 1"
    assert names[1] == "Flächennutzungsarten Bodenfläche insgesamt Insgesamt"
    assert {c["name"]: c["type"] for c in result["columns"]}["Spalte 1"] == "date"
    assert result["rows"] == 19
    assert len(set(n.casefold() for n in names)) == len(names)
    rows = _parquet(cli, result)
    assert str(rows[0]["Spalte 1"]) == "2012-12-31"


def test_repeated_and_blank_labels(cli, tmp_path):
    source = tmp_path / "doppelt.csv"
    source.write_text(" Name ;Wert;;Wert;wert\nA;1;x;2;3\nB;4;y;5;6\n", encoding="utf-8")
    result = cli.ok(source)
    assert [c["name"] for c in result["columns"]] == \
        ["Name", "Wert", "Spalte 3", "Wert (2)", "wert (3)"]


# --- wrong calls and rejections --------------------------------------------------------

def test_a_bad_file_is_status_1_with_a_json_error(cli, tmp_path):
    cases = {
        "muell.csv": bytes(range(256)) * 40,
        "leer.csv": b"",
        "nur-kopf.csv": b"Name;Datum;Wert\r\n",
        "bericht.pdf": b"%PDF-1.4\n%%EOF\n",
        "tabelle.xlsx": b"kein Excel",
        "archiv.zip": b"PK\x03\x04 kaputt",
        "liste.json": b'{"a": 1, "b": 2}',
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        error = _error(cli.ingest(path, dataset="kaputt"))
        assert name in error["message"], error
        assert error["code"] not in ("internal", "error"), error
    # nothing was published
    assert not (cli.data / "tables").exists() or not list((cli.data / "tables").rglob("*"))


def test_wrong_calls_are_status_2(cli, tmp_path):
    missing = cli.ingest(tmp_path / "gibt-es-nicht.csv")
    assert missing.returncode == 2, missing.stderr
    assert "gibt-es-nicht.csv" in missing.stderr
    folder = cli.ingest(tmp_path)
    assert folder.returncode == 2, folder.stderr
    source = tmp_path / "a.csv"
    source.write_text("Name;Wert\nA;1\n", encoding="utf-8")
    header_zero = cli.ingest(source, "--header-row", "0")
    assert header_zero.returncode == 2, header_zero.stderr
    assert header_zero.stdout.strip() == ""
    no_org = cli("ingest", source, "--dataset", "x", "--json")
    assert no_org.returncode == 2, no_org.stderr
    not_a_number = cli.ingest(source, "--header-row", "zwei")
    assert not_a_number.returncode == 2


def test_rejections_of_the_call_target_are_status_1(cli, tmp_path):
    source = tmp_path / "a.csv"
    source.write_text("Name;Wert\nA;1\n", encoding="utf-8")
    assert _error(cli.ingest(source, org="gibt-es-nicht"))["code"]
    assert _error(cli.ingest(source, dataset="Kein Slug!"))["code"]
    assert cli("org", "create", "bochum", "--name", "Stadt Bochum").returncode == 0
    cli.ok(source, dataset="dortmunder-daten")
    wrong = _error(cli.ingest(source, org="bochum", dataset="dortmunder-daten"))
    assert wrong["code"] == "wrong_organization"
    assert _error(cli.ingest(source, "--access", "geheim", dataset="neu"))["code"]
    assert _error(cli.ingest(source, "--encoding", "klingonisch"))["code"] == "bad_encoding"
    coordinates = tmp_path / "punkte.csv"
    coordinates.write_text("Name;lat;lon\nA;51.51;7.46\nB;51.52;7.47\n", encoding="utf-8")
    assert _error(cli.ingest(coordinates, "--crs", "EPSG:999999"))["code"] == "unknown_crs"


def test_an_unknown_crs_is_refused_even_when_the_file_has_no_coordinates(cli, tmp_path):
    """A stated CRS that does not exist is a mistake whatever the file holds; accepting it
    silently also remembers it for the resource, so that the next upload with coordinates
    fails for a reason nobody can see any more."""
    source = tmp_path / "a.csv"
    source.write_text("Name;Wert\nA;1\n", encoding="utf-8")
    result = cli.ingest(source, "--crs", "EPSG:999999")
    assert result.returncode in (1, 2), result.stdout
    if result.returncode == 1:
        assert _error(result)["code"] == "unknown_crs"


# --- reading options -------------------------------------------------------------------

def test_crs_option_on_the_reutlingen_wkt_file(cli):
    result = cli.ok(REALDATA / "radabstell_reutlingen_utm32.csv", "--crs", "EPSG:25832",
                    dataset="radabstellanlagen")
    _check_result(result)
    assert result["crs"] == "EPSG:25832"
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types["GEOM"] == "string" and types["geometry"] == "geometry"
    point = shapely.from_wkb(_parquet(cli, result)[0]["geometry"])
    assert 9.1 < point.x < 9.3 and 48.4 < point.y < 48.6  # Reutlingen, lon/lat


def test_crs_option_overrides_the_guess(cli, tmp_path):
    """UTM coordinates of Dortmund's centre: guessed as zone 32, but a person who says they are
    zone 33 gets zone 33 (a place in eastern Germany)."""
    source = tmp_path / "utm.csv"
    source.write_text("Name;Rechtswert;Hochwert\nA;393500;5708500\nB;393600;5708400\n",
                      encoding="utf-8")
    guessed = cli.ok(source, dataset="geraten")
    assert guessed["crs"] == "EPSG:25832"
    point = shapely.from_wkb(_parquet(cli, guessed)[0]["geometry"])
    assert 7.4 < point.x < 7.5 and 51.5 < point.y < 51.52
    stated = cli.ok(source, "--crs", "EPSG:25833", dataset="angegeben")
    assert stated["crs"] == "EPSG:25833"
    point = shapely.from_wkb(_parquet(cli, stated)[0]["geometry"])
    assert 13.4 < point.x < 13.5 and 51.5 < point.y < 51.52


def test_many_utm_coordinates_are_reprojected_without_a_crash(cli, tmp_path):
    """A hundred thousand UTM points (a tree register as Dortmund exports it): reprojecting
    them inside DuckDB's query from DuckDB's own threads crashed the process now and then
    (SIGSEGV in pyproj, in the first or second process on this file, four times of four).
    Six ingests, each a process of its own as jobs are: every one ends with its version."""
    source = tmp_path / "baeume.csv"
    source.write_text("Baum;Rechtswert;Hochwert\n" + "".join(
        f"B{n};{390000 + n % 5000},5;{5700000 + n % 7000},25\n" for n in range(100_000)),
        encoding="utf-8")
    for attempt in range(1, 7):
        result = cli.ingest(source, dataset="baeume", process=True)
        assert result.returncode == 0, (attempt, result.returncode, result.stderr[-2000:])
        assert one_json_object(result.stdout)["version"] == attempt
    rows = _parquet(cli, one_json_object(result.stdout))
    point = shapely.from_wkb(rows[0]["geometry"])
    assert 7.3 < point.x < 7.6 and 51.4 < point.y < 51.5  # the first tree, in lon/lat


def test_sheet_option_on_a_generated_workbook(cli, tmp_path):
    import xlsxwriter

    path = tmp_path / "luftmessung.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    overview = workbook.add_worksheet("Übersicht")
    overview.write_row(0, 0, ["Station", "Straße", "Inbetriebnahme"])
    overview.write_row(1, 0, ["DOBR", "Brackeler Straße"])
    overview.write_datetime(1, 2, dt.datetime(2008, 3, 1), date_format)
    overview.write_row(2, 0, ["DOST", "Steinstraße"])
    overview.write_datetime(2, 2, dt.datetime(2011, 6, 15), date_format)
    values = workbook.add_worksheet("Messwerte")
    values.write_row(0, 0, ["Station", "Datum", "NO₂ (µg/m³)", "Anteil Überschreitung",
                            "Grenzwert überschritten"])
    for row, (station, day, no2, share, exceeded) in enumerate([
            ("DOBR", dt.datetime(2024, 1, 1), 31.5, 0.125, False),
            ("DOBR", dt.datetime(2024, 1, 2), 42.25, 0.5, True),
            ("DOST", dt.datetime(2024, 1, 1), 28.0, 0.0, False)], start=1):
        values.write_string(row, 0, station)
        values.write_datetime(row, 1, day, date_format)
        values.write_number(row, 2, no2)
        values.write_number(row, 3, share)
        values.write_boolean(row, 4, exceeded)
    workbook.close()

    first = cli.ok(path, dataset="luft", org="dortmund")
    assert [c["name"] for c in first["columns"]] == ["Station", "Straße", "Inbetriebnahme"]
    assert {c["name"]: c["type"] for c in first["columns"]}["Inbetriebnahme"] == "date"

    result = cli.ok(path, "--sheet", "Messwerte", "--resource", "Messwerte", dataset="luft")
    _check_result(result)
    assert result["rows"] == 3 and result["version"] == 1
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types == {"Station": "string", "Datum": "date", "NO₂ (µg/m³)": "number",
                     "Anteil Überschreitung": "number", "Grenzwert überschritten": "boolean"}
    rows = _parquet(cli, result)
    assert rows[1]["Datum"] == dt.date(2024, 1, 2)
    assert rows[1]["NO₂ (µg/m³)"] == pytest.approx(42.25)
    assert rows[1]["Grenzwert überschritten"] is True

    unknown = _error(cli.ingest(path, "--sheet", "Jahreswerte", dataset="luft"))
    assert unknown["code"] == "unknown_sheet"
    assert "Übersicht" in unknown["message"] and "Messwerte" in unknown["message"]


def test_encoding_option_is_honoured(cli, tmp_path):
    source = tmp_path / "strassen.csv"
    source.write_bytes("Straße;Länge (m)\nKöpenicker Straße;1234,5\nÖstliche Allee;€ 12\n"
                       .encode("cp1252"))
    result = cli.ok(source, "--encoding", "cp1252")
    assert [c["name"] for c in result["columns"]] == ["Straße", "Länge (m)"]
    rows = _parquet(cli, result)
    assert rows[0]["Straße"] == "Köpenicker Straße" and rows[1]["Länge (m)"] == "€ 12"
    # read as UTF-8 on request, the same bytes are refused rather than mangled
    assert _error(cli.ingest(source, "--encoding", "utf-8"))["code"] == "bad_encoding"
    # and a UTF-8 file read as cp1252 on request shows exactly that
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text("Ort;Wert\nKöln;1\nMünster;2\n", encoding="utf-8")
    forced = cli.ok(utf8, "--encoding", "cp1252", dataset="erzwungen")
    assert _parquet(cli, forced)[0]["Ort"] == "KÃ¶ln"


def test_delimiter_and_header_row_options(cli, tmp_path):
    source = tmp_path / "pipes.txt"
    source.write_text("Bericht des Tiefbauamts\nJahr 2024\n\nBrücke|Baujahr|Länge\n"
                      "Kanalbrücke|1899|12,5\nHafenbrücke|1955|40,0\n", encoding="utf-8")
    result = cli.ok(source, "--delimiter", "|", "--header-row", "4")
    assert [c["name"] for c in result["columns"]] == ["Brücke", "Baujahr", "Länge"]
    assert result["rows"] == 2
    colon = tmp_path / "doppelpunkt.csv"
    colon.write_text("Name:Wert\nA:1\nB:2\n", encoding="utf-8")
    assert cli.ingest(colon, dataset="ohne").returncode == 1  # no table without the option
    with_option = cli.ok(colon, "--delimiter", ":", dataset="mit")
    assert [c["name"] for c in with_option["columns"]] == ["Name", "Wert"]
    # remembered for the next version of the same resource
    again = cli.ok(colon, dataset="mit")
    assert again["version"] == 2 and [c["name"] for c in again["columns"]] == ["Name", "Wert"]


def test_warnings_have_code_and_message_in_json(cli):
    result = cli.ok(REALDATA / "moers_passanten_2022-05.csv", dataset="passanten")
    assert "damaged_text" in [w["code"] for w in result["warnings"]]
    plain = cli.ingest(REALDATA / "moers_passanten_2022-05.csv", dataset="passanten")
    assert plain.returncode == 0
    text = cli("ingest", REALDATA / "moers_passanten_2022-05.csv", "--org", "dortmund",
               "--dataset", "passanten")
    assert text.returncode == 0 and text.stdout.strip() == ""  # without --json: stderr only
    assert "Version 3" in text.stderr


# --- PostgreSQL through ALLMENDE_DATABASE_URL ------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_ingest_against_the_configured_database(allmende, backend, tmp_path, postgres_url):
    url = postgres_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'anders.db'}"
    cli = Cli(allmende, tmp_path / "daten", url)
    slug = f"org-{uuid.uuid4().hex[:8]}"
    dataset = f"ds-{uuid.uuid4().hex[:8]}"
    assert cli("org", "create", slug, "--name", "Per Umgebung").returncode == 0
    source = REALDATA / "bochum_schulen.csv"
    first = cli.ok(source, org=slug, dataset=dataset, process=True)
    _check_result(first)
    assert first["crs"] == "EPSG:25832"
    second = cli.ok(source, org=slug, dataset=dataset)
    assert (second["resource"], second["version"]) == (first["resource"], 2)
    assert not (cli.data / "allmende.db").exists()  # the rows went to that database
    platform = cli.platform()
    try:
        with platform.db.session() as session:
            versions = session.scalars(select(TableVersion.version).join(Resource).where(
                Resource.id == first["resource"]).order_by(TableVersion.version)).all()
            assert versions == [1, 2]
        assert version_files(platform, first["resource"])[2].is_file()
    finally:
        platform.close()


def test_a_mapped_resource_is_harmonized_by_the_ingest_command(cli, tmp_path):
    from allmende.harmonize import service

    source = tmp_path / "ladesaeulen.csv"
    source.write_text("Betreiber;EVSE-ID;Breitengrad;Längengrad;Leistung (kW)\n"
                      "DEW21;DE*DEW*E0001;51,5079;7,4569;22\n", encoding="utf-8")
    first = cli.ok(source, dataset="lade")
    assert "quality" not in first  # no mapping yet
    platform = cli.platform()
    try:
        with platform.db.session() as session:
            mapping = service.suggest(platform, session, OPERATOR, first["resource"],
                                      "ladesaeulen")
            service.save_mapping(platform, session, OPERATOR, first["resource"], mapping)
    finally:
        platform.close()
    second = cli.ok(source, dataset="lade")
    assert second["version"] == 2
    assert second["quality"]["schema"] == "ladesaeulen"
    assert 0 <= second["quality"]["score"] <= 100
    platform = cli.platform()
    try:
        with platform.db.sessions() as session:
            record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
            assert [(s["dataset"], s["table_version"]) for s in record.sources] == [("lade", 2)]
    finally:
        platform.close()
