"""OGC API Features: GDAL (ogrinfo, ogr2ogr with the OAPIF driver) and owslib against a live
server, Part 2's coordinate reference systems judged with pyproj, paging, datetime, property
filters, single items, access rules and OGC's errors for bad input."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from owslib.ogcapi.features import Features
from pyproj import Transformer

from allmende.access.policy import ANONYMOUS
from allmende.catalog import datasets
from allmende.catalog.records import readable_tables
from allmende.ingest.service import IngestRequest, ingest
from allmende.interop.ogc import collections
from allmende.interop.ogc.crs import CRS84
from allmende.platform import Platform
from allmende.tables.schema import Column, TableSchema
from allmende.web.app import create_app
from support import DORTMUND_CSV, OPERATOR, mapped_source, served

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
KINDS = ("Spielplatz", "Schule", "Kita")
START = dt.date(2024, 1, 1)
POINTS = 24


def _points(rows: int, lat: float = 51.40, lon: float = 7.20) -> str:
    """Rows on a grid of 6 × 4 points 0.03° × 0.1° apart, every tenth day from 2024-01-01, as
    a municipal CSV writes them (``;``, decimal comma, dd.mm.yyyy)."""
    lines = ["Name;Art;Anzahl;Datum;Breitengrad;Längengrad"]
    for i in range(rows):
        day = START + dt.timedelta(days=10 * i)
        where = f"{lat + (i % 6) * 0.03:.2f};{lon + (i // 6) * 0.1:.2f}".replace(".", ",")
        lines.append(f"Ort {i + 1};{KINDS[i % 3]};{i};{day:%d.%m.%Y};{where}")
    return "\n".join(lines) + "\n"


def _dataset(platform: Platform, name: str, organization: str = "dortmund", **extra: Any
             ) -> None:
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, {
            "name": name, "title": f"Orte {name}", "organization": organization,
            "description": f"Orte des Datensatzes {name}.", **extra})


def _table(platform: Platform, dataset: str, name: str, text: str) -> str:
    path = Path(platform.settings.data_dir) / name
    path.write_text(text, encoding="utf-8")
    resource = ingest(platform, OPERATOR, IngestRequest(dataset, path, name)).resource
    path.unlink()
    return resource


def _seed(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """Public: ``orte`` (one table of 24 points), ``zwei`` (two tables with points and one
    without), ``lade`` (Dortmund's charging stations, mapped onto ``ladesaeulen``) and the
    regional ``region-ladesaeulen``; not public: ``mitglieder`` (members), ``entwurf``
    (a draft) and ``intern`` (restricted), each with a table of points."""
    tables: dict[str, str] = {}
    _dataset(platform, "orte")
    tables["orte"] = _table(platform, "orte", "orte.csv", _points(POINTS))
    _dataset(platform, "zwei", "bochum")
    tables["zwei-2023"] = _table(platform, "zwei", "Standorte 2023.csv", _points(5))
    tables["zwei-2024"] = _table(platform, "zwei", "Standorte 2024.csv", _points(7))
    tables["zwei-liste"] = _table(platform, "zwei", "Liste.csv", "Name;Anzahl\nA;1\nB;2\n")
    for name, extra in (("mitglieder", {"access_level": "members"}),
                        ("entwurf", {"draft": True}),
                        ("intern", {"access_level": "restricted"})):
        _dataset(platform, name, **extra)
        tables[name] = _table(platform, name, f"{name}.csv", _points(3))
    tables["lade"] = mapped_source(platform, Path(platform.settings.data_dir), "lade",
                                   "dortmund", DORTMUND_CSV)
    return tables


TEMPLATES = {"ogc_world": (_seed, "world")}
PUBLIC = {"orte", "zwei.standorte-2023-csv", "zwei.standorte-2024-csv", "lade",
          "region-ladesaeulen"}
INTERNAL = {"mitglieder", "entwurf", "intern"}


@pytest.fixture
def ogc_world(installation) -> dict[str, str]:
    """The resource ids of the seeded tables."""
    return installation.seeded


def _rows(platform: Platform, *names: str) -> dict[str, int]:
    """What each collection must count: its table's latest version, read from the catalog."""
    with platform.db.sessions() as session:
        found = collections.visible(session, OPERATOR)
    return {c.id: c.resource.table.rows for c in found if c.id in names}


def _get(client: TestClient, url: str, status: int = 200, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == status, (url, params, response.text)
    return response.json()


def _error(client: TestClient, url: str, status: int, headers: dict | None = None,
           **params: Any) -> str:
    response = client.get(url, params=params, headers=headers or {})
    assert response.status_code == status, (url, params, response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "description"} and body["description"], body
    return body["code"]


# --- the judges -------------------------------------------------------------------------

def _gdal(program: str) -> str:
    found = shutil.which(program)
    assert found, (f"{program} is missing: install Debian's gdal-bin (apt-get install "
                   "gdal-bin; `make test` does it)")
    return found


def test_gdal_reads_every_collection_with_its_feature_count(platform, ogc_world, tmp_path):
    platform.settings.inprocess_worker = False
    expected = _rows(platform, *PUBLIC)
    assert expected["orte"] == POINTS and expected["lade"] == 4
    with served(create_app(platform)) as address:
        platform.settings.base_url = f"http://{address}"
        listed = subprocess.run(
            [_gdal("ogrinfo"), "-ro", "-so", "-al", f"OAPIF:http://{address}/ogc"],
            capture_output=True, text=True, timeout=120, check=True).stdout
        layers = re.findall(r"Layer name: (\S+)", listed)
        counts = [int(n) for n in re.findall(r"Feature Count: (\d+)", listed)]
        assert dict(zip(layers, counts, strict=True)) == expected
        assert "Geometry: Point" in listed
        # every feature of every collection, page after page (the next links), into files
        for name, rows in expected.items():
            target = tmp_path / f"{name}.geojson"
            subprocess.run([_gdal("ogr2ogr"), "-f", "GeoJSON", str(target),
                            f"OAPIF:http://{address}/ogc", name, "-oo", "PAGE_SIZE=5",
                            "-preserve_fid"],
                           capture_output=True, text=True, timeout=120, check=True)
            copied = json.loads(target.read_text(encoding="utf-8"))["features"]
            assert len(copied) == rows, name
            assert sorted(f["id"] for f in copied) == list(range(1, rows + 1))
        first = json.loads((tmp_path / "orte.geojson").read_text())["features"][0]
        assert first["properties"]["Name"] == "Ort 1"
        assert first["geometry"]["coordinates"] == [7.2, 51.4]


def test_owslib_reads_every_collection_and_its_items(platform, world, ogc_world):
    platform.settings.inprocess_worker = False
    expected = _rows(platform, *PUBLIC)
    with served(create_app(platform)) as address:
        platform.settings.base_url = f"http://{address}"
        api = Features(f"http://{address}/ogc/")
        assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in \
            api.conformance()["conformsTo"]
        assert set(api.feature_collections()) == PUBLIC
        assert api.api()["paths"]["/collections/{collectionId}/items"]
        for name, rows in expected.items():
            described = api.collection(name)
            assert described["id"] == name and CRS84 in described["crs"]
            page = api.collection_items(name, limit=3)
            assert page["numberMatched"] == rows
            assert len(page["features"]) == page["numberReturned"] == min(rows, 3)
            assert api.collection_item(name, 2)["id"] == 2
        box = api.collection_items("orte", bbox=[7.19, 51.39, 7.21, 51.47], limit=100)
        assert box["numberMatched"] == 3  # the first column of the grid up to 51.46
        # owslib merges headers given to Features into its module-wide defaults (every later
        # client would send them): set them on this client alone
        member = Features(f"http://{address}/ogc/")
        member.headers = {**member.headers, **world.auth("member")}
        assert set(member.feature_collections()) == PUBLIC | INTERNAL


# --- Part 2: coordinate reference systems --------------------------------------------------

@pytest.mark.parametrize("code", ["25832", "3857", "4258", "4326"])
def test_coordinates_in_another_crs_match_pyproj(client, ogc_world, code):
    url = "/ogc/collections/orte/items"
    plain = client.get(url, params={"limit": 30})
    assert plain.headers["content-crs"] == f"<{CRS84}>"
    moved = client.get(url, params={"limit": 30, "crs": f"{EPSG}{code}"})
    assert moved.status_code == 200 and moved.headers["content-crs"] == f"<{EPSG}{code}>"
    assert moved.headers["content-type"] == "application/geo+json"
    # pyproj from longitude/latitude into the CRS in its own axis order (lat first: 4258, 4326)
    transform = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")
    pairs = zip(plain.json()["features"], moved.json()["features"], strict=True)
    for before, after in pairs:
        lon, lat = before["geometry"]["coordinates"]
        assert after["geometry"]["coordinates"] == pytest.approx(
            list(transform.transform(lon, lat)), abs=1e-6)
        assert after["id"] == before["id"] and after["properties"] == before["properties"]
    if code in ("4258", "4326"):
        assert moved.json()["features"][0]["geometry"]["coordinates"] == \
            pytest.approx([51.4, 7.2])
    one = client.get(f"{url}/1", params={"crs": f"{EPSG}{code}"})
    assert one.headers["content-crs"] == f"<{EPSG}{code}>"
    assert one.json()["geometry"] == moved.json()["features"][0]["geometry"]


def test_bbox_in_another_crs(client, ogc_world):
    url = "/ogc/collections/orte/items"
    to_utm = Transformer.from_crs("OGC:CRS84", "EPSG:25832", always_xy=True)
    # around the second column of the grid (lon 7.3), lat 51.43 to 51.49
    (x1, x2), (y1, y2) = zip(to_utm.transform(7.29, 51.425), to_utm.transform(7.31, 51.495),
                             strict=True)
    in_utm = _get(client, url, bbox=f"{x1},{y1},{x2},{y2}", **{"bbox-crs": f"{EPSG}25832"})
    in_crs84 = _get(client, url, bbox="7.29,51.425,7.31,51.495")
    names = [f["properties"]["Name"] for f in in_utm["features"]]
    assert names == [f["properties"]["Name"] for f in in_crs84["features"]]
    assert names == ["Ort 8", "Ort 9", "Ort 10"]
    # EPSG:4258 takes latitude first; a CURIE names the CRS as well as the URI
    lat_first = _get(client, url, bbox="51.425,7.29,51.495,7.31", **{"bbox-crs": "[EPSG:4258]"})
    assert lat_first["numberMatched"] == 3
    assert _get(client, url, bbox="7.29,51.425,0,7.31,51.495,100")["numberMatched"] == 3
    assert _get(client, url, bbox="8,52,9,53")["numberMatched"] == 0


@pytest.mark.parametrize("params", [
    {"crs": "EPSG:9999"}, {"crs": "http://www.opengis.net/def/crs/EPSG/0/31467"},
    {"crs": ""}, {"crs": "Gauß-Krüger"},
    {"bbox": "1,2,3,4", "bbox-crs": "http://example.org/crs"},
])
def test_an_unsupported_crs_is_a_400(client, ogc_world, params):
    assert _error(client, "/ogc/collections/orte/items", 400, **params) == \
        "InvalidParameterValue"
    assert _error(client, "/ogc/collections/orte/items/1", 400, crs=params.get("crs", "x")) \
        == "InvalidParameterValue"


# --- Part 1: paging, datetime, filters, single items ---------------------------------------

def test_paging_follows_next_links_to_the_end(client, ogc_world):
    url, seen, pages = "/ogc/collections/orte/items?limit=10&Art=Schule", [], 0
    while url:
        response = client.get(url)
        body = response.json()
        assert body["numberMatched"] == 8 and body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link for link in body["links"]}
        assert links["self"]["type"] == "application/geo+json"
        assert links["alternate"]["type"] == "text/html"
        assert ("prev" in links) == (pages > 0)
        url = links["next"]["href"].removeprefix("http://127.0.0.1:8000") \
            if "next" in links else None
        pages += 1
    assert seen == [2, 5, 8, 11, 14, 17, 20, 23] and pages == 1
    ids = []
    for offset in range(0, POINTS, 7):
        ids += [f["id"] for f in _get(client, "/ogc/collections/orte/items", limit=7,
                                      offset=offset)["features"]]
    assert ids == list(range(1, POINTS + 1))
    last = _get(client, "/ogc/collections/orte/items", limit=7, offset=21)
    assert [link["rel"] for link in last["links"]].count("next") == 0
    assert {link["rel"] for link in last["links"]} >= {"self", "alternate", "prev",
                                                       "collection"}
    beyond = _get(client, "/ogc/collections/orte/items", offset=1000)
    assert beyond["features"] == [] and beyond["numberMatched"] == POINTS
    # above the maximum a page holds 10,000 features, as OGC API lets a server do
    assert _get(client, "/ogc/collections/orte/items", limit=50_000)["numberReturned"] == \
        POINTS


def _dates(body: dict) -> list[str]:
    return [f["properties"]["Datum"] for f in body["features"]]


@pytest.mark.parametrize(("value", "days"), [
    ("2024-01-11", [10]),
    ("2024-01-11T08:30:00Z", [10]),
    ("2024-01-11T08:30:00+02:00", [10]),
    ("2024-01-05", []),
    ("2024-01-11/2024-02-10", [10, 20, 30, 40]),
    ("2024-01-11T00:00:00Z/2024-02-10T23:59:59Z", [10, 20, 30, 40]),
    ("../2024-01-21", [0, 10, 20]),
    ("2024-08-01/..", [220, 230]),
    ("/2024-01-11", [0, 10]),
])
def test_datetime_on_the_first_date_column(client, ogc_world, value, days):
    body = _get(client, "/ogc/collections/orte/items", datetime=value, limit=100)
    assert _dates(body) == [(START + dt.timedelta(days=d)).isoformat() for d in days]


def test_datetime_on_a_date_time_column_means_the_whole_day_and_the_extent(client, ogc_world,
                                                                           platform):
    described = _get(client, "/ogc/collections/region-ladesaeulen")
    interval = described["extent"]["temporal"]["interval"][0]
    assert interval[0].startswith("2021-03-01") and interval[1].startswith("2022-06-15")
    orte = _get(client, "/ogc/collections/orte")["extent"]
    assert orte["temporal"]["interval"] == [["2024-01-01T00:00:00Z", "2024-08-18T00:00:00Z"]]
    assert orte["spatial"]["bbox"] == [pytest.approx([7.2, 51.4, 7.5, 51.55])]
    assert orte["spatial"]["crs"] == CRS84


@pytest.mark.parametrize(("value", "expected"), [
    ("Art=Kita", 8), ("Anzahl=5", 1), ("Anzahl=5,0", 1), ("Name=Ort 3", 1),
    ("Art=Kita&Anzahl=2", 1), ("Art=Kita&Anzahl=3", 0), ("Datum=11.01.2024", 1),
    ("Art=kita", 0),
])
def test_property_filters(client, ogc_world, value, expected):
    body = client.get(f"/ogc/collections/orte/items?{value}").json()
    assert body["numberMatched"] == expected == len(body["features"])


def test_single_items_and_404s(client, ogc_world):
    url = "/ogc/collections/orte/items"
    page = _get(client, url, limit=3)["features"]
    one = client.get(f"{url}/2")
    assert one.status_code == 200 and one.headers["content-type"] == "application/geo+json"
    feature = one.json()
    assert {k: feature[k] for k in ("type", "id", "geometry", "properties")} == page[1]
    assert {link["rel"] for link in feature["links"]} == {"self", "alternate", "collection"}
    for missing in ("0", str(POINTS + 1), "abc", "-1", "1.5", "１", "9" * 40):
        assert _error(client, f"{url}/{missing}", 404) == "NotFound"
    for gone in ("/ogc/collections/gibt-es-nicht", "/ogc/collections/gibt-es-nicht/items",
                 "/ogc/collections/zwei", "/ogc/collections/zwei.liste-csv",
                 "/ogc/collections/zwei.gibt-es-nicht/items", "/ogc/collections/orte.x",
                 "/ogc/gibt-es-nicht", "/ogc/collections/orte/items/1/mehr"):
        assert _error(client, gone, 404) == "NotFound"
    assert client.post("/ogc/collections").status_code == 405
    assert client.post("/ogc/collections").json()["code"] == "OperationNotSupported"


def test_collection_ids(client, platform, ogc_world):
    listed = _get(client, "/ogc/collections")
    assert {c["id"] for c in listed["collections"]} == PUBLIC
    assert listed["crs"][0] == CRS84
    # a dataset's only table answers under its long form too
    assert _get(client, "/ogc/collections/orte.orte-csv")["id"] == "orte"
    two = _get(client, "/ogc/collections/zwei.standorte-2024-csv")
    assert two["title"] == "Orte zwei: Standorte 2024.csv"
    assert two["itemType"] == "feature" and two["storageCrs"] == CRS84
    rels = {(link["rel"], link["type"]) for link in two["links"]}
    assert ("items", "application/geo+json") in rels and ("items", "text/html") in rels
    assert collections.collection_ids("d", [("a", "Bäume 2024.csv"), ("b", "bäume 2024 csv"),
                                            ("c", "!!")]) == {
        "a": ("d.baeume-2024-csv", "d.baeume-2024-csv"),
        "b": ("d.baeume-2024-csv-2", "d.baeume-2024-csv-2"), "c": ("d.tabelle", "d.tabelle")}
    assert collections.collection_ids("d", [("a", "x.csv")]) == {"a": ("d", "d.x-csv")}
    with platform.db.sessions() as session:
        tables = {r.name for _, r in readable_tables(session, ANONYMOUS)}
        geo = {r.name for _, r in readable_tables(session, ANONYMOUS, geometry=True)}
    assert "Liste.csv" in tables and "Liste.csv" not in geo and "intern.csv" not in tables
    assert geo == tables - {"Liste.csv"}


def test_temporal_column_prefers_the_schemas_declaration(monkeypatch, platform):
    schema = TableSchema((Column("Name", "string"), Column("erfasst", "datetime"),
                          Column("beginn", "date")))
    resource = type("R", (), {"id": "r", "derived": True})()
    monkeypatch.setattr(collections, "declared_temporal", lambda session, rid: "beginn")
    assert collections.temporal_column(None, schema, resource).name == "beginn"
    monkeypatch.setattr(collections, "declared_temporal", lambda session, rid: None)
    assert collections.temporal_column(None, schema, resource).name == "erfasst"


# --- access -----------------------------------------------------------------------------

def test_access_rules(client, world, ogc_world):
    anonymous = {c["id"] for c in _get(client, "/ogc/collections")["collections"]}
    assert anonymous == PUBLIC
    member = client.get("/ogc/collections", headers=world.auth("member")).json()
    assert {c["id"] for c in member["collections"]} == PUBLIC | INTERNAL
    outsider = client.get("/ogc/collections", headers=world.auth("outsider")).json()
    assert {c["id"] for c in outsider["collections"]} == PUBLIC
    for hidden in ("mitglieder", "entwurf"):
        for path in ("", "/items", "/items/1"):
            assert _error(client, f"/ogc/collections/{hidden}{path}", 404) == "NotFound"
    # restricted: the dataset is public, its rows are not
    assert _error(client, "/ogc/collections/intern/items", 401) == "Unauthorized"
    assert _error(client, "/ogc/collections/intern/items", 403,
                  headers=world.auth("outsider")) == "Forbidden"
    assert _error(client, "/ogc/collections/entwurf/items", 404,
                  headers=world.auth("bochum-editor")) == "NotFound"
    inside = client.get("/ogc/collections/intern/items", headers=world.auth("member"))
    assert inside.status_code == 200 and inside.json()["numberMatched"] == 3
    assert _error(client, "/ogc/collections", 401,
                  headers={"Authorization": "Bearer falsch"}) == "Unauthorized"


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "limit=0", "limit=-1", "limit=abc", "limit=1e3", "limit=99999999999999999999999",
    "offset=-1", "offset=x", "bbox=1,2,3", "bbox=a,b,c,d", "bbox=7,51,6,52",
    "bbox=-200,0,0,10", "bbox=1,2,3,4,5", "bbox=NaN,1,2,3", "bbox=1,2,inf,4",
    "bbox=390000,5700000,400000,5710000",
    "bbox=1e9,1e9,2e9,2e9&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/25832",
    "datetime=gestern", "datetime=2024-13-01", "datetime=2024-02-01/2024-01-01",
    "datetime=../..", "datetime=/", "datetime=2024-01-01/2024-02-01/2024-03-01",
    "f=xml", "f=", "gibt_es_nicht=1", "Anzahl=viele", "Datum=gestern",
    "geometry=POINT(1 2)", "limit=1&limit=2", "Art=a&Art=b", "crs=%00",
    "bbox=%EF%BF%BF",
])
def test_bad_parameters_are_ogc_errors_never_500(client, ogc_world, query):
    response = client.get(f"/ogc/collections/orte/items?{query}")
    assert response.status_code == 400, (query, response.text)
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["description"]


