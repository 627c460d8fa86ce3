"""Dataset search: German folding and stemming, AND semantics, facets and facet filters, sorting,
pagination, validation, freshness across processes, and the index's overlay rebuild.

Every test runs on SQLite and (when configured) PostgreSQL and asserts concrete dataset names, so
both backends must give the same answers."""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
import random
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from allmende.catalog import datasets, organizations, search_segment, text
from allmende.catalog import search as search_module
from allmende.catalog import search_index as search_index_module
from allmende.catalog.search import SearchRequest, index_for, search_datasets
from allmende.catalog.search_index import (
    FACETS,
    IndexedDataset,
    Query,
    SearchIndex,
)
from allmende.catalog.search_snapshot import SnapshotStore
from allmende.config import Settings
from allmende.errors import Invalid
from allmende.platform import Platform
from allmende.web.app import create_app
from support import OPERATOR

# Anonymous visitors see the first four; "statistik" is members-only and "radwege" a draft.
CATALOG = [
    {"name": "ladesaeulen-hbf", "organization": "dortmund", "title": "Ladesäulen am Hauptbahnhof",
     "description": "Standorte der Ladepunkte rund um den Bahnhofsvorplatz.",
     "keywords": ["Elektromobilität", "Verkehr"], "themes": ["TRAN", "ENER"],
     "resources": [{"name": "Standorte", "format": "csv", "url": "https://example.org/l.csv"},
                   {"name": "Karte", "format": "geojson", "url": "https://example.org/l.json"}]},
    {"name": "baumkataster", "organization": "bochum", "title": "Baumkataster",
     "description": "Alle Bäume entlang jeder Straße, auch in der Nähe vom Hauptbahnhof.",
     "keywords": ["Umwelt", "Bäume"], "themes": ["ENVI"], "license": "cc-by/4.0",
     "resources": [{"name": "Bäume", "format": "CSV", "url": "https://example.org/b.csv"}]},
    {"name": "haushalt-2024", "organization": "dortmund", "title": "Haushaltsplan 2024",
     "description": "Erträge und Aufwendungen des Kernhaushalts.", "keywords": ["Finanzen"],
     "themes": ["ECON", "GOVE"], "license": "dl-zero-de/2.0",
     "resources": [{"name": "Plan", "format": "xlsx", "url": "https://example.org/h.xlsx"}]},
    {"name": "parkhaeuser", "organization": "bochum", "title": "Parkhäuser und Ladesäulen",
     "description": "Belegung der Parkhäuser in der Innenstadt.", "keywords": ["Verkehr"],
     "themes": ["TRAN"], "access_level": "restricted",
     "resources": [{"name": "Belegung", "format": "json", "url": "https://example.org/p.json"}]},
    {"name": "statistik", "organization": "dortmund", "title": "Interne Bevölkerungsstatistik",
     "description": "Nur für die Allianz.", "keywords": ["Geheimwort"], "themes": ["SOCI"],
     "access_level": "members"},
    {"name": "radwege", "organization": "dortmund", "title": "Radwege (Entwurf)",
     "description": "Noch nicht veröffentlicht.", "keywords": ["Entwurfswort"],
     "themes": ["TRAN"], "draft": True},
]
PUBLIC = {"ladesaeulen-hbf", "baumkataster", "haushalt-2024", "parkhaeuser"}


def _create(platform, *entries: dict) -> None:
    with platform.db.session() as session:
        for entry in entries:
            datasets.create_dataset(session, OPERATOR, entry)


def _organizations(platform) -> None:
    with platform.db.session() as session:
        for slug, name, ags in (("dortmund", "Stadt Dortmund", "05913000"),
                                ("bochum", "Stadt Bochum", "05911000")):
            organizations.create_organization(
                session, OPERATOR, {"slug": slug, "name": name, "ags": ags})


@pytest.fixture
def platform(installation):
    """The platform keeps even this small catalog's index as snapshots (a real one starts at
    ALLMENDE_SEARCH_SNAPSHOT_MIN_DATASETS), so the snapshot tests see them written."""
    instance = installation.platform(search_snapshot_min_datasets=0)
    yield instance
    instance.close()


@pytest.fixture
def catalog(platform):
    """The catalog above, without user accounts (hashing passwords is slow)."""
    _organizations(platform)
    _create(platform, *CATALOG)


@pytest.fixture
def catalog_world(platform, world):
    """The catalog above, with the users of every role."""
    _create(platform, *CATALOG)
    return world


