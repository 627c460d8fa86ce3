"""Sources of type ``dcat``: RDF catalogs (Turtle, RDF/XML, JSON-LD) in DCAT-AP.de, paged
with Hydra (``hydra:next``/``hydra:nextPage``, also the older PagedCollection terms).

A catalog has no query for "changed since", so every run reads every page: the records
whose ``dct:modified`` is newer than the last run are handed on, and the identifiers of all
of them make the list deletions are found by. rdflib parses; allmende's own catalog writers
stay as they are (see docs/interfaces.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF
from rdflib.term import Node

from allmende.errors import msg
from allmende.interop.harvest import records as r
from allmende.interop.harvest.fetch import Document, Fetcher, FetchError

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
#: Media types of RDF documents and rdflib's name of their syntax.
FORMATS = {"text/turtle": "turtle", "application/x-turtle": "turtle",
           "application/rdf+xml": "xml", "application/xml": "xml", "text/xml": "xml",
           "application/ld+json": "json-ld", "application/json": "json-ld",
           "application/n-triples": "nt"}
ACCEPT = ("text/turtle", "application/rdf+xml", "application/ld+json", "application/x-turtle",
          "application/xml", "text/xml", "application/json", "application/n-triples")


class DcatReader:
    def __init__(self, fetcher: Fetcher, url: str) -> None:
        self.fetcher = fetcher
        self.url = url
        self._identifiers: set[str] | None = None

    def records(self, since: dt.datetime | None) -> Iterator[r.Harvested | r.BadRecord]:
        seen: set[str] = set()
        pages: set[str] = set()
        url: str | None = self.url
        while url is not None:
            pages.add(url)
            graph = parse(self.fetcher.get(url, ACCEPT))
            for subject in sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str):
                found = _record(graph, subject)
                seen.add(found.origin_id)
                if isinstance(found, r.BadRecord) or since is None or found.modified is None \
                        or found.modified >= since:
                    yield found
            url = _next_page(graph, url)
            if url in pages:
                raise FetchError(msg("Die Seiten des Katalogs {url} verweisen im Kreis "
                                     "aufeinander.", url=self.url), "harvest_page_loop")
        self._identifiers = seen

    def identifiers(self) -> set[str]:
        if self._identifiers is None:  # records() was not read to its end
            raise FetchError(msg("Der Katalog {url} wurde nicht vollständig gelesen.",
                                 url=self.url), "harvest_incomplete")
        return self._identifiers


def parse(document: Document) -> Graph:
    syntax = FORMATS.get(document.content_type)
    if syntax is None:
        raise FetchError(msg("{url} liefert „{found}“, kein RDF (erwartet Turtle, RDF/XML "
                             "oder JSON-LD).", url=document.url,
                             found=document.content_type or "keinen Inhaltstyp"),
                         "harvest_content_type")
    graph = Graph()
    try:
        graph.parse(data=document.body, format=syntax, publicID=document.url)
    except Exception as error:  # rdflib raises many kinds; every one means: not this syntax
        detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else \
            type(error).__name__
        raise FetchError(msg("{url} liefert kein gültiges RDF ({syntax}): {error}",
                             url=document.url, syntax=syntax, error=detail),
                         "harvest_bad_rdf") from None
    return graph


def _next_page(graph: Graph, url: str) -> str | None:
    for predicate in (HYDRA.next, HYDRA.nextPage):
        for view in (URIRef(url), *graph.subjects(RDF.type, HYDRA.PartialCollectionView),
                     *graph.subjects(RDF.type, HYDRA.PagedCollection)):
            target = graph.value(view, predicate)
            if target is not None:
                return str(target)
    return None


def _record(graph: Graph, subject: Node) -> r.Harvested | r.BadRecord:
    identifier = _text(graph, subject, DCTERMS.identifier) or str(subject)
    try:
        return _harvested(graph, subject, identifier)
    except (TypeError, ValueError, AttributeError) as error:
        return r.BadRecord(identifier, msg("Der Datensatz lässt sich nicht lesen ({error}).",
                                           error=str(error)))


def _harvested(graph: Graph, subject: Node, identifier: str) -> r.Harvested:
    page = graph.value(subject, DCAT.landingPage)
    origin_url = str(page) if page is not None else \
        (str(subject) if isinstance(subject, URIRef) else None)
    distributions = list(graph.objects(subject, DCAT.distribution))
    licences = [_iri_or_text(graph.value(d, DCTERMS.license)) for d in distributions]
    licences.append(_iri_or_text(graph.value(subject, DCTERMS.license)))
    return r.Harvested(
        origin_id=identifier, origin_url=origin_url,
        name=_name_of(subject, identifier),
        title=_text(graph, subject, DCTERMS.title) or "",
        description=_text(graph, subject, DCTERMS.description) or "",
        modified=r.moment(_value(graph.value(subject, DCTERMS.modified))),
        keywords=tuple(dict.fromkeys(_texts(graph, subject, DCAT.keyword))),
        themes=tuple(dict.fromkeys(c for c in (r.theme_code(str(t)) for t in
                                               graph.objects(subject, DCAT.theme)) if c)),
        license=next((c for c in map(r.licence_code, licences) if c), None),
        access_level=r.access_level(_iri_or_text(graph.value(subject, DCTERMS.accessRights))),
        contact_point=_contact(graph, graph.value(subject, DCAT.contactPoint)),
        issued=r.day(_value(graph.value(subject, DCTERMS.issued))),
        spatial=next((str(s) for s in graph.objects(subject, DCTERMS.spatial)
                      if isinstance(s, URIRef)), None),
        update_frequency=r.frequency_code(_iri_or_text(graph.value(subject,
                                                                    DCTERMS.accrualPeriodicity))),
        resources=tuple(_distribution(graph, d) for d in sorted(distributions, key=str)))


def _distribution(graph: Graph, node: Node) -> r.HarvestedResource:
    url = graph.value(node, DCAT.downloadURL) or graph.value(node, DCAT.accessURL)
    form = _iri_or_text(graph.value(node, DCTERMS.format)) or \
        _iri_or_text(graph.value(node, DCAT.mediaType)) or ""
    return r.HarvestedResource(
        name=_text(graph, node, DCTERMS.title) or "", url=str(url) if url is not None else None,
        format=form.rstrip("/").rsplit("/", 1)[-1].upper()[:30],
        description=_text(graph, node, DCTERMS.description) or "")


def _contact(graph: Graph, node: Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, URIRef):
        return str(node).removeprefix("mailto:")
    for predicate in (VCARD.hasEmail, VCARD.hasURL, FOAF.mbox):
        found = graph.value(node, predicate)
        if found is not None:
            return str(found).removeprefix("mailto:")
    return None


def _name_of(subject: Node, identifier: str) -> str:
    """The last path segment of the dataset's IRI (allmende's and most portals' IRIs end in
    the dataset's name), else its identifier."""
    if isinstance(subject, URIRef):
        tail = str(subject).rstrip("/").rsplit("/", 1)[-1].split("#")[-1]
        if tail:
            return tail
    return identifier


def _texts(graph: Graph, subject: Node, predicate: URIRef) -> list[str]:
    """The literals of ``predicate``: German ones if there are any, else all."""
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    german = [v for v in values if (v.language or "").lower().startswith("de")]
    return [str(v).strip() for v in (german or values) if str(v).strip()]


def _text(graph: Graph, subject: Node, predicate: URIRef) -> str | None:
    values = _texts(graph, subject, predicate)
    return values[0] if values else None


def _value(node: Node | None) -> Any:
    return node.toPython() if isinstance(node, Literal) else None


def _iri_or_text(node: Node | None) -> str | None:
    return str(node) if node is not None else None
