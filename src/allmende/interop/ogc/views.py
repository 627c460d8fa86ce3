"""One function per OGC API resource: each builds the JSON document (or, for HTML, what the
page shows) from the seam — collections from catalog records, features from the table
reader — and never decides on access itself."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request

from allmende.access.policy import Actor
from allmende.errors import NotFound, msg
from allmende.interop.links import Links
from allmende.interop.ogc import collections, crs, items, openapi
from allmende.interop.ogc.links import OgcLinks, link
from allmende.platform import Platform
from allmende.tables.reader import TableReader, open_table
from allmende.transparency.reads import Interface
from allmende.web.i18n import localize

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
#: Links of the HTML pages: from the site's root, so that a page works under any address.
LOCAL = OgcLinks(Links(""))
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]


@dataclass
class Call:
    """One request: who asks, in which format, with one database session."""

    platform: Platform
    session: Session
    actor: Actor
    request: Request
    links: OgcLinks
    html: bool
    language: str

    def text(self, message: str) -> str:
        """A message of the service catalogue in the caller's language."""
        return localize(message, self.language)

    def open(self, resource_id: str) -> TableReader:
        return open_table(self.session, self.actor, self.platform.settings.data_dir,
                          resource_id, interface=Interface.OGC)

    def params(self, *drop: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.request.query_params.multi_items() if k not in drop]


@dataclass
class Answer:
    body: Any  # the JSON document
    media_type: str = JSON
    template: str = ""  # the HTML page
    context: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _self_links(call: Call, path: str, media_type: str, title: str) -> list[dict[str, Any]]:
    """``self`` and ``alternate`` of a document in both formats."""
    params = call.params("f")
    as_json = link(call.links.page(path, [*params, ("f", "json")]),
                   "alternate" if call.html else "self", media_type, title)
    as_html = link(call.links.page(path, [*params, ("f", "html")]),
                   "self" if call.html else "alternate", HTML, title)
    return [as_html, as_json] if call.html else [as_json, as_html]


def landing(call: Call) -> Answer:
    title = call.text(msg("allmende – offene Daten der Region als OGC API Features"))
    links = call.links
    body = {
        "title": title,
        "description": call.text(msg("Die Tabellen mit Geometrien als Sammlungen von "
                                     "Objekten, für GIS-Programme wie QGIS und GDAL.")),
        "links": [
            *_self_links(call, "/", JSON, title),
            link(links.url("/api", f="json"), "service-desc", openapi.MEDIA_TYPE,
                 "OpenAPI 3.0"),
            link(links.url("/api", f="html"), "service-doc", HTML, "OpenAPI 3.0"),
            link(links.url("/conformance", f="json"), "conformance", JSON),
            link(links.url("/conformance", f="json"),
                 "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON),
            link(links.url("/collections", f="json"), "data", JSON),
            link(links.url("/collections", f="json"),
                 "http://www.opengis.net/def/rel/ogc/1.0/data", JSON),
        ],
    }
    return Answer(body, template="ogc/landing.html", context={"doc": body})


def conformance(call: Call) -> Answer:
    body = {"conformsTo": CONFORMANCE}
    return Answer(body, template="ogc/conformance.html", context={"doc": body})


def api(call: Call) -> Answer:
    return Answer(openapi.document(call.links.url("").rstrip("/")), openapi.MEDIA_TYPE)


def collection_list(call: Call) -> Answer:
    found = collections.listing(call.session, call.actor, call.open, call.links)
    body = {"links": _self_links(call, "/collections", JSON, call.text(msg("Sammlungen"))),
            "collections": found, "crs": list(crs.SUPPORTED)}
    return Answer(body, template="ogc/collections.html", context={"doc": body})


def collection(call: Call, collection_id: str) -> Answer:
    found = collections.find(call.session, call.actor, collection_id)
    table = call.open(found.resource.id)
    temporal = collections.temporal_column(call.session, table.schema, found.resource)
    body = collections.document(found, collections.extent(table, temporal), call.links)
    return Answer(body, template="ogc/collection.html", context={
        "doc": body, "collection": found, "fields": table.fields, "temporal": temporal,
        "table": table})


def features(call: Call, collection_id: str) -> Answer:
    found = collections.find(call.session, call.actor, collection_id)
    table = call.open(found.resource.id)
    temporal = collections.temporal_column(call.session, table.schema, found.resource)
    asked = items.parse(call.params(), table.schema, temporal)
    page = table.numbered(asked.query, crs.code(asked.crs), crs_axis_order=True)
    path = f"/collections/{found.id}/items"
    fmt, media_type = ("html", HTML) if call.html else ("json", GEOJSON)
    links = [*_self_links(call, path, GEOJSON, found.title),
             link(call.links.url(f"/collections/{found.id}", f="json"), "collection", JSON,
                  found.title)]
    pages: dict[str, str] = {}
    for rel, offset in _neighbours(asked, page.total):
        params = [*call.params("f", "offset", "limit"), ("limit", str(asked.limit)),
                  ("offset", str(offset)), ("f", fmt)]
        links.append(link(call.links.page(path, params), rel, media_type))
        pages[rel] = LOCAL.page(path, params)
    body = {"type": "FeatureCollection",
            "features": items.features(page, table.schema.geometry,
                                       "json" if call.html else "fragment"),
            "numberMatched": page.total, "numberReturned": len(page.numbers),
            "timeStamp": _now(), "links": links}
    return Answer(body, GEOJSON, "ogc/items.html", {
        "doc": body, "collection": found, "asked": asked, "pages": pages,
        "columns": [c for c in table.fields if c.type != "geometry"],
        "map_url": LOCAL.page(path, [*call.params("f", "crs"), ("f", "json")])},
        {"Content-Crs": crs.header(asked.crs)})


def _neighbours(asked: items.ItemsRequest, total: int) -> list[tuple[str, int]]:
    """The ``prev`` and ``next`` pages' offsets, where there are such pages."""
    found = []
    if asked.offset > 0:
        found.append(("prev", max(asked.offset - asked.limit, 0)))
    if asked.offset + asked.limit < total:
        found.append(("next", asked.offset + asked.limit))
    return found


def feature(call: Call, collection_id: str, feature_id: str) -> Answer:
    found = collections.find(call.session, call.actor, collection_id)
    table = call.open(found.resource.id)
    answer_crs = items.crs_of(call.params())
    if not re.fullmatch(r"[0-9]{1,18}", feature_id):
        raise NotFound(msg("Das Objekt „{feature}“ gibt es in der Sammlung „{collection}“ "
                           "nicht; Objekte sind nach ihrer Zeile nummeriert (ab 1).",
                           feature=feature_id, collection=found.id), "feature_not_found")
    row = table.row(int(feature_id), crs.code(answer_crs), crs_axis_order=True)
    body = items.features(row, table.schema.geometry, "json" if call.html else "fragment")[0]
    path = f"/collections/{found.id}/items/{feature_id}"
    body["links"] = [*_self_links(call, path, GEOJSON, f"{found.title} #{feature_id}"),
                     link(call.links.url(f"/collections/{found.id}", f="json"),
                          "collection", JSON, found.title)]
    return Answer(body, GEOJSON, "ogc/item.html", {
        "doc": body, "collection": found,
        "columns": [c for c in table.fields if c.type != "geometry"],
        "map_url": LOCAL.page(path, [("f", "json")])},
        {"Content-Crs": crs.header(answer_crs)})


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
