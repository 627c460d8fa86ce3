"""Where the header is: group banners over a header (the Bundesnetzagentur's charging
register of 2024), a sparse first guess that gives way to a full header, and a doubt said on
the version ("Kopfzeile unsicher: Zeile N oder M?") in German and English — in the resource
API, on the resource page and in `allmende ingest --json`, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import shapely
from fastapi.testclient import TestClient

import allmende.demo
from allmende.access.accounts import actor_for
from allmende.catalog import datasets
from allmende.db.models import TableVersion, User
from allmende.errors import TEMPLATE_KEY
from allmende.ingest.pipeline import BuiltTable, build
from allmende.ingest.service import IngestRequest, ingest
from allmende.ingest.sniff import Header, ReadOptions, header_position
from allmende.web.app import create_app
from cli_support import Cli, one_json_object
from support import BACKENDS, OPERATOR, dataset_body

DATA = Path(__file__).parent / "data"
DEMO_FILES = Path(allmende.demo.__file__).parent / "files"
REGISTER_2024 = DEMO_FILES / "gelsenkirchen_ladesaeulenregister.csv"
WITHOUT_PREAMBLE = DATA / "ladesaeulenregister_2024_ohne_vorspann_synthetic.csv"
DOUBTFUL = DATA / "baustellen_kopfzeile_unsicher_synthetic.csv"
GELSENKIRCHEN = (6.9850, 51.4760, 7.1490, 51.6320)
ENGLISH = {"Accept-Language": "en"}
DOUBT_DE = ("Kopfzeile unsicher: Zeile 1 oder 2? Gelesen wurde Zeile 2 als Kopfzeile; eine "
            "andere lässt sich beim Hochladen angeben.")
DOUBT_EN = ("Header row uncertain: row 1 or 2? Row 2 was read as the header; another one can "
            "be given when uploading.")
ENDE_DE = "bleibt Text: 3 Zellen wie „bis auf Weiteres“ (Datenzeile 2) sind kein Datum"
ENDE_EN = "stays text: 3 cells such as “bis auf Weiteres” (data row 2) are not a date"
POINT = ("Steckertypen", "Nennleistung Stecker", "EVSE-ID", "Public Key")


def _rows(text: str) -> list[list[str]]:
    return [line.split(";") for line in text.strip().splitlines()]


def _position(text: str) -> Header:
    return header_position(_rows(text), ReadOptions())


def _build(tmp_path: Path, path: Path, area=None, **options) -> tuple[BuiltTable, list[dict]]:
    built = build(path, path.name, ReadOptions(**options), tmp_path, area,
                  lambda _fraction, _message: None)
    return built, pq.read_table(built.parquet).to_pylist()


# --- where the header is ----------------------------------------------------------------------

def test_a_banner_of_numbered_groups_is_joined_over_the_header():
    header = _position("""
Ladesäulenregister;;;;;;
;;;;;;
Allgemeine Informationen;;;1. Ladepunkt;;2. Ladepunkt;
ID;Betreiber;Breitengrad;Stecker1;kW1;Stecker2;kW2
1;Muster;51,5;Typ 2;22;;
2;Probe;51,6;CCS;150;Typ 2;22
""")
    assert header == Header(title_rows=2, rows=2, banners=1)


@pytest.mark.parametrize("text", [
    # years over repeated labels: the labels beneath two of them are the same
    """
;2022;;2023;
Bezirk;Männer;Frauen;Männer;Frauen
Mitte;100;120;101;119
Nord;90;95;92;97
""",
    # a banner that tells apart labels the header repeats
    """
