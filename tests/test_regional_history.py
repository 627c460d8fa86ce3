"""Regional tables are built, not uploaded, and their history never leaks a withdrawn source:
a version holding rows of a dataset the reader may not read (any more) is withheld from that
reader, in every format and through every read of the data API."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from allmende.access import accounts
from allmende.catalog import datasets, organizations
from allmende.db.models import Resource, ResourceMapping, User
from allmende.db.session import MIGRATIONS
from allmende.harmonize import service
from allmende.platform import Platform
from databases import Installation
from support import DORTMUND_CSV, OPERATOR, all_jobs_done, mapped_source

BOCHUM_CSV = """\
betreiber,strasse,hausnummer,plz,ort,lat,lon,leistung_kw,anzahl,inbetriebnahme,evse_id
Stadtwerke Bochum,Kortumstraße,1,44787,Bochum,51.4818,7.2162,22,2,2021-05-01,DE*SWB*E0001
"""
FORMATS = ("csv", "csv-de", "json", "geojson", "parquet", "xlsx")


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client  # the test looks at the state before the rebuild it queued has run


def _seed_regional(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """The world plus the regional charging-station table of Dortmund's and Bochum's public
    sources (seeded once per run and backend: each test withdraws a source of its copy)."""
    with tempfile.TemporaryDirectory() as folder:
        mapped_source(platform, Path(folder), "do-lade", "dortmund", DORTMUND_CSV)
        mapped_source(platform, Path(folder), "bo-lade", "bochum", BOCHUM_CSV)
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert {s["dataset"] for s in record.sources} == {"do-lade", "bo-lade"}
        return {"regional": record.resource_id}


TEMPLATES = {"regional_history": (_seed_regional, "world")}


@pytest.fixture
def regional_history(installation: Installation) -> str:
    """The id of the regional table."""
    return installation.seeded["regional"]


@pytest.fixture
def regional(regional_history: str) -> str:
    return regional_history


def _reads(client: TestClient, resource: str, version: int, headers: dict
           ) -> dict[str, int]:
    """The status of every read of one version: rows, each download format, distinct values
    and aggregates."""
    base = f"/api/v1/resources/{resource}"
    params = {"version": version}
    answers = {"rows": client.get(f"{base}/rows", params=params, headers=headers)}
    for fmt in FORMATS:
        answers[fmt] = client.get(f"{base}/rows", params={**params, "format": fmt},
                                  headers=headers)
    answers["distinct"] = client.get(f"{base}/distinct/quelle_datensatz", params=params,
                                     headers=headers)
    answers["aggregate"] = client.get(f"{base}/aggregate", params={
        **params, "group_by": "quelle_datensatz"}, headers=headers)
    return {name: response.status_code for name, response in answers.items()}


WITHDRAWALS: dict[str, Callable[[], dict]] = {
    "restricted": lambda: {"access_level": "restricted"},
    "members": lambda: {"access_level": "members"},
    "draft": lambda: {"draft": True},
}


@pytest.mark.parametrize("how", [*WITHDRAWALS, "deleted"])
def test_older_regional_versions_are_withheld_once_a_source_is_withdrawn(
        platform, client, regional, how):
    with platform.db.sessions() as session:
        before = service.get_consolidation(session, OPERATOR, "ladesaeulen").dataset \
            .resources[0].current_version
    assert set(_reads(client, regional, before, {}).values()) == {200}

    with platform.db.session() as session:
        if how == "deleted":
            datasets.delete_dataset(session, OPERATOR, "bo-lade")
        else:
            datasets.update_dataset(session, OPERATOR, "bo-lade", WITHDRAWALS[how]())
    # until the rebuild has run, the newest version holds the withdrawn rows: withheld too
    latest = client.get(f"/api/v1/resources/{regional}/rows")
    assert latest.status_code == 410, latest.text
    assert latest.json()["error"]["code"] == "version_withheld"
    assert "nicht (mehr) lesen" in latest.json()["error"]["message"]
    page = client.get("/region/ladesaeulen")
    assert page.status_code == 200 and "nicht (mehr) lesen" in page.text

    all_jobs_done(platform)
    after = client.get(f"/api/v1/resources/{regional}/rows").json()
    assert after["total"] == 3 and {r["quelle_datensatz"] for r in after["rows"]} == {"do-lade"}
    withheld = _reads(client, regional, before, {})
    assert withheld == dict.fromkeys(withheld, 410), withheld
    # a sysadmin still reads the history, as the owning organization would a restricted one
    sysadmin = {"Authorization": f"Bearer {_token(platform, 'sysadmin')}"}
    assert set(_reads(client, regional, before, sysadmin).values()) == {200}


def _token(platform: Platform, key: str) -> str:
    with platform.db.session() as session:
        user = session.query(User).filter_by(email=f"{key}@test.allmende.de").one()
        return accounts.create_token(session, user.id, "history").secret


def test_the_owning_organization_still_reads_history_with_its_restricted_source(
        platform, client, regional):
    with platform.db.sessions() as session:
        before = service.get_consolidation(session, OPERATOR, "ladesaeulen").dataset \
            .resources[0].current_version
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "bo-lade", {"access_level": "restricted"})
    all_jobs_done(platform)
    bochum = {"Authorization": f"Bearer {_token(platform, 'bochum-editor')}"}
    dortmund = {"Authorization": f"Bearer {_token(platform, 'editor')}"}
    assert set(_reads(client, regional, before, bochum).values()) == {200}
    assert set(_reads(client, regional, before, dortmund).values()) == {410}


def _region_editor(platform: Platform) -> dict[str, str]:
    """Headers of Dortmund's editor made an editor of the organization of the regional
    tables too."""
    with platform.db.session() as session:
        region = organizations.get_organization(session, "region")
        editor = session.query(User).filter_by(email="editor@test.allmende.de").one()
        accounts.set_membership(session, OPERATOR, editor, region, "editor")
        token = accounts.create_token(session, editor.id, "region").secret
    return {"Authorization": f"Bearer {token}"}


def test_regional_tables_take_no_uploads_links_or_deletions(platform, client, regional):
    """Only consolidation writes a regional table: not even an editor of the organization
    that publishes it can replace its rows or forge their provenance."""
    headers = _region_editor(platform)
    before = client.get(f"/api/v1/resources/{regional}/rows").json()
    forged = (b"quelle_organisation,quelle_datensatz,ladepunkt_id\n"
              b"bochum,bo-lade,DE*FAKE*1\n")
    for name in ("ladesaeulen", "noch-eine"):
        upload = client.post("/api/v1/datasets/region-ladesaeulen/resources", headers=headers,
                             files={"file": ("regional.csv", forged, "text/csv")},
                             data={"name": name})
        assert upload.status_code == 409, upload.text
        assert upload.json()["error"]["code"] == "built_dataset"
    link = client.post("/api/v1/datasets/region-ladesaeulen/links", headers=headers,
                       json={"name": "Verweis", "url": "https://www.dortmund.de/"})
    assert link.status_code == 409
    removed = client.delete(f"/api/v1/resources/{regional}", headers=headers)
    assert removed.status_code == 409
    all_jobs_done(platform)
    assert client.get(f"/api/v1/resources/{regional}/rows").json() == before
    with platform.db.sessions() as session:
        regional_dataset = datasets.get_dataset(session, OPERATOR, "region-ladesaeulen")
        assert [r.id for r in regional_dataset.resources] == [regional]


def _formats(client: TestClient) -> dict[str, list[str]]:
    return {name: [r["format"] for r in client.get(f"/api/v1/datasets/{name}").json()[
        "resources"]] for name in ("region-ladesaeulen", "do-lade")}


def _migrations(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_a_regional_resource_says_parquet_also_after_an_upgrade(platform, client, regional):
    """Built as a table version, the regional resource is downloadable in every format and
    says PARQUET; a database whose regional resources were made before they had a format
    gets it from the upgrade (and only those: an upload's empty format stays empty)."""
    assert _formats(client) == {"region-ladesaeulen": ["PARQUET"], "do-lade": ["CSV"]}
    with platform.db.engine.begin() as connection:
        connection.execute(text("UPDATE resources SET format = ''"))
        command.downgrade(_migrations(connection), "0015")
        command.upgrade(_migrations(connection), "head")
    assert _formats(client) == {"region-ladesaeulen": ["PARQUET"], "do-lade": [""]}


def _identity_mapping(platform: Platform, regional: str) -> dict[str, Any]:
    """A mapping of the regional table onto its own schema, column for column."""
    with platform.db.sessions() as session:
        schema = service.get_schema(session, "ladesaeulen")
        columns = {c["name"] for c in session.get(Resource, regional).current.columns}
    return {"schema_name": "ladesaeulen", "fields": {
        f["name"]: {"source": f["name"]} for f in schema["fields"] if f["name"] in columns}}


def test_regional_tables_take_no_mapping(platform, client, regional):
    """A regional table mapped onto a schema would feed a regional table itself: suggesting,
    trying and saving a mapping are refused like an upload, in German and English."""
    headers = _region_editor(platform)
    mapping = _identity_mapping(platform, regional)
    base = f"/api/v1/resources/{regional}/mapping"
    answers = {
        "suggest": client.post(f"{base}/suggest", params={"schema": "ladesaeulen"},
                               headers=headers),
        "preview": client.post(f"{base}/preview", json=mapping, headers=headers),
        "save": client.put(base, json=mapping, headers=headers),
    }
    for what, answer in answers.items():
        assert answer.status_code == 409, (what, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "built_dataset", what
        assert error["message"] == ("„region-ladesaeulen“ wird aus den Daten der Kommunen "
                                    "zusammengeführt und lässt sich keinem Schema zuordnen; "
                                    "ordnen Sie die Quellen zu."), what
    english = client.put(base, json=mapping, headers={**headers, "Accept-Language": "en"})
    assert english.status_code == 409
    assert english.json()["error"]["message"] == (
        "“region-ladesaeulen” is merged from the municipalities' data and cannot be mapped to "
        "a schema; map its sources instead.")
    # neither does the sysadmin map it, and nothing was stored or queued
    sysadmin = {"Authorization": f"Bearer {_token(platform, 'sysadmin')}"}
    assert client.put(base, json=mapping, headers=sysadmin).status_code == 409
    assert client.get(f"{base}/versions", headers=sysadmin).json()["count"] == 0
    # and the pages offer neither a mapping nor an upload to the region's editor
    page = client.get(f"/resources/{regional}", headers=headers)
    assert page.status_code == 200
    assert f"/resources/{regional}/mapping" not in page.text
    assert "upload-heading" not in page.text
    editor = client.get(f"/resources/{regional}/mapping",
                        headers={**headers, "accept": "text/html"})
    assert editor.status_code == 409 and "keinem Schema zuordnen" in editor.text


def test_a_regional_table_mapped_before_is_never_a_source(platform, client, regional):
    """A mapping of a regional table stored before such mappings were refused (here written
    directly, and harmonized) does not make the table a source of its own schema: the
    rebuild takes the municipalities' sources only and lists no problem of it."""
    before = client.get(f"/api/v1/resources/{regional}/rows", params={"limit": 100}).json()
    with platform.db.session() as session:
        session.add(ResourceMapping(resource_id=regional, schema_name="ladesaeulen", version=1,
                                    rules=_identity_mapping(platform, regional)))
    report = service.harmonize_resource(platform, regional)
    assert report is not None and report.rows == before["total"]  # it would feed 4 rows
    service.consolidate(platform, "ladesaeulen")

    record = client.get("/api/v1/regional/ladesaeulen").json()
    assert {s["dataset"] for s in record["sources"]} == {"do-lade", "bo-lade"}
    assert "region-ladesaeulen" not in str(record["problems"])
    after = client.get(f"/api/v1/resources/{regional}/rows", params={"limit": 100}).json()
    assert after["total"] == before["total"]
    assert {r["quelle_datensatz"] for r in after["rows"]} == {"do-lade", "bo-lade"}
