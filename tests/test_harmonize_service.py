"""Harmonize as a service: mappings saved and versioned, quality reports, regional tables."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import shapely

from allmende.access.accounts import actor_for
from allmende.catalog import datasets
from allmende.db.models import Job, User
from allmende.errors import Forbidden, Invalid, NotFound
from allmende.harmonize import registry, service
from allmende.harmonize.validate import validate_file
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import worker
from allmende.tables import store
from support import DORTMUND_CSV, OPERATOR, dataset_body

BOCHUM_CSV = """\
betreiber,strasse,hausnummer,plz,ort,lat,lon,leistung_kw,anzahl,inbetriebnahme,evse_id
Stadtwerke Bochum,Kortumstraße,1,44787,Bochum,51.4818,7.2162,22,2,2021-05-01,DE*SWB*E0001
DEW21,Kampstraße,12,44137,Dortmund,51.5149,7.4621,50,1,2023-01-10,DE*DEW*E0002
"""


def _user(platform, email: str):
    with platform.db.sessions() as session:
        user = session.query(User).filter_by(email=email).one()
        return actor_for(user)


def _upload(platform, actor, tmp_path: Path, dataset: str, organization: str, text: str,
            name: str = "ladesaeulen.csv") -> str:
    source = tmp_path / f"{dataset}-{name}"
    source.write_text(text, encoding="utf-8")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body(dataset, organization))
    return ingest(platform, actor, IngestRequest(dataset, source, name)).resource


def _suggest_and_save(platform, actor, resource: str, schema: str = "ladesaeulen"):
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, actor, resource, schema)
        return service.save_mapping(platform, session, actor, resource, mapping).version


def _run_jobs(platform) -> None:
    while worker.run_once(platform):
        pass
    with platform.db.sessions() as session:
        failed = session.query(Job).filter_by(status="failed").all()
        assert not failed, [j.error for j in failed]


@pytest.fixture
def editors(platform, world):
    return world, _user(platform, "editor@test.allmende.de"), \
        _user(platform, "bochum-editor@test.allmende.de")


def test_suggest_save_harmonize_and_consolidate(platform, editors, tmp_path):
    _world, dortmund, bochum = editors
    first = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    second = _upload(platform, bochum, tmp_path, "bo-lade", "bochum", BOCHUM_CSV)
    assert _suggest_and_save(platform, dortmund, first) == 1
    assert _suggest_and_save(platform, bochum, second) == 1
    _run_jobs(platform)

    with platform.db.sessions() as session:
        report = service.find_report(session, OPERATOR, first)
        assert report is not None and report.rows == 4
        assert report.report["errors"].get("unique-error") == 1 or \
            report.report["errors"].get("primary-key") == 1
        # 31.02.2020 is no date: the transform says so with the row of the file
        assert report.report["errors"]["mapping-error"] == 1
        sample = next(s for s in report.report["samples"] if s["type"] == "mapping-error")
        assert sample["row"] == 5 and sample["field"] == "inbetriebnahme"
        assert 0 < report.score < 100 and not report.valid
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert {s["dataset"] for s in record.sources} == {"do-lade", "bo-lade"}
        assert record.dataset.themes == ["TRAN"]  # the sources' themes
        resource = record.dataset.resources[0]
        version = resource.current
    rows = pq.read_table(platform.settings.data_dir / version.path).to_pylist()
    ids = [(r["quelle_datensatz"], r["ladepunkt_id"]) for r in rows]
    # DE*DEW*E0002 three times: twice in Dortmund's file (one object), once in Bochum's (an
    # identifier of Bochum's own: another object)
    assert sorted(ids) == [("bo-lade", "DE*DEW*E0002"), ("bo-lade", "DE*SWB*E0001"),
                           ("do-lade", "DE*DEW*E0001"), ("do-lade", "DE*DEW*E0002"),
                           ("do-lade", "DE*INN*E0003")]
    with platform.db.sessions() as session:
        duplicates = service.get_consolidation(session, OPERATOR, "ladesaeulen").duplicates
    assert duplicates["count"] == 1
    (entry,) = duplicates["listed"]
    assert entry["reason"] == "key" and entry["organization"] == "dortmund"
    assert entry["dropped"]["dataset"] == entry["kept"]["dataset"] == "do-lade"
    assert entry["dropped"]["key"] == entry["kept"]["key"] == "DE*DEW*E0002"
    dortmund_row = next(r for r in rows if r["ladepunkt_id"] == "DE*DEW*E0001")
    assert dortmund_row["quelle_zeile"] == 1 and dortmund_row["nennleistung_kw"] == 22.0
    point = shapely.from_wkb(dortmund_row["geometry"])
    assert (round(point.x, 4), round(point.y, 4)) == (7.4569, 51.5079)


def test_new_version_of_a_mapped_resource_is_harmonized_again(platform, editors, tmp_path):
    _world, dortmund, _bochum = editors
    resource = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    _suggest_and_save(platform, dortmund, resource)
    _run_jobs(platform)
    fixed = DORTMUND_CSV.replace("31.02.2020", "28.02.2020")
    source = tmp_path / "neu.csv"
    source.write_text(fixed, encoding="utf-8")
    ingest(platform, dortmund, IngestRequest("do-lade", source, "ladesaeulen.csv"))
    _run_jobs(platform)
    with platform.db.sessions() as session:
        report = service.find_report(session, OPERATOR, resource)
        assert report.table_version == 2 and "mapping-error" not in report.report["errors"]
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert record.sources[0]["table_version"] == 2


def test_mapping_to_missing_column_is_refused_naming_field_and_column(platform, editors,
                                                                      tmp_path):
    _world, dortmund, _bochum = editors
    resource = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    with platform.db.session() as session, pytest.raises(Invalid) as error:
        service.save_mapping(platform, session, dortmund, resource, {
            "schema_name": "ladesaeulen", "fields": {"betreiber": {"source": ["Operator"]}}})
    messages = " ".join(f.message for f in error.value.field_errors)
    assert "betreiber" in messages and "Operator" in messages
    with platform.db.sessions() as session:
        assert service.find_mapping(session, OPERATOR, resource) is None


def test_only_editors_of_the_organization_map(platform, editors, tmp_path):
    _world, dortmund, bochum = editors
    resource = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    with platform.db.session() as session, pytest.raises(Forbidden):
        service.suggest(platform, session, bochum, resource, "ladesaeulen")


def test_preview_shows_mapped_rows_and_failed_cells(platform, editors, tmp_path):
    _world, dortmund, _bochum = editors
    resource = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, dortmund, resource, "ladesaeulen")
        shown = service.preview(platform, session, dortmund, resource, mapping)
    assert [r["betreiber"] for r in shown.rows] == ["DEW21", "DEW21", "DEW21", "innogy"]
    assert shown.rows[0]["inbetriebnahme"] == "2021-03-01"
    assert shown.error_counts == {"inbetriebnahme": 1}


def test_duckdb_is_held_to_the_memory_ingest_is_held_to(platform, editors, tmp_path,
                                                        monkeypatch):
    """Every DuckDB connection that ingest, suggest, preview, the harmonize job, the regional
    rebuild and the validation of a file open has the memory limit of ingest's: there DuckDB
    spills or stops itself, before a job's process grows to ALLMENDE_JOB_MEMORY_LIMIT_MB and
    is killed, whether the database under it is new or reused."""
    with duckdb.connect(config={"memory_limit": store.DUCKDB_MEMORY_LIMIT}) as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    opened: list[tuple[str, str]] = []
    connection = store.connection

    @contextlib.contextmanager
    def recording(*args, **kwargs):
        caller = sys._getframe(1)
        while caller.f_code.co_name == "_connection" or \
                caller.f_globals["__name__"] == "contextlib":
            caller = caller.f_back
        with connection(*args, **kwargs) as con:
            opened.append((f"{caller.f_globals['__name__']}.{caller.f_code.co_name}",
                           con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))
            yield con

    monkeypatch.setattr(store, "connection", recording)
    _world, dortmund, _bochum = editors
    resource = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, dortmund, resource, "ladesaeulen")
        service.preview(platform, session, dortmund, resource, mapping)
        service.save_mapping(platform, session, dortmund, resource, mapping)
    _run_jobs(platform)
    csv = tmp_path / "lade.csv"
    csv.write_text("ladepunkt_id\nDE*DEW*E0001\n", encoding="utf-8")
    validate_file(csv, registry.load_schema("ladesaeulen"))

    ours = [(where, setting) for where, setting in opened
            if where.startswith(("allmende.ingest.", "allmende.harmonize."))]
    assert {where for where, _ in ours} >= {
        "allmende.ingest.pipeline.build", "allmende.harmonize.service.suggest",
        "allmende.harmonize.service.preview", "allmende.harmonize.service._map_and_validate",
        "allmende.harmonize.consolidate.consolidate_files",
        "allmende.harmonize.validate.validate_file"}, opened
    assert [where for where, setting in ours if setting != limit] == [], opened


def test_restricted_sources_stay_out_of_the_regional_table(platform, editors, tmp_path):
    _world, dortmund, bochum = editors
    public = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    closed = _upload(platform, bochum, tmp_path, "bo-lade", "bochum", BOCHUM_CSV)
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "bo-lade", {"access_level": "restricted"})
    _suggest_and_save(platform, dortmund, public)
    _suggest_and_save(platform, bochum, closed)
    _run_jobs(platform)
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert [s["dataset"] for s in record.sources] == ["do-lade"]


def test_a_source_turned_restricted_leaves_the_regional_table(platform, editors, tmp_path):
    _world, dortmund, bochum = editors
    _suggest_and_save(platform, dortmund,
                      _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV))
    _suggest_and_save(platform, bochum,
                      _upload(platform, bochum, tmp_path, "bo-lade", "bochum", BOCHUM_CSV))
    _run_jobs(platform)
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "bo-lade", {"access_level": "members"})
    _run_jobs(platform)
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert [s["dataset"] for s in record.sources] == ["do-lade"]
    with platform.db.session() as session:
        datasets.delete_dataset(session, OPERATOR, "do-lade")
    _run_jobs(platform)
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert record.sources == [] and record.dataset.resources[0].current.rows == 0


def test_a_broken_source_does_not_break_the_others(platform, editors, tmp_path):
    _world, dortmund, bochum = editors
    good = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    broken = _upload(platform, bochum, tmp_path, "bo-lade", "bochum", BOCHUM_CSV)
    _suggest_and_save(platform, dortmund, good)
    _suggest_and_save(platform, bochum, broken)
    _run_jobs(platform)
    with platform.db.sessions() as session:
        path = service.find_report(session, OPERATOR, broken).mapped_path
    (platform.settings.data_dir / path).write_bytes(b"kein parquet")
    record = service.consolidate(platform, "ladesaeulen")
    assert [s["dataset"] for s in record.sources] == ["do-lade"]
    assert record.problems[0]["dataset"] == "bo-lade"


def test_until_a_new_version_is_harmonized_the_previous_one_counts(platform, editors,
                                                                    tmp_path):
    _world, dortmund, _bochum = editors
    resource = _upload(platform, dortmund, tmp_path, "do-lade", "dortmund", DORTMUND_CSV)
    _suggest_and_save(platform, dortmund, resource)
    _run_jobs(platform)
    source = tmp_path / "neu.csv"
    source.write_text(DORTMUND_CSV, encoding="utf-8")
    ingest(platform, dortmund, IngestRequest("do-lade", source, "ladesaeulen.csv"))
    record = service.consolidate(platform, "ladesaeulen")  # before the harmonize job ran
    assert [(s["dataset"], s["table_version"]) for s in record.sources] == [("do-lade", 1)]
    assert "Version 1" in record.problems[0]["message"]


def test_sysadmins_add_schemas_others_may_not(platform, editors):
    _world, dortmund, _bochum = editors
    descriptor = {"name": "spielplaetze", "title": "Spielplätze", "version": "1.0.0",
                  "fields": [{"name": "name", "type": "string",
                              "constraints": {"required": True}}]}
    with platform.db.session() as session, pytest.raises(Forbidden):
        service.add_schema(session, dortmund, descriptor)
    with platform.db.session() as session:
        service.add_schema(session, OPERATOR, descriptor)
    with platform.db.sessions() as session:
        assert "spielplaetze" in [s.name for s in service.list_schemas(session)]
        assert service.get_schema(session, "spielplaetze")["title"] == "Spielplätze"
    with platform.db.session() as session, pytest.raises(Invalid):
        service.add_schema(session, OPERATOR, {"name": "kaputt", "fields": [{"type": "zahl"}]})
    with platform.db.sessions() as session, pytest.raises(NotFound):
        service.get_schema(session, "gibtsnicht")


def test_a_geometry_field_keeps_its_own_name(tmp_path):
    import datetime as dt

    import duckdb

    from allmende.harmonize.consolidate import Provenance, write_harmonized

    schema = {"name": "spielplaetze", "fields": [{"name": "name", "type": "string"},
                                                 {"name": "lage", "type": "geometry"}]}
    con = duckdb.connect()
    con.execute("CREATE TABLE mapped AS SELECT * FROM (VALUES ('Westfalenpark', "
                "'POINT (7.476 51.496)', 1), ('ohne Lage', NULL, 2)) t(name, lage, __row)")
    published = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    target = tmp_path / "h.parquet"
    rows = write_harmonized(con, "mapped", "__row", schema,
                            Provenance("dortmund", "05913000", "spiel", 3, published), target)
    table = pq.read_table(target).to_pylist()
    assert rows == 2 and list(table[0])[:2] == ["name", "lage"]
    assert shapely.from_wkb(table[0]["lage"]).x == 7.476 and table[1]["lage"] is None
    assert table[0]["quelle_stand"] == published and table[1]["quelle_zeile"] == 2
