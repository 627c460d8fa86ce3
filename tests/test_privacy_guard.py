"""The personal-data guard on a platform (SQLite and PostgreSQL): a version with personal data
in a public dataset is held on every interface until an admin decides, each decision kind
lands in the published version, hashing is keyed per dataset, aggregates suppress small
cells, and `allmende ingest --json` says so."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from allmende.access import accounts
from allmende.access.policy import ANONYMOUS
from allmende.catalog import datasets
from allmende.db.models import DatasetPrivacy, PrivacyDecision, TableVersion, VersionPrivacy
from allmende.errors import Conflict
from allmende.harmonize import service as harmonize
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import worker
from allmende.privacy import decisions, suppression
from allmende.privacy.decisions import ColumnDecision
from allmende.tables.query import RowQuery
from allmende.tables.reader import open_table
from allmende.tables.versions import StaleVersion
from allmende.transparency.reads import Interface
from cli_support import one_json_object
from privacy_data import PEOPLE, residents_csv
from support import DORTMUND_CSV, OPERATOR, dataset_body, uploaded_job

PERSONAL = ["Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum", "Kfz-Kennzeichen",
            "IBAN", "Steuer-ID", "Versicherungsnummer"]
#: v1 of the resource: what the permits table held before it named anyone
HARMLESS = ("PLZ;Stadtteil;Zone;Ausweisnummer;Gebühr;lon;lat\n"
            "44137;Innenstadt-Nord;A;BP-1;30,00;7.46;51.51\n")
OUTSIDERS = [None, "outsider", "member", "bochum-editor"]
INSIDERS = ["editor", "admin", "sysadmin"]


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ingest(platform, tmp_path: Path, dataset: str, text: str, name: str = "ausweise.csv",
            **extra: Any):
    with platform.db.session() as session:
        try:
            datasets.get_dataset(session, OPERATOR, dataset)
        except Exception:
            datasets.create_dataset(session, OPERATOR, dataset_body(dataset, **extra))
    return ingest(platform, OPERATOR, IngestRequest(dataset, _file(tmp_path, name, text), name,
                                                    resource_name="ausweise.csv"))


@pytest.fixture
def permits(platform, world, tmp_path) -> str:
    """A public dataset whose resource has a harmless v1 and a held v2."""
    first = _ingest(platform, tmp_path, "parkausweise", HARMLESS)
    second = _ingest(platform, tmp_path, "parkausweise", residents_csv())
    assert (first.version, first.held, second.version, second.held) == (1, False, 2, True)
    return second.resource


def _get(client, world, url: str, who: str | None, **params: Any):
    return client.get(url, params=params, headers=world.auth(who))


def test_ingest_reports_each_column_with_a_confidence_and_stores_no_value(
        platform, world, tmp_path):
    result = _ingest(platform, tmp_path, "parkausweise", residents_csv())
    assert result.held is True
    assert [p["column"] for p in result.personal_data] == PERSONAL
    assert all(set(p) == {"column", "kind", "confidence"} for p in result.personal_data)
    with platform.db.sessions() as session:
        stored = session.scalar(select(VersionPrivacy))
        version = session.scalar(select(TableVersion))
        kept = orjson.dumps([stored.findings, version.read_report, version.warnings,
                             result.as_dict()]).decode()
    assert stored.status == "pending"
    for person in PEOPLE:  # no sampled value anywhere but in the table itself
        assert not any(value in kept for value in person)


def test_a_members_dataset_is_flagged_but_not_held(platform, world, tmp_path):
    result = _ingest(platform, tmp_path, "intern", residents_csv(), access_level="members")
    assert result.held is False and len(result.personal_data) == len(PERSONAL)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_the_held_version_is_invisible_to_outsiders_on_every_interface(
        client, world, permits, who):
    rows = f"/api/v1/resources/{permits}/rows"
    latest = _get(client, world, rows, who)
    assert latest.status_code == 200, latest.text
    assert "E-Mail" not in {f["name"] for f in latest.json()["fields"]}  # v1 instead
    assert latest.json()["total"] == 1
    for params in ({"version": 2}, {"version": 2, "format": "csv"},
                   {"version": 2, "format": "parquet"}):
        refused = _get(client, world, rows, who, **params)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "version_held"
    for url in (f"/api/v1/resources/{permits}/distinct/E-Mail",
                f"/api/v1/resources/{permits}/aggregate"):
        assert _get(client, world, url, who, version=2).status_code == 403
    download = _get(client, world, rows, who, format="csv").text
    assert "anna" not in download.casefold() and "E-Mail" not in download
    # CKAN: the datastore and the resource's table are v1
    token = {"Authorization": world.tokens[who]} if who else {}
    search = client.post("/api/3/action/datastore_search", json={"resource_id": permits},
                         headers=token).json()["result"]
    assert "E-Mail" not in {f["id"] for f in search["fields"]}
    package = client.post("/api/3/action/package_show", json={"id": "parkausweise"},
                          headers=token).json()["result"]
    assert [r["version"] for r in package["resources"]] == [1]
    # OGC API Features: the collection's features carry v1's properties
    items = client.get("/ogc/collections/parkausweise/items", headers=world.auth(who)).json()
    assert items["features"] and all("E-Mail" not in f["properties"]
                                     for f in items["features"])
    # the version list names the held version and what was found, never a value
    listed = _get(client, world, f"/api/v1/resources/{permits}/versions", who).json()
    held = listed["results"][0]
    assert (held["version"], held["held"], held["privacy_status"]) == (2, True, "pending")
    assert [p["column"] for p in held["personal_data"]] == PERSONAL


@pytest.mark.parametrize("who", INSIDERS)
def test_the_owners_editors_and_admins_read_the_held_version(client, world, permits, who):
    page = _get(client, world, f"/api/v1/resources/{permits}/rows", who).json()
    assert {f["name"] for f in page["fields"]} >= set(PERSONAL) and page["total"] == 8
    assert _get(client, world, f"/api/v1/resources/{permits}/rows", who, version=2,
                format="csv").status_code == 200


def test_a_resource_with_only_a_held_version_offers_no_download(client, world, platform,
                                                                 tmp_path):
    resource = _ingest(platform, tmp_path, "nur-neu", residents_csv()).resource
    refused = client.get(f"/api/v1/resources/{resource}/rows")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "version_held"
    document = client.get("/catalog/datasets/nur-neu.jsonld").text
    assert f"/api/v1/resources/{resource}/rows?format=" not in document
    package = client.post("/api/3/action/package_show", json={"id": "nur-neu"}).json()
    assert package["result"]["resources"][0]["datastore_active"] is False
    search = client.post("/api/3/action/datastore_search", json={"resource_id": resource})
    assert search.status_code == 403
    assert search.json()["error"]["__type"] == "Authorization Error"
    collections = client.get("/ogc/collections").json()["collections"]
    assert "nur-neu" not in {c["id"] for c in collections}
    admin = client.get(f"/api/v1/resources/{resource}/rows", headers=world.auth("admin"))
    assert admin.status_code == 200


ALL_KINDS = [
    ColumnDecision("Vorname", "drop"),
    ColumnDecision("Nachname", "hash"),
    ColumnDecision("E-Mail", "hash"),
    ColumnDecision("Telefon", "truncate", keep=4),
    ColumnDecision("Geburtsdatum", "generalize"),
    ColumnDecision("Kfz-Kennzeichen", "confirm", reason="Für die Parkraumkontrolle "
                                                         "öffentlich einsehbar"),
    ColumnDecision("IBAN", "drop"),
    ColumnDecision("Steuer-ID", "drop"),
    ColumnDecision("Versicherungsnummer", "drop"),
    ColumnDecision("PLZ", "generalize", digits=3),  # not flagged: an admin may add columns
    ColumnDecision("Gebühr", "generalize", step=5),
]


def _key(platform, dataset: str) -> bytes:
    with platform.db.sessions() as session:
        found = datasets.get_dataset(session, OPERATOR, dataset)
        return bytes.fromhex(session.get(DatasetPrivacy, found.id).hash_key)


def test_each_decision_kind_lands_in_the_published_version(client, world, platform, permits):
    result = decisions.decide(platform, world_actor(platform, "admin"), permits, 2, ALL_KINDS)
    assert (result.held_version, result.published_version) == (2, 3)
    assert result.event["type"] == "privacy.decision" and len(result.event["columns"]) == 11
    page = client.get(f"/api/v1/resources/{permits}/rows", params={"sort": "Ausweisnummer"})
    body = page.json()
    fields = {f["name"]: f["type"] for f in body["fields"]}
    assert not {"Vorname", "IBAN", "Steuer-ID", "Versicherungsnummer"} & set(fields)
    assert fields["Geburtsdatum"] == "integer" and fields["Nachname"] == "string"
    first = body["rows"][0]
    key = _key(platform, "parkausweise")
    assert first["Nachname"] == hmac.new(key, b"Schmidt", hashlib.sha256).hexdigest()[:32]
    assert first["E-Mail"] != "anna.schmidt@web.de" and len(first["E-Mail"]) == 32
    assert first["Telefon"] == "0231"
    assert first["Geburtsdatum"] == 1984
    assert first["Kfz-Kennzeichen"] == "DO-AS 123"
    assert first["PLZ"] == "441"
    assert first["Gebühr"] == 30.0 and body["rows"][3]["Gebühr"] == 30.0  # 33,00 in 5s
    # the raw version stays held; the published one is readable by everyone
    assert client.get(f"/api/v1/resources/{permits}/rows",
                      params={"version": 2}).status_code == 403
    versions = {v["version"]: v for v in client.get(
        f"/api/v1/resources/{permits}/versions").json()["results"]}
    assert (versions[2]["privacy_status"], versions[2]["held"]) == ("replaced", True)
    assert (versions[3]["privacy_status"], versions[3]["held"]) == ("published", False)
    assert versions[3]["privacy_related_version"] == 2
    assert {d["column"]: d["action"] for d in versions[2]["privacy_decisions"]}["E-Mail"] \
        == "hash"
    with platform.db.sessions() as session:
        recorded = session.scalars(select(PrivacyDecision)).all()
    assert len(recorded) == 11 and {d.published_version for d in recorded} == {3}
    assert next(d for d in recorded if d.column == "Kfz-Kennzeichen").reason.startswith("Für")


def world_actor(platform, key: str):
    with platform.db.sessions() as session:
        return accounts.actor_for(accounts.get_user(session, f"{key}@test.allmende.de"))


def test_the_same_value_hashes_differently_in_another_dataset(platform, world, tmp_path):
    hashed: dict[str, list[str]] = {}
    for name in ("ausweise-nord", "ausweise-sued"):
        resource = _ingest(platform, tmp_path, name, residents_csv() + residents_csv()
                           .splitlines()[1] + "\n").resource
        decisions.decide(platform, OPERATOR, resource, 1, [
            ColumnDecision(c, "hash") for c in PERSONAL])
        with platform.db.sessions() as session:
            table = open_table(session, OPERATOR, platform.settings.data_dir, resource,
                               interface=Interface.ROWS)
            hashed[name] = [r["E-Mail"] for r in table.rows(RowQuery(limit=20)).rows]
    north, south = hashed["ausweise-nord"], hashed["ausweise-sued"]
    assert north[0] == north[-1] and south[0] == south[-1]  # equal stays equal
    assert not set(north) & set(south)  # but not across datasets
    assert _key(platform, "ausweise-nord") != _key(platform, "ausweise-sued")


def test_confirming_every_column_publishes_the_held_version(client, world, platform, permits):
    result = decisions.decide(platform, world_actor(platform, "admin"), permits, 2, [
        ColumnDecision(c, "confirm", reason="Einwilligung liegt vor") for c in PERSONAL])
    assert result.published_version == 2
    page = client.get(f"/api/v1/resources/{permits}/rows").json()
    assert page["total"] == 8 and "E-Mail" in {f["name"] for f in page["fields"]}
    entries = client.get("/log/v1/entries", params={"start": 0, "end": 50}).json()["entries"]
    [logged] = [e["event"] for e in entries if e["event"]["type"] == "privacy.decision"]
    assert logged["resource"] == permits and logged["published_version"] == 2
    assert {c["action"] for c in logged["columns"]} == {"confirm"}
    # that a reason was given, not the admin's words (they may name people)
    assert all(c["reason_given"] for c in logged["columns"])
    assert "Einwilligung" not in str(logged)
    assert len(logged["actor"]) == 32 and "@" not in str(logged), "a pseudonym, not the admin"


def _post(client, world, resource: str, who: str, columns: list[dict], version: int = 2):
    return client.post(f"/api/v1/resources/{resource}/versions/{version}/privacy-decision",
                       json={"columns": columns}, headers=world.auth(who))


def test_a_decision_is_refused_with_reasons(client, world, platform, permits, tmp_path):
    drop_all = [{"column": c, "action": "drop"} for c in PERSONAL]
    assert _post(client, world, permits, "editor", drop_all).status_code == 403
    assert _post(client, world, permits, "bochum-editor", drop_all).status_code == 403
    incomplete = _post(client, world, permits, "admin", [
        *drop_all[1:], {"column": "PLZ", "action": "confirm"},
        {"column": "Stadtteil", "action": "shred"}])
    assert incomplete.status_code == 422
    problems = {e["field"]: e["message"] for e in incomplete.json()["error"]["fields"]}
    assert "Vorname" in problems and "Grund" in problems["PLZ"] and "shred" in \
        problems["Stadtteil"]
    assert _post(client, world, permits, "admin", drop_all, version=1).status_code == 404
    done = _post(client, world, permits, "admin", drop_all)
    assert done.status_code == 201 and done.json()["published_version"] == 3
    again = _post(client, world, permits, "admin", drop_all)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"


def test_only_the_newest_version_is_decided(platform, world, permits, tmp_path):
    _ingest(platform, tmp_path, "parkausweise", residents_csv())  # v3, held as well
    with pytest.raises(StaleVersion):
        decisions.decide(platform, OPERATOR, permits, 2,
                         [ColumnDecision(c, "drop") for c in PERSONAL])


def test_two_admins_deciding_at_once_publish_one_version(platform, world, permits):
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def decide() -> None:
        barrier.wait()
        try:
            outcomes.append(decisions.decide(platform, OPERATOR, permits, 2, [
                ColumnDecision(c, "drop") for c in PERSONAL]).published_version)
        except Conflict as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=decide) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == ["3", "already_decided"] or \
        sorted(map(str, outcomes)) == ["3", "version_changed"]
    with platform.db.sessions() as session:
        numbers = session.scalars(select(TableVersion.version).where(
            TableVersion.resource_id == permits)).all()
        decided = session.scalars(select(PrivacyDecision)).all()
    assert sorted(numbers) == [1, 2, 3] and len(decided) == len(PERSONAL)


# --- small-cell suppression --------------------------------------------------------------

def _published(platform, permits: str) -> None:
    decisions.decide(platform, OPERATOR, permits, 2,
                     [ColumnDecision(c, "drop") for c in PERSONAL])


def test_aggregates_suppress_small_cells_with_a_secondary_cell(client, world, platform,
                                                              permits):
    _published(platform, permits)
    url = f"/api/v1/resources/{permits}/aggregate"
    body = client.get(url, params={"group_by": "Zone", "metrics": "count,sum:Gebühr"}).json()
    cells = {r["Zone"]: r for r in body["rows"]}
    # C counts 1 (primary); B (3) is the smallest other cell of the line (secondary), so C
    # cannot be recomputed from the total of 8
    assert cells["C"] == {"Zone": "C", "count": None, "sum(Gebühr)": None, "suppressed": True}
    assert cells["B"]["count"] is None and cells["B"]["suppressed"] is True
    assert cells["A"]["count"] == 4 and cells["A"]["suppressed"] is False
    assert body["suppression"] == {"k": 3, "cells": 2}
    exact = client.get(url, params={"group_by": "Zone"}, headers=world.auth("editor")).json()
    assert "suppression" not in exact and {r["Zone"]: r["count"] for r in exact["rows"]} == \
        {"A": 4, "B": 3, "C": 1}
    download = client.get(url, params={"group_by": "Zone", "format": "csv"})
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["Zone"], r["count"], r["suppressed"]) for r in table] == [
        ("A", "4", "false"), ("B", "", "true"), ("C", "", "true")]


def test_distinct_values_suppress_small_counts(client, world, platform, permits):
    _published(platform, permits)
    url = f"/api/v1/resources/{permits}/distinct/Stadtteil"
    values = {v["value"]: v for v in client.get(url).json()["values"]}
    # Hörde 3 stays; Innenstadt-Nord 2, Eving 2, Brackel 1 are below k
    assert values["Hörde"] == {"value": "Hörde", "count": 3, "suppressed": False}
    assert all(values[d]["count"] is None and values[d]["suppressed"]
               for d in ("Innenstadt-Nord", "Eving", "Brackel"))
    rows = orjson.loads(client.get(url, params={"format": "json"}).content)
    assert {r["Stadtteil"]: r["count"] for r in rows}["Brackel"] is None
    assert client.get(url, params={"format": "xlsx"}).status_code == 422


def test_a_dataset_sets_its_own_threshold(client, world, platform, permits, tmp_path):
    _published(platform, permits)
    url = "/api/v1/datasets/parkausweise/privacy"
    assert client.put(url, json={"suppression_k": 5},
                      headers=world.auth("editor")).status_code == 403
    assert client.put(url, json={"suppression_k": 0},
                      headers=world.auth("admin")).status_code == 422
    assert client.put(url, json={"suppression_k": 5},
                      headers=world.auth("admin")).json() == {"suppression_k": 5}
    assert client.get(url).json() == {"suppression_k": 5}
    body = client.get(f"/api/v1/resources/{permits}/aggregate",
                      params={"group_by": "Zone"}).json()
    assert all(r["suppressed"] for r in body["rows"])  # A counts 4 < 5
    # a dataset without personal data and without a threshold: exact counts
    plain = _ingest(platform, tmp_path, "zonen", HARMLESS).resource
    assert "suppression" not in client.get(f"/api/v1/resources/{plain}/aggregate").json()


# --- the command line ----------------------------------------------------------------------

def test_allmende_ingest_json_reports_held_and_the_columns(allmende, installation, world,
                                                           tmp_path):
    source = _file(tmp_path, "ausweise.csv", residents_csv())
    done = allmende("ingest", source, "--org", "dortmund", "--dataset", "ausweise",
                    "--json", cwd=tmp_path, env=installation.env())
    assert done.returncode == 0, done.stderr
    result = one_json_object(done.stdout)
    assert result["held"] is True
    assert [(p["column"], p["kind"]) for p in result["personal_data"]][:3] == [
        ("Vorname", "name"), ("Nachname", "name"), ("E-Mail", "email")]
    assert all(0.5 <= p["confidence"] <= 1 for p in result["personal_data"])
    for person in PEOPLE:
        assert person[2] not in done.stdout + done.stderr


# --- regional tables and quality reports ---------------------------------------------------

def test_a_held_version_stays_out_of_the_regional_table_and_its_samples(platform, world,
                                                                         tmp_path):
    source = _file(tmp_path, "lade.csv", DORTMUND_CSV)
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("do-lade"))
    resource = ingest(platform, OPERATOR, IngestRequest("do-lade", source, "lade.csv")).resource
    with platform.db.session() as session:
        mapping = harmonize.suggest(platform, session, OPERATOR, resource, "ladesaeulen")
        harmonize.save_mapping(platform, session, OPERATOR, resource, mapping)
    _run_jobs(platform)
    # version 2 names the operators' contact persons
    lines = DORTMUND_CSV.splitlines()
    contacts = [lines[0] + ";Ansprechpartner;E-Mail"] + [
        f"{line};{person[0]} {person[1]};{person[2]}"
        for line, person in zip(lines[1:], PEOPLE, strict=False)]
    second = ingest(platform, OPERATOR, IngestRequest(
        "do-lade", _file(tmp_path, "lade2.csv", "\n".join(contacts) + "\n"), "lade.csv"))
    assert second.held and {p["column"] for p in second.personal_data} == {
        "Ansprechpartner", "E-Mail"}
    _run_jobs(platform)
    with platform.db.sessions() as session:
        record = harmonize.get_consolidation(session, OPERATOR, "ladesaeulen")
        assert [(s["dataset"], s["table_version"]) for s in record.sources] == [("do-lade", 1)]
        assert harmonize.find_report(session, ANONYMOUS, resource).table_version == 1
        editor = world_actor(platform, "editor")
        assert harmonize.find_report(session, editor, resource).table_version == 2


def _run_jobs(platform) -> None:
    while worker.run_once(platform):
        pass


def test_two_admins_setting_the_threshold_at_once_leave_one_row(platform, world, permits):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def put(k: int) -> None:
        barrier.wait()
        try:
            with platform.db.session() as session:
                suppression.set_dataset_threshold(session, OPERATOR, "parkausweise", k)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=put, args=(k,)) for k in (4, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with platform.db.sessions() as session:
        rows = session.scalars(select(DatasetPrivacy)).all()
    assert len(rows) == 1 and rows[0].suppression_k in (4, 6)


def test_an_upload_through_the_api_ends_with_held_and_the_columns(client, world):
    with world.platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("api-ausweise"))
    job = uploaded_job(client, world.auth("editor"), "api-ausweise", "ausweise.csv",
                       residents_csv().encode())
    assert job["status"] == "done", job
    assert job["result"]["held"] is True
    assert [p["column"] for p in job["result"]["personal_data"]] == PERSONAL
    resource = client.get(f"/api/v1/resources/{job['result']['resource']}",
                          headers=world.auth("member")).json()
    assert resource["versions"][0]["held"] is True
