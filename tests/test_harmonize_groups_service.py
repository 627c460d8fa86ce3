"""One row per charging point on the platform: the suggestion proposes the groups step, the
harmonized and the regional table hold one row per point, the quality report counts points and
tells its samples by source row and group, the preview shows one row per point; the same over
the REST API."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import allmende.demo
from allmende.access.accounts import actor_for
from allmende.catalog import datasets
from allmende.db.models import Job, User
from allmende.harmonize import service
from allmende.harmonize.mapping import load_mapping, parse_mapping
from allmende.ingest.service import IngestRequest, ingest
from allmende.ingest.sniff import ReadOptions
from allmende.jobs import worker
from allmende.web.app import create_app
from support import OPERATOR, dataset_body

DATA = Path(__file__).parent / "data"
REAL_2022 = DATA / "realdata" / "bnetza_ladesaeulen_koeln_2022.csv"
SYNTHETIC_2022 = DATA / "ladesaeulen_2022_synthetic.csv"
SYNTHETIC_2024 = DATA / "ladesaeulen_2024_synthetic.csv"
HEADER_2024 = 11  # the header's record in the 2024 layout (the banner is record 10)
REGISTER_2024 = Path(allmende.demo.__file__).parent / "files" / \
    "gelsenkirchen_ladesaeulenregister.csv"
DEMO_MAPPING = Path(allmende.demo.__file__).parent / "mappings" / \
    "gelsenkirchen_ladesaeulenregister.json"


@pytest.fixture
def editor(platform, world):
    with platform.db.sessions() as session:
        return actor_for(session.query(User).filter_by(email="editor@test.allmende.de").one())


def _upload(platform, actor, dataset: str, path: Path, options: ReadOptions | None = None
            ) -> str:
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body(dataset, "dortmund"))
    request = IngestRequest(dataset, path, path.name, options=options or ReadOptions())
    return ingest(platform, actor, request).resource


def _map(platform, actor, resource: str):
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, actor, resource, "ladesaeulen")
        service.save_mapping(platform, session, actor, resource, mapping)
    while worker.run_once(platform):
        pass
    with platform.db.sessions() as session:
        failed = session.query(Job).filter_by(status="failed").all()
        assert not failed, [j.error for j in failed]
        report = service.find_report(session, OPERATOR, resource)
        regional = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        version = regional.dataset.resources[0].current
        return mapping, report, regional, pq.read_table(
            platform.settings.data_dir / version.path).to_pylist()


def _points_2022(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return sum(int(row["Anzahl Ladepunkte"]) for row in csv.DictReader(file, delimiter=";"))


def test_the_real_2022_register_becomes_one_row_per_charging_point(platform, editor):
    resource = _upload(platform, editor, "koeln-lade", REAL_2022)
    mapping, report, regional, rows = _map(platform, editor, resource)
    assert mapping.groups is not None and mapping.groups.number == "Ladepunkt"
    assert mapping.groups.members["P [kW]"] == ["P1 [kW]", "P2 [kW]", "P3 [kW]", "P4 [kW]"]
    # every point with data is a row: as many as the register counts (521 in 292 stations)
    points = _points_2022(REAL_2022)
    assert points == 521
    assert report.rows == report.report["rows"] == points
    assert len(rows) == points and regional.sources[0]["rows"] == points
    assert {r["quelle_zeile"] for r in rows} == set(range(1, 293))
    first = sorted((r for r in rows if r["quelle_zeile"] == 1), key=lambda r: r["ladepunkt_id"])
    assert [(r["ladepunkt_id"], r["nennleistung_kw"], r["steckertypen"]) for r in first] == [
        ("1/1", 22.0, "AC Steckdose Typ 2"), ("1/2", 22.0, "AC Steckdose Typ 2")]
    # the point's power, not the station's (44 kW)
    assert report.report["completeness"]["nennleistung_kw"] == 1.0


def test_the_2024_register_read_as_it_comes_is_one_row_per_charging_point(platform, editor):
    """No header row given: ingest joins the banner over the header, the suggestion takes the
    banner's numbered groups, and every charging point becomes a row."""
    resource = _upload(platform, editor, "ge-lade-2024", REGISTER_2024)
    mapping, report, regional, rows = _map(platform, editor, resource)
    groups = mapping.groups
    assert groups is not None and groups.number == "Ladepunkt"
    assert groups.key == "Allgemeine Informationen Ladeeinrichtungs-ID"
    assert groups.members["EVSE-ID"] == [f"{n}. Ladepunkt EVSE-ID{n}" for n in range(1, 5)]
    with REGISTER_2024.open(encoding="utf-8-sig", newline="") as file:
        records = list(csv.reader(file, delimiter=";"))
    assert records[10][5] == "Anzahl Ladepunkte"
    points = sum(int(record[5]) for record in records[11:])
    assert points == 94  # in 44 stations
    assert report.rows == points and len(rows) == points
    assert regional.sources[0]["rows"] == points
    assert {r["quelle_zeile"] for r in rows} == set(range(1, 45))
    first = sorted((r for r in rows if r["quelle_zeile"] == 1), key=lambda r: r["ladepunkt_id"])
    assert [(r["ladepunkt_id"], r["nennleistung_kw"], r["steckertypen"], r["breitengrad"])
            for r in first] == [
        ("DE*EMU*E501001*1", 22.0, "AC Typ 2 Steckdose, AC Schuko", 51.507433),
        ("DE*EMU*E501001*2", 11.0, "AC Typ 2 Steckdose", 51.507433)]