;Fläche;;;Verkehr;;
Jahr;Insgesamt;Wohnen;Gewerbe;Insgesamt;Straße;Weg
2012;40;13;5;6;3;1
2011;40;13;5;6;3;1
""",
], ids=["years over repeated labels", "a banner telling repeated labels apart"])
def test_banners_over_repeated_groups_are_certain(text):
    header = _position(text)
    assert (header.title_rows, header.rows, header.banners, header.doubt) == (0, 2, 1, None)


def test_a_banner_that_may_be_a_title_gives_the_full_header_and_a_doubt():
    header = _position(DOUBTFUL.read_text(encoding="utf-8"))
    assert (header.title_rows, header.rows, header.banners) == (1, 1, 0)
    assert header.doubt is not None and header.doubt.code == "uncertain_header"
    assert header.doubt.message == DOUBT_DE


def test_a_sparse_note_with_values_is_a_title_without_doubt():
    header = _position("""
Stand;01.01.2024;;;
Nr;Name;Ort;Plätze;Baujahr
1;Westfalenpark;Dortmund;300;1959
2;Rombergpark;Dortmund;120;1822
""")
    assert header == Header(title_rows=1, rows=1)


def test_a_full_row_of_text_over_text_may_be_data_the_guess_stays_with_a_doubt():
    header = _position("""
