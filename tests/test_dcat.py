"""The DCAT-AP.de catalog: pyshacl with the official shapes (GovData DCAT-AP.de 3.0 and SEMIC
DCAT-AP 3.0.0, tests/data/shacl) judges the whole demo catalog; Hydra paging, page=all against
the pages, modified_since, per-dataset documents in all three formats, the access rules, the
base URL and the errors for bad parameters."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyshacl
import pytest
from fastapi.testclient import TestClient
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from sqlalchemy import select

from allmende.catalog import datasets
from allmende.db.models import Consolidation, Dataset, QualityReport, Resource
from allmende.interop.dcat import app as dcat_app
from allmende.platform import Platform
from allmende.web.app import create_app
from support import OPERATOR

SHACL = Path(__file__).parent / "data" / "shacl"
# Plain namespaces (rdflib's closed ones warn when pytest looks into this module).
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")  # ["title"], ["format"]: str has those
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
PROV = Namespace("http://www.w3.org/ns/prov#")
SH = Namespace("http://www.w3.org/ns/shacl#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
DCATDE = Namespace("http://dcat-ap.de/def/dcatde/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
PARSERS = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}
MEDIA = {"ttl": "text/turtle", "rdf": "application/rdf+xml", "jsonld": "application/ld+json"}
EU = "http://publications.europa.eu/resource/authority/"
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def catalog(platform, demo_region) -> TestClient:
    platform.settings.inprocess_worker = False
    with TestClient(create_app(platform)) as client:
        yield client


def _graph(response, form: str = "ttl") -> Graph:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith(MEDIA[form])
    return Graph().parse(data=response.content, format=PARSERS[form])


def _canonical(graph: Graph) -> collections.Counter:
    """The graph's triples with each blank node replaced by its own properties: the
    catalog's blank nodes (contact points, periods, places, measurements) are leaves, so two
    graphs with equal forms are the same graph (and this is linear, unlike isomorphic())."""
    def term(node: Any) -> Any:
        if isinstance(node, BNode):
            return tuple(sorted((str(p), str(o)) for p, o in graph.predicate_objects(node)))
        return node
    return collections.Counter((term(s), p, term(o)) for s, p, o in graph
                               if not isinstance(s, BNode))


def _datasets(graph: Graph) -> set[str]:
    return {str(s) for s in graph.subjects(RDF.type, DCAT.Dataset)}


def _names(graph: Graph) -> set[str]:
    return {iri.rsplit("/", 1)[1] for iri in _datasets(graph)}


def _rows(platform: Platform, *conditions) -> set[str]:
    with platform.db.sessions() as session:
        return set(session.scalars(select(Dataset.name).where(*conditions)))


# --- the judge -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def judge():
    """pyshacl over the official shapes, the vocabularies in the data graph (SOURCES.md)."""
    shapes = Graph()
    for path in sorted((SHACL / "shapes").glob("*.ttl")):
        shapes.parse(path, format="turtle")
    vocabularies = Graph()
    for path in sorted((SHACL / "vocabularies").glob("*.gz")):
        with gzip.open(path) as source:
            vocabularies.parse(source, format="turtle" if path.name.endswith(".ttl.gz")
                               else "xml")

    def validate(data: Graph) -> collections.Counter:
        graph = Graph()
        for triple in vocabularies:
            graph.add(triple)
        for triple in data:
            graph.add(triple)
        _conforms, report, _text = pyshacl.validate(graph, shacl_graph=shapes,
                                                    inference="none", allow_warnings=True)
        results: collections.Counter = collections.Counter()
        for result in report.subjects(SH.resultSeverity, None):
            severity = str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[1]
            results[(severity, str(report.value(result, SH.resultMessage)),
                     str(report.value(result, SH.focusNode)))] += 1
        return results

    return validate


def _report(results: collections.Counter, severity: str) -> list[str]:
    return [f"{n} × {message} ({focus})" for (level, message, focus), n in results.items()
            if level == severity]


def test_the_whole_demo_catalog_conforms_to_dcat_ap_de(catalog, demo_region, judge, platform):
    """Every dataset of the demo region (a sysadmin's view: drafts and members-only ones too)
    in one streamed document: zero violations of the GovData and SEMIC shapes."""
    started = time.perf_counter()
    whole = _graph(catalog.get("/catalog.ttl?page=all",
                               headers={"Authorization": demo_region["sysadmin"]}))
    assert _names(whole) == _rows(platform, Dataset.deleted_at.is_(None))
    assert len(_names(whole)) == 72
    results = judge(whole)
    violations, warnings = _report(results, "Violation"), _report(results, "Warning")
    print(f"\n{len(whole)} triples, {sum(results.values())} results: {len(violations)} "
          f"kinds of violation, {len(warnings)} warnings ({time.perf_counter() - started:.1f} s)")
    # Warnings are reported, not failing (today only the political geocoding level, whose
    # vocabulary has no RDF copy to check against).
    for line in warnings:
        print("  warning:", line)
    assert not violations, "\n".join(violations)


def test_every_dataset_document_conforms_too(catalog, demo_region, judge):
    """The per-dataset documents carry what their dataset refers to (publisher, data
    services, metrics): all of them together, validated at once."""
    headers = {"Authorization": demo_region["sysadmin"]}
    names = _names(_graph(catalog.get("/catalog.jsonld?page=all", headers=headers), "jsonld"))
    merged = Graph()
    for name in sorted(names):
        document = catalog.get(f"/catalog/datasets/{name}.jsonld", headers=headers)
        for triple in _graph(document, "jsonld"):
            merged.add(triple)
    assert _names(merged) == names
    results = judge(merged)
    assert not _report(results, "Violation"), "\n".join(_report(results, "Violation"))


# --- what the catalog says -------------------------------------------------------------------

def _dataset(graph: Graph, name: str) -> URIRef:
    return URIRef(f"{BASE}/catalog/datasets/{name}")


def test_a_dataset_in_dcat_ap_de(catalog, platform):
    graph = _graph(catalog.get("/catalog/datasets/dortmund-ladesaeulen.ttl"))
    subject = _dataset(graph, "dortmund-ladesaeulen")
    with platform.db.sessions() as session:
        row = session.scalar(select(Dataset).where(Dataset.name == "dortmund-ladesaeulen"))
        uuid, license_ = row.uuid, row.license
    assert graph.value(subject, DCTERMS.identifier) == Literal(uuid)
    assert graph.value(subject, DCTERMS["title"]) == Literal("E-Ladesäulen in Dortmund", lang="de")
    publisher = graph.value(subject, DCTERMS.publisher)
    assert str(publisher) == f"{BASE}/organizations/dortmund"
    assert (publisher, RDF.type, FOAF.Agent) in graph
    assert graph.value(publisher, FOAF.name) == Literal("Stadt Dortmund")
    assert str(graph.value(publisher, DCTERMS.type)) == \
        "http://purl.org/adms/publishertype/LocalAuthority"
    contact = graph.value(subject, DCAT.contactPoint)
    assert (contact, RDF.type, VCARD.Kind) in graph
    assert str(graph.value(contact, VCARD.hasEmail)) == "mailto:opendata@dortmund.demo.allmende.de"
    assert {str(o) for o in graph.objects(subject, DCAT.theme)} == {
        f"{EU}data-theme/TRAN", f"{EU}data-theme/ENER"}
    assert str(graph.value(subject, DCTERMS.accessRights)) == f"{EU}access-right/PUBLIC"
    assert str(graph.value(subject, DCTERMS.accrualPeriodicity)) == f"{EU}frequency/MONTHLY"
    spatial = set(graph.objects(subject, DCTERMS.spatial))
    geocoding = URIRef("http://dcat-ap.de/def/politicalGeocoding/municipalityKey/05913000")
    assert geocoding in spatial and (geocoding, RDF.type, DCTERMS.Location) in graph
    assert (subject, DCATDE.politicalGeocodingURI, None) not in graph  # deprecated in 3.0
    [box] = [graph.value(s, DCAT.bbox) for s in spatial if s != geocoding]
    assert box.datatype == URIRef("http://www.opengis.net/ont/geosparql#wktLiteral")
    assert str(box).startswith("POLYGON((7.3025 51.4155,")
    assert not list(graph.objects(None, URIRef("http://www.w3.org/ns/locn#geometry")))
    distributions = list(graph.objects(subject, DCAT.distribution))
    formats = {str(graph.value(d, DCTERMS["format"])).rsplit("/", 1)[1] for d in distributions}
    assert {"CSV", "GEOJSON", "PARQUET"} <= formats
    for distribution in distributions:
        assert str(graph.value(distribution, DCTERMS.license)) == \
            f"http://dcat-ap.de/def/licenses/{license_}"
        assert graph.value(distribution, DCAT.accessURL) is not None
    downloads = [d for d in distributions if graph.value(d, DCAT.accessService) is not None]
    service = graph.value(downloads[0], DCAT.accessService)
    assert (service, RDF.type, DCAT.DataService) in graph
    assert str(graph.value(service, DCAT.endpointURL)) == f"{BASE}/api/v1/"
    assert str(graph.value(downloads[0], DCAT.downloadURL)).startswith(
        f"{BASE}/api/v1/resources/")
    ckan = URIRef(f"{BASE}/api/3/action")  # a registered interface is a data service too
    assert (ckan, RDF.type, DCAT.DataService) in graph
    assert str(graph.value(ckan, DCAT.endpointURL)) == f"{BASE}/api/3/action/"


def test_quality_measurements_come_from_the_quality_report(catalog, platform):
    with platform.db.sessions() as session:
        report = session.scalars(select(QualityReport).join(
            Resource, Resource.id == QualityReport.resource_id).join(Dataset).where(
            Dataset.name == "dortmund-ladesaeulen").order_by(QualityReport.id.desc())).first()
        score, rows, valid = report.score, report.rows, report.valid
    graph = _graph(catalog.get("/catalog/datasets/dortmund-ladesaeulen.jsonld"), "jsonld")
    measured = {}
    for measurement in graph.objects(_dataset(graph, "dortmund-ladesaeulen"),
                                     DQV.hasQualityMeasurement):
        metric = graph.value(measurement, DQV.isMeasurementOf)
        assert (metric, RDF.type, DQV.Metric) in graph
        assert (graph.value(measurement, DQV.computedOn), RDF.type, DCAT.Distribution) in graph
        measured[str(metric).rsplit("/", 1)[1]] = graph.value(measurement, DQV.value).toPython()
    assert float(measured["quality-score"]) == pytest.approx(score, abs=0.05)
    assert measured["rows"] == rows and measured["schema-valid"] is valid


def test_regional_datasets_name_their_sources(catalog, platform):
    with platform.db.sessions() as session:
        regional = {c.dataset.name: {s["dataset"] for s in c.sources}
                    for c in session.scalars(select(Consolidation))}
    assert len(regional) == 5
    graph = _graph(catalog.get("/catalog.jsonld?page=all"), "jsonld")
    for name, sources in regional.items():
        derived = {str(o).rsplit("/", 1)[1] for o in graph.objects(
            _dataset(graph, name), PROV.wasDerivedFrom)}
        assert derived == sources, name
        assert all(_dataset(graph, s) in set(graph.subjects(RDF.type, DCAT.Dataset))
                   for s in derived)


def test_the_contributor_id_is_configured(platform, demo_region):
    platform.settings.inprocess_worker = False
    for setting, expected in (("", None), ("openNRW",
                                           "http://dcat-ap.de/def/contributors/openNRW")):
        platform.settings.dcat_contributor_id = setting
        with TestClient(create_app(platform)) as client:
            graph = _graph(client.get("/catalog/datasets/dortmund-ladesaeulen.ttl"))
        found = graph.value(_dataset(graph, "dortmund-ladesaeulen"), DCATDE.contributorID)
        assert (str(found) if found else None) == expected


# --- paging ---------------------------------------------------------------------------------

def test_hydra_pages_add_up_to_the_whole_catalog(catalog, platform):
    whole = _names(_graph(catalog.get("/catalog.jsonld?page=all"), "jsonld"))
    expected = _rows(platform, Dataset.deleted_at.is_(None), Dataset.draft.is_(False),
                     Dataset.access_level != "members")
    assert whole == expected and len(whole) == 65
    assert _names(_graph(catalog.get("/catalog.ttl"))) == \
        _names(_graph(catalog.get("/catalog.jsonld?page=1"), "jsonld"))
    seen: list[set[str]] = []
    url = "/catalog.jsonld?per_page=10"
    while url:
        graph = _graph(catalog.get(url), "jsonld")
        [view] = graph.subjects(RDF.type, HYDRA.PartialCollectionView)
        assert (view, RDF.type, HYDRA.PagedCollection) in graph
        assert int(graph.value(view, HYDRA.totalItems)) == 65
        assert int(graph.value(view, HYDRA.itemsPerPage)) == 10
        assert parse_qs(urlsplit(str(graph.value(view, HYDRA.last))).query)["page"] == ["7"]
        page = _names(graph)
        [catalog_node] = graph.subjects(RDF.type, DCAT.Catalog)
        assert {str(o).rsplit("/", 1)[1] for o in graph.objects(catalog_node, DCAT.dataset)} \
            == page
        seen.append(page)
        following = graph.value(view, HYDRA.next)
        assert following is None or str(graph.value(view, HYDRA.nextPage)) == str(following)
        url = str(following).removeprefix(BASE) if following else ""
    assert [len(p) for p in seen] == [10] * 6 + [5]
    assert set().union(*seen) == whole and sum(map(len, seen)) == len(whole)


@pytest.mark.parametrize("form", ["rdf", "jsonld"])
def test_page_all_streams_well_formed_rdf_xml_and_json_ld(catalog, form, monkeypatch):
    monkeypatch.setattr(dcat_app, "STREAM_BATCH", 7)  # many batches
    turtle = _graph(catalog.get("/catalog.ttl?page=all"))
    response = catalog.get(f"/catalog.{form}?page=all")
    assert "content-length" not in response.headers  # streamed, not built first
    streamed = _graph(response, form)
    assert _canonical(streamed) == _canonical(turtle)
    pages = Graph()
    for page in (1, 2, 3):
        for triple in _graph(catalog.get(f"/catalog.{form}?per_page=30&page={page}"), form):
            pages.add(triple)
    assert _datasets(pages) == _datasets(turtle)
    hydra = set(pages.subjects(RDF.type, HYDRA.PartialCollectionView))
    assert _canonical(streamed) == _canonical(pages) - collections.Counter(
        t for t in _canonical(pages) if t[0] in hydra or t[1] == HYDRA.view)


def test_modified_since(catalog, platform):
    everything = _names(_graph(catalog.get("/catalog.jsonld?page=all"), "jsonld"))
    time.sleep(0.01)
    since = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "essen-baustellen",
                                {"keywords": ["Baustelle", "Verkehr", "Essen"]})
    stamp = since.isoformat().replace("+00:00", "Z")
    for url in (f"/catalog.ttl?modified_since={stamp}",
                f"/catalog.rdf?page=all&modified_since={stamp}"):
        form = "rdf" if ".rdf" in url else "ttl"
        response = catalog.get(url.replace("+", "%2B"))
        assert _names(_graph(response, form)) == {"essen-baustellen"}, url
    graph = _graph(catalog.get(f"/catalog.ttl?modified_since={stamp}"))
    [view] = graph.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert int(graph.value(view, HYDRA.totalItems)) == 1
    assert "modified_since" in str(graph.value(view, HYDRA.first))
    yesterday = (since - dt.timedelta(days=1)).date().isoformat()
    assert _names(_graph(catalog.get(f"/catalog.jsonld?page=all&modified_since={yesterday}"),
                         "jsonld")) == everything


# --- documents per dataset ------------------------------------------------------------------

def test_dataset_documents_in_three_formats_say_the_same(catalog, platform):
    with platform.db.sessions() as session:
        uuid = session.scalar(select(Dataset.uuid).where(Dataset.name == "region-ladesaeulen"))
    graphs = {form: _graph(catalog.get(f"/catalog/datasets/region-ladesaeulen.{form}"), form)
              for form in PARSERS}
    assert isomorphic(graphs["ttl"], graphs["rdf"]) and isomorphic(graphs["ttl"],
                                                                   graphs["jsonld"])
    assert _names(graphs["ttl"]) == {"region-ladesaeulen"}
    by_uuid = _graph(catalog.get(f"/catalog/datasets/{uuid}.ttl"))
    assert isomorphic(by_uuid, graphs["ttl"])
    for accept, form in (("application/ld+json", "jsonld"), ("application/rdf+xml", "rdf"),
                         ("text/turtle", "ttl"), ("text/html,*/*;q=0.8", "ttl"),
                         ("text/turtle;q=0.5, application/rdf+xml", "rdf")):
        response = catalog.get("/catalog/datasets/region-ladesaeulen",
                               headers={"Accept": accept})
        assert isomorphic(_graph(response, form), graphs["ttl"]), accept
    assert _names(_graph(catalog.get("/catalog", headers={"Accept": "application/ld+json"}),
                         "jsonld"))


def test_text_survives_every_format(catalog, platform):
    title = 'Zitat "Ä" \\ <b>&amp; Tab\tund 😀'
    description = "Zeile 1\r\nZeile 2 ]]> --> ' \"\"\" ; . @de"
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, {
            "name": "sonderzeichen", "title": title, "description": description,
            "organization": "dortmund", "keywords": ['"Schlüssel"', "a\\b"],
            "resources": [{"name": "Verweis <1>", "format": "pdf",
                           "url": "https://example.org/a|b{c}^d`e\\f?x=1&y=<2>"}]})
    graphs = {form: _graph(catalog.get(f"/catalog/datasets/sonderzeichen.{form}"), form)
              for form in PARSERS}
    for form, graph in graphs.items():
        subject = _dataset(graph, "sonderzeichen")
        assert str(graph.value(subject, DCTERMS["title"])) == title, form
        assert str(graph.value(subject, DCTERMS.description)) == description, form
        assert {str(k) for k in graph.objects(subject, DCAT.keyword)} == {'"Schlüssel"', "a\\b"}
        assert isomorphic(graph, graphs["ttl"]), form


def test_control_characters_are_refused_where_catalogs_cannot_carry_them(client, world):
    response = client.post("/api/v1/datasets", headers=world.auth("editor"), json={
        "name": "steuerzeichen", "title": "Ladesäulen\x0b2024", "description": "Text",
        "organization": "dortmund"})
    assert response.status_code == 422
    [problem] = response.json()["error"]["fields"]
    assert problem["field"] == "title" and "Steuerzeichen" in problem["message"]


def test_licences_come_from_the_dcat_ap_de_list(client, world):
    body = {"name": "lizenz", "title": "Lizenz", "description": "Text",
            "organization": "dortmund", "license": "cc-zero/1.0"}
    created = client.post("/api/v1/datasets", headers=world.auth("editor"), json=body)
    assert created.status_code == 201 and created.json()["license"] == "cc-zero"
    refused = client.post("/api/v1/datasets", headers=world.auth("editor"),
                          json={**body, "name": "lizenz-2", "license": "cc-by/9.0"})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "license"


# --- access ---------------------------------------------------------------------------------

def test_the_catalog_shows_what_the_caller_may_see(catalog, demo_region, platform):
    members = _rows(platform, Dataset.access_level == "members", Dataset.deleted_at.is_(None))
    drafts = _rows(platform, Dataset.draft.is_(True), Dataset.deleted_at.is_(None))
    restricted = _rows(platform, Dataset.access_level == "restricted",
                       Dataset.draft.is_(False), Dataset.deleted_at.is_(None))
    assert members and drafts and restricted
    anonymous = _graph(catalog.get("/catalog.jsonld?page=all"), "jsonld")
    assert not _names(anonymous) & (members | drafts)
    assert restricted <= _names(anonymous)
    for name in restricted:
        subject = _dataset(anonymous, name)
        assert str(anonymous.value(subject, DCTERMS.accessRights)) == \
            f"{EU}access-right/RESTRICTED"
        for distribution in anonymous.objects(subject, DCAT.distribution):
            # rows under an agreement only: no public download link
            assert anonymous.value(distribution, DCAT.downloadURL) is None or \
                not str(anonymous.value(distribution, DCAT.downloadURL)).startswith(BASE)
        assert not list(anonymous.objects(subject, DQV.hasQualityMeasurement))
    for name in members | drafts:
        assert catalog.get(f"/catalog/datasets/{name}.ttl").status_code == 404
    member = {"Authorization": demo_region["member"]}
    seen = _names(_graph(catalog.get("/catalog.jsonld?page=all", headers=member), "jsonld"))
    assert members <= seen
    own_drafts = _rows(platform, Dataset.draft.is_(True), Dataset.organization.has(slug="dortmund"))
    assert seen & drafts == own_drafts
    name = sorted(members)[0]
    graph = _graph(catalog.get(f"/catalog/datasets/{name}.ttl", headers=member))
    assert str(graph.value(_dataset(graph, name), DCTERMS.accessRights)) == \
        f"{EU}access-right/NON_PUBLIC"
    bad = catalog.get("/catalog.ttl", headers={"Authorization": "Bearer falsch"})
    assert bad.status_code == 401 and bad.headers["content-type"].startswith("text/plain")


def test_every_uri_starts_with_the_base_url(platform, demo_region):
    platform.settings.inprocess_worker = False
    platform.settings.base_url = "https://daten.example.org/allmende/"
    with TestClient(create_app(platform)) as client:
        page = client.get("/catalog.ttl?per_page=5&page=2")
        single = client.get("/catalog/datasets/region-baustellen.rdf")
    for response in (page, single):
        assert "127.0.0.1" not in response.text
    graph = _graph(page)
    ours = [str(s) for s in graph.subjects() if isinstance(s, URIRef)
            and not str(s).startswith("http://dcat-ap.de/")]
    assert ours and all(s.startswith("https://daten.example.org/allmende/") for s in ours)
    [view] = graph.subjects(RDF.type, HYDRA.PartialCollectionView)
    assert str(graph.value(view, HYDRA.next)) == \
        "https://daten.example.org/allmende/catalog.ttl?per_page=5&page=3"


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "status", "needle"), [
    ("/catalog.ttl?page=0", 400, "page"),
    ("/catalog.ttl?page=zwei", 400, "page"),
    ("/catalog.ttl?page=-1", 400, "page"),
    ("/catalog.rdf?per_page=0", 400, "per_page"),
    ("/catalog.jsonld?per_page=1001", 400, "per_page"),
    ("/catalog.ttl?per_page=viele", 400, "per_page"),
    ("/catalog.ttl?modified_since=gestern", 400, "modified_since"),
    ("/catalog.ttl?page=all&modified_since=2024-13-01", 400, "modified_since"),
    ("/catalog.xml", 404, "xml"),
    ("/catalog/datasets/gibt-es-nicht.ttl", 404, "gibt-es-nicht"),
    ("/catalog/datasets/dortmund-ladesaeulen.csv", 404, "csv"),
])
def test_bad_requests_get_a_clear_plain_text_answer(catalog, url, status, needle):
    response = catalog.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert needle in response.text


def test_errors_in_english_and_methods(catalog):
    response = catalog.get("/catalog.ttl?per_page=5000", headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert response.text.strip() == "per_page: expects a number from 1 to 1000, not “5000”."
    refused = catalog.post("/catalog.ttl")
    assert refused.status_code == 405 and refused.text.strip() == "Hier gibt es nur GET."


def test_the_start_page_and_every_footer_link_the_catalog(client, world):
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/catalog.ttl"' in home.text and 'href="/catalog.jsonld"' in home.text
    assert "Offene Schnittstellen" in home.text and "Datenkatalog (DCAT-AP.de)" in home.text
    english = client.get("/datasets?lang=en")
    assert "Data catalog (DCAT-AP.de)" in english.text and 'href="/catalog.ttl"' in english.text
    for form in PARSERS:
        assert client.get(f"/catalog.{form}").status_code == 200
