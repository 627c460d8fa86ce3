"""Dataset search with facets: parses a request, asks the index, loads the page of datasets."""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, tuple_
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from allmende.access.policy import Actor, visibility
from allmende.catalog import text
from allmende.catalog.search_index import (
    CHUNK,
    FACETS,
    SORTS,
    IndexedDataset,
    Query,
    SearchIndex,
)
from allmende.catalog.search_snapshot import SnapshotStore
from allmende.catalog.vocabularies import ACCESS_LEVELS, LICENSES, THEMES, label
from allmende.db.models import CatalogState, Dataset, Organization, Resource
from allmende.db.session import Database
from allmende.errors import FieldError, Invalid, msg

MAX_PER_PAGE = 100
# Facets list their most frequent values; keywords alone can run into the thousands.
FACET_LIMIT = 50
ALL_FACET_VALUES = 1 << 30


@dataclass
class SearchRequest:
    """``sort="id"`` orders by the datasets' stable UUIDs. Interfaces with their own paging
    (CKAN) give ``start`` (an offset, instead of ``page``), their own ``max_per_page``, and
    narrow the search to datasets changed since a moment (``modified_since``) or to rows they
    matched otherwise (``only_ids``: database ids)."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    start: int | None = None
    max_per_page: int = MAX_PER_PAGE
    modified_since: dt.datetime | None = None
    only_ids: frozenset[int] | None = None
    facet_limit: int = FACET_LIMIT  # values per facet, the most frequent; negative: all

    @property
    def offset(self) -> int:
        return self.start if self.start is not None else (self.page - 1) * self.per_page

    def validate(self) -> None:
        errors = []
        if self.sort not in SORTS:
            errors.append(FieldError("sort", msg("Erlaubt: {allowed}.",
                                                 allowed=", ".join(SORTS))))
        if self.page < 1:
            errors.append(FieldError("page", msg("Die Seite zählt ab 1.")))
        if self.start is not None and self.start < 0:
            errors.append(FieldError("start", msg("Der Versatz zählt ab 0.")))
        if not 1 <= self.per_page <= self.max_per_page:
            errors.append(FieldError("per_page", msg("Zwischen 1 und {limit}.",
                                                     limit=self.max_per_page)))
        errors += [FieldError(f, msg("Unbekannte Facette.")) for f in self.filters
                   if f not in FACETS]
        if errors:
            raise Invalid(field_errors=errors)


@dataclass
class FacetValue:
    value: str
    label: str
    count: int


@dataclass
class SearchResult:
    count: int
    datasets: list[Dataset]
    facets: dict[str, list[FacetValue]]
    page: int
    per_page: int
    ids: list[int] = field(default_factory=list)  # the page's dataset ids, in order


def search_datasets(session: Session, index: SearchIndex, actor: Actor,
                    request: SearchRequest, language: str = "de",
                    load_rows: bool = True) -> SearchResult:
    """``load_rows=False``: the page's ids only, for callers that read the rows themselves
    (catalog records)."""
    request.validate()
    filters = {name: set(values) for name, values in request.filters.items() if values}
    facet_limit = request.facet_limit if request.facet_limit >= 0 else ALL_FACET_VALUES
    hits = index.search(
        Query(terms=text.terms(request.q), filters=filters, sort=request.sort,
              offset=request.offset, limit=request.per_page, facet_limit=facet_limit,
              modified_since=request.modified_since.timestamp()
              if request.modified_since else None, only_ids=request.only_ids),
        visibility(actor),
    )
    rows = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(hits.ids)))
            } if load_rows else {}
    return SearchResult(
        count=hits.total, ids=hits.ids,
        datasets=[rows[i] for i in hits.ids if i in rows],
        facets=_labelled(hits.facets, index, language, facet_limit),
        page=request.page,
        per_page=request.per_page,
    )


def _facet_labels(index: SearchIndex, language: str) -> dict[str, Callable[[str], str]]:
    """How the values of each facet are named (a facet not listed: by the value itself)."""
    return {
        "organization": index.organization_name,
        "theme": lambda v: label(THEMES, v, language),
        "license": lambda v: label(LICENSES, v, language),
        "access_level": lambda v: label(ACCESS_LEVELS, v, language),
    }


def facet_label(index: SearchIndex, facet: str, value: str, language: str) -> str:
    """What a facet value is called (an organization's name, a category's title), also when
    it is not among a result's facets (no dataset matches, or not among the most frequent)."""
    return _facet_labels(index, language).get(facet, str)(value)