def test_datetime_without_a_date_column_is_a_400(client, ogc_world):
    description = client.get("/ogc/collections/lade/items?datetime=2024-01-01").json()
    assert description["code"] == "InvalidParameterValue"


def test_errors_in_english(client, ogc_world):
    response = client.get("/ogc/collections/orte/items?limit=0&crs=x",
                          headers={"Accept-Language": "en"})
    assert response.status_code == 400
    description = response.json()["description"]
    assert description.startswith("The query is invalid.") and "limit" in description
    assert "is not supported" in description
    gone = client.get("/ogc/collections/nichts", headers={"Accept-Language": "en"})
    assert gone.json()["description"] == "There is no collection “nichts”."


# --- formats and HTML ---------------------------------------------------------------------

def test_landing_conformance_and_the_api_description(client, ogc_world):
    landing = client.get("/ogc/")
    assert landing.status_code == 200 and landing.headers["content-type"] == "application/json"
    rels = {link["rel"]: link for link in landing.json()["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["conformance"]["href"] == "http://127.0.0.1:8000/ogc/conformance?f=json"
    assert rels["data"]["href"] == "http://127.0.0.1:8000/ogc/collections?f=json"
    assert client.get("/ogc", follow_redirects=True).json() == landing.json()
    api = client.get("/ogc/api")
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    spec = api.json()
    assert spec["openapi"].startswith("3.0")
    limit = spec["components"]["parameters"]["limit"]["schema"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100}
    swagger = client.get("/ogc/api?f=html")
    assert swagger.status_code == 200 and "/ogc/api?f=json" in swagger.text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in swagger.text
    conformance = _get(client, "/ogc/conformance")["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conformance


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(("lang", "words"), [
    ("de", ("Sammlungen", "Objekte 11 bis 20 von 24", "Weiter")),
    ("en", ("Collections", "Features 11 to 20 of 24", "Next")),
])
def test_html_pages(client, ogc_world, lang, words):
    client.cookies.set("allmende_lang", lang)
    pages = {path: client.get(path, headers=BROWSER) for path in (
        "/ogc/", "/ogc/collections", "/ogc/collections/orte", "/ogc/conformance",
        "/ogc/collections/orte/items?limit=10&offset=10", "/ogc/collections/orte/items/12")}
    for path, page in pages.items():
        assert page.status_code == 200 and page.headers["content-type"].startswith(
            "text/html"), path
    assert words[0] in pages["/ogc/collections"].text
    items = pages["/ogc/collections/orte/items?limit=10&offset=10"].text
    assert words[1] in items and words[2] in items
    assert 'data-geojson-url="/ogc/collections/orte/items?limit=10&amp;offset=10&amp;f=json"' \
        in items
    assert "/static/vendor/leaflet/leaflet.js" in items and "Ort 11" in items
    assert "Ort 12" in pages["/ogc/collections/orte/items/12"].text
    assert client.get("/ogc/collections/orte/items?f=html").headers[
        "content-type"].startswith("text/html")
    # an HTML request that fails gets the error page
    missing = client.get("/ogc/collections/nichts", headers=BROWSER)
    assert missing.status_code == 404 and "<html" in missing.text


def test_the_dataset_page_links_its_collections(client, ogc_world):
    page = client.get("/datasets/zwei").text
    assert "/ogc/collections/zwei.standorte-2023-csv?f=html" in page
    assert "/ogc/collections/zwei.standorte-2024-csv?f=html" in page
    assert "/ogc/collections/zwei.liste-csv" not in page
    assert "/ogc/collections/orte?f=html" in client.get("/datasets/orte").text
    assert "/ogc/collections/intern" not in client.get("/datasets/intern").text
