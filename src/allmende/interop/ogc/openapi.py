"""The OpenAPI 3.0 description of the OGC API (``/ogc/api``), served as
``application/vnd.oai.openapi+json;version=3.0``: the paths and parameters of Part 1 and
Part 2; collections are a path parameter (which ones exist depends on who asks)."""

from __future__ import annotations

from typing import Any

from allmende import __version__
from allmende.interop.ogc import crs
from allmende.tables.query import MAX_LIMIT

MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
_JSON = "application/json"
_GEOJSON = "application/geo+json"
_HTML = "text/html"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _answer(description: str, schema: str, *types: str) -> dict[str, Any]:
    return {"description": description,
            "content": {t: {"schema": _ref("schemas", schema) if t != _HTML else
                            {"type": "string"}} for t in types}}


_ERRORS = {str(status): {"description": text, "content": {
    _JSON: {"schema": _ref("schemas", "exception")}}}
    for status, text in ((400, "Ungültiger Parameter"), (404, "Nicht gefunden"),
                         (500, "Serverfehler"))}


def _get(summary: str, operation: str, parameters: list[str], answer: dict[str, Any]
         ) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation,
                    "parameters": [_ref("parameters", p) for p in parameters],
                    "responses": {"200": answer, **_ERRORS}}}


_PARAMETERS: dict[str, Any] = {
    "f": {"name": "f", "in": "query", "required": False, "style": "form", "explode": False,
          "description": "Format der Antwort (sonst nach dem Accept-Header)",
          "schema": {"type": "string", "enum": ["json", "html"]}},
    "collectionId": {"name": "collectionId", "in": "path", "required": True,
                     "description": "Kennung der Sammlung: {datensatz} oder "
                                    "{datensatz}.{ressource}",
                     "schema": {"type": "string"}},
    "featureId": {"name": "featureId", "in": "path", "required": True,
                  "description": "Nummer der Zeile in der neuesten Version (ab 1)",
                  "schema": {"type": "integer", "minimum": 1}},
    "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
              "explode": False, "description": f"Objekte je Seite (höchstens {MAX_LIMIT})",
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                         "default": 100}},
    "offset": {"name": "offset", "in": "query", "required": False, "style": "form",
               "explode": False, "description": "Wie viele Objekte übersprungen werden",
               "schema": {"type": "integer", "minimum": 0, "default": 0}},
    "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
             "explode": False, "description": "Rechteck x_min,y_min,x_max,y_max in bbox-crs",
             "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                        "items": {"type": "number"}}},
    "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False, "style": "form",
                 "explode": False, "description": "Koordinatenreferenzsystem von bbox",
                 "schema": {"type": "string", "format": "uri", "enum": list(crs.SUPPORTED),
                            "default": crs.CRS84}},
    "crs": {"name": "crs", "in": "query", "required": False, "style": "form",
            "explode": False, "description": "Koordinatenreferenzsystem der Antwort",
            "schema": {"type": "string", "format": "uri", "enum": list(crs.SUPPORTED),
                       "default": crs.CRS84}},
    "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form",
                 "explode": False, "description": "Zeitpunkt oder Zeitraum (RFC 3339, "
                                                  "Enden offen mit ..) auf der ersten "
                                                  "Datums- oder Zeitpunkt-Spalte",
                 "schema": {"type": "string"}},
}

_SCHEMAS: dict[str, Any] = {
    "exception": {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string"}, "description": {"type": "string"}}},
    "link": {"type": "object", "required": ["href"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
        "title": {"type": "string"}}},
    "document": {"type": "object", "properties": {
        "links": {"type": "array", "items": _ref("schemas", "link")}}},
    "featureCollection": {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _ref("schemas", "feature")},
        "links": {"type": "array", "items": _ref("schemas", "link")},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "timeStamp": {"type": "string", "format": "date-time"}}},
    "feature": {"type": "object", "required": ["type", "geometry", "properties"],
                "properties": {"type": {"type": "string", "enum": ["Feature"]},
                               "id": {"type": "integer"},
                               "geometry": {"type": "object", "nullable": True},
                               "properties": {"type": "object", "nullable": True}}},
}


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "allmende – OGC API Features", "version": __version__,
                 "description": "Die Tabellen mit Geometrien als Sammlungen von Objekten "
                                "(OGC API – Features, Teil 1 und 2).",
                 "license": {"name": "EUPL-1.2"}},
        "servers": [{"url": server_url}],
        "paths": {
            "/": _get("Startseite", "getLandingPage", ["f"],
                      _answer("Links zu API, Konformität und Sammlungen", "document",
                              _JSON, _HTML)),
            "/conformance": _get("Konformitätsklassen", "getConformance", ["f"],
                                 _answer("Die erfüllten Konformitätsklassen", "document",
                                         _JSON, _HTML)),
            "/api": _get("Diese Beschreibung", "getApi", ["f"],
                         {"description": "OpenAPI 3.0", "content": {
                             MEDIA_TYPE: {"schema": {"type": "object"}},
                             _HTML: {"schema": {"type": "string"}}}}),
            "/collections": _get("Sammlungen", "getCollections", ["f"],
                                 _answer("Die lesbaren Sammlungen", "document", _JSON,
                                         _HTML)),
            "/collections/{collectionId}": _get(
                "Eine Sammlung", "describeCollection", ["collectionId", "f"],
                _answer("Beschreibung der Sammlung", "document", _JSON, _HTML)),
            "/collections/{collectionId}/items": _get(
                "Objekte einer Sammlung", "getFeatures",
                ["collectionId", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime",
                 "f"],
                _answer("Eine Seite von Objekten; Spalten filtern mit Name=Wert",
                        "featureCollection", _GEOJSON, _HTML)),
            "/collections/{collectionId}/items/{featureId}": _get(
                "Ein Objekt", "getFeature", ["collectionId", "featureId", "crs", "f"],
                _answer("Das Objekt", "feature", _GEOJSON, _HTML)),
        },
        "components": {"parameters": _PARAMETERS, "schemas": _SCHEMAS},
    }