def test_the_demo_s_stored_mapping_makes_a_row_of_every_charging_point(platform, demo_region):
    """The demo region maps its 2024 register with the mapping it ships (not a suggestion):
    each station of the file becomes as many rows of the regional table as it has charging
    points, each with a point id of its own."""
    stored = load_mapping(DEMO_MAPPING)
    with platform.db.sessions() as session:
        dataset = datasets.get_dataset(session, OPERATOR, "gelsenkirchen-ladesaeulen")
        (resource,) = [r.id for r in dataset.resources if r.name.startswith(
            "Ladesäulenregister, Auszug 2024")]
        mapping = service.current_mapping(session, OPERATOR, resource)
        report = service.find_report(session, OPERATOR, resource)
        regional = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        path = platform.settings.data_dir / regional.dataset.resources[0].current.path
    assert parse_mapping(mapping.rules) == stored
    assert report is not None and report.mapping_version == mapping.version
    with REGISTER_2024.open(encoding="utf-8-sig", newline="") as file:
        records = list(csv.reader(file, delimiter=";"))
    assert records[10][5] == "Anzahl Ladepunkte"
    points = {station: int(record[5]) for station, record in enumerate(records[11:], 1)}
    assert (len(points), sum(points.values())) == (44, 94)
    rows = [r for r in pq.read_table(path).to_pylist()
            if r["quelle_datensatz"] == "gelsenkirchen-ladesaeulen"]
    assert report.rows == len(rows) == 94
    assert Counter(r["quelle_zeile"] for r in rows) == points
    assert len({r["ladepunkt_id"] for r in rows}) == 94
    assert {r["quelle_organisation"] for r in rows} == {"gelsenkirchen"}


def test_the_2024_layout_takes_evse_ids_and_reports_by_source_row_and_point(platform, editor):
    resource = _upload(platform, editor, "do-lade-2024", SYNTHETIC_2024,
                       ReadOptions(header_row=HEADER_2024))
    mapping, report, regional, rows = _map(platform, editor, resource)
    assert mapping.groups is not None and mapping.groups.key == "Ladeeinrichtungs-ID"
    assert mapping.fields["ladepunkt_id"].source == ["EVSE-ID", "Ladepunkt-Kennung"]
    assert report.rows == 11  # 2 + 3 + 1 + 3 (the second group empty) + 2
    errors = report.report["errors"]
    samples = {(s["type"], s["row"], s["field"]): s["message"] for s in report.report["samples"]}
    # "22 kW" in the third point of the fourth station (the header is row 1)
    assert errors["type-error"] == 1
    assert samples[("type-error", 5, "nennleistung_kw")].startswith(
        "ladesaeulen_2024_synthetic.csv, Zeile 5, Ladepunkt 3, Feld „nennleistung_kw“: „22 kW“")
    # the station's third point has no EVSE-ID: "<Ladeeinrichtungs-ID>/3", which the
    # schema's pattern for EVSE-IDs refuses
    assert "„100002/3“ verletzt das Muster" in samples[("constraint-error", 3, "ladepunkt_id")]
    # both points of station 100005 carry the same EVSE-ID: found although in one source row
    assert errors["unique-error"] == 1
    assert "Zeile 6, Ladepunkt 2, Feld „ladepunkt_id“" in samples[("unique-error", 6,
                                                                   "ladepunkt_id")]
    # the regional table keeps one of the two (same key) and lists the other
    assert len(rows) == 10 and regional.duplicates["count"] == 1
    ids = sorted(r["ladepunkt_id"] for r in rows)
    assert ids[:3] == ["100002/3", "DE*BSP*E100001*1", "DE*BSP*E100001*2"]


