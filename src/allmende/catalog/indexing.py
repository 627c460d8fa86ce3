"""What search indexes read from a dataset row: its normalized terms and the catalog revision
of its last change. Every write that changes what a dataset is found by goes through here."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from allmende.catalog import text
from allmende.db.models import CatalogState, Dataset, Organization


def bump_revision(session: Session) -> int:
    """Advance the catalog revision inside the current transaction (a row lock on PostgreSQL
    until commit, so revisions become visible in the order they were taken)."""
    return session.execute(
        update(CatalogState).where(CatalogState.id == 1)
        .values(revision=CatalogState.revision + 1).returning(CatalogState.revision)
    ).scalar_one()


def search_terms(title: str, keywords: list[str], description: str,
                 organization: Organization, resources: list[str]) -> tuple[str, str]:
    """The normalized terms a dataset is found by: strong (title, keywords) and weak."""
    strong = [title, *keywords]
    weak = [description, organization.name, organization.slug, *resources]
    return " ".join(text.terms(" ".join(strong))), " ".join(text.terms(" ".join(weak)))


def reindex(session: Session, dataset: Dataset) -> None:
    """Recompute the dataset's search terms and give it a new revision."""
    dataset.revision = bump_revision(session)
    dataset.search_strong, dataset.search_weak = search_terms(
        dataset.title, dataset.keywords, dataset.description, dataset.organization,
        [f"{r.name} {r.format}" for r in dataset.resources])
