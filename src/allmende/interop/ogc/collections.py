"""Which tables are collections, under which ids, and what a collection says about itself.

One collection per table with a geometry column (its latest version): ``{dataset}`` when the
dataset has one such table, ``{dataset}.{resource-name-slug}`` otherwise (CONTRACT.md);
regional datasets are datasets like any other. The long form is accepted for a dataset with
one table too, so a link written with it keeps working. A collection exists for whoever sees
its dataset; reading its features asks the policy again (restricted rows need a role).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende.access.policy import Actor, read_is_logged
from allmende.catalog.records import (
    DatasetRecord,
    ResourceRecord,
    dataset_record,
    readable_tables,
)
from allmende.catalog.text import fold
from allmende.db.models import Dataset
from allmende.errors import AllmendeError, NotFound, msg
from allmende.harmonize.service import declared_temporal
from allmende.interop.ogc import crs
from allmende.interop.ogc.links import OgcLinks, link
from allmende.tables.reader import TableReader
from allmende.tables.schema import Column, TableSchema

TEMPORAL_TYPES = ("date", "datetime")
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Collection:
    id: str
    dataset: DatasetRecord
    resource: ResourceRecord
    long_id: str  # {dataset}.{resource-name-slug}, also for a dataset's only table

    @property
    def title(self) -> str:
        geo = _geo_resources(self.dataset)
        return self.dataset.title if len(geo) == 1 else \
            f"{self.dataset.title}: {self.resource.name}"


def slug(name: str) -> str:
    """A resource name as it appears in collection ids: folded (ä → ae), lower case, runs
    of anything but letters and digits as one ``-``."""
    return _NOT_SLUG.sub("-", fold(name)).strip("-")[:100] or "tabelle"


def _geo_resources(dataset: DatasetRecord) -> list[ResourceRecord]:
    return [r for r in dataset.resources if r.table is not None and r.table.geometry]


def collection_ids(dataset_name: str, tables: Sequence[tuple[str, str]]
                   ) -> dict[str, tuple[str, str]]:
    """Resource id → (collection id, long id) for a dataset's tables with geometries, given
    as (resource id, resource name) in the order of its resources. Two names with the same
    slug are told apart by ``-2``, ``-3``, … in that order."""
    found: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    for resource_id, resource_name in tables:
        base = slug(resource_name)
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base}-{number}"
        taken.add(name)
        long_id = f"{dataset_name}.{name}"
        found[resource_id] = (dataset_name if len(tables) == 1 else long_id, long_id)
    return found


def of_dataset(dataset: DatasetRecord) -> list[Collection]:
    """The collections of a dataset, in the order of its resources."""
    geo = _geo_resources(dataset)
    ids = collection_ids(dataset.name, [(r.id, r.name) for r in geo])
    return [Collection(ids[r.id][0], dataset, r, ids[r.id][1]) for r in geo]


def visible(session: Session, actor: Actor) -> list[Collection]:
    """The collections whose features the actor may read, by dataset name."""
    datasets: dict[str, DatasetRecord] = {}
    for dataset, _ in readable_tables(session, actor, geometry=True):
        datasets.setdefault(dataset.name, dataset)
    return [c for dataset in datasets.values() for c in of_dataset(dataset)]


def find(session: Session, actor: Actor, collection_id: str) -> Collection:
    """The collection ``collection_id`` of a dataset the actor sees; 404 otherwise."""
    name = collection_id.partition(".")[0]
    try:
        dataset = dataset_record(session, actor, name)
    except NotFound:
        dataset = None
    for collection in of_dataset(dataset) if dataset and dataset.name == name else ():
        if collection_id in (collection.id, collection.long_id):
            return collection
    raise NotFound(msg("Die Sammlung „{collection}“ gibt es nicht.",
                       collection=collection_id), "collection_not_found")


def temporal_column(session: Session, schema: TableSchema,
                    resource: ResourceRecord) -> Column | None:
    """The column ``datetime`` filters on: the one a regional table's schema declares, else
    the table's first date or date-time column."""
    declared = declared_temporal(session, resource.id) if resource.derived else None
    candidates = [c for c in schema.columns if c.type in TEMPORAL_TYPES]
    return next((c for c in candidates if c.name == declared), None) or \
        next(iter(candidates), None)


def document(collection: Collection, extent: dict[str, Any], links: OgcLinks
             ) -> dict[str, Any]:
    """The collection as OGC API describes it (``/collections/{id}``), with the
    :func:`extent` of its table."""
    path = f"/collections/{collection.id}"
    body: dict[str, Any] = {
        "id": collection.id, "title": collection.title,
        "description": collection.dataset.description,
        "keywords": list(collection.dataset.keywords),
        "links": [
            link(links.url(path, f="json"), "self", "application/json", collection.title),
            link(links.url(path, f="html"), "alternate", "text/html", collection.title),
            link(links.url(f"{path}/items", f="json"), "items", "application/geo+json",
                 collection.title),
            link(links.url(f"{path}/items", f="html"), "items", "text/html",
                 collection.title),
            link(links.site.dataset_page(collection.dataset.name), "describedby", "text/html",
                 collection.dataset.title),
            link(links.site.download(collection.resource.id, "geojson"), "enclosure",
                 "application/geo+json", collection.resource.name),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": list(crs.SUPPORTED),
        "storageCrs": crs.CRS84,
    }
    return body


def extent(table: TableReader, temporal: Column | None) -> dict[str, Any]:
    """Where and when the table's features (those the reader may read) lie."""
    extent: dict[str, Any] = {}
    box = table.extent()
    if box is not None:
        extent["spatial"] = {"bbox": [list(box)], "crs": crs.CRS84}
    if temporal is not None:
        low, high = table.value_range(temporal.name)
        extent["temporal"] = {"interval": [[_instant(low), _instant(high)]], "trs": GREGORIAN}
    return extent


def _instant(value: str | None) -> str | None:
    """An extent's end as RFC 3339: dates at midnight, values without offset as UTC (as the
    ``datetime`` filter takes them)."""
    if value is None:
        return None
    if len(value) == 10:
        return f"{value}T00:00:00Z"
    return value if value.endswith("Z") or "+" in value[10:] else f"{value}Z"


def listing(session: Session, actor: Actor, open_reader: Callable[[str], TableReader],
            links: OgcLinks) -> list[dict[str, Any]]:
    """The documents of every collection the actor may read; a collection whose table
    cannot be opened right now (a regional version withheld) is left out.

    Listing is no read of rows: a collection whose reads are logged (non-public rows of
    another organization: an agreement's, a ``members`` dataset's) is listed without the
    extent only its rows could tell, so that a GIS client fetching the list uses up no access
    of an agreement and writes nothing to the transparency log."""
    found = visible(session, actor)
    logged = _logged_reads(session, actor, {c.dataset.uuid for c in found})
    documents = []
    for collection in found:
        if collection.dataset.uuid in logged:
            documents.append(document(collection, {}, links))
            continue
        try:
            table = open_reader(collection.resource.id)
        except AllmendeError:
            continue
        temporal = temporal_column(session, table.schema, collection.resource)
        documents.append(document(collection, extent(table, temporal), links))
    return documents


def _logged_reads(session: Session, actor: Actor, uuids: set[str]) -> set[str]:
    """Those of the datasets whose reads by the actor go into the transparency log."""
    rows = session.execute(select(Dataset.uuid, Dataset.organization_id, Dataset.access_level,
                                  Dataset.draft, Dataset.deleted_at)
                           .where(Dataset.uuid.in_(uuids))) if uuids else []
    return {row.uuid for row in rows if read_is_logged(actor, row)}
