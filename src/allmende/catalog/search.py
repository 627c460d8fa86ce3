"""Dataset search with facets: parses a request, asks the index, loads the page of datasets."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende.access.policy import Actor, visibility
from allmende.catalog import text
from allmende.catalog.search_index import (
    FACETS,
    SORTS,
    IndexedDataset,
    Query,
    SearchIndex,
)
from allmende.catalog.vocabularies import ACCESS_LEVELS, LICENSES, THEMES, label
from allmende.db.models import CatalogState, Dataset, Organization, Resource
from allmende.db.session import Database
from allmende.errors import FieldError, Invalid, msg

MAX_PER_PAGE = 100
# Facets list their most frequent values; keywords alone can run into the thousands.
FACET_LIMIT = 50


@dataclass
class SearchRequest:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20

    def validate(self) -> None:
        errors = []
        if self.sort not in SORTS:
            errors.append(FieldError("sort", msg("Erlaubt: {allowed}.",
                                                 allowed=", ".join(SORTS))))
        if self.page < 1:
            errors.append(FieldError("page", msg("Die Seite zählt ab 1.")))
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            errors.append(FieldError("per_page", msg("Zwischen 1 und {limit}.",
                                                     limit=MAX_PER_PAGE)))
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


def search_datasets(session: Session, index: SearchIndex, actor: Actor,
                    request: SearchRequest, language: str = "de") -> SearchResult:
    request.validate()
    filters = {name: set(values) for name, values in request.filters.items() if values}
    hits = index.search(
        Query(terms=text.terms(request.q), filters=filters, sort=request.sort,
              offset=(request.page - 1) * request.per_page, limit=request.per_page),
        visibility(actor),
    )
    rows = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(hits.ids)))}
    return SearchResult(
        count=hits.total,
        datasets=[rows[i] for i in hits.ids if i in rows],
        facets=_labelled(hits.facets, index, language),
        page=request.page,
        per_page=request.per_page,
    )


def _labelled(counts: dict[str, dict[str, int]], index: SearchIndex,
              language: str) -> dict[str, list[FacetValue]]:
    """Facet values with their labels, most frequent first, at most FACET_LIMIT per facet."""
    labels: dict[str, Callable[[str], str]] = {
        "organization": index.organization_name,
        "theme": lambda v: label(THEMES, v, language),
        "license": lambda v: label(LICENSES, v, language),
        "access_level": lambda v: label(ACCESS_LEVELS, v, language),
    }
    result: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        counted = counts.get(facet, {})
        top = heapq.nsmallest(FACET_LIMIT, counted.items(), key=lambda item: (-item[1], item[0]))
        name = labels.get(facet, str)
        values = [FacetValue(value, name(value), count) for value, count in top]
        values.sort(key=lambda f: (-f.count, f.label.casefold()))
        result[facet] = values
    return result


def index_for(database: Database) -> SearchIndex:
    """The search index over a database's catalog."""

    def current_revision() -> int:
        with database.sessions() as session:
            return session.scalar(select(CatalogState.revision).where(CatalogState.id == 1)) or 0

    def load(after_revision: int) -> tuple[int, list[IndexedDataset]]:
        with database.sessions() as session:
            revision = session.scalar(select(CatalogState.revision).where(CatalogState.id == 1))
            rows = session.execute(
                select(Dataset.id, Dataset.organization_id, Organization.slug, Organization.name,
                       Dataset.access_level,
                       Dataset.license, Dataset.draft, Dataset.deleted_at, Dataset.modified_at,
                       Dataset.title, Dataset.themes, Dataset.keywords, Dataset.search_strong,
                       Dataset.search_weak)
                .join(Organization, Organization.id == Dataset.organization_id)
                .where(Dataset.revision > after_revision, Dataset.revision <= revision)
            ).all()
            formats: dict[int, set[str]] = defaultdict(set)
            resources = select(Resource.dataset_id, Resource.format).where(Resource.format != "")
            if after_revision >= 0:
                resources = resources.where(Resource.dataset_id.in_([r.id for r in rows]))
            for dataset_id, fmt in session.execute(resources):
                formats[dataset_id].add(fmt)
        docs = [
            IndexedDataset(
                id=r.id, organization_id=r.organization_id, organization=r.slug,
                organization_name=r.name, access_level=r.access_level,
                license=r.license, draft=r.draft, deleted=r.deleted_at is not None,
                modified=r.modified_at.timestamp(), title=r.title, themes=r.themes or [],
                formats=sorted(formats.get(r.id, ())), keywords=r.keywords or [],
                strong_terms=r.search_strong.split(), weak_terms=r.search_weak.split())
            for r in rows
        ]
        return revision or 0, docs

    return SearchIndex(load, current_revision)