def test_the_preview_shows_one_row_per_point(platform, editor):
    resource = _upload(platform, editor, "do-lade-2024", SYNTHETIC_2024,
                       ReadOptions(header_row=HEADER_2024))
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, editor, resource, "ladesaeulen")
        shown = service.preview(platform, session, editor, resource, mapping, limit=2)
    assert shown.groups == "Ladepunkt"
    assert shown.positions == [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]
    assert [r["ladepunkt_id"] for r in shown.rows] == [
        "DE*BSP*E100001*1", "DE*BSP*E100001*2", "DE*BSP*E100002*1", "DE*BSP*E100002*2",
        "100002/3"]
    assert [r["nennleistung_kw"] for r in shown.rows] == ["22", "22", "150", "50", "43"]


def test_a_station_without_points_stays_and_bad_values_name_their_point(platform, editor):
    resource = _upload(platform, editor, "koeln-beispiel", SYNTHETIC_2022)
    _mapping, report, _regional, rows = _map(platform, editor, resource)
    assert report.rows == 9 and len(rows) == 9
    samples = report.report["samples"]
    viel = next(s for s in samples if s["type"] == "type-error")
    assert viel["row"] == 6 and viel["field"] == "nennleistung_kw"
    assert "Zeile 6, Ladepunkt 2, Feld „nennleistung_kw“: „viel“" in viel["message"]
    # the station without point data: one row, its power missing
    missing = [s for s in samples if s["type"] == "constraint-error"
               and s["field"] == "nennleistung_kw"]
    assert [(s["row"], s["message"].split(":")[0]) for s in missing] == [
        (5, "ladesaeulen_2022_synthetic.csv, Zeile 5, Ladepunkt 1, Feld „nennleistung_kw“")]
    assert sorted(r["nennleistung_kw"] for r in rows if r["nennleistung_kw"] is not None) == [
        3.7, 11.0, 22.0, 22.0, 50.0, 100.0, 150.0]


def test_the_api_suggests_previews_and_saves_groups(platform, world):
    """The same mapping JSON over HTTP: suggested with its groups, previewed one row per
    point, saved as it was sent, and a groups step that names a missing column is a 422."""
    platform.settings.inprocess_worker = False
    headers = world.auth("editor")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("koeln-api", "dortmund"))
    with TestClient(create_app(platform)) as client:
        upload = client.post("/api/v1/datasets/koeln-api/resources", headers=headers, files={
            "file": (SYNTHETIC_2022.name, SYNTHETIC_2022.read_bytes(), "text/csv")})
        assert upload.status_code == 202, upload.text
        while worker.run_once(platform):
            pass
        resource = client.get(f"/api/v1/jobs/{upload.json()['id']}",
                              headers=headers).json()["result"]["resource"]
        base = f"/api/v1/resources/{resource}/mapping"
        mapping = client.post(f"{base}/suggest", params={"schema": "ladesaeulen"},
                              headers=headers).json()
        assert mapping["groups"]["number"] == "Ladepunkt"
        preview = client.post(f"{base}/preview", json=mapping, headers=headers).json()
        assert [r["ladepunkt_id"] for r in preview["rows"]] == [
            "1/1", "1/2", "2/1", "3/1", "3/3", "3/4", "4/1", "5/1", "5/2"]
        assert preview["groups"] == "Ladepunkt"
        assert [(p["row"], p["group"]) for p in preview["positions"]] == [
            (1, 1), (1, 2), (2, 1), (3, 1), (3, 3), (3, 4), (4, 1), (5, 1), (5, 2)]
        saved = client.put(base, json=mapping, headers=headers)
        assert saved.status_code == 201, saved.text
        assert saved.json()["mapping"]["groups"] == mapping["groups"]
        broken = {**mapping, "groups": {**mapping["groups"], "members": {
            **mapping["groups"]["members"], "Steckertypen": ["Steckertypen1", "Stecker2",
                                                             "Steckertypen3", "Steckertypen4"]}}}
        refused = client.put(base, json=broken, headers=headers)
        assert refused.status_code == 422
        fields = refused.json()["error"]["fields"]
        assert fields[0]["field"] == "groups" and "„Stecker2“" in fields[0]["message"]