Name;;;;Bemerkung
Westfalenpark;Dortmund;Innenstadt;Stadt;groß
Rombergpark;Dortmund;Hombruch;Stadt;Arboretum
Fredenbaumpark;Dortmund;Nord;Stadt;alt
""")
    assert (header.title_rows, header.rows, header.banners) == (0, 1, 0)
    assert header.doubt is not None and "Zeile 1 oder 2?" in header.doubt.message
    assert "Gelesen wurde Zeile 1" in header.doubt.message


def test_a_given_header_row_is_taken_as_it_is():
    rows = _rows(REGISTER_2024.read_text(encoding="utf-8-sig"))
    assert header_position(rows, ReadOptions(header_row=11)) == Header(10, 1)


# --- the Bundesnetzagentur's register of 2024 -----------------------------------------------------

def _joined_labels() -> list[str]:
    general = ["Ladeeinrichtungs-ID", "Betreiber", "Anzeigename (Karte)", "Status",
               "Art der Ladeeinrichtung", "Anzahl Ladepunkte",
               "Nennleistung Ladeeinrichtung [kW]", "Inbetriebnahmedatum", "Straße",
               "Hausnummer", "Adresszusatz", "Postleitzahl", "Ort", "Kreis/kreisfreie Stadt",
               "Bundesland", "Breitengrad", "Längengrad", "Standortbezeichnung",
               "Informationen zum Parkraum", "Bezahlsysteme", "Öffnungszeiten",
               "Öffnungszeiten: Wochentage", "Öffnungszeiten: Tageszeiten"]
    return [f"Allgemeine Informationen {label}" for label in general] + [
        f"{n}. Ladepunkt {member}{n}" for n in range(1, 5) for member in POINT]


def test_the_2024_register_with_preamble_and_banner_reads_every_column(tmp_path):
    built, rows = _build(tmp_path, REGISTER_2024, area=GELSENKIRCHEN)
    assert (built.report["title_rows"], built.report["header_rows"]) == (9, 2)
    assert built.report["encoding"] == "utf-8-sig" and built.report["delimiter"] == ";"
    assert built.rows == 44 == len(rows)
    names = [c["name"] for c in built.columns]
    assert names == [*_joined_labels(), "geometry"]  # 39 columns named, and the geometry
    types = {c["name"]: c["type"] for c in built.columns}
    general = "Allgemeine Informationen "
    assert types[general + "Ladeeinrichtungs-ID"] == "integer"
    assert types[general + "Anzahl Ladepunkte"] == "integer"
    assert types[general + "Inbetriebnahmedatum"] == "date"
    assert types[general + "Breitengrad"] == types[general + "Längengrad"] == "number"
    assert types[general + "Postleitzahl"] == "string"
    assert types["1. Ladepunkt Nennleistung Stecker1"] == "number"  # "3,7" among them
    assert types["3. Ladepunkt Nennleistung Stecker3"] == "string"  # "22 kW" once
    # the note says which cell kept it text, and so it does for "12a" among house numbers
    notes = built.report["notes"]
    assert notes["3. Ladepunkt Nennleistung Stecker3"] == \
        "bleibt Text: „22 kW“ (Datenzeile 20) ist keine Zahl"
    assert notes[general + "Hausnummer"] == "bleibt Text: „12a“ (Datenzeile 4) ist keine Zahl"
    assert built.crs == "EPSG:4326"
    assert all(shapely.from_wkb(r["geometry"]).within(shapely.box(*GELSENKIRCHEN))
               for r in rows)
    assert [w.code for w in built.warnings] == ["crs_detected"]
    first = rows[0]
    assert first[general + "Breitengrad"] == pytest.approx(51.507433)
    assert first["1. Ladepunkt EVSE-ID1"] == "DE*EMU*E501001*1"
    assert first["3. Ladepunkt Steckertypen3"] is None  # unused groups are empty
    # a quoted line break and a ";" inside opening hours stay in their cell
    assert rows[7][general + "Öffnungszeiten"] == "Mo-Fr 7-20 Uhr;\nSa 8-14 Uhr"
    # 1 to 4 charging points per station, as the station counts them
    counts = [r[general + "Anzahl Ladepunkte"] for r in rows]
    assert set(counts) == {1, 2, 3, 4}
    assert all(sum(r[f"{n}. Ladepunkt Steckertypen{n}"] is not None for n in range(1, 5)) == c
               for r, c in zip(rows, counts, strict=True))


def test_the_2024_layout_without_preamble_and_without_padding(tmp_path):
    built, rows = _build(tmp_path, WITHOUT_PREAMBLE)
    assert (built.report["title_rows"], built.report["header_rows"]) == (0, 2)
    assert built.report["encoding"] == "utf-8"
    assert [c["name"] for c in built.columns] == [*_joined_labels(), "geometry"]
    assert built.rows == 12 and built.crs == "EPSG:4326"
    assert rows[0]["2. Ladepunkt EVSE-ID2"] == "DE*EMU*E501001*2"


def test_the_small_2024_fixture_is_read_the_same_way(tmp_path):
    built, rows = _build(tmp_path, DATA / "ladesaeulen_2024_synthetic.csv")
    assert [c["name"] for c in built.columns] == [*_joined_labels(), "geometry"]
    assert built.rows == 5 and rows[3]["3. Ladepunkt Nennleistung Stecker3"] == "22 kW"


def test_a_banner_in_an_excel_sheet(tmp_path):
    import xlsxwriter

    path = tmp_path / "register.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["Ladesäulenregister"])
    sheet.write_row(2, 0, ["Allgemeine Informationen", "", "", "1. Ladepunkt", "",
                           "2. Ladepunkt"])
    sheet.write_row(3, 0, ["Ladeeinrichtungs-ID", "Breitengrad", "Längengrad",
                           "Steckertypen1", "Nennleistung Stecker1", "Steckertypen2",
                           "Nennleistung Stecker2"])
    sheet.write_row(4, 0, [501001, 51.5074, 7.1012, "AC Typ 2", 22, "AC Schuko", 3.7])
    sheet.write_row(5, 0, [501008, 51.5098, 7.0972, "DC CCS", 150])
    workbook.close()
    built, rows = _build(tmp_path, path)
    assert [c["name"] for c in built.columns] == [
        "Allgemeine Informationen Ladeeinrichtungs-ID", "Allgemeine Informationen Breitengrad",
        "Allgemeine Informationen Längengrad", "1. Ladepunkt Steckertypen1",
        "1. Ladepunkt Nennleistung Stecker1", "2. Ladepunkt Steckertypen2",
        "2. Ladepunkt Nennleistung Stecker2", "geometry"]
    assert (built.report["title_rows"], built.report["header_rows"]) == (1, 2)
    assert built.crs == "EPSG:4326" and rows[1]["2. Ladepunkt Steckertypen2"] is None


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "realdata").glob("*.csv")))
def test_real_files_keep_their_header_and_get_no_doubt(tmp_path, name):
    built, _rows = _build(tmp_path, DATA / "realdata" / name)
    assert "uncertain_header" not in [w.code for w in built.warnings]
    assert built.report["header_rows"] == (3 if name.startswith("itnrw") else 1)


# --- the doubt on the version, in German and English ---------------------------------------------

@pytest.fixture
def editor(platform, world):
    with platform.db.sessions() as session:
        return actor_for(session.query(User).filter_by(email="editor@test.allmende.de").one())


def test_the_doubt_is_stored_on_the_version_and_shown_in_both_languages(platform, world,
                                                                         editor):
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("baustellen", "dortmund"))
    result = ingest(platform, editor, IngestRequest("baustellen", DOUBTFUL, DOUBTFUL.name))
    assert result.warnings == [{"code": "uncertain_header", "message": DOUBT_DE}]
    assert result.read_report["notes"]["Ende"] == ENDE_DE
    assert TEMPLATE_KEY not in result.read_report
    with platform.db.sessions() as session:
        stored = session.query(TableVersion).filter_by(resource_id=result.resource).one()
        assert stored.warnings[0]["message"] == DOUBT_DE and TEMPLATE_KEY in stored.warnings[0]
    headers = world.auth("editor")
    with TestClient(create_app(platform)) as client:
        resource = f"/api/v1/resources/{result.resource}"
        german = client.get(resource, headers=headers).json()["versions"][0]
        assert german["warnings"] == [{"code": "uncertain_header", "message": DOUBT_DE}]
        assert german["read_report"]["notes"]["Ende"] == ENDE_DE
        assert TEMPLATE_KEY not in german["read_report"]
        english = client.get(resource, headers={**headers, **ENGLISH}).json()["versions"][0]
        assert english["warnings"] == [{"code": "uncertain_header", "message": DOUBT_EN}]
        assert english["read_report"]["notes"]["Ende"] == ENDE_EN
        # notes without parameters stay as they are
        assert english["read_report"]["notes"]["Beginn"] == "Datumsformat TT.MM.JJJJ"
        paged = client.get(f"{resource}/versions", params={"lang": "en"}, headers=headers)
        assert paged.json()["results"][0]["warnings"][0]["message"] == DOUBT_EN
        page = client.get(f"/resources/{result.resource}", headers=headers).text
        assert "Kopfzeile unsicher: Zeile 1 oder 2?" in page
        assert "bleibt Text: 3 Zellen wie „bis auf Weiteres“" in page
        page = client.get(f"/resources/{result.resource}?lang=en", headers=headers).text
        assert "Header row uncertain: row 1 or 2?" in page
        assert "stays text: 3 cells such as “bis auf Weiteres”" in page


@pytest.mark.parametrize("backend", BACKENDS)
def test_ingest_json_names_the_doubt(allmende, backend, tmp_path, postgres_url):
    url = postgres_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'kopf.db'}"
    cli = Cli(allmende, tmp_path / "daten", url)
    org = f"org-{uuid.uuid4().hex[:8]}"
    assert cli("org", "create", org, "--name", "Stadt Kopf").returncode == 0
    result = cli.ok(DOUBTFUL, org=org, dataset=f"ds-{uuid.uuid4().hex[:8]}")
    assert result["warnings"] == [{"code": "uncertain_header", "message": DOUBT_DE}]
    assert [c["name"] for c in result["columns"]] == ["Nr.", "Straße", "Stadtbezirk", "Beginn",
                                                     "Ende", "Maßnahme"]
    assert [c["type"] for c in result["columns"]][3:5] == ["date", "string"]
    plain = cli("ingest", DOUBTFUL, "--org", org, "--dataset", "ohne-json")
    assert plain.returncode == 0 and "Kopfzeile unsicher: Zeile 1 oder 2?" in plain.stderr
    assert one_json_object(cli.ingest(REGISTER_2024, org=org, dataset="register").stdout)[
        "warnings"] == [{"code": "crs_detected", "message": (
            "Koordinaten in Allgemeine Informationen Längengrad/Allgemeine Informationen "
            "Breitengrad als EPSG:4326 erkannt.")}]
