"""The CKAN Action API: the real ckanapi client against a live server, a CKAN harvester's
paging loop, CKAN's errors for bad input, private datasets, and datastore_search."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import ckanapi
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from allmende.access import policy
from allmende.catalog import datasets
from allmende.db.models import Dataset
from allmende.ingest.service import IngestRequest, ingest
from allmende.interop.ckan.actions import ACTIONS
from allmende.platform import Platform
from allmende.web.app import create_app
from support import DORTMUND_CSV, OPERATOR, served

PUBLIC_COUNT = 30
TOPICS = [("Ladesäulen", "Elektromobilität", "TRAN", "CSV"),
          ("Baustellen", "Verkehr", "TRAN", "GEOJSON"),
          ("Spielplätze", "Freizeit", "SOCI", "CSV"),
          ("Schulen", "Bildung", "EDUC", "XLSX"),
          ("Straßenbäume", "Stadtgrün", "ENVI", "JSON")]


def _seed(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """Public datasets of two organizations, one of each non-public kind, and two tables."""
    with platform.db.session() as session:
        for i in range(PUBLIC_COUNT):
            topic, keyword, theme, fmt = TOPICS[i % len(TOPICS)]
            org = ("dortmund", "bochum")[i % 2]
            datasets.create_dataset(session, OPERATOR, {
                "name": f"ds-{i:02d}", "title": f"{topic} in {org.title()} {2000 + i}",
                "description": f"Die {topic} der Stadt {org.title()}, Stand {2000 + i}.",
                "organization": org, "keywords": [keyword, f"jahr-{2000 + i}"],
                "themes": [theme], "access_level": "restricted" if i == 7 else "public",
                "resources": [{"name": f"Datei {i}", "url": f"https://example.org/{i}",
                               "format": fmt}]})
        for name, extra in (("mitglieder", {"access_level": "members"}),
                            ("entwurf", {"draft": True}), ("geloescht", {})):
            datasets.create_dataset(session, OPERATOR, {
                "name": name, "title": f"Interne Ladesäulen {name}", "organization": "dortmund",
                "description": "Nicht für alle.", "keywords": ["Elektromobilität"], **extra})
        datasets.delete_dataset(session, OPERATOR, "geloescht")
        datasets.create_dataset(session, OPERATOR, {
            "name": "lade-tabelle", "title": "Ladepunkte Dortmund", "organization": "dortmund",
            "description": "Die Ladepunkte als Tabelle."})
        datasets.create_dataset(session, OPERATOR, {
            "name": "lade-intern", "title": "Ladepunkte intern", "organization": "dortmund",
            "description": "Nur mit Vereinbarung.", "access_level": "restricted"})
    source = Path(platform.settings.data_dir) / "ladesaeulen.csv"
    source.write_text(DORTMUND_CSV, encoding="utf-8")
    tables = {name: ingest(platform, OPERATOR, IngestRequest(name, source, "ladesaeulen.csv"))
              .resource for name in ("lade-tabelle", "lade-intern")}
    source.unlink()
    return tables


TEMPLATES = {"ckan_catalog": (_seed, "world")}


@pytest.fixture
def ckan_catalog(installation) -> dict[str, str]:
    """The resource ids of the two tables (public `lade-tabelle`, restricted `lade-intern`)."""
    return installation.seeded


def _uuids(platform: Platform, *names: str) -> dict[str, str]:
    with platform.db.sessions() as session:
        rows = session.execute(select(Dataset.name, Dataset.uuid).where(
            Dataset.name.in_(names) if names else Dataset.id.is_not(None)))
        return dict(rows.all())


def _public_names() -> set[str]:
    return {f"ds-{i:02d}" for i in range(PUBLIC_COUNT)} | {"lade-tabelle", "lade-intern"}


def _action(client: TestClient, action: str, token: str | None = None, /, **data: Any) -> Any:
    headers = {"Authorization": token} if token else {}
    response = client.post(f"/api/3/action/{action}", json=data, headers=headers)
    body = response.json()
    assert response.status_code == 200 and body["success"], (response.status_code, body)
    return body["result"]


def _error(client: TestClient, action: str, status: int, type_: str, /, **params: Any
           ) -> dict:
    response = client.get(f"/api/3/action/{action}", params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["__type"] == type_, body
    assert body["help"].endswith(f"/api/3/action/help_show?name={action}")
    return body["error"]


# --- the real client -------------------------------------------------------------------------

def test_ckanapi_reads_the_catalog_from_a_live_server(platform, world, ckan_catalog):
    platform.settings.inprocess_worker = False
    with served(create_app(platform)) as address:
        remote = ckanapi.RemoteCKAN(f"http://{address}", user_agent="allmende-tests")
        found = remote.action.package_search(q="Ladesäulen", rows=100,
                                             **{"facet.field": ["organization", "tags"]})
        names = {d["name"] for d in found["results"]}
        # ds-00, 05, …, 25 and the tables (their resource: ladesaeulen.csv); nothing internal
        assert found["count"] == len(names) == 8
        assert names == {f"ds-{i:02d}" for i in range(0, PUBLIC_COUNT, 5)} | {
            "lade-tabelle", "lade-intern"}
        assert found["facets"]["organization"] == {"dortmund": 5, "bochum": 3}
        assert found["search_facets"]["tags"]["items"][0]["count"] >= 1

        uuid = _uuids(platform, "ds-05")["ds-05"]
        shown = remote.action.package_show(id=uuid)
        assert shown == remote.action.package_show(id="ds-05")
        assert shown["id"] == uuid and shown["organization"]["name"] == "bochum"
        assert shown["private"] is False and shown["license_id"] == "dl-by-de/2.0"
        assert shown["tags"][0]["name"] == "Elektromobilität"
        assert shown["groups"][0]["name"] == "tran"
        assert shown["resources"][0]["format"] == "CSV"
        assert shown["resources"][0]["datastore_active"] is False

        organizations = remote.action.organization_list(all_fields=True)
        counts = {o["name"]: o["package_count"] for o in organizations}
        assert counts == {"bochum": 15, "dortmund": 17}  # what an anonymous reader sees
        assert remote.action.organization_list() == ["bochum", "dortmund"]

        table = ckan_catalog["lade-tabelle"]
        rows = remote.action.datastore_search(resource_id=table, filters={"PLZ": "44137"},
                                              sort="Straße asc", limit=2)
        assert rows["total"] == 3 and len(rows["records"]) == 2
        assert [r["Straße"] for r in rows["records"]] == ["Kampstraße", "Kampstraße"]
        assert rows["fields"][0] == {"id": "Betreiber", "type": "text"}

        with pytest.raises(ckanapi.NotFound):
            remote.action.package_show(id="mitglieder")
        with pytest.raises(ckanapi.SearchQueryError):
            remote.action.package_search(q="Ladesäulen OR Baustellen")
        with pytest.raises(ckanapi.NotAuthorized):
            remote.action.datastore_search(resource_id=ckan_catalog["lade-intern"])

        member = ckanapi.RemoteCKAN(f"http://{address}", apikey=world.tokens["member"],
                                    user_agent="allmende-tests", get_only=True)
        assert member.action.package_show(id="mitglieder")["private"] is True
        private = member.action.package_search(q="Interne", include_private=True)
        assert {d["name"] for d in private["results"]} == {"mitglieder", "entwurf"}
        assert member.action.datastore_search(
            resource_id=ckan_catalog["lade-intern"])["total"] == 4


# --- the harvester's loop ---------------------------------------------------------------------

def _harvest(client: TestClient, since: str, rows: int) -> list[str]:
    """What ckanext-harvest's CKAN harvester does: pages of `rows`, sorted by id, changed
    since a moment, until a page comes back short."""
    seen: list[str] = []
    start = 0
    while True:
        page = _action(client, "package_search", rows=rows, start=start, sort="id asc",
                       fq=f"metadata_modified:[{since} TO *]")
        seen += [d["id"] for d in page["results"]]
        start += rows
        if len(page["results"]) < rows:
            return seen


@pytest.mark.parametrize("rows", [100, 7])
def test_a_harvester_sees_every_public_dataset_exactly_once(client, platform, ckan_catalog,
                                                            rows):
    seen = _harvest(client, "2000-01-01T00:00:00Z", rows)
    assert len(seen) == len(set(seen)), "a dataset came twice"
    assert seen == sorted(seen), "not in id order"
    assert set(seen) == set(_uuids(platform, *_public_names()).values())


def test_the_harvester_asks_for_what_changed_since_its_last_run(client, platform,
                                                                ckan_catalog):
    time.sleep(0.01)
    moment = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        for name in ("ds-03", "ds-11", "mitglieder"):
            datasets.update_dataset(session, OPERATOR, name, {"title": f"Neu {name}"})
    since = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    changed = _harvest(client, since, 100)
    assert set(changed) == set(_uuids(platform, "ds-03", "ds-11").values())


def test_sort_by_id_includes_datasets_created_after_the_index(client, platform,
                                                              ckan_catalog):
    _action(client, "package_search", rows=1)  # the index is built
    with platform.db.session() as session:
        for i in range(5):
            datasets.create_dataset(session, OPERATOR, {
                "name": f"neu-{i}", "title": f"Neu {i}", "description": "x",
                "organization": "bochum"})
    ids = [d["id"] for d in _action(client, "package_search", rows=1000,
                                    sort="id asc")["results"]]
    assert len(ids) == PUBLIC_COUNT + 2 + 5 and ids == sorted(ids)


# --- search -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("q", "fq", "expected"), [
    ('"Ladesäulen in Dortmund"', "", {"ds-00", "ds-10", "ds-20"}),
    ("name:ds-07", "", {"ds-07"}),
    ('title:"in Bochum"', "tags:Elektromobilität", {"ds-05", "ds-15", "ds-25"}),
    ("Schulen", "organization:dortmund", {"ds-08", "ds-18", "ds-28"}),
    ("*:*", "+groups:educ res_format:xlsx", {f"ds-{i:02d}" for i in (3, 8, 13, 18, 23, 28)}),
    ("tags:jahr-2004", "", {"ds-04"}),
    ("Spielplaetze AND Bochum", "", {"ds-07", "ds-17", "ds-27"}),
])
def test_q_and_fq_as_solr_reads_them(client, ckan_catalog, q, fq, expected):
    found = _action(client, "package_search", q=q, fq=fq, rows=100)
    assert {d["name"] for d in found["results"]} == expected
    assert found["count"] == len(expected)


def test_facets_paging_and_fields(client, ckan_catalog):
    found = _action(client, "package_search", rows=0, **{
        "facet.field": '["organization", "groups", "res_format", "license_id"]',
        "facet.limit": 1})
    assert found["count"] == PUBLIC_COUNT + 2 and found["results"] == []
    assert found["facets"]["organization"] == {"dortmund": 17}
    assert found["facets"]["groups"] == {"tran": 12}
    assert found["search_facets"]["organization"]["items"] == [
        {"name": "dortmund", "display_name": "Stadt Dortmund", "count": 17}]
    first = _action(client, "package_search", rows=5, start=0, sort="title_string asc")
    second = _action(client, "package_search", rows=5, start=5, sort="title_string asc")
    titles = [d["title"] for d in first["results"] + second["results"]]
    assert titles == sorted(titles, key=str.casefold) and len(set(titles)) == 10
    names = _action(client, "package_search", q="name:ds-01", fl="id,name")["results"]
    assert names == [{"id": names[0]["id"], "name": "ds-01"}]


def test_rows_above_1000_are_lowered_to_1000_as_ckan_does(client, platform, ckan_catalog):
    found = _action(client, "package_search", rows=10**9)
    assert len(found["results"]) == found["count"] == PUBLIC_COUNT + 2


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "word"), [
    ({"q": '"Ladesäulen'}, "Anführungszeichen"),
    ({"q": "Lade*"}, "Solr-Syntax"),
    ({"q": "Ladesäulen OR Schulen"}, "OR"),
    ({"q": "-Schulen"}, "Ausschlüsse"),
    ({"q": "author:Müller"}, "author"),
    ({"fq": "owner_org:123"}, "owner_org"),
    ({"fq": "metadata_modified:[gestern TO *]"}, "gestern"),
    ({"fq": "metadata_modified:[2024-01-01T00:00:00Z TO NOW]"}, "offenen Bereich"),
    ({"fq": "tags:a tags:b"}, "nur ein Wert"),
    ({"sort": "name desc"}, "name desc"),
    ({"facet.field": '["author"]'}, "author"),
    ({"rowz": "10"}, "rowz"),
])
def test_malformed_queries_are_search_query_errors(client, ckan_catalog, params, word):
    error = _error(client, "package_search", 400, "Search Query Error", **params)
    assert error["message"].startswith("Search Query is invalid: ")
    assert word in error["message"]


@pytest.mark.parametrize(("params", "field"), [
    ({"rows": "viele"}, "rows"), ({"rows": "-1"}, "rows"), ({"start": "1.5"}, "start"),
    ({"include_private": "vielleicht"}, "include_private"),
])
def test_bad_numbers_are_validation_errors(client, ckan_catalog, params, field):
    error = _error(client, "package_search", 409, "Validation Error", **params)
    assert list(error) == ["__type", field]


def test_english_messages_on_request(client, ckan_catalog):
    response = client.get("/api/3/action/package_show", params={"id": "gibt-es-nicht"},
                          headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Not found: ")


def test_unknown_actions_and_bad_bodies_answer_as_ckan_does(client, ckan_catalog):
    response = client.get("/api/3/action/package_delete_all")
    assert response.status_code == 400
    assert response.json() == "Bad request: Action name not known: package_delete_all"
    response = client.post("/api/action/package_search", content=b"{nicht json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json().startswith("Bad request: JSON")
    # the REST API's error format never applies here, and CKAN's never there
    assert isinstance(client.get("/api/3/action/x").json(), str)
    assert client.get("/api/v1/datasets/gibt-es-nicht").json()["error"]["code"] == \
        "dataset_not_found"


def test_private_datasets_need_a_token_and_include_private(client, world, ckan_catalog):
    internal = {"mitglieder", "entwurf"}
    for token in (None, world.tokens["outsider"]):
        found = _action(client, "package_search", token, q="Interne", include_private=True)
        assert {d["name"] for d in found["results"]} == set(), token
    member = world.tokens["member"]
    found = _action(client, "package_search", member, q="Interne")
    assert found["results"] == [], "without include_private only public datasets"
    found = _action(client, "package_search", member, q="Interne", include_private=True)
    assert {d["name"] for d in found["results"]} == internal
    assert all(d["private"] for d in found["results"])
    assert "mitglieder" not in _action(client, "package_list", member)
    _error(client, "package_show", 404, "Not Found Error", id="entwurf")
    _error(client, "package_show", 404, "Not Found Error", id="geloescht")


@pytest.mark.parametrize("header", ["raw", "x-ckan-api-key", "bearer"])
def test_tokens_as_ckan_clients_send_them(client, world, ckan_catalog, header):
    token = world.tokens["member"]
    headers = {"raw": {"Authorization": token}, "x-ckan-api-key": {"X-CKAN-API-Key": token},
               "bearer": {"Authorization": f"Bearer {token}"}}[header]
    response = client.post("/api/3/action/package_show", json={"id": "mitglieder"},
                           headers=headers)
    assert response.status_code == 200, response.text


def test_a_wrong_token_is_an_authorization_error(client, ckan_catalog):
    response = client.get("/api/3/action/package_list", headers={"X-CKAN-API-Key": "falsch"})
    assert response.status_code == 403
    assert response.json()["error"]["__type"] == "Authorization Error"


# --- the other actions ---------------------------------------------------------------------

def test_organizations_groups_tags_and_resources(client, platform, world, ckan_catalog):
    shown = _action(client, "organization_show", id="dortmund", include_datasets=True)
    assert shown["package_count"] == 17 and len(shown["packages"]) == 17
    assert _action(client, "organization_show", id=shown["id"])["name"] == "dortmund"
    assert _action(client, "organization_show", world.tokens["member"],
                   id="dortmund")["package_count"] == 19  # + members-only and the draft
    groups = _action(client, "group_list", all_fields=True, sort="package_count desc")
    assert groups[0]["name"] == "tran" and groups[0]["package_count"] == 12
    assert _action(client, "group_show", id="soci")["package_count"] == 6
    tags = _action(client, "tag_list")
    assert "Elektromobilität" in tags and tags == sorted(tags, key=str.casefold)
    assert _action(client, "tag_list", query="jahr-201") == [
        f"jahr-{y}" for y in range(2010, 2020)]
    table = ckan_catalog["lade-tabelle"]
    resource = _action(client, "resource_show", id=table)
    assert resource["datastore_active"] is True and resource["rows"] == 4
    assert resource["package_id"] == _uuids(platform, "lade-tabelle")["lade-tabelle"]
    assert resource["url"] == f"http://127.0.0.1:8000/api/v1/resources/{table}/rows?format=csv"
    assert client.get(resource["url"].removeprefix("http://127.0.0.1:8000")).status_code == 200
    listed = _action(client, "current_package_list_with_resources", limit=3, offset=1)
    assert len(listed) == 3 and all("resources" in d for d in listed)
    assert "UUID" in _action(client, "help_show", name="package_show")
    assert _action(client, "status_show")["site_url"] == "http://127.0.0.1:8000"


def test_links_follow_the_base_url(platform, ckan_catalog):
    platform.settings.base_url = "https://daten.example.org/"
    platform.settings.inprocess_worker = False
    with TestClient(create_app(platform)) as client:
        response = client.get("/api/3/action/package_show", params={"id": "ds-01"})
    body = response.json()
    assert body["help"] == "https://daten.example.org/api/3/action/help_show?name=package_show"
    assert body["result"]["url"] == "https://daten.example.org/datasets/ds-01"


# --- datastore_search -------------------------------------------------------------------------

def test_datastore_search(client, ckan_catalog):
    table = ckan_catalog["lade-tabelle"]
    every = _action(client, "datastore_search", resource_id=table)
    assert every["total"] == 4 and len(every["records"]) == 4
    assert every["records"][0]["Betreiber"] == "DEW21"
    assert every["_links"]["next"].endswith("offset=100")
    scanned = _action(client, "datastore_search", resource_id=table, q="innogy hellweg")
    assert [r["Straße"] for r in scanned["records"]] == ["Westenhellweg"]
    by_column = _action(client, "datastore_search", resource_id=table,
                        q='{"Straße": "kamp"}', fields="Straße,Hausnr.")
    assert by_column["records"] == [{"Straße": "Kampstraße", "Hausnr.": 12}] * 2
    assert [f["id"] for f in by_column["fields"]] == ["Straße", "Hausnr."]
    lists = _action(client, "datastore_search", resource_id=table, records_format="lists",
                    fields=["Betreiber", "Leistung (kW)"], sort="Leistung (kW) desc",
                    filters={"Betreiber": ["DEW21", "innogy"]}, limit=2, offset=1,
                    include_total=False)
    assert lists["records"] == [["DEW21", 50], ["DEW21", 22]] and "total" not in lists
    text = _action(client, "datastore_search", resource_id=table, records_format="csv",
                   fields="PLZ,Ladepunkte", filters={"Ladepunkte": 1})
    assert text == {**text, "records": "44137,1\n44137,1\n"}
    huge = _action(client, "datastore_search", resource_id=table, limit=10**6)
    assert huge["limit"] == 32_000


@pytest.mark.parametrize(("params", "field"), [
    ({"filters": '{"Gibt es nicht": 1}'}, "filters"),
    ({"filters": '{"Ladepunkte": "viele"}'}, "filters"),
    ({"sort": "Gibt es nicht asc"}, "sort"),
    ({"fields": "Gibt es nicht"}, "fields"),
    ({"records_format": "xml"}, "records_format"),
    ({"limit": "-3"}, "limit"),
    ({"unbekannt": "1"}, "unbekannt"),
])
def test_datastore_search_errors(client, ckan_catalog, params, field):
    error = _error(client, "datastore_search", 409, "Validation Error",
                   resource_id=ckan_catalog["lade-tabelle"], **params)
    assert field in error


def test_datastore_search_of_what_cannot_be_read(client, ckan_catalog):
    _error(client, "datastore_search", 404, "Not Found Error", resource_id="gibt-es-nicht")
    _error(client, "datastore_search", 403, "Authorization Error",
           resource_id=ckan_catalog["lade-intern"])
    _error(client, "datastore_search", 409, "Validation Error")


# --- every action asks the policy -----------------------------------------------------------

#: Actions that decide nothing, and why.
PUBLIC_ACTIONS = {
    "status_show": "the site's name and address",
    "help_show": "the actions' documentation",
}


def test_every_action_asks_the_policy_or_is_listed_public(client, world, ckan_catalog):
    examples = {"package_show": {"id": "ds-01"}, "resource_show": {
        "id": ckan_catalog["lade-tabelle"]}, "organization_show": {"id": "dortmund"},
        "group_show": {"id": "tran"}, "datastore_search": {
        "resource_id": ckan_catalog["lade-tabelle"]}, "help_show": {"name": "package_show"}}
    undecided = []
    for name in sorted(ACTIONS):
        with policy.audit() as decisions:
            _action(client, name, world.tokens["sysadmin"], **examples.get(name, {}))
        if not decisions and name not in PUBLIC_ACTIONS:
            undecided.append(name)
    assert not undecided, f"actions that made no policy decision: {undecided}"


def test_a_dataset_keeps_its_id_when_it_changes(client, platform, world, ckan_catalog):
    before = client.get("/api/v1/datasets/ds-02").json()["id"]
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "ds-02", {"title": "Anders"})
    assert _action(client, "package_show", id="ds-02")["id"] == before