def _get(client, params=None, role: str | None = None, world=None) -> dict:
    headers = world.auth(role) if world is not None else {}
    response = client.get("/api/v1/datasets", params=params or {}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _names(client, params=None, **kwargs) -> list[str]:
    return [d["name"] for d in _get(client, params, **kwargs)["results"]]


def _facet(body: dict, facet: str) -> dict[str, int]:
    return {v["value"]: v["count"] for v in body["facets"][facet]}


# --- German folding and stemming --------------------------------------------------------------


def test_umlauts_and_inflection_find_the_same_datasets(client, catalog):
    found = {query: (sorted(_names(client, {"q": query})), _get(client, {"q": query})["count"])
             for query in ("Ladesäule", "Ladesaeule", "ladesäulen", "Ladesäulen", "LADESAEULEN",
                           "ladesaeule", "LADESÄULE")}
    assert found == {query: (["ladesaeulen-hbf", "parkhaeuser"], 2) for query in found}


def test_eszett_folds_to_ss(client, catalog):
    found = {query: _names(client, {"q": query})
             for query in ("Straße", "Strasse", "Straßen", "STRASSE", "strassen")}
    assert found == {query: ["baumkataster"] for query in found}


def test_words_in_description_keywords_and_resources_are_found(client, catalog):
    assert _names(client, {"q": "Aufwendungen"}) == ["haushalt-2024"]  # description
    assert _names(client, {"q": "Elektromobilitaet"}) == ["ladesaeulen-hbf"]  # keyword, folded
    assert _names(client, {"q": "Belegung"}) == ["parkhaeuser"]  # description and resource
    assert set(_names(client, {"q": "Bochum"})) == {"baumkataster", "parkhaeuser"}  # org name
    assert _names(client, {"q": "geojson"}) == ["ladesaeulen-hbf"]  # resource format


def test_all_words_must_match(client, catalog):
    assert _names(client, {"q": "Ladesäulen Bochum"}) == ["parkhaeuser"]
    assert _names(client, {"q": "Ladesäulen Hauptbahnhof"}) == ["ladesaeulen-hbf"]
    assert _names(client, {"q": "ladesaeulen parkhaus"}) == ["parkhaeuser"]
    nothing = _get(client, {"q": "Ladesäulen Baumkataster"})
    assert nothing["count"] == 0 and nothing["results"] == []
    assert all(v == [] for v in nothing["facets"].values())
    # A repeated word changes nothing; punctuation is no word.
    assert _names(client, {"q": "Straße, Straße!"}) == ["baumkataster"]
    assert _get(client, {"q": "zzzunbekannt"})["count"] == 0


def test_empty_query_lists_every_visible_dataset(client, catalog):
    body = _get(client)
    assert set(_names(client)) == PUBLIC and body["count"] == 4
    assert _get(client, {"q": "   "})["count"] == 4


# --- Facets -----------------------------------------------------------------------------------


def test_facet_counts_over_what_anonymous_sees(client, catalog):
    body = _get(client)
    assert set(body["facets"]) == set(FACETS)
    assert _facet(body, "organization") == {"dortmund": 2, "bochum": 2}
    assert _facet(body, "theme") == {"TRAN": 2, "ENER": 1, "ENVI": 1, "ECON": 1, "GOVE": 1}
    assert _facet(body, "format") == {"CSV": 2, "GEOJSON": 1, "XLSX": 1, "JSON": 1}
    assert _facet(body, "license") == {"dl-by-de/2.0": 2, "cc-by/4.0": 1, "dl-zero-de/2.0": 1}
    assert _facet(body, "access_level") == {"public": 3, "restricted": 1}
    assert _facet(body, "keyword") == {"Elektromobilität": 1, "Verkehr": 2, "Umwelt": 1,
                                       "Bäume": 1, "Finanzen": 1}


def test_facet_values_carry_labels_and_are_ordered_by_count(client, catalog):
    body = _get(client)
    organization = body["facets"]["organization"]
    assert {(v["value"], v["label"]) for v in organization} == {
        ("dortmund", "Stadt Dortmund"), ("bochum", "Stadt Bochum")}
    themes = body["facets"]["theme"]
    assert themes[0] == {"value": "TRAN", "label": "Verkehr", "count": 2}
    counts = [v["count"] for v in themes]
    assert counts == sorted(counts, reverse=True)
    license_ = {v["value"]: v["label"] for v in body["facets"]["license"]}
    assert license_["dl-by-de/2.0"] == "Datenlizenz Deutschland – Namensnennung – 2.0"
    access = {v["value"]: v["label"] for v in body["facets"]["access_level"]}
    assert access["public"] == "Offen (Open Data)"


def test_facet_counts_follow_the_callers_visibility(client, catalog_world):
    catalog = catalog_world
    member = _get(client, role="member", world=catalog)
    assert member["count"] == 6
    assert _facet(member, "organization") == {"dortmund": 4, "bochum": 2}
    assert _facet(member, "access_level") == {"public": 4, "restricted": 1, "members": 1}
    assert _facet(member, "theme")["TRAN"] == 3
    bochum = _get(client, role="bochum-editor", world=catalog)
    assert bochum["count"] == 5
    assert "Geheimwort" in _facet(bochum, "keyword")
    assert "Entwurfswort" not in _facet(bochum, "keyword")
    assert _facet(bochum, "theme")["TRAN"] == 2


def test_facet_counts_are_over_the_query_result(client, catalog):
    body = _get(client, {"q": "Ladesäulen"})
    assert _facet(body, "organization") == {"dortmund": 1, "bochum": 1}
    assert _facet(body, "theme") == {"TRAN": 2, "ENER": 1}
    assert _facet(body, "format") == {"CSV": 1, "GEOJSON": 1, "JSON": 1}
    assert _facet(body, "access_level") == {"public": 1, "restricted": 1}


FILTERS = [
    ({"theme": "TRAN"}, {"ladesaeulen-hbf", "parkhaeuser"}),
    ({"theme": ["TRAN", "ENVI"]}, {"ladesaeulen-hbf", "parkhaeuser", "baumkataster"}),
    ({"theme": ["TRAN", "ENVI"], "organization": "bochum"}, {"parkhaeuser", "baumkataster"}),
    ({"theme": "TRAN", "organization": "bochum"}, {"parkhaeuser"}),
    ({"organization": ["dortmund", "bochum"]}, PUBLIC),
    ({"organization": "atlantis"}, set()),
    ({"organization": ["atlantis", "bochum"]}, {"parkhaeuser", "baumkataster"}),
    ({"format": "CSV"}, {"ladesaeulen-hbf", "baumkataster"}),
    ({"format": "CSV", "license": "cc-by/4.0"}, {"baumkataster"}),
    ({"license": ["cc-by/4.0", "dl-zero-de/2.0"]}, {"baumkataster", "haushalt-2024"}),
    ({"access_level": "restricted"}, {"parkhaeuser"}),
    ({"access_level": "members"}, set()),
    ({"keyword": "Verkehr"}, {"ladesaeulen-hbf", "parkhaeuser"}),
    ({"keyword": "Verkehr", "q": "Hauptbahnhof"}, {"ladesaeulen-hbf"}),
    ({"keyword": ["Finanzen", "Umwelt"], "theme": "ECON"}, {"haushalt-2024"}),
    ({"theme": "SOCI"}, set()),
]


def test_facet_filters(client, catalog):
    failures = []
    for params, expected in FILTERS:
        body = _get(client, params)
        names = {d["name"] for d in body["results"]}
        # The count and the facet counts describe exactly the filtered result.
        counts = (body["count"], sum(_facet(body, "organization").values()),
                  sum(_facet(body, "access_level").values()))
        if names != expected or counts != (len(expected),) * 3:
            failures.append((params, names, counts))
    assert failures == []


# --- Sorting and paging -----------------------------------------------------------------------


def test_sort_by_title(client, catalog):
    assert _names(client, {"sort": "title"}) == [
        "baumkataster", "haushalt-2024", "ladesaeulen-hbf", "parkhaeuser"]


def test_sort_by_title_is_german_alphabetical(client, platform):
    _organizations(platform)
    # Umlauts sort with their base letter (DIN 5007), not after "z"; case does not matter.
    # The titles are chosen so that both DIN 5007 variants (ä = a, ä = ae) agree.
    _create(platform, *[
        {"name": name, "organization": "dortmund", "title": title, "description": "x"}
        for name, title in (("zoo", "Zoologischer Garten"), ("aerzte", "Ärztehäuser"),
                            ("busse", "busse und Bahnen"), ("baeder", "Bäder"),
                            ("oeffentlich", "Öffentliche Toiletten"), ("ost", "Ostfriedhof"),
                            ("parks", "Parks"))])
    assert _names(client, {"sort": "title"}) == [
        "aerzte", "baeder", "busse", "oeffentlich", "ost", "parks", "zoo"]


def test_sort_by_modified(client, catalog, platform):
    newest_first = _names(client, {"sort": "modified"})
    assert newest_first == ["parkhaeuser", "haushalt-2024", "baumkataster", "ladesaeulen-hbf"]
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "baumkataster", {"title": "Baumkataster 2025"})
    assert _names(client, {"sort": "modified"}) == [
        "baumkataster", "parkhaeuser", "haushalt-2024", "ladesaeulen-hbf"]


