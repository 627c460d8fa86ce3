"""The Harmonize API over HTTP: shared schemas, suggest → preview → save a mapping, the quality
report, the regional table and its rows; who may do what — on SQLite and, when configured, on
PostgreSQL. Uploads and background jobs run as a client would see them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from allmende.access import accounts
from allmende.db.models import Job, Organization, User
from allmende.jobs import worker
from allmende.platform import Platform
from support import DORTMUND_CSV, OPERATOR, PASSWORD, World, dataset_body

BOCHUM_CSV = """\
betreiber,strasse,hausnummer,plz,ort,lat,lon,leistung_kw,anzahl,inbetriebnahme,evse_id
Stadtwerke Bochum,Kortumstraße,1,44787,Bochum,51.4818,7.2162,22,2,2021-05-01,DE*SWB*E0001
"""
SPIELPLAETZE = {"name": "spielplaetze", "title": "Spielplätze", "version": "1.0.0",
                "fields": [{"name": "name", "type": "string",
                            "constraints": {"required": True}}]}
CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client  # jobs run in the test with worker.run_once, not in a thread racing it


# --- helpers ---------------------------------------------------------------------------------

def _run_jobs(platform: Platform) -> None:
    while worker.run_once(platform):
        pass
    with platform.db.sessions() as session:
        failed = session.query(Job).filter_by(status="failed").all()
        assert not failed, [j.error for j in failed]


def _publish(client: TestClient, world: World, name: str, text: str,
             editor: str = "editor", **extra: str) -> str:
    """A dataset with the CSV uploaded and ingested; returns the new resource's id."""
    organization = "bochum" if editor == "bochum-editor" else "dortmund"
    headers = world.auth(editor)
    created = client.post("/api/v1/datasets", headers=headers,
                          json=dataset_body(name=name, organization=organization, **extra))
    assert created.status_code == 201, created.text
    upload = client.post(f"/api/v1/datasets/{name}/resources", headers=headers,
                         files={"file": ("ladesaeulen.csv", text.encode(), "text/csv")})
    assert upload.status_code == 202, upload.text
    _run_jobs(world.platform)
    job = client.get(f"/api/v1/jobs/{upload.json()['id']}", headers=headers).json()
    return job["result"]["resource"]


