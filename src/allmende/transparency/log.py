"""The log itself: appending events, pseudonyms, and reading entries and proofs.

Appends take the row of ``log_state`` with one ``UPDATE … RETURNING`` (PostgreSQL locks it
until the caller's transaction ends, SQLite takes its write lock), so concurrent writers get
consecutive indexes in commit order, without gaps or duplicates; a transaction that rolls
back takes its entries with it. Each append stores the leaf, the hashes of the subtrees it
completes (one or two on average) and the new frontier: the root is always at hand and any
proof is one query of a few dozen stored hashes. On PostgreSQL a single event is appended by
one call of the server-side function ``allmende_log_append`` (migration 0014: the same steps
and hashing), so that the row is held only while the server works, not across round trips
and client work: that holding time bounds the log's throughput.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785
from sqlalchemy import bindparam, delete, insert, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from allmende.access.policy import Actor, visibility
from allmende.db.models import Dataset, LogEntry, LogNode, LogState, PseudonymKey
from allmende.errors import BadRequest, Invalid, msg
from allmende.transparency import merkle

#: How many entries one request for a range may ask for.
MAX_ENTRIES = 1000
STATE_ID = 1


_STATE = LogState.__table__
_TAKE = (update(_STATE).where(_STATE.c.id == STATE_ID)
         .values(size=_STATE.c.size + bindparam("count"))
         .returning(_STATE.c.size, _STATE.c.frontier))
_FRONTIER = update(_STATE).where(_STATE.c.id == STATE_ID).values(frontier=bindparam("frontier"))
_ENTRIES = insert(LogEntry.__table__)
#: One append as one call on PostgreSQL (migration 0014: the same steps and hashing as below,
#: on the server, so that the log's row is held only while the server works)
_APPEND_ON_SERVER = text(
    "SELECT allmende_log_append(:leaf, :type, :organization, :dataset, :created)")
_NODES = insert(LogNode.__table__)


@dataclass(frozen=True)
class Entry:
    index: int
    leaf: bytes  # the exact bytes hashed as the leaf
    created: dt.datetime

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.leaf)


@dataclass(frozen=True)
class Tree:
    size: int
    root: bytes


# --- appending ---------------------------------------------------------------------------

def leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """The event as RFC 8785 canonical JSON (what is hashed and served as the leaf)."""
    if not isinstance(event, Mapping):
        raise Invalid(msg("Ein Protokolleintrag muss ein JSON-Objekt sein."))
    kind = event.get("type")
    if not isinstance(kind, str) or not 0 < len(kind) <= 100:
        raise Invalid(msg("Ein Protokolleintrag braucht eine Art („type“, höchstens 100 "
                          "Zeichen)."))
    for key, limit in (("organization", 100), ("dataset", 36)):
        value = event.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise Invalid(msg("„{key}“ eines Protokolleintrags muss Text mit höchstens "
                              "{limit} Zeichen sein.", key=key, limit=limit))
    try:
        return rfc8785.dumps(dict(event))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        raise Invalid(msg("Der Protokolleintrag „{kind}“ ist kein kanonisierbares JSON: "
                          "{problem}", kind=kind, problem=str(error))) from None


def append(session: Session, event: Mapping[str, Any]) -> int:
    """Append one event in the caller's transaction and return its index. A ``"time"`` (UTC,
    to the second) is added unless the event has one: it is part of what the log proves."""
    return append_many(session, [event])[0]


def append_many(session: Session, events: Sequence[Mapping[str, Any]]) -> list[int]:
    """Append ``events`` in this order, under one lock; their indexes."""
    if not events:
        return []
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    leaves = [leaf_bytes({"time": stamp, **event}) for event in events]
    # Core statements built once, on the session's connection: the ORM's per-statement work
    # cost more than the database (measured: 2.6 ms of an append's 3.5 ms on SQLite).
    connection = session.connection()
    if len(leaves) == 1 and connection.dialect.name == "postgresql":
        return [connection.execute(_APPEND_ON_SERVER, {
            "leaf": leaves[0], "type": events[0]["type"],
            "organization": events[0].get("organization"),
            "dataset": events[0].get("dataset"), "created": now}).scalar_one()]
    size, packed = connection.execute(_TAKE, {"count": len(leaves)}).one()
    first = size - len(leaves)
    frontier, nodes = merkle.unpack(packed), []
    for offset, leaf in enumerate(leaves):
        frontier, made = merkle.push(frontier, first + offset, leaf)
        nodes.extend(made)
    connection.execute(_ENTRIES, [
        {"index": first + offset, "leaf": leaf, "type": event["type"],
         "organization": event.get("organization"), "dataset": event.get("dataset"),
         "created": now}
        for offset, (leaf, event) in enumerate(zip(leaves, events, strict=True))])
    connection.execute(_NODES, [{"id": n, "hash": h} for n, h in nodes])
    connection.execute(_FRONTIER, {"frontier": merkle.pack(frontier)})
    return list(range(first, size))


# --- pseudonyms ----------------------------------------------------------------------------

def pseudonym(session: Session, organization_id: int, user_id: int) -> str:
    """The user's pseudonym within the organization: a keyed hash (HMAC-SHA256, 128 bits in
    hex) with the organization's own key, made on first use. The same user gets the same
    pseudonym until the key is erased."""
    key = _pseudonym_key(session, organization_id)
    return hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def erase_pseudonym_key(session: Session, organization_id: int) -> bool:
    """Erase the organization's key: the pseudonyms made with it can no longer be linked to
    anyone (later ones use a new key). Whether there was a key."""
    result = session.execute(delete(PseudonymKey)
                             .where(PseudonymKey.organization_id == organization_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


#: The organization's key; built once (every logged read asks, building cost more than asking)
_KEY = select(PseudonymKey.key).where(PseudonymKey.organization_id == bindparam("organization"))


def _pseudonym_key(session: Session, organization_id: int) -> bytes:
    key = session.scalar(_KEY, {"organization": organization_id})
    if key is not None:
        return key
    try:
        with session.begin_nested():  # another transaction may make it at the same time
            session.add(PseudonymKey(organization_id=organization_id,
                                     key=secrets.token_bytes(32)))
    except IntegrityError:
        pass
    return session.scalars(_KEY, {"organization": organization_id}).one()


# --- reading ---------------------------------------------------------------------------------

def tree(session: Session) -> Tree:
    """The current size and root (including appends of the caller's transaction)."""
    size, packed = session.execute(select(LogState.size, LogState.frontier)
                                   .where(LogState.id == STATE_ID)).one()
    return Tree(size, merkle.frontier_root(merkle.unpack(packed)))


def entries(session: Session, start: int, end: int) -> list[Entry]:
    """The entries ``start`` to ``end`` (exclusive), at most MAX_ENTRIES and not beyond the
    tree; a range outside the tree is refused with the reason."""
    size = tree(session).size
    if start < 0 or end <= start:
        raise BadRequest(msg("Ungültiger Bereich: start ({start}) muss mindestens 0 und "
                             "kleiner als end ({end}) sein.", start=start, end=end),
                         "bad_range")
    if start >= size:
        raise BadRequest(msg("Ungültiger Bereich: Das Protokoll hat {size} Einträge, start "
                             "({start}) liegt dahinter.", size=size, start=start), "bad_range")
    end = min(end, size, start + MAX_ENTRIES)
    rows = session.execute(select(LogEntry.index, LogEntry.leaf, LogEntry.created)
                           .where(LogEntry.index >= start, LogEntry.index < end)
                           .order_by(LogEntry.index))
    return [Entry(index, bytes(leaf), created) for index, leaf, created in rows]


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    _check_size(session, tree_size)
    if not 0 <= index < tree_size:
        raise BadRequest(msg("Ungültiger Index: {index} liegt nicht im Baum der Größe "
                             "{size} (0 bis {last}).", index=index, size=tree_size,
                             last=tree_size - 1), "bad_index")
    return merkle.hashes_of(merkle.inclusion_ranges(index, tree_size), _nodes(session))


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    _check_size(session, second)
    if not 0 < first <= second:
        raise BadRequest(msg("Ungültige Größen: first ({first}) muss mindestens 1 und "
                             "höchstens second ({second}) sein.", first=first, second=second),
                         "bad_range")
    return merkle.hashes_of(merkle.consistency_ranges(first, second), _nodes(session))


def _check_size(session: Session, tree_size: int) -> None:
    size = tree(session).size
    if not 0 < tree_size <= size:
        raise BadRequest(msg("Ungültige Baumgröße {tree_size}: Das Protokoll hat {size} "
                             "Einträge.", tree_size=tree_size, size=size), "bad_tree_size")


def _nodes(session: Session) -> Callable[[list[int]], dict[int, bytes]]:
    def lookup(ids: list[int]) -> dict[int, bytes]:
        rows = session.execute(select(LogNode.id, LogNode.hash).where(LogNode.id.in_(ids)))
        found = {node: bytes(value) for node, value in rows}
        if len(found) != len(ids):  # a stored hash is gone: the log is damaged, say so
            raise RuntimeError(f"log nodes missing: {sorted(set(ids) - set(found))}")
        return found
    return lookup


# --- the public pages ----------------------------------------------------------------------

@dataclass(frozen=True)
class Listed:
    """A dataset an event names, as the reader may see it."""

    name: str
    title: str


@dataclass(frozen=True)
class Events:
    entries: list[Entry]
    datasets: dict[str, Listed]  # by UUID
    before: int | None  # where the next older page starts; None: no older events


def events_of(session: Session, actor: Actor, *, organization: str | None = None,
              dataset: str | None = None, before: int | None = None, limit: int = 50
              ) -> Events:
    """The newest events of an organization (its slug), a dataset (its UUID) or, without
    either, of the whole log, before index ``before``, leaving out events of datasets whose
    metadata ``actor`` may not see."""
    scope = visibility(actor)
    condition = (LogEntry.dataset == dataset if dataset is not None
                 else LogEntry.organization == organization if organization is not None
                 else true())
    found: list[Entry] = []
    datasets: dict[str, Listed] = {}
    more = True
    while len(found) < limit and more:
        query = select(LogEntry.index, LogEntry.leaf, LogEntry.created, LogEntry.dataset) \
            .where(condition).order_by(LogEntry.index.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(LogEntry.index < before)
        rows = session.execute(query).all()
        more = len(rows) > limit
        datasets.update(_visible_datasets(session, scope,
                                          {r.dataset for r in rows if r.dataset}))
        for row in rows[:limit]:
            before = row.index
            if row.dataset is None or row.dataset in datasets:
                found.append(Entry(row.index, bytes(row.leaf), row.created))
                if len(found) == limit:
                    break
    return Events(found, datasets, before if more or len(found) == limit else None)


def _visible_datasets(session: Session, scope: Any, uuids: set[str]) -> dict[str, Listed]:
    if not uuids:
        return {}
    rows = session.scalars(select(Dataset).where(Dataset.uuid.in_(uuids)))
    return {d.uuid: Listed(d.name, d.title) for d in rows if scope.sees(d)}