def test_sort_by_relevance(client, catalog):
    # Title beats description although the description match is the newer dataset.
    assert _names(client, {"q": "Hauptbahnhof"}) == ["ladesaeulen-hbf", "baumkataster"]
    assert _names(client, {"q": "Hauptbahnhof", "sort": "relevance"}) == \
        ["ladesaeulen-hbf", "baumkataster"]
    assert _names(client, {"q": "Hauptbahnhof", "sort": "modified"}) == \
        ["baumkataster", "ladesaeulen-hbf"]
    # Equal scores: the newer dataset first.
    assert _names(client, {"q": "Ladesäule"}) == ["parkhaeuser", "ladesaeulen-hbf"]


def test_pagination_keeps_the_total(client, catalog):
    pages = [_get(client, {"sort": "title", "per_page": 3, "page": page}) for page in (1, 2, 3)]
    assert [[d["name"] for d in p["results"]] for p in pages] == [
        ["baumkataster", "haushalt-2024", "ladesaeulen-hbf"], ["parkhaeuser"], []]
    assert [p["count"] for p in pages] == [4, 4, 4]
    assert [(p["page"], p["per_page"]) for p in pages] == [(1, 3), (2, 3), (3, 3)]
    # Facets describe the whole result, not the page.
    assert _facet(pages[1], "organization") == {"dortmund": 2, "bochum": 2}
    one = _get(client, {"sort": "title", "per_page": 1, "page": 4})
    assert [d["name"] for d in one["results"]] == ["parkhaeuser"] and one["count"] == 4
    default = _get(client)
    assert (default["page"], default["per_page"]) == (1, 20)


INVALID = [
    ({"sort": "beliebt"}, "sort"),
    ({"sort": ""}, "sort"),
    ({"per_page": 0}, "per_page"),
    ({"per_page": 101}, "per_page"),
    ({"per_page": "viele"}, "per_page"),
    ({"page": 0}, "page"),
    ({"page": -1}, "page"),
]