def _suggest(client: TestClient, headers: dict, resource: str) -> dict:
    response = client.post(f"/api/v1/resources/{resource}/mapping/suggest",
                           params={"schema": "ladesaeulen"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _save(client: TestClient, headers: dict, resource: str, mapping: dict) -> dict:
    response = client.put(f"/api/v1/resources/{resource}/mapping", json=mapping,
                          headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


# --- schemas ---------------------------------------------------------------------------------

def test_schemas_are_listed_and_served_as_table_schema(client):
    listed = client.get("/api/v1/schemas").json()
    names = [s["name"] for s in listed["results"]]
    assert listed["count"] == len(names) and names == sorted(names)
    assert {"baustellen", "bildungsangebote", "einwohner", "ladesaeulen",
            "parkplaetze"} <= set(names)
    lade = next(s for s in listed["results"] if s["name"] == "ladesaeulen")
    assert lade == {"name": "ladesaeulen", "title": "Ladesäulen für Elektrofahrzeuge",
                    "version": "1.0.0", "description": lade["description"], "fields": 18,
                    "shipped": True}
    descriptor = client.get("/api/v1/schemas/ladesaeulen").json()
    assert descriptor["primaryKey"] == ["ladepunkt_id"]
    assert descriptor["fields"][0]["name"] == "ladepunkt_id"
    missing = _error(client.get("/api/v1/schemas/gibtsnicht"), 404)
    assert missing["code"] == "schema_not_found" and "ladesaeulen" in missing["message"]


def test_only_sysadmins_add_schemas(client, world):
    assert client.post("/api/v1/schemas", json=SPIELPLAETZE).status_code == 401
    assert client.post("/api/v1/schemas", json=SPIELPLAETZE,
                       headers=world.auth("admin")).status_code == 403
    added = client.post("/api/v1/schemas", json=SPIELPLAETZE, headers=world.auth("sysadmin"))
    assert added.status_code == 201, added.text
    assert added.json() == {"name": "spielplaetze", "title": "Spielplätze", "version": "1.0.0",
                            "description": "", "fields": 1, "shipped": False}
    assert client.get("/api/v1/schemas/spielplaetze").json()["title"] == "Spielplätze"
    assert "spielplaetze" in [s["name"] for s in client.get("/api/v1/schemas").json()["results"]]

    bad_name = client.post("/api/v1/schemas", headers=world.auth("sysadmin"),
                           json={**SPIELPLAETZE, "name": "Spiel Plätze"})
    assert [f["field"] for f in _error(bad_name, 422)["fields"]] == ["name"]
    shipped = client.post("/api/v1/schemas", headers=world.auth("sysadmin"),
                          json={**SPIELPLAETZE, "name": "ladesaeulen"})
    assert _error(shipped, 409)["code"] == "schema_shipped"


# --- the whole way: suggest, preview, save, quality, regional table --------------------------

def test_suggest_preview_save_quality_and_regional_rows(client, world):
    editor = world.auth("editor")
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    assert _error(client.get(f"/api/v1/resources/{resource}/mapping"), 404)["code"] == \
        "no_mapping"
    assert _error(client.get(f"/api/v1/resources/{resource}/quality"), 404)["code"] == \
        "no_quality_report"

    mapping = _suggest(client, editor, resource)
    assert mapping["schema_name"] == "ladesaeulen"
    assert mapping["fields"]["betreiber"]["source"] == ["Betreiber"]
    assert mapping["fields"]["ladepunkt_id"]["source"] == ["EVSE-ID"]
    assert {"kind": "date", "format": "%d.%m.%Y"} in \
        mapping["fields"]["inbetriebnahme"]["transforms"]

    first_two = client.post(f"/api/v1/resources/{resource}/mapping/preview", json=mapping,
                            params={"limit": 2}, headers=editor).json()
    assert [r["betreiber"] for r in first_two["rows"]] == ["DEW21", "DEW21"]
    assert first_two["rows"][0]["inbetriebnahme"] == "2021-03-01"
    assert first_two["rows"][0]["nennleistung_kw"] == "22"
    assert first_two["fields"][0] == "ladepunkt_id" and first_two["error_counts"] == {}
    assert first_two["groups"] is None
    assert first_two["positions"] == [{"row": 1, "group": None}, {"row": 2, "group": None}]
    everything = client.post(f"/api/v1/resources/{resource}/mapping/preview", json=mapping,
                             headers=editor).json()
    assert len(everything["rows"]) == 4
    assert everything["error_counts"] == {"inbetriebnahme": 1}
    failed = everything["errors"][0]
    assert (failed["field"], failed["row"], failed["value"]) == \
        ("inbetriebnahme", 4, "31.02.2020")
    assert failed["column"] == "In Betrieb seit"

    saved = _save(client, editor, resource, mapping)
    assert (saved["version"], saved["schema"]) == (1, "ladesaeulen")
    assert saved["mapping"]["fields"]["betreiber"]["source"] == ["Betreiber"]
    assert client.get(f"/api/v1/resources/{resource}/mapping").json() == saved
    _run_jobs(world.platform)

    quality = client.get(f"/api/v1/resources/{resource}/quality").json()
    assert (quality["schema"], quality["table_version"], quality["mapping_version"]) == \
        ("ladesaeulen", 1, 1)
    assert quality["rows"] == 4 and quality["valid"] is False and 0 < quality["score"] < 100
    assert quality["errors"]["mapping-error"] == 1
    sample = next(s for s in quality["samples"] if s["type"] == "mapping-error")
    assert (sample["row"], sample["field"]) == (5, "inbetriebnahme")  # row 5 of the file
    assert quality["completeness"]["betreiber"] == 1.0

    regional = client.get("/api/v1/regional").json()
    assert regional["count"] == 1
    record = regional["results"][0]
    assert client.get("/api/v1/regional/ladesaeulen").json() == record
    assert (record["schema"], record["dataset"], record["problems"]) == \
        ("ladesaeulen", "region-ladesaeulen", [])
    (source,) = record["sources"]
    assert (source["dataset"], source["resource"], source["organization"], source["ags"]) == \
        ("do-lade", resource, "dortmund", "05913000")
    assert (source["rows"], source["kept"], source["score"]) == (4, 3, quality["score"])

    rows = client.get(f"/api/v1/resources/{record['resource']}/rows",
                      params={"sort": "ladepunkt_id"}).json()
    assert rows["total"] == 3
    assert [r["ladepunkt_id"] for r in rows["rows"]] == \
        ["DE*DEW*E0001", "DE*DEW*E0002", "DE*INN*E0003"]
    assert {r["quelle_datensatz"] for r in rows["rows"]} == {"do-lade"}
    assert rows["rows"][0]["nennleistung_kw"] == 22


def test_reasons_preview_quality_and_region_in_the_askers_language(client, world):
    editor = world.auth("editor")
    english = {**editor, "Accept-Language": "en"}
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    mapping = _suggest(client, editor, resource)
    date = mapping["fields"]["inbetriebnahme"]
    # the reason in German, with its template beside it for readers of other languages
    assert "Datumsformat %d.%m.%Y" in date["reason"]
    assert date["reason_i18n"]["template"] == "{item0}; {item1}"
    preview = client.post(f"/api/v1/resources/{resource}/mapping/preview", json=mapping,
                          headers=english).json()
    assert preview["errors"][0]["message"] == \
        "“31.02.2020” does not match the format %d.%m.%Y."
    _save(client, editor, resource, mapping)
    _run_jobs(world.platform)

    path = f"/api/v1/resources/{resource}/quality"
    german = next(s for s in client.get(path).json()["samples"] if s["type"] == "mapping-error")
    assert german["message"].startswith("„31.02.2020“ entspricht nicht dem Format")
    sample = next(s for s in client.get(path, headers=english).json()["samples"]
                  if s["type"] == "mapping-error")
    assert sample == {"type": "mapping-error", "row": 5, "field": "inbetriebnahme",
                      "message": "“31.02.2020” does not match the format %d.%m.%Y."}
    regional = client.get("/api/v1/regional/ladesaeulen", headers=english).json()
    assert regional["title"] == "Charging stations for electric vehicles in the region" or \
        regional["title"].endswith(" in the region")
    assert client.get("/api/v1/regional/ladesaeulen").json()["title"].endswith(" in der Region")


def test_a_changed_mapping_is_a_new_version_and_checked_again(client, world):
    editor = world.auth("editor")
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    mapping = _suggest(client, editor, resource)
    _save(client, editor, resource, mapping)
    del mapping["fields"]["inbetriebnahme"]  # the column with the impossible date
    assert _save(client, editor, resource, mapping)["version"] == 2
    _run_jobs(world.platform)

    versions = client.get(f"/api/v1/resources/{resource}/mapping/versions").json()
    assert versions["count"] == 2 and [v["version"] for v in versions["results"]] == [1, 2]
    assert "inbetriebnahme" in versions["results"][0]["mapping"]["fields"]
    assert "inbetriebnahme" not in versions["results"][1]["mapping"]["fields"]
    assert client.get(f"/api/v1/resources/{resource}/mapping").json()["version"] == 2
    quality = client.get(f"/api/v1/resources/{resource}/quality").json()
    assert quality["mapping_version"] == 2 and "mapping-error" not in quality["errors"]


# --- permissions -----------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    (None, 401), ("outsider", 403), ("member", 403), ("bochum-editor", 403),
    ("editor", 200), ("admin", 200), ("sysadmin", 200)])
def test_only_editors_of_the_organization_suggest_preview_and_save(client, world, who, status):
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    mapping = _suggest(client, world.auth("editor"), resource)
    headers = world.auth(who)
    base = f"/api/v1/resources/{resource}/mapping"
    suggested = client.post(f"{base}/suggest", params={"schema": "ladesaeulen"},
                            headers=headers)
    previewed = client.post(f"{base}/preview", json=mapping, headers=headers)
    saved = client.put(base, json=mapping, headers=headers)
    assert (suggested.status_code, previewed.status_code) == (status, status)
    assert saved.status_code == (201 if status == 200 else status), saved.text
    assert client.get(f"{base}/versions").json()["count"] == (1 if status == 200 else 0)


def test_a_harmonize_job_is_read_by_its_creator_and_its_organization_s_admins(client, world):
    """Not by a member of the organization, an admin of another one, an account without a
    role or an anonymous caller: to them the job does not exist (404)."""
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    editor = world.auth("editor")
    _save(client, editor, resource, _suggest(client, editor, resource))
    with world.platform.db.session() as session:
        job = session.query(Job).filter_by(kind="harmonize").one()
        assert job.payload == {"resource": resource}
        job_id = job.id
        bochum = session.query(Organization).filter_by(slug="bochum").one()
        bochum_editor = session.query(User).filter_by(
            email="bochum-editor@test.allmende.de").one()
        accounts.set_membership(session, OPERATOR, bochum_editor, bochum, "admin")
    _run_jobs(world.platform)
    for who in ("editor", "admin", "sysadmin"):
        answer = client.get(f"/api/v1/jobs/{job_id}", headers=world.auth(who))
        assert answer.status_code == 200, (who, answer.text)
        assert answer.json()["kind"] == "harmonize" and answer.json()["result"]["harmonized"]
    for who in ("member", "bochum-editor", "outsider", None):  # bochum-editor: Bochum's admin
        answer = client.get(f"/api/v1/jobs/{job_id}", headers=world.auth(who))
        assert answer.status_code == 404, (who, answer.text)
        assert answer.json()["error"]["code"] == "job_not_found"


def test_quality_and_mapping_of_a_restricted_dataset_stay_with_its_organization(client, world):
    bochum = world.auth("bochum-editor")
    resource = _publish(client, world, "bo-lade", BOCHUM_CSV, editor="bochum-editor",
                        access_level="restricted")
    _save(client, bochum, resource, _suggest(client, bochum, resource))
    _run_jobs(world.platform)

    for path in ("quality", "mapping", "mapping/versions"):
        url = f"/api/v1/resources/{resource}/{path}"
        assert client.get(url).status_code == 401
        for outsider in ("outsider", "editor"):
            assert client.get(url, headers=world.auth(outsider)).status_code == 403
        for insider in ("bochum-editor", "sysadmin"):
            assert client.get(url, headers=world.auth(insider)).status_code == 200
    report = client.get(f"/api/v1/resources/{resource}/quality", headers=bochum).json()
    assert report["rows"] == 1 and report["valid"] is True
    # restricted data never feeds the public regional table
    assert client.get("/api/v1/regional/ladesaeulen").json()["sources"] == []


def _csrf(client: TestClient) -> str:
    return CSRF_FIELD.search(client.get("/login", headers={"accept": "text/html"}).text)[1]


def test_cookie_session_saving_a_mapping_needs_the_csrf_header(client, world):
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    mapping = _suggest(client, world.auth("editor"), resource)
    login = client.post("/login", follow_redirects=False, data={
        "email": "editor@test.allmende.de", "password": PASSWORD, "csrf_token": _csrf(client),
        "next": "/"})
    assert login.status_code == 303, login.text
    url = f"/api/v1/resources/{resource}/mapping"
    assert _error(client.put(url, json=mapping), 403)["code"] == "csrf"
    # signing in starts a new session with a token of its own
    saved = client.put(url, json=mapping, headers={"X-CSRF-Token": _csrf(client)})
    assert saved.status_code == 201, saved.text


# --- refusals --------------------------------------------------------------------------------

def test_a_mapping_that_does_not_fit_is_422_naming_field_and_column(client, world):
    editor = world.auth("editor")
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    url = f"/api/v1/resources/{resource}/mapping"
    wrong_column = {"schema_name": "ladesaeulen",
                    "fields": {"betreiber": {"source": ["Operator"]}}}
    for response in (client.put(url, json=wrong_column, headers=editor),
                     client.post(f"{url}/preview", json=wrong_column, headers=editor)):
        error = _error(response, 422)
        assert error["code"] == "invalid_mapping"
        (field,) = error["fields"]
        assert field["field"] == "betreiber" and "„Operator“" in field["message"]
        assert "Betreiber" in field["message"]  # the columns the file has

    unknown_field = {"schema_name": "ladesaeulen", "fields": {"leistung": {"source": ["PLZ"]}}}
    fields = _error(client.put(url, json=unknown_field, headers=editor), 422)["fields"]
    assert fields[0]["field"] == "leistung" and "gibt es im Schema" in fields[0]["message"]
    # malformed mappings get the same German messages as in the UI and the CLI
    no_schema = _error(client.put(url, json={"fields": {}}, headers=editor), 422)
    assert no_schema["code"] == "invalid_mapping"
    assert no_schema["fields"] == [{"field": "schema_name", "message": "Angabe fehlt"}]
    spell = {"schema_name": "ladesaeulen",
             "fields": {"betreiber": {"source": "Betreiber", "transforms": [{"kind": "zauber"}]}}}
    (field,) = _error(client.post(f"{url}/preview", json=spell, headers=editor), 422)["fields"]
    assert field["field"] == "fields.betreiber.transforms.0"
    assert field["message"].startswith("unbekannte Umwandlung; möglich: value_map")
    too_many = client.post(f"{url}/preview", json=wrong_column, params={"limit": 101},
                           headers=editor)
    assert [f["field"] for f in _error(too_many, 422)["fields"]] == ["limit"]
    assert client.get(f"{url}/versions").json()["count"] == 0


def test_unknown_resources_schemas_and_regional_tables_are_404(client, world):
    editor = world.auth("sysadmin")
    for response in (client.get("/api/v1/resources/gibtsnicht/mapping", headers=editor),
                     client.get("/api/v1/resources/gibtsnicht/mapping/versions"),
                     client.get("/api/v1/resources/gibtsnicht/quality", headers=editor),
                     client.post("/api/v1/resources/gibtsnicht/mapping/suggest",
                                 params={"schema": "ladesaeulen"}, headers=editor)):
        assert _error(response, 404)["code"] == "resource_not_found"
    regional = _error(client.get("/api/v1/regional/ladesaeulen"), 404)
    assert regional["code"] == "no_consolidation" and "ladesaeulen" in regional["message"]
    assert client.get("/api/v1/regional").json() == {"count": 0, "results": []}

    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    unknown = client.post(f"/api/v1/resources/{resource}/mapping/suggest",
                          params={"schema": "spielplaetze"}, headers=editor)
    assert _error(unknown, 404)["code"] == "schema_not_found"


def test_openapi_documents_the_harmonize_paths(client):
    document = client.get("/api/v1/openapi.json").json()
    expected = {
        "/api/v1/schemas": {"get", "post"}, "/api/v1/schemas/{name}": {"get"},
        "/api/v1/resources/{resource_id}/mapping": {"get", "put"},
        "/api/v1/resources/{resource_id}/mapping/versions": {"get"},
        "/api/v1/resources/{resource_id}/mapping/suggest": {"post"},
        "/api/v1/resources/{resource_id}/mapping/preview": {"post"},
        "/api/v1/resources/{resource_id}/quality": {"get"},
        "/api/v1/regional": {"get"}, "/api/v1/regional/{schema}": {"get"},
    }
    for path, methods in expected.items():
        operations = document["paths"][path]
        assert set(operations) == methods
        for operation in operations.values():
            assert operation["tags"] == ["Harmonisierung"] and operation["summary"]
    put = document["paths"]["/api/v1/resources/{resource_id}/mapping"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/Mapping"
    assert "schema" in document["components"]["schemas"]["QualityOut"]["properties"]


def test_non_finite_numbers_in_mappings_and_schemas_are_422_naming_the_field(client, world):
    editor = world.auth("editor")
    resource = _publish(client, world, "do-lade", DORTMUND_CSV)
    url = f"/api/v1/resources/{resource}/mapping"
    for number in ("1e999", "-1e999", "NaN"):
        body = ('{"schema_name": "ladesaeulen", "fields": {"leistung_kw": {"source": '
                '["Leistung (kW)"], "transforms": [{"kind": "scale", "factor": ' + number +
                '}]}}}')
        headers = {**editor, "Content-Type": "application/json"}
        for response in (client.post(f"{url}/preview", content=body, headers=headers),
                         client.put(url, content=body, headers=headers)):
            error = _error(response, 422)
            assert error["code"] == "invalid_mapping"
            (field,) = error["fields"]
            assert field["field"] == "fields.leistung_kw.transforms.0.scale.factor"
            assert "endliche Zahl" in field["message"]
    assert client.get(f"{url}/versions", headers=editor).json()["count"] == 0

    sysadmin = {**world.auth("sysadmin"), "Content-Type": "application/json"}
    schema = ('{"name": "spielplaetze", "fields": [{"name": "flaeche", "type": "number", '
              '"constraints": {"maximum": 1e999}}, {"name": "name", "type": "string", '
              '"constraints": {"enum": ["a", NaN]}}]}')
    error = _error(client.post("/api/v1/schemas", content=schema, headers=sysadmin), 422)
    assert {f["field"] for f in error["fields"]} == {"flaeche", "name"}
    assert all("keine endliche Zahl" in f["message"] for f in error["fields"])
    assert client.get("/api/v1/schemas/spielplaetze").status_code == 404