def _labelled(counts: dict[str, dict[str, int]], index: SearchIndex,
              language: str, limit: int) -> dict[str, list[FacetValue]]:
    """Facet values with their labels, most frequent first, at most ``limit`` per facet."""
    labels = _facet_labels(index, language)
    result: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        counted = counts.get(facet, {})
        top = heapq.nsmallest(limit, counted.items(), key=lambda item: (-item[1], item[0]))
        name = labels.get(facet, str)
        values = [FacetValue(value, name(value), count) for value, count in top]
        values.sort(key=lambda f: (-f.count, f.label.casefold()))
        result[facet] = values
    return result


def index_for(database: Database, snapshot_dir: Path | None = None,
              snapshot_min_rows: int = 0) -> SearchIndex:
    """The search index over a database's catalog; its base is kept as snapshots in
    ``snapshot_dir`` (``DATA_DIR/search``) when given and the catalog holds at least
    ``snapshot_min_rows`` datasets."""

    revision_query = select(CatalogState.revision).where(CatalogState.id == 1)

    def current_revision() -> int:  # before every search: a plain connection, no ORM session
        with database.engine.connect() as connection:
            return connection.execute(revision_query).scalar() or 0

    def load(after_revision: int) -> tuple[int, Iterator[IndexedDataset]]:
        revision = current_revision()
        return revision, _datasets(database, after_revision, revision)

    def fingerprint() -> str:
        """The database's identity: its address and when its first dataset was made."""
        with database.sessions() as session:
            first = session.scalar(select(Dataset.created_at).order_by(Dataset.id).limit(1))
        address = make_url(str(database.engine.url)).render_as_string(hide_password=True)
        return f"{address} {first.isoformat() if first else '-'}"

    snapshots = SnapshotStore(snapshot_dir, fingerprint) if snapshot_dir else None
    return SearchIndex(load, current_revision, snapshots=snapshots,
                       snapshot_min_rows=snapshot_min_rows)


def _datasets(database: Database, after: int, upto: int) -> Iterator[IndexedDataset]:
    """Datasets whose revision is in (after, upto], read in chunks of short transactions (a
    whole catalog never sits in memory as rows): the whole catalog along the primary key, a
    catch-up along the revision index."""
    order = (Dataset.id,) if after < 0 else (Dataset.revision, Dataset.id)
    last: tuple[int, ...] | None = None
    while True:
        query = (
            select(Dataset.id, Dataset.uuid, Dataset.organization_id, Organization.slug,
                   Organization.name,
                   Dataset.access_level, Dataset.license, Dataset.draft, Dataset.deleted_at,
                   Dataset.modified_at, Dataset.title, Dataset.themes, Dataset.keywords,
                   Dataset.search_strong, Dataset.search_weak, Dataset.revision)
            .join(Organization, Organization.id == Dataset.organization_id)
            .where(Dataset.revision > after, Dataset.revision <= upto)
            .order_by(*order).limit(CHUNK))
        if last is not None:
            query = query.where(tuple_(*order) > tuple_(*last))
        with database.sessions() as session:
            rows = session.execute(query).all()
            if not rows:
                return
            formats: dict[int, set[str]] = defaultdict(set)
            for dataset_id, fmt in session.execute(
                    select(Resource.dataset_id, Resource.format)
                    .where(Resource.dataset_id.in_([r.id for r in rows]), Resource.format != "")):
                formats[dataset_id].add(fmt)
        last = (rows[-1].id,) if after < 0 else (rows[-1].revision, rows[-1].id)
        yield from (
            IndexedDataset(
                id=r.id, uuid=r.uuid, organization_id=r.organization_id, organization=r.slug,
                organization_name=r.name, access_level=r.access_level,
                license=r.license, draft=r.draft, deleted=r.deleted_at is not None,
                modified=r.modified_at.timestamp(), title=r.title, themes=r.themes or [],
                formats=sorted(formats.get(r.id, ())), keywords=r.keywords or [],
                strong_terms=r.search_strong.split(), weak_terms=r.search_weak.split(),
                revision=r.revision)
            for r in rows
        )