def test_invalid_parameters_are_422_with_a_field_message(client):
    for params, field in INVALID:
        response = client.get("/api/v1/datasets", params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid"
        fields = {f["field"]: f["message"] for f in error["fields"]}
        assert fields.get(field), params
        if field == "sort":
            assert "relevance" in fields["sort"] and "title" in fields["sort"]


def test_largest_page_size_is_allowed(client, catalog):
    assert _get(client, {"per_page": 100})["per_page"] == 100


def test_service_validates_the_request(platform):
    with platform.db.session() as session, pytest.raises(Invalid) as error:
        search_datasets(session, platform.search_index, OPERATOR,
                        SearchRequest(filters={"farbe": ["rot"]}, sort="x", per_page=0))
    assert {f.field for f in error.value.field_errors} == {"farbe", "sort", "per_page"}


# --- Freshness --------------------------------------------------------------------------------


def test_updates_and_deletes_are_visible_at_once(client, catalog_world):
    admin = catalog_world.auth("admin")
    assert _names(client, {"q": "Haushaltsplan"}) == ["haushalt-2024"]
    patched = client.patch("/api/v1/datasets/haushalt-2024", headers=admin,
                           json={"title": "Ladesäulen-Förderung 2024", "keywords": ["Förderung"]})
    assert patched.status_code == 200
    assert _names(client, {"q": "Haushaltsplan"}) == []
    assert set(_names(client, {"q": "Ladesaeule"})) == \
        {"ladesaeulen-hbf", "parkhaeuser", "haushalt-2024"}
    body = _get(client)
    assert "Finanzen" not in _facet(body, "keyword")
    assert _facet(body, "keyword")["Förderung"] == 1

    assert client.delete("/api/v1/datasets/ladesaeulen-hbf", headers=admin).status_code == 204
    assert set(_names(client, {"q": "Ladesaeule"})) == {"parkhaeuser", "haushalt-2024"}
    assert _facet(_get(client), "organization") == {"dortmund": 1, "bochum": 2}
    assert "GEOJSON" not in _facet(_get(client), "format")

    assert client.post("/api/v1/datasets/ladesaeulen-hbf/restore",
                       headers=admin).status_code == 200
    assert set(_names(client, {"q": "Ladesaeule"})) == \
        {"ladesaeulen-hbf", "parkhaeuser", "haushalt-2024"}

    link = client.post("/api/v1/datasets/haushalt-2024/links", headers=admin,
                       json={"name": "Schnittstelle", "format": "wfs",
                             "url": "https://example.org/wfs"})
    assert link.status_code == 201
    assert _names(client, {"format": "WFS"}) == ["haushalt-2024"]
    assert _names(client, {"q": "Schnittstelle"}) == ["haushalt-2024"]
    assert client.delete(f"/api/v1/resources/{link.json()['id']}", headers=admin).status_code \
        == 204
    assert _names(client, {"format": "WFS"}) == []


def test_renaming_an_organization_updates_what_its_datasets_are_found_by(client, catalog,
                                                                         platform):
    # Organization names are searchable (weak terms); a new name must be, the old one not.
    assert set(_names(client, {"q": "Bochum"})) == {"baumkataster", "parkhaeuser"}
    with platform.db.session() as session:
        organizations.update_organization(session, OPERATOR, "bochum",
                                          {"name": "Stadtverwaltung Wattenscheid"})
    assert _facet(_get(client), "organization") == {"dortmund": 2, "bochum": 2}
    assert {v["label"] for v in _get(client)["facets"]["organization"]} == \
        {"Stadt Dortmund", "Stadtverwaltung Wattenscheid"}
    assert set(_names(client, {"q": "Wattenscheid"})) == {"baumkataster", "parkhaeuser"}


def _second_platform(platform, tmp_path) -> Platform:
    """Another process's view of the same database."""
    return Platform(Settings(data_dir=tmp_path / "other", secret_key="x",
                             database_url=platform.settings.resolved_database_url))


def test_writes_of_another_process_are_found_at_once(client, catalog_world, platform,
                                                     tmp_path):
    catalog = catalog_world
    assert _get(client)["count"] == 4  # the first process has built its index
    other = _second_platform(platform, tmp_path)
    try:
        with other.db.session() as session:
            datasets.create_dataset(session, OPERATOR, {
                "name": "spielplaetze", "organization": "bochum", "title": "Spielplätze",
                "description": "Alle Spielplätze an jeder Straße.", "keywords": ["Freizeit"]})
            datasets.update_dataset(session, OPERATOR, "haushalt-2024",
                                    {"title": "Haushaltssatzung"})
            datasets.delete_dataset(session, OPERATOR, "parkhaeuser")
        assert set(_names(client, {"q": "Straße"})) == {"baumkataster", "spielplaetze"}
        assert _names(client, {"q": "Haushaltssatzung"}) == ["haushalt-2024"]
        assert _names(client, {"q": "Haushaltsplan"}) == []
        assert _names(client, {"q": "Ladesäule"}) == ["ladesaeulen-hbf"]
        body = _get(client)
        assert body["count"] == 4
        assert _facet(body, "keyword")["Freizeit"] == 1
        assert _facet(body, "organization") == {"dortmund": 2, "bochum": 2}

        # And the other way round: the second process's own index sees the first one's writes.
        with TestClient(create_app(other)) as second:
            assert set(_names(second, {"q": "Straße"})) == {"baumkataster", "spielplaetze"}
            created = client.post("/api/v1/datasets", headers=catalog.auth("editor"), json={
                "name": "wlan", "organization": "dortmund", "title": "Freies WLAN",
                "description": "Hotspots an jeder Straße."})
            assert created.status_code == 201
            assert set(_names(second, {"q": "Strasse"})) == \
                {"baumkataster", "spielplaetze", "wlan"}
            assert client.delete("/api/v1/datasets/wlan",
                                 headers=catalog.auth("admin")).status_code == 204
            assert set(_names(second, {"q": "Strasse"})) == {"baumkataster", "spielplaetze"}
    finally:
        other.close()


# --- The overlay is rebuilt into the base -----------------------------------------------------


def test_overlay_merges_keep_results_right(client, platform, monkeypatch):
    """With a tiny overlay limit, a stream of writes forces several merges of the overlay into
    a new base (written as snapshots); after each write the results equal what the database
    says, and the catalog is read as a whole only once."""
    full_loads = []
    indexes = []

    def small_index(loader, current_revision, snapshots, snapshot_min_rows):
        def counting(after_revision):
            if after_revision < 0:
                full_loads.append(after_revision)
            return loader(after_revision)
        indexes.append(SearchIndex(counting, current_revision, overlay_limit=3,
                                   snapshots=snapshots, snapshot_min_rows=snapshot_min_rows))
        return indexes[-1]

    monkeypatch.setattr(search_module, "SearchIndex", small_index)
    _organizations(platform)
    platform.search_index = index_for(platform.db, platform.settings.data_dir / "search")

    expected: dict[str, set[str]] = {}  # name -> keywords of live datasets
    rng = random.Random(7)
    words = ["Wasser", "Strom", "Gas", "Wärme"]
    for step in range(40):
        with platform.db.session() as session:
            live = sorted(expected)
            if live and step % 5 == 4:
                victim = rng.choice(live)
                datasets.delete_dataset(session, OPERATOR, victim)
                del expected[victim]
            elif live and step % 3 == 2:
                target = rng.choice(live)
                keyword = rng.choice(words)
                datasets.update_dataset(session, OPERATOR, target, {"keywords": [keyword]})
                expected[target] = {keyword}
            else:
                keyword = rng.choice(words)
                name = f"netz-{step:02d}"
                datasets.create_dataset(session, OPERATOR, {
                    "name": name, "organization": rng.choice(["dortmund", "bochum"]),
                    "title": f"Versorgungsnetz {keyword} {step}", "description": "Leitungen",
                    "keywords": [keyword]})
                expected[name] = {keyword}
        body = _get(client, {"per_page": 100})
        assert {d["name"] for d in body["results"]} == set(expected), step
        assert body["count"] == len(expected)
        counts = _facet(body, "keyword")
        assert counts == {w: n for w in words
                          if (n := sum(w in k for k in expected.values()))}, step
        assert set(_names(client, {"q": "Leitungen", "per_page": 100})) == set(expected)
    # Merged in the background while the writes went on (compact() waits for a merge in
    # flight, then merges what is left), without reading the catalog again.
    indexes[-1].compact()
    assert indexes[-1].merges >= 2
    body = _get(client, {"per_page": 100})
    assert {d["name"] for d in body["results"]} == set(expected)
    assert len(full_loads) <= 1  # none at all when the first build came from a snapshot


def _doc(i: int, **extra) -> IndexedDataset:
    values = {
        "id": i, "uuid": f"{i * 7919 % 100003:08x}-0000-4000-8000-000000000000",
        "organization_id": i % 3, "organization": f"org-{i % 3}",
        "organization_name": f"Organisation {i % 3}",
        "access_level": ("public", "members")[i % 7 == 0],
        "license": ("dl-by-de/2.0", "cc-by/4.0")[i % 2], "draft": i % 11 == 0, "deleted": False,
        "modified": float(i), "title": f"Datensatz {i:05d}", "themes": [("TRAN", "ENVI")[i % 2]],
        "formats": ["CSV"] if i % 5 else [], "keywords": [f"k{i % 4}"],
        "strong_terms": ["datensatz", f"t{i % 10}"], "weak_terms": ["gemeinsam", f"w{i % 13}"],
    }
    values.update(extra)
    return IndexedDataset(**values)


class FakeCatalog:
    """A loader over an in-memory catalog, with revisions like the database's."""

    def __init__(self) -> None:
        self.revision = 0
        self.rows: dict[int, tuple[int, IndexedDataset]] = {}
        self.full_loads = 0
        self.lock = threading.Lock()  # a write and its revision commit together, as in SQL

    def write(self, doc: IndexedDataset) -> None:
        with self.lock:
            self.revision += 1
            self.rows[doc.id] = (self.revision, dataclasses.replace(doc, revision=self.revision))

    def load(self, after: int) -> tuple[int, list[IndexedDataset]]:
        with self.lock:
            if after < 0:
                self.full_loads += 1
            return self.revision, [d for r, d in self.rows.values() if r > after]

    def expected(self, scope, term: str | None = None, **filters: set[str]) -> list[int]:
        result = []
        for _revision, doc in self.rows.values():
            if doc.deleted or (term and term not in (*doc.strong_terms, *doc.weak_terms)):
                continue
            if not scope.everything and (
                    (doc.draft and doc.organization_id not in scope.organization_ids)
                    or (doc.access_level == "members" and not scope.member_of_alliance)):
                continue
            if "theme" in filters and not filters["theme"] & set(doc.themes):
                continue
            if "license" in filters and doc.license not in filters["license"]:
                continue
            result.append(doc.id)
        return sorted(result)


def _everything():
    from allmende.access.policy import Actor, visibility
    return {
        "anonymous": visibility(Actor()),
        "org1": visibility(Actor(user_id=1, roles={1: "member"})),
        "sysadmin": visibility(Actor(user_id=2, is_sysadmin=True)),
    }


def _wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_search_index_with_thousands_of_changes():
    """3,000 datasets, then more than 2,000 changes: the overlay is merged into a new base (not
    reloaded from the catalog) and results stay exact before, during and after the merge."""
    fake = FakeCatalog()
    index = SearchIndex(fake.load, lambda: fake.revision, overlay_limit=2000)
    for i in range(3000):
        fake.write(_doc(i))
    scopes = _everything()

    def check() -> None:
        for scope in scopes.values():
            for term, filters in (("datensatz", {}), ("t3", {}), ("w5", {"theme": {"ENVI"}}),
                                  (None, {"license": {"cc-by/4.0"}})):
                hits = index.search(Query(terms=[term] if term else [], limit=10_000,
                                          filters=filters), scope)
                assert sorted(hits.ids) == fake.expected(scope, term, **filters), term
                assert hits.total == len(hits.ids)
                assert sum(hits.facets.get("organization", {}).values()) == hits.total

    check()
    assert fake.full_loads == 1
    # 1,500 changes stay in the overlay (limit 2,000) ...
    for i in range(0, 3000, 2):
        fake.write(_doc(i, strong_terms=["datensatz", "geaendert"], deleted=i % 6 == 0))
    check()
    assert fake.full_loads == 1
    hits = index.search(Query(terms=["geaendert"], limit=5000), scopes["sysadmin"])
    assert hits.total == len([i for i in range(0, 3000, 2) if i % 6])
    # ... 2,001 distinct changed datasets force a merge.
    for i in range(1, 1003, 2):
        fake.write(_doc(i, themes=["HEAL"], weak_terms=["neu"]))
    check()
    assert _wait_for(lambda: index.merges == 1), "the overlay is merged into the base"
    check()
    assert fake.full_loads == 1
    hits = index.search(Query(terms=["neu"], limit=5000, filters={"theme": {"HEAL"}}),
                        scopes["sysadmin"])
    assert hits.total == 501
    assert hits.facets["theme"] == {"HEAL": 501}
    # After the merge, further changes go to a fresh overlay again.
    fake.write(_doc(10_000, strong_terms=["einzeln"]))
    assert index.search(Query(terms=["einzeln"]), scopes["anonymous"]).ids == [10_000]
    assert fake.full_loads == 1


def test_search_index_pages_and_sorts_across_base_and_overlay():
    fake = FakeCatalog()
    index = SearchIndex(fake.load, lambda: fake.revision)
    for i in range(1, 51):
        fake.write(_doc(i, draft=False, access_level="public"))
    scope = _everything()["anonymous"]
    index.search(Query(), scope)
    for i in (3, 30):  # into the overlay, with new titles and times
        fake.write(_doc(i, draft=False, access_level="public", title=f"Aaa {i}",
                        modified=1000.0 + i))
    by_title = index.search(Query(sort="title", limit=3), scope)
    assert by_title.ids == [3, 30, 1] and by_title.total == 50
    by_time = index.search(Query(sort="modified", limit=3), scope)
    assert by_time.ids == [30, 3, 50]
    pages = [index.search(Query(sort="modified", offset=o, limit=7), scope).ids
             for o in range(0, 56, 7)]
    flat = list(itertools.chain.from_iterable(pages))
    assert len(flat) == 50 and len(set(flat)) == 50


def test_search_index_refreshes_only_when_the_revision_moved():
    fake = FakeCatalog()
    calls = []
    index = SearchIndex(functools.partial(_recording, fake, calls), lambda: fake.revision)
    fake.write(_doc(1))
    scope = _everything()["sysadmin"]
    index.search(Query(), scope)
    index.search(Query(), scope)
    assert calls == [-1]
    fake.write(_doc(2))
    index.search(Query(), scope)
    assert calls == [-1, 1]


def _recording(fake: FakeCatalog, calls: list[int], after: int):
    calls.append(after)
    return fake.load(after)


def test_organization_without_datasets_is_in_no_facet(platform, client):
    _organizations(platform)
    with platform.db.session() as session:
        organizations.create_organization(session, OPERATOR, {"slug": "herne", "name": "Herne"})
    _create(platform, {"name": "a", "organization": "dortmund", "title": "A", "description": "x"})
    assert _facet(_get(client), "organization") == {"dortmund": 1}


# --- Facet codes cannot collide -----------------------------------------------------------------


def _facet_truth(fake: FakeCatalog) -> dict[str, dict[str, int]]:
    """Every facet value's count over the live datasets of the catalog (what a sysadmin sees)."""
    counts: dict[str, collections.Counter] = {f: collections.Counter() for f in FACETS}
    for _revision, doc in fake.rows.values():
        if not doc.deleted:
            for facet, values in zip(FACETS, doc.facet_values(), strict=True):
                counts[facet].update(set(values))
    return {facet: dict(counter) for facet, counter in counts.items()}


def _all_facets(index: SearchIndex) -> dict[str, dict[str, int]]:
    hits = index.search(Query(limit=1, facet_limit=100_000), _everything()["sysadmin"])
    return {facet: hits.facets.get(facet, {}) for facet in FACETS}


def test_facet_codes_cannot_collide_when_a_merge_and_a_refresh_meet(monkeypatch):
    """The old race: the background rebuild coded facet values in a codebook shared with
    refresh(), outside the lock, while refresh() coded new values inside it; two values could
    get one code. Here a merge into a new base is held in the middle of its work while
    refresh() takes in datasets with values no segment has seen; then a stress run interleaves
    merges and refreshes as finely as the interpreter switches threads. Each segment codes its
    values itself, so every value keeps its own count."""
    fake = FakeCatalog()
    for i in range(60):
        fake.write(_doc(i))
    index = SearchIndex(fake.load, lambda: fake.revision, overlay_limit=10**9)
    assert _all_facets(index) == _facet_truth(fake)
    for i in range(60, 70):  # new values waiting in the overlay for the merge
        fake.write(_doc(i, keywords=[f"vorher-{i}"], license=f"lizenz-{i}"))
    index.refresh()

    in_merge, refreshed = threading.Event(), threading.Event()
    real_merge = search_index_module.merge

    def held_merge(first, keep, second, base=None):
        if base is None:  # the merge into a new base, done outside the index's lock
            in_merge.set()
            assert refreshed.wait(10)
        return real_merge(first, keep, second, base)

    monkeypatch.setattr(search_index_module, "merge", held_merge)
    merging = threading.Thread(target=index.compact)
    merging.start()
    assert in_merge.wait(10)
    for i in range(70, 80):  # values the merge does not know, coded by refresh() meanwhile
        fake.write(_doc(i, keywords=[f"waehrend-{i}"], license=f"lizenz-{i}", themes=["HEAL"]))
    assert _all_facets(index) == _facet_truth(fake)
    refreshed.set()
    merging.join()
    assert index.merges == 1
    assert _all_facets(index) == _facet_truth(fake)

    monkeypatch.setattr(search_index_module, "merge", real_merge)
    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)
    sys.setswitchinterval(1e-6)
    try:
        stop = threading.Event()

        def keep_merging() -> None:
            while not stop.is_set():
                index.compact()

        merger = threading.Thread(target=keep_merging)
        merger.start()
        try:
            for step in range(150):
                i = 100 + step
                fake.write(_doc(i, keywords=[f"neu-{i}", f"k{i % 4}"], license=f"lizenz-{i % 9}",
                                organization=f"org-{i % 5}", themes=[f"T{i % 6}"]))
                if step % 7 == 0:
                    fake.write(_doc(step, deleted=True))
                assert _all_facets(index) == _facet_truth(fake), step
        finally:
            stop.set()
            merger.join()
    finally:
        sys.setswitchinterval(0.005)
    assert index.merges > 1
    assert _all_facets(index) == _facet_truth(fake)


