"""Turtle, RDF/XML and JSON-LD written straight from nodes (terms.py), chunk by chunk: the
prefixes or the envelope once, then any number of node chunks, then the end. A whole catalog
is never held as a graph; each chunk is independent text (JSON-LD's commas aside, which the
writer keeps track of), so a response streams as its datasets are read."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

import orjson

from allmende.interop.dcat.terms import IRI, PREFIXES, Literal, Node, expand


class Writer(Protocol):
    media_type: str

    def start(self) -> str: ...

    def chunk(self, nodes: Iterable[Node]) -> str: ...

    def end(self) -> str: ...


def document(writer: Writer, nodes: Iterable[Node]) -> str:
    """A whole document of ``nodes``."""
    return writer.start() + writer.chunk(nodes) + writer.end()


# --- Turtle ---------------------------------------------------------------------------------

_TURTLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                   "\b": "\\b", "\f": "\\f"}
_TURTLE_SPECIAL = re.compile(r'[\\"\x00-\x1f\x7f]')


def _turtle_escape(match: re.Match[str]) -> str:
    char = match.group()
    return _TURTLE_ESCAPES.get(char) or f"\\u{ord(char):04X}"


class Turtle:
    media_type = "text/turtle; charset=utf-8"

    def start(self) -> str:
        return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in PREFIXES.items()) + "\n"

    def chunk(self, nodes: Iterable[Node]) -> str:
        return "".join(self._node(node) for node in nodes if node.types or node.properties)

    def end(self) -> str:
        return ""

    def _node(self, node: Node) -> str:
        subject = f"<{node.subject}>" if node.subject is not None else "[]"
        return f"{subject} {self._body(node, '    ')} .\n\n"

    def _body(self, node: Node, indent: str) -> str:
        lines = [f"a {', '.join(node.types)}"] if node.types else []
        lines += [f"{p} {self._object(o, indent)}" for p, o in node.properties]
        return f" ;\n{indent}".join(lines)

    def _object(self, value: IRI | Literal | Node, indent: str) -> str:
        if isinstance(value, IRI):
            return f"<{value}>"
        if isinstance(value, Literal):
            text = '"' + _TURTLE_SPECIAL.sub(_turtle_escape, value.value) + '"'
            if value.language:
                return f"{text}@{value.language}"
            return f"{text}^^{value.datatype}" if value.datatype else text
        inner = indent + "    "
        return f"[\n{inner}{self._body(value, inner)}\n{indent}]"


# --- RDF/XML --------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all (no escape exists): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Anything to escape or drop (most values hold none: they are written as they are).
_XML_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_ATTRIBUTE_SPECIAL = re.compile(
    '[&<>"\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]')


def _xml_text(value: str) -> str:
    if not _XML_TEXT_SPECIAL.search(value):
        return value
    value = _NOT_XML.sub("", value)
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _xml_attribute(value: str) -> str:
    if not _XML_ATTRIBUTE_SPECIAL.search(value):
        return value
    return _xml_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


class RdfXml:
    media_type = "application/rdf+xml; charset=utf-8"

    def start(self) -> str:
        namespaces = "".join(f'\n    xmlns:{p}="{ns}"' for p, ns in PREFIXES.items())
        return f'<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF{namespaces}>\n'

    def chunk(self, nodes: Iterable[Node]) -> str:
        return "".join(self._node(node, "  ") for node in nodes if node.types or node.properties)

    def end(self) -> str:
        return "</rdf:RDF>\n"

    def _node(self, node: Node, indent: str) -> str:
        element = node.types[0] if node.types else "rdf:Description"
        about = f' rdf:about="{_xml_attribute(node.subject)}"' if node.subject is not None \
            else ""
        inner = indent + "  "
        body = [f'{inner}<rdf:type rdf:resource="{_xml_attribute(expand(t))}"/>\n'
                for t in node.types[1:]]
        body += [self._property(p, o, inner) for p, o in node.properties]
        return f"{indent}<{element}{about}>\n{''.join(body)}{indent}</{element}>\n"

    def _property(self, predicate: str, value: IRI | Literal | Node, indent: str) -> str:
        if isinstance(value, IRI):
            return f'{indent}<{predicate} rdf:resource="{_xml_attribute(value)}"/>\n'
        if isinstance(value, Literal):
            if value.language:
                attribute = f' xml:lang="{value.language}"'
            elif value.datatype:
                attribute = f' rdf:datatype="{_xml_attribute(expand(value.datatype))}"'
            else:
                attribute = ""
            return f"{indent}<{predicate}{attribute}>{_xml_text(value.value)}</{predicate}>\n"
        if value.types:
            return (f"{indent}<{predicate}>\n{self._node(value, indent + '  ')}"
                    f"{indent}</{predicate}>\n")
        inner = "".join(self._property(p, o, indent + "  ") for p, o in value.properties)
        return f'{indent}<{predicate} rdf:parseType="Resource">\n{inner}{indent}</{predicate}>\n'


# --- JSON-LD --------------------------------------------------------------------------------

class JsonLd:
    media_type = "application/ld+json"

    def __init__(self) -> None:
        self._first = True

    def start(self) -> str:
        return '{"@context":' + orjson.dumps(PREFIXES).decode() + ',"@graph":[\n'

    def chunk(self, nodes: Iterable[Node]) -> str:
        parts = []
        for node in nodes:
            if node.types or node.properties:
                parts.append(("" if self._first else ",\n") +
                             orjson.dumps(_json_node(node)).decode())
                self._first = False
        return "".join(parts)

    def end(self) -> str:
        return "\n]}\n"


def _json_node(node: Node) -> dict[str, object]:
    body: dict[str, object] = {}
    if node.subject is not None:
        body["@id"] = node.subject
    if node.types:
        body["@type"] = list(node.types)
    for predicate, value in node.properties:
        body.setdefault(predicate, []).append(_json_value(value))  # type: ignore[union-attr]
    return body


def _json_value(value: IRI | Literal | Node) -> object:
    if isinstance(value, IRI):
        return {"@id": value}
    if isinstance(value, Literal):
        if value.language:
            return {"@value": value.value, "@language": value.language}
        return {"@value": value.value, "@type": value.datatype} if value.datatype \
            else {"@value": value.value}
    return _json_node(value)


FORMATS: dict[str, type[Turtle] | type[RdfXml] | type[JsonLd]] = {
    "ttl": Turtle, "rdf": RdfXml, "jsonld": JsonLd}
