"""The seam the open interfaces stand on: stable dataset UUIDs, catalog records with the policy
inside, the table reader, the search API's id order and modified-since filter, and mounted
interfaces with error formats of their own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
import shapely
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from allmende.access.policy import ANONYMOUS
from allmende.catalog import datasets, records
from allmende.catalog.search import SearchRequest
from allmende.db.models import Dataset
from allmende.db.session import MIGRATIONS
from allmende.errors import Invalid, NotFound
from allmende.ingest.service import IngestRequest, ingest
from allmende.interop import registry
from allmende.tables.query import RowQuery
from allmende.tables.reader import open_table
from allmende.transparency.reads import Interface
from allmende.web.app import create_app
from support import DORTMUND_CSV, OPERATOR, dataset_body


def _alembic(platform, connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_migration_gives_existing_datasets_distinct_uuids(platform, world):
    with platform.db.session() as session:
        for name in ("eins", "zwei", "drei"):
            datasets.create_dataset(session, OPERATOR, dataset_body(name))
    with platform.db.engine.begin() as connection:
        command.downgrade(_alembic(platform, connection), "0005")
        columns = list(connection.execute(text("SELECT * FROM datasets")).keys())
        assert "uuid" not in columns
        command.upgrade(_alembic(platform, connection), "head")
    with platform.db.sessions() as session:
        found = dict(session.execute(select(Dataset.name, Dataset.uuid)).all())
    assert set(found) == {"eins", "zwei", "drei"}
    assert len(set(found.values())) == 3
    assert all(uuid.UUID(value).version == 4 for value in found.values())


def test_records_are_frozen_and_apply_the_policy(platform, world):
    with platform.db.session() as session:
        created = datasets.create_dataset(session, OPERATOR, dataset_body(
            "offen", resources=[{"name": "Karte", "url": "https://example.org/k.geojson",
                                 "format": "geojson"}]))
        datasets.create_dataset(session, OPERATOR, dataset_body("intern",
                                                                access_level="members"))
    with platform.db.sessions() as session:
        found = records.dataset_record(session, ANONYMOUS, created.uuid)
        assert found == records.dataset_record(session, ANONYMOUS, "offen")
        with pytest.raises(NotFound):
            records.dataset_record(session, ANONYMOUS, "intern")
        total, page = records.dataset_records(session, ANONYMOUS)
        assert total == 1 and [r.name for r in page] == ["offen"]
        assert records.dataset_names(session, OPERATOR) == ["intern", "offen"]
    assert found.organization.slug == "dortmund" and found.organization.ags == "05913000"
    assert found.keywords == ("Elektromobilität",) and found.public
    assert found.resources[0].format == "GEOJSON" and found.resources[0].table is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.title = "anders"  # type: ignore[misc]


def _table(platform, tmp_path: Path) -> str:
    source = tmp_path / "ladesaeulen.csv"
    source.write_text(DORTMUND_CSV, encoding="utf-8")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("lade"))
    return ingest(platform, OPERATOR, IngestRequest("lade", source, "ladesaeulen.csv")).resource


def test_the_table_reader_reads_batches_in_another_crs(platform, world, tmp_path):
    resource = _table(platform, tmp_path)
    with platform.db.sessions() as session:
        table = open_table(session, ANONYMOUS, platform.settings.data_dir, resource,
                           interface=Interface.ROWS)
        record = records.resource_record(session, ANONYMOUS, resource)[1]
    assert record.table is not None and record.table.rows == table.count() == 4
    assert record.table.geometry
    query = RowQuery(fields=("Straße", "geometry"), limit=2)
    wgs84 = pa.Table.from_batches(list(table.batches(query)))
    utm = pa.Table.from_batches(list(table.batches(query, crs="EPSG:25832")))
    assert utm.column("Straße").to_pylist() == ["Hohe Straße", "Kampstraße"]
    lon_lat = shapely.from_wkb(wgs84.column("geometry").to_pylist()[0])
    easting_northing = shapely.from_wkb(utm.column("geometry").to_pylist()[0])
    assert (lon_lat.x, lon_lat.y) == pytest.approx((7.4569, 51.5079))
    # Dortmund in UTM 32N: about 392 km east, 5707 km north
    assert easting_northing.x == pytest.approx(392_000, abs=2_000)
    assert easting_northing.y == pytest.approx(5_707_000, abs=3_000)
    assert table.count(RowQuery(words=("kampstr", "50"))) == 2
    with pytest.raises(Invalid):
        list(table.batches(query, crs="EPSG:999999"))


def test_the_table_reader_asks_the_policy(platform, world, tmp_path):
    resource = _table(platform, tmp_path)
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "lade", {"access_level": "members"})
    with platform.db.sessions() as session, pytest.raises(NotFound):
        open_table(session, ANONYMOUS, platform.settings.data_dir, resource,
                   interface=Interface.ROWS)


def test_search_sorts_by_uuid_and_filters_by_modification(platform, world):
    with platform.db.session() as session:
        for i in range(12):
            datasets.create_dataset(session, OPERATOR, dataset_body(f"d-{i:02d}"))
    moment = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "d-03", {"title": "Geändert"})
        datasets.create_dataset(session, OPERATOR, dataset_body("spaet"))
    with platform.db.sessions() as session:
        index = platform.search_index
        page = records.search_records(session, index, ANONYMOUS, SearchRequest(
            sort="id", start=3, per_page=5, max_per_page=1000))
        every = records.search_records(session, index, ANONYMOUS, SearchRequest(
            sort="id", per_page=50, max_per_page=1000))
        changed = records.search_records(session, index, ANONYMOUS, SearchRequest(
            modified_since=moment, per_page=50))
    uuids = [r.uuid for r in every.records]
    assert uuids == sorted(uuids) and len(uuids) == 13
    assert [r.uuid for r in page.records] == uuids[3:8]
    assert {r.name for r in changed.records} == {"d-03", "spaet"}


def probe_interface(_platform):
    """An interface of its own: everything it answers is in its own format."""
    async def answer(request):
        return PlainTextResponse("eigenes Format", status_code=418)
    return Starlette(routes=[Route("/{rest:path}", answer)])


def test_a_new_interface_is_mounted_with_its_own_errors(platform):
    registry.interface("probe", ("/probe",), "test_interop_seam:probe_interface")
    try:
        platform.settings.inprocess_worker = False
        with TestClient(create_app(platform)) as client:
            answer = client.get("/probe/irgendwas")
            assert (answer.status_code, answer.text) == (418, "eigenes Format")
            assert client.get("/api/v1/datasets/nichts").json()["error"]["code"] == \
                "dataset_not_found"
    finally:
        registry.unregister("probe")


def test_the_licence_migration_moves_codes_onto_the_dcat_ap_de_list(platform, world):
    with platform.db.session() as session:
        for name, licence in (("null", "cc-zero"), ("odbl", "odbl/1.0"), ("dl", "dl-by-de/2.0")):
            datasets.create_dataset(session, OPERATOR, dataset_body(name, license=licence))
    with platform.db.engine.begin() as connection:
        command.downgrade(_alembic(platform, connection), "0006")
        before = dict(connection.execute(text("SELECT name, license FROM datasets")).all())
        command.upgrade(_alembic(platform, connection), "head")
        after = dict(connection.execute(text("SELECT name, license FROM datasets")).all())
    assert before == {"null": "cc-zero/1.0", "odbl": "odbl/1.0", "dl": "dl-by-de/2.0"}
    assert after == {"null": "cc-zero", "odbl": "odbl", "dl": "dl-by-de/2.0"}


def test_batches_hand_out_every_listed_dataset_once(platform, world):
    with platform.db.session() as session:
        for i in range(10):
            datasets.create_dataset(session, OPERATOR, dataset_body(f"b-{i}"))
        datasets.create_dataset(session, OPERATOR, dataset_body("mitglieder",
                                                                access_level="members"))
        datasets.create_dataset(session, OPERATOR, dataset_body("entwurf", draft=True))
        datasets.create_dataset(session, OPERATOR, dataset_body("weg"))
        datasets.delete_dataset(session, OPERATOR, "weg")
    moment = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "b-4", {"title": "Neu"})
    with platform.db.sessions() as session:
        def every(actor, since=None):
            names, cursor, batches = [], 0, 0
            while cursor is not None:
                batch = records.dataset_batch(session, actor, cursor, 3, since)
                names += [r.name for r in batch.records]
                cursor, batches = batch.cursor, batches + 1
            return names, batches

        names, batches = every(ANONYMOUS)
        assert names == [f"b-{i}" for i in range(10)] and batches == 4
        assert set(every(OPERATOR)[0]) == set(records.dataset_names(session, OPERATOR))
        assert every(ANONYMOUS, moment)[0] == ["b-4"]