# --- An index merged step by step equals a fresh build ----------------------------------------


WORDS = ["wasser", "strom", "gas", "waerm", "netz", "plan", "karte", "baum", "schul", "kita"]
TITLES = ["Ärztehäuser", "Bäder", "busse und Bahnen", "Öffentliche Toiletten", "Ostfriedhof",
          "Parks", "Zoologischer Garten", "Bäder"]


def _random_doc(rng: random.Random, i: int) -> IndexedDataset:
    """A dataset with values from small pools, so that scores, times and titles tie often."""
    return _doc(
        i, organization_id=rng.randrange(4), organization=f"org-{rng.randrange(4)}",
        uuid=str(uuid.UUID(int=rng.getrandbits(128))),
        access_level=rng.choice(["public", "public", "members", "restricted"]),
        license=rng.choice(["dl-by-de/2.0", "cc-by/4.0", f"lizenz-{rng.randrange(30)}"]),
        draft=rng.random() < 0.1, modified=float(rng.randrange(40)),
        title=rng.choice(TITLES) + ("" if rng.random() < 0.5 else f" {rng.randrange(5)}"),
        themes=rng.sample(["TRAN", "ENVI", "ECON", "HEAL", f"T{rng.randrange(20)}"],
                          rng.randrange(3)),
        formats=rng.sample(["CSV", "JSON", "XLSX"], rng.randrange(3)),
        keywords=[f"kw{rng.randrange(60)}" for _ in range(rng.randrange(4))],
        strong_terms=rng.sample(WORDS, rng.randrange(1, 3)),
        weak_terms=[*rng.sample(WORDS, rng.randrange(0, 4)), f"w{rng.randrange(300)}"])


