"""A small RDF model the catalog is written in: IRIs, literals and nodes whose blank children
are nested inside them. It is what the three serializers walk (serialize.py); no graph is ever
built, so a catalog of 100,000 datasets streams dataset by dataset.

Predicates and classes are compact names (``dct:title``) over :data:`PREFIXES`; objects are
full IRIs, literals or nested blank nodes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import quote

PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dcatde": "http://dcat-ap.de/def/dcatde/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "prov": "http://www.w3.org/ns/prov#",
    "dqv": "http://www.w3.org/ns/dqv#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "hydra": "http://www.w3.org/ns/hydra/core#",
}


class IRI(str):
    """An absolute IRI, safe to write into Turtle, RDF/XML and JSON-LD unchanged."""

    __slots__ = ()


# Characters an IRI may not hold in Turtle (IRIREF) and that rdflib refuses elsewhere.
_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f]')


def iri(value: str) -> IRI:
    """``value`` as an IRI, with every character Turtle does not allow percent-encoded (users'
    links may hold spaces or ``|``; already encoded ones stay as they are)."""
    return IRI(_UNSAFE.sub(lambda m: quote(m.group(), safe=""), value))


@dataclass(frozen=True, slots=True)
class Literal:
    value: str
    datatype: str | None = None  # a compact name, e.g. "xsd:date"
    language: str | None = None


def text(value: str, language: str | None = None) -> Literal:
    return Literal(value, language=language)


def date(value: dt.date) -> Literal:
    return Literal(value.isoformat(), "xsd:date")


def timestamp(value: dt.datetime) -> Literal:
    """A point in time in UTC, to the second (``2024-05-01T10:00:00Z``)."""
    if value.tzinfo is not dt.UTC and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return Literal(value.isoformat(timespec="seconds")[:19] + "Z", "xsd:dateTime")


def integer(value: int) -> Literal:
    return Literal(str(value), "xsd:integer")


def decimal(value: float, places: int = 4) -> Literal:
    return Literal(f"{value:.{places}f}".rstrip("0").rstrip(".") or "0", "xsd:decimal")


def boolean(value: bool) -> Literal:
    return Literal("true" if value else "false", "xsd:boolean")


@dataclass(slots=True)
class Node:
    """A subject with its types and (predicate, object) pairs in order; ``subject`` None is a
    blank node, written nested inside the node that refers to it."""

    subject: IRI | None
    types: tuple[str, ...] = ()
    properties: list[tuple[str, Object]] = field(default_factory=list)

    def add(self, predicate: str, value: Object | None) -> Node:
        """Add one value; None (an empty optional field) adds nothing."""
        if value is not None:
            self.properties.append((predicate, value))
        return self

    def add_all(self, predicate: str, values: list[Object] | tuple[Object, ...]) -> Node:
        for value in values:
            self.add(predicate, value)
        return self


Object = IRI | Literal | Node


def expand(name: str) -> str:
    """The full IRI of a compact name."""
    prefix, _, local = name.partition(":")
    return PREFIXES[prefix] + local
