"""Matches the search index does not keep: exact dataset names, phrases and words of the title.
Answered in SQL over the normalized terms stored beside each dataset (see
``catalog.indexing``), then handed to the index as the rows a search is narrowed to
(``SearchRequest.only_ids``), so visibility, facets and paging stay the index's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, literal, or_, select
from sqlalchemy.orm import Session

from allmende.catalog import text
from allmende.db.models import Dataset


def _holds(column: ColumnElement[str], phrase: list[str]) -> ColumnElement[bool]:
    """The column's space-separated terms contain the terms in this order, side by side
    (terms are [a-z0-9]+, so no LIKE wildcard can come from them)."""
    return (literal(" ") + column + literal(" ")).like(f"% {' '.join(phrase)} %")


def matching_ids(session: Session, names: Sequence[str] = (), phrases: Sequence[str] = (),
                 titles: Sequence[str] = ()) -> frozenset[int]:
    """Ids of the datasets with one of ``names`` (if any) that hold every phrase anywhere
    (title, keywords, description, organization, resources) and every title word or phrase
    in their title."""
    conditions: list[ColumnElement[bool]] = []
    if names:
        conditions.append(Dataset.name.in_(list(names)))
    for phrase in phrases:
        found = text.terms(phrase)
        if found:
            conditions.append(or_(_holds(Dataset.search_strong, found),
                                  _holds(Dataset.search_weak, found)))
    title_terms = [found for title in titles if (found := text.terms(title))]
    # Strong terms are the title's and the keywords': a cheap narrowing, checked below.
    conditions += [_holds(Dataset.search_strong, found) for found in title_terms]
    rows = session.execute(select(Dataset.id, Dataset.title).where(and_(*conditions)))
    return frozenset(i for i, title in rows if all(
        _in_order(found, text.terms(title)) for found in title_terms))


def _in_order(phrase: list[str], words: list[str]) -> bool:
    return f" {' '.join(phrase)} " in f" {' '.join(words)} "