def _queries(rng: random.Random) -> list[Query]:
    queries = [Query(limit=50, facet_limit=5), Query(sort="title", limit=30),
               Query(sort="modified", offset=10, limit=15)]
    for _ in range(12):
        queries.append(Query(
            terms=rng.sample(WORDS, rng.randrange(1, 3)) if rng.random() < 0.8 else [],
            filters={"theme": {"TRAN", "ENVI"}} if rng.random() < 0.3 else
            {"license": {"cc-by/4.0"}, "format": {"CSV"}} if rng.random() < 0.3 else {},
            sort=rng.choice(["relevance", "relevance", "modified", "title", "id"]),
            offset=rng.choice([0, 0, 7]), limit=rng.choice([5, 20]),
            facet_limit=rng.choice([3, 50]),
            modified_since=float(rng.randrange(40)) if rng.random() < 0.2 else None,
            only_ids=frozenset(rng.sample(range(200), 60)) if rng.random() < 0.2 else None))
    return queries


def _scopes() -> list:
    from allmende.access.policy import Actor, visibility
    return [*_everything().values(),
            visibility(Actor(user_id=3, roles={2: "editor", 3: "member"}))]


def _answers(index: SearchIndex, queries: list[Query]) -> list:
    return [index.search(q, scope) for q in queries for scope in _scopes()]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("dense", [False, True])
