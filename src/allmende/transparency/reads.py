"""Reads of non-public rows in the transparency log: one ``access.rows`` event per answer (a
rows page, a download, a ``datastore_search``, an OGC API page, a web page), with how many
rows it held.

``tables.service.readable_version`` starts a :class:`Read` when the policy says the read is
logged (``access.policy.read_is_logged``); the table reader's methods report the rows of each
answer they make (:meth:`Read.delivered`). The event is appended when the session's
transaction commits: in the same transaction as the agreement's count
(``access.agreements.consume``), so the log and the count never disagree, and a request that
fails leaves neither. A download counts its rows before it streams, since its transaction
ends before the response is sent. ``rows`` stays null only if an interface did not report
(a mistake the tests look for).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from allmende.access.policy import Actor
from allmende.db.models import Dataset, Organization
from allmende.transparency import log

#: The session's reads not yet appended (``Session.info``).
PENDING = "allmende.transparency.reads"


class Interface(StrEnum):
    """Where the rows were read (``interface`` of ``access.rows``)."""

    ROWS = "rows"  # a page of the data API
    DOWNLOAD = "download"  # the data API's ``format=…``: the selection as a file
    DISTINCT = "distinct"
    AGGREGATE = "aggregate"
    DATASTORE = "datastore"  # CKAN's datastore_search
    OGC = "ogc"  # OGC API Features: a collection, its items or one item
    UI = "ui"  # the web pages' previews


class Read:
    """One logged access whose answer is being made: the rows it delivers add up."""

    __slots__ = ("event", "rows")

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.rows: int | None = None

    def delivered(self, rows: int) -> None:
        self.rows = rows if self.rows is None else self.rows + rows


def start(session: Session, actor: Actor, dataset: Dataset, resource_id: str, version: int,
          interface: Interface, agreement: str | None = None, purpose: str | None = None
          ) -> Read:
    """A read of the dataset's rows by ``actor``, appended to the log when ``session``
    commits. The reader appears as a pseudonym in the owner's organization, with the slugs of
    the organizations they belong to."""
    found: dict[str, Any] = {
        "type": "access.rows", "organization": dataset.organization.slug,
        "dataset": dataset.uuid, "resource": resource_id, "version": version,
        "interface": str(interface), "agreement": agreement, "purpose": purpose,
        "reader": None if actor.user_id is None else
        log.pseudonym(session, dataset.organization_id, actor.user_id),
        "reader_organization": _organizations(session, actor)}
    if actor.is_sysadmin:
        found["sysadmin"] = True
    read = Read(found)
    session.info.setdefault(PENDING, []).append(read)
    return read


def _organizations(session: Session, actor: Actor) -> list[str] | None:
    if not actor.roles:
        return None
    return sorted(session.scalars(select(Organization.slug)
                                  .where(Organization.id.in_(list(actor.roles)))))


@event.listens_for(Session, "before_commit")
def _append(session: Session) -> None:
    # a savepoint's release commits nothing yet: its reads wait for the whole transaction
    if session.in_nested_transaction():
        return
    reads = session.info.pop(PENDING, None)
    if reads:
        log.append_many(session, [{**read.event, "rows": read.rows} for read in reads])


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # a rolled-back read was not counted either: it is dropped with its transaction
    if transaction.parent is None:
        session.info.pop(PENDING, None)