def test_incremental_merges_equal_a_fresh_build(seed, dense, monkeypatch, tmp_path):
    """Random inserts, updates and deletes, taken in step by step (tiny overlays merged into new
    bases, snapshots written and mapped): every answer - totals, order, pages, facets - is the
    one a fresh build of the final catalog gives. With ``dense`` the large-result paths
    (bitmaps, walks along precomputed orders, counting facets only until the top is settled)
    are taken even for these small segments, and merges read postings in steps of 7."""
    if dense:
        monkeypatch.setattr(search_segment, "DENSE_MIN_ROWS", 1)
        monkeypatch.setattr(search_segment, "GATHER_CHUNK", 7)
    rng = random.Random(seed)
    fake = FakeCatalog()
    for i in range(150):
        fake.write(_random_doc(rng, i))
    snapshots = SnapshotStore(tmp_path / "search", lambda: "test")
    index = SearchIndex(fake.load, lambda: fake.revision, overlay_limit=25,
                        snapshots=snapshots)
    index.refresh()
    queries = _queries(rng)
    for round_ in range(12):
        for _ in range(rng.randrange(1, 20)):
            i = rng.randrange(220)
            if i in fake.rows and rng.random() < 0.25:
                fake.write(_doc(i, deleted=True))
            else:
                fake.write(_random_doc(rng, i))
        if round_ % 4 == 3:
            index.compact()
        fresh = SearchIndex(fake.load, lambda: fake.revision)
        assert _answers(index, queries) == _answers(fresh, queries), round_
    assert index.merges >= 1 and fake.full_loads == 1 + 12
    # A third index starting from the newest snapshot (and the changes after it) agrees too.
    mapped = SearchIndex(fake.load, lambda: fake.revision, snapshots=snapshots)
    assert _answers(mapped, queries) == _answers(index, queries)


def test_search_index_agrees_with_a_plain_reading_of_the_catalog(monkeypatch):
    """Relevance, order and facets of a merged index against a brute-force reading of the
    catalog (the definition, written plainly)."""
    monkeypatch.setattr(search_segment, "DENSE_MIN_ROWS", 1)
    rng = random.Random(11)
    fake = FakeCatalog()
    index = SearchIndex(fake.load, lambda: fake.revision, overlay_limit=20)
    for round_ in range(6):
        for _ in range(40):
            fake.write(_random_doc(rng, rng.randrange(120)))
        index.search(Query(), _everything()["sysadmin"])
        if round_ % 2:
            index.compact()
    assert index.merges >= 1
    for query in _queries(random.Random(5)):
        for scope in _scopes():
            assert index.search(query, scope) == _plainly(fake, query, scope), query


def _plainly(fake: FakeCatalog, query: Query, scope) -> search_index_module.Hits:
    live = [d for _r, d in fake.rows.values() if not d.deleted]
    terms = list(dict.fromkeys(query.terms))
    frequency = {t: sum(t in (*d.strong_terms, *d.weak_terms) for d in live) for t in terms}
    terms.sort(key=lambda t: (frequency[t], t))

    def visible(d: IndexedDataset) -> bool:
        if scope.everything:
            return True
        if d.draft and d.organization_id not in scope.organization_ids:
            return False
        return d.access_level != "members" or scope.member_of_alliance

    def score(d: IndexedDataset) -> float:
        total = 0.0
        for t in terms:
            idf = math.log(1 + len(live) / (frequency[t] + 0.5))
            total += idf * (3.0 if t in d.strong_terms else 1.0)
        return total

    found = [d for d in live if visible(d)
             and all(t in (*d.strong_terms, *d.weak_terms) for t in terms)
             and all(set(values) & set(dict(zip(FACETS, d.facet_values(), strict=True))[f])
                     for f, values in query.filters.items())
             and (query.modified_since is None or d.modified >= query.modified_since)
             and (query.only_ids is None or d.id in query.only_ids)]
    sort = query.sort if terms or query.sort != "relevance" else "modified"
    keys = {"title": lambda d: (text.fold(d.title), d.id),
            "id": lambda d: (int(d.uuid.replace("-", ""), 16), d.id),
            "modified": lambda d: (-d.modified, d.id),
            "relevance": lambda d: (-score(d), -d.modified, d.id)}
    found.sort(key=keys[sort])
    facets = {}
    for facet in FACETS:
        counter = collections.Counter(
            v for d in found for v in set(dict(zip(FACETS, d.facet_values(), strict=True))[facet]))
        top = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:query.facet_limit]
        facets[facet] = dict(top)
    if terms and any(frequency[t] == 0 for t in terms):
        return search_index_module.Hits(0, [], {})
    return search_index_module.Hits(
        len(found), [d.id for d in found[query.offset:query.offset + query.limit]], facets)


# --- Snapshots ----------------------------------------------------------------------------------


def _spy_full_loads(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = search_module._datasets

    def spying(database, after, upto):
        calls.append(after)
        return real(database, after, upto)

    monkeypatch.setattr(search_module, "_datasets", spying)
    return calls


SNAPSHOT_QUERIES = [{}, {"q": "Ladesäule"}, {"q": "Straße"}, {"sort": "title"},
                    {"theme": "TRAN"}, {"keyword": "Verkehr", "sort": "modified"}]


def test_a_small_catalog_is_indexed_without_snapshot_files(installation):
    small = installation.platform()
    try:
        _organizations(small)
        _create(small, *CATALOG)
        small.search_index.refresh()
        assert small.search_index.stats()["base_rows"] == len(CATALOG)
        assert not list((small.settings.data_dir / "search").glob("base-*"))
    finally:
        small.close()


def test_a_second_platform_starts_from_the_snapshot(catalog, client, platform, monkeypatch):
    # the catalog exists before the app starts: a snapshot of the empty catalog (its warm-up
    # may be quicker than the first dataset) is rightly ignored by the second platform
    answers = [_get(client, q) for q in SNAPSHOT_QUERIES]  # builds the index, writes a snapshot
    snapshots = list((platform.settings.data_dir / "search").glob("base-*"))
    assert len(snapshots) == 1 and (snapshots[0] / "meta.json").exists()
    loads = _spy_full_loads(monkeypatch)
    second = Platform(platform.settings)
    try:
        with TestClient(create_app(second)) as other:
            assert [_get(other, q) for q in SNAPSHOT_QUERIES] == answers
            assert -1 not in loads  # mapped, not built from the catalog
            # Changes made after the snapshot are read as rows above its revision.
            with platform.db.session() as session:
                datasets.create_dataset(session, OPERATOR, {
                    "name": "spielplaetze", "organization": "bochum", "title": "Spielplätze",
                    "description": "An jeder Straße.", "keywords": ["Freizeit"]})
                datasets.delete_dataset(session, OPERATOR, "baumkataster")
            assert set(_names(other, {"q": "Straße"})) == {"spielplaetze"}
            assert _facet(_get(other), "keyword")["Freizeit"] == 1
            assert [_get(other, q) for q in SNAPSHOT_QUERIES] == \
                [_get(client, q) for q in SNAPSHOT_QUERIES]
            assert -1 not in loads
    finally:
        second.close()


def _damage_file(folder: Path) -> None:
    path = folder / "term_docs.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(folder: Path) -> None:
    path = folder / "ids.npy"
    path.write_bytes(path.read_bytes()[:-8])


def _remove(folder: Path) -> None:
    (folder / "keyword.value_docs.npy").unlink()


def _garble_meta(folder: Path) -> None:
    (folder / "meta.json").write_text('{"format": 3, "revi')


def _point_nowhere(folder: Path) -> None:
    (folder.parent / "CURRENT").write_text("base-99-nothere")


def _other_database(folder: Path) -> None:
    meta = folder / "meta.json"
    meta.write_text(meta.read_text().replace('"fingerprint": "', '"fingerprint": "x'))


@pytest.mark.parametrize("damage", [_damage_file, _truncate, _remove, _garble_meta,
                                    _point_nowhere, _other_database])
def test_a_damaged_snapshot_is_ignored(catalog, client, platform, monkeypatch, damage, caplog):
    """A snapshot that fails a check (bytes changed, file cut short or missing, meta.json half
    written, CURRENT naming nothing, made from another database) is logged and ignored: the
    index is built from the database and gives the same answers, and a good snapshot replaces
    the damaged one."""
    answers = [_get(client, q) for q in SNAPSHOT_QUERIES]
    folder = next((platform.settings.data_dir / "search").glob("base-*"))
    damage(folder)
    loads = _spy_full_loads(monkeypatch)
    second = Platform(platform.settings)
    try:
        with TestClient(create_app(second)) as other:
            assert [_get(other, q) for q in SNAPSHOT_QUERIES] == answers
        assert -1 in loads
        assert "snapshot" in caplog.text and "ignored" in caplog.text
    finally:
        second.close()
    third = Platform(platform.settings)
    try:
        calls = len(loads)
        with TestClient(create_app(third)) as other:
            assert [_get(other, q) for q in SNAPSHOT_QUERIES] == answers
        assert -1 not in loads[calls:]  # the rebuilt index was written as a good snapshot
    finally:
        third.close()


def test_an_unfinished_snapshot_write_leaves_the_previous_one_in_use(tmp_path):
    """A writer that died mid-write leaves a tmp- folder (and perhaps a CURRENT.tmp file);
    CURRENT still names the previous complete snapshot, and the next writer tidies up."""
    fake = FakeCatalog()
    for i in range(30):
        fake.write(_doc(i))
    store = SnapshotStore(tmp_path, lambda: "test")
    first = SearchIndex(fake.load, lambda: fake.revision, snapshots=store)
    first.refresh()
    (tmp_path / "tmp-deadbeef").mkdir()
    (tmp_path / "tmp-deadbeef" / "ids.npy").write_bytes(b"\x93NUMPY half")
    (tmp_path / "CURRENT.deadbeef").write_text("base-")
    second = SearchIndex(fake.load, lambda: fake.revision, snapshots=store)
    scope = _everything()["sysadmin"]
    assert second.search(Query(limit=100), scope) == first.search(Query(limit=100), scope)
    assert fake.full_loads == 1
    fake.write(_doc(5, strong_terms=["anders"]))
    assert first.compact()
    assert not (tmp_path / "tmp-deadbeef").exists()
    assert not (tmp_path / "CURRENT.deadbeef").exists()
    assert len(list(tmp_path.glob("base-*"))) == 2  # the newest and the one before


def test_other_processes_adopt_the_writers_snapshot(tmp_path):
    """Only one process merges at a time (the one holding the writer lock); another process
    switches to the snapshot it publishes instead of merging itself."""
    fake = FakeCatalog()
    for i in range(40):
        fake.write(_doc(i))
    store = SnapshotStore(tmp_path, lambda: "test")
    writer = SearchIndex(fake.load, lambda: fake.revision, snapshots=store)
    reader = SearchIndex(fake.load, lambda: fake.revision,
                         snapshots=SnapshotStore(tmp_path, lambda: "test"))
    scope = _everything()["sysadmin"]
    writer.refresh()
    reader.refresh()
    for i in range(40, 60):
        fake.write(_doc(i, keywords=["spaeter"]))
    assert reader.search(Query(terms=["datensatz"], limit=100), scope).total == 60
    with store.writer(blocking=True):  # while another process writes, no merge here
        assert not reader.compact()
    assert writer.compact()
    reader.refresh()
    assert _wait_for(lambda: reader.stats()["base_revision"] == fake.revision)
    assert reader.stats()["overlay_rows"] == 0 and reader.merges == 0
    assert reader.search(Query(limit=100), scope) == writer.search(Query(limit=100), scope)


def test_a_snapshot_written_while_the_first_dataset_is_made_is_still_used(tmp_path):
    """The fingerprint of an empty catalog changes with its first dataset. A snapshot written
    meanwhile is used by the process that wrote it (its warm-up thread had died of the change
    and left the file), and ignored by the next start, which rebuilds."""
    fake = FakeCatalog()
    fingerprints = iter(["leer"])
    store = SnapshotStore(tmp_path, lambda: next(fingerprints, "erster Datensatz"))
    index = SearchIndex(fake.load, lambda: fake.revision, snapshots=store)
    index.refresh()
    assert index.stats()["base_rows"] == 0 and len(list(tmp_path.glob("base-*"))) == 1
    assert store.load() is None  # another database by now: the next start builds anew
