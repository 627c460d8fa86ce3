"""The search index over the catalog, derived from the metadata database.

Why not SQLite FTS5 / PostgreSQL full-text alone: measured on 100,000 datasets, FTS5 needs
28-37 ms just to rank a broad query (10,000 hits) and 100-200 ms for its facet counts in SQL.
Here the database stays the source of truth (each dataset row carries its normalized search
terms and a catalog revision); every process keeps numpy postings and facet columns derived
from those rows and catches up with every committed change by reading the rows above the
revision it has seen. Results are identical on SQLite and PostgreSQL by construction.

The index is log-structured: a large immutable base segment (mapped from a snapshot in the data
directory when there is one) and a small overlay segment holding every dataset changed since
the base's revision. Each change is built into a tiny segment and merged into the overlay; when
the overlay outgrows its limit it is merged into a new base in the background, from the two
segments alone - the catalog is never read again as a whole. Every segment codes its facet
values and terms itself (``search_segment``), so nothing mutable is shared between the
background merge and ``refresh()``. How it was decided: docs/search.md.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from allmende.access.policy import Visibility
from allmende.catalog import search_segment
from allmende.catalog.search_segment import (
    FACETS,
    STRONG_WEIGHT,
    WEAK_WEIGHT,
    Builder,
    IndexedDataset,
    Segment,
    empty_segment,
    gather_csr,
    merge,
    rekey_titles,
)
from allmende.catalog.search_snapshot import SnapshotStore

__all__ = ["FACETS", "SORTS", "Hits", "IndexedDataset", "Query", "SearchIndex"]

SORTS = ("relevance", "modified", "title", "id")
CHUNK = 5_000  # datasets read and added to a build at a time
# A result holding at least this share of a large segment is handled with dense masks:
# top results by walking a precomputed order, facet counts with bitmaps.
DENSE_RESULT = 1 / 32
MAX_CODED_TERMS = 16  # up to this many query words, relevance levels come from a code table
log = logging.getLogger(__name__)


@dataclass
class Query:
    terms: list[str] = field(default_factory=list)
    filters: dict[str, set[str]] = field(default_factory=dict)
    sort: str = "relevance"
    offset: int = 0
    limit: int = 20
    facet_limit: int = 50  # the most frequent values per facet, ties by value
    modified_since: float | None = None  # a timestamp: changed at or after it
    only_ids: frozenset[int] | None = None  # restricted to these datasets


@dataclass
class Hits:
    total: int
    ids: list[int]
    facets: dict[str, dict[str, int]]


Loader = Callable[[int], tuple[int, Iterable[IndexedDataset]]]


@dataclass(frozen=True)
class _State:
    """One consistent view of the index, swapped as a whole so readers never see a mix."""

    revision: int  # every change up to here is in the index
    base: Segment
    base_revision: int
    live: np.ndarray  # per base row: not replaced by a later change
    overlay: Segment
    changed_ids: np.ndarray  # every dataset changed after base_revision (deletions too) ...
    changed_revisions: np.ndarray  # ... and the revision of its last change

    @functools.cached_property
    def replaced(self) -> int:
        """Base rows masked by later changes."""
        return self.base.size - int(np.count_nonzero(self.live))

    @classmethod
    def of(cls, base: Segment, revision: int) -> _State:
        none = np.zeros(0, dtype=np.int64)
        return cls(revision, base, revision, np.ones(base.size, dtype=bool), empty_segment(),
                   none, none)

    def with_changes(self, revision: int, docs: list[IndexedDataset]) -> _State:
        docs = sorted(docs, key=lambda d: d.id)
        builder = Builder()
        builder.add(docs)
        changes = builder.build(self.base)
        ids = np.fromiter((d.id for d in docs), np.int64, len(docs))
        revisions = np.fromiter((d.revision for d in docs), np.int64, len(docs))
        overlay = merge(self.overlay, ~np.isin(self.overlay.ids, ids), changes, base=self.base)
        live = self.live.copy()
        live[self.base.positions(ids)] = False
        earlier = ~np.isin(self.changed_ids, ids)
        changed_ids = np.concatenate([self.changed_ids[earlier], ids])
        order = np.argsort(changed_ids, kind="stable")
        changed_revisions = np.concatenate([self.changed_revisions[earlier], revisions])
        return replace(self, revision=revision, live=live, overlay=overlay,
                       changed_ids=changed_ids[order], changed_revisions=changed_revisions[order])

    def rebased(self, base: Segment, base_revision: int) -> _State:
        """This state on a new base covering every change up to ``base_revision``."""
        later = self.changed_revisions > base_revision
        ids = self.changed_ids[later]
        overlay = merge(self.overlay, self.overlay.arrays["revisions"] > base_revision,
                        empty_segment(), base=base)
        live = np.ones(base.size, dtype=bool)
        live[base.positions(ids)] = False
        return _State(max(self.revision, base_revision), base, base_revision, live,
                      rekey_titles(overlay, base), ids, self.changed_revisions[later])


class SearchIndex:
    """The live index of one database.

    ``loader(after_revision)`` returns the catalog's current revision and every dataset whose
    revision is above ``after_revision`` (all of them for -1, read lazily in chunks);
    ``current_revision()`` is the cheap check done before every search. ``snapshots`` (if
    given) is where the base is saved and mapped from, once it holds ``snapshot_min_rows``
    datasets: a smaller one is built from the catalog in less time than its files take to
    write and map.
    """

    def __init__(self, loader: Loader, current_revision: Callable[[], int],
                 overlay_limit: int | None = None,
                 snapshots: SnapshotStore | None = None, snapshot_min_rows: int = 0) -> None:
        self._loader = loader
        self._current_revision = current_revision
        self._overlay_limit = overlay_limit
        self._snapshots = snapshots
        self._snapshot_min_rows = snapshot_min_rows
        self._lock = threading.Lock()
        self._background = threading.Lock()  # one background task at a time
        self._merging = threading.Lock()  # one merge at a time
        self._state: _State | None = None
        self.merges = 0  # bases built from a base and its overlay (not from the catalog)

    # --- keeping up with the catalog ---------------------------------------------------------

    def refresh(self) -> None:
        """Catch up with every committed change."""
        state = self._state
        if state is not None:
            if self._snapshots and self._snapshots.newest_revision() > state.base_revision:
                self._in_background(self._adopt_snapshot)
            if self._current_revision() == state.revision:
                return
        with self._lock:
            if self._state is None:
                self._state = self._initial()
            state = self._state
            if self._current_revision() != state.revision:
                revision, changed = self._loader(state.revision)
                changed = list(changed)
                if changed:
                    state = state.with_changes(revision, changed)
                elif revision > state.revision:
                    state = replace(state, revision=revision)
                self._state = state
        if len(state.changed_ids) > self._limit(state):
            self._in_background(self.compact)

    def _limit(self, state: _State) -> int:
        if self._overlay_limit is not None:
            return self._overlay_limit
        return max(2000, state.base.size // 100)

    def _initial(self) -> _State:
        """The first state: the newest snapshot, else a build from the whole catalog (one
        process at a time builds; the others then find its snapshot)."""
        if self._snapshots is None:
            return _State.of(*self._build())
        snapshot = self._snapshots.load()
        if snapshot is None:
            with self._snapshots.writer(blocking=True) as writer:
                snapshot = self._snapshots.load()
                if snapshot is None:
                    base, revision = self._build()
                    if not writer or base.size < self._snapshot_min_rows:
                        return _State.of(base, revision)
                    snapshot = self._snapshots.save(base, revision)
        return _State.of(snapshot.segment, snapshot.revision)

    def _build(self) -> tuple[Segment, int]:
        revision, docs = self._loader(-1)
        builder = Builder()
        docs = iter(docs)
        while chunk := list(itertools.islice(docs, CHUNK)):
            builder.add(chunk)
        return builder.build(), revision

    def _in_background(self, task: Callable[[], None]) -> None:
        if not self._background.acquire(blocking=False):
            return

        def run() -> None:
            try:
                task()
            except Exception:
                log.exception("search index: %s failed", task.__name__)
            finally:
                self._background.release()

        threading.Thread(target=run, name="search-index", daemon=True).start()

    def compact(self) -> bool:
        """Merge the overlay into a new base now and publish it as the newest snapshot (done
        in the background when the overlay outgrows its limit). Only the process holding the
        snapshot writer lock merges; the others adopt its snapshot. True if this one merged."""
        self.refresh()
        writing = self._snapshots.writer(blocking=False) if self._snapshots else _alone()
        with self._merging, writing as writer:
            if not writer or (self._snapshots and self._adopt_snapshot()):
                return False
            state = self._state
            assert state is not None
            if len(state.changed_ids) == 0:
                return False
            base = merge(state.base, state.live, state.overlay)
            if self._snapshots and base.size >= self._snapshot_min_rows:
                base = self._snapshots.save(base, state.revision).segment
            with self._lock:
                current = self._state
                assert current is not None
                if current.base is not state.base:  # a snapshot was adopted meanwhile
                    return False
                self._state = current.rebased(base, state.revision)
            self.merges += 1
            return True

    def close(self) -> None:
        """Let go of the index and the mappings of its snapshot (a file descriptor each, held
        until the arrays are freed); searched again, it starts over from the newest snapshot."""
        with self._lock:
            self._state = None

    def stats(self) -> dict[str, int]:
        """Sizes of the index, for benchmarks and diagnostics."""
        state = self._state
        assert state is not None
        return {"revision": state.revision, "base_revision": state.base_revision,
                "base_rows": state.base.size, "overlay_rows": state.overlay.size,
                "changed": len(state.changed_ids), "terms": len(state.base.vocabulary)}

    def _adopt_snapshot(self) -> bool:
        """Switch to a snapshot newer than this process's base (another process wrote it)."""
        assert self._snapshots is not None and self._state is not None
        if self._snapshots.newest_revision() <= self._state.base_revision:
            return False
        snapshot = self._snapshots.load()
        with self._lock:
            current = self._state
            if snapshot is None or snapshot.revision <= current.base_revision:
                return False
            self._state = current.rebased(snapshot.segment, snapshot.revision)
        return True

    def organization_name(self, slug: str) -> str:
        """The current name of an organization that has datasets in the index."""
        state = self._state
        for segment in (state.overlay, state.base) if state else ():
            if slug in segment.organization_names:
                return segment.organization_names[slug]
        return slug

    # --- searching ----------------------------------------------------------------------------

    def search(self, query: Query, scope: Visibility) -> Hits:
        self.refresh()
        state = self._state
        assert state is not None
        parts = [(state.base, state.live if state.replaced else None), (state.overlay, None)]
        terms = list(dict.fromkeys(query.terms))
        postings = [{t: segment.postings(t) for t in terms} for segment, _live in parts]
        frequency = {t: sum(_live_count(p[t][0], live) for p, (_s, live) in
                            zip(postings, parts, strict=True)) for t in terms}
        if any(frequency[t] == 0 for t in terms):
            return Hits(0, [], {})
        total_docs = max(1, state.base.size - state.replaced + state.overlay.size)
        # Rarest first: the candidates shrink fastest. Ties by the word, so a fresh build and
        # an incrementally merged index add scores in the same order.
        terms.sort(key=lambda t: (frequency[t], t))
        idf = [math.log(1 + total_docs / (frequency[t] + 0.5)) for t in terms]
        matches = [_Match.of(segment, live, [p[t] for t in terms], idf, query, scope)
                   for (segment, live), p in zip(parts, postings, strict=True)]
        sort = query.sort if terms or query.sort != "relevance" else "modified"
        wanted = query.offset + query.limit
        candidates = [m.first(sort, wanted) for m in matches]
        ranked = _ranked(candidates, sort)[query.offset:wanted]
        return Hits(total=sum(len(m.rows) for m in matches), ids=ranked,
                    facets=_facets(matches, query.facet_limit))


@dataclass
class _alone:
    """The writer lock of an index without snapshots: always its own."""

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        return None


def _live_count(docs: np.ndarray, live: np.ndarray | None) -> int:
    return len(docs) if live is None else int(np.count_nonzero(live[docs]))


@dataclass
class _Candidates:
    ids: np.ndarray
    scores: np.ndarray
    modified: np.ndarray
    title_key: np.ndarray
    uuid_high: np.ndarray
    uuid_low: np.ndarray


@dataclass
class _Match:
    """The rows of one segment a query selects (ascending), with their scores."""

    segment: Segment
    rows: np.ndarray
    scores: np.ndarray
    levels: list[tuple[float, np.ndarray]] | None  # score levels, best first, with their codes
    codes: np.ndarray | None  # per row, which words matched strongly (bit i: word i)
    _mask: np.ndarray | None = None

    @classmethod
    def of(cls, segment: Segment, live: np.ndarray | None,
           postings: list[tuple[np.ndarray, np.ndarray]], idf: list[float], query: Query,
           scope: Visibility) -> _Match:
        keep = _visible(segment, live, scope)
        for facet, values in query.filters.items():
            if values:
                having = np.zeros(segment.size, dtype=bool)
                having[segment.value_rows(facet, segment.values[facet].codes(values))] = True
                keep &= having
        if query.modified_since is not None:
            keep &= segment.arrays["modified"] >= query.modified_since
        if query.only_ids is not None:
            keep &= np.isin(segment.arrays["ids"], np.fromiter(query.only_ids, np.int64))
        if not postings:
            rows = np.flatnonzero(keep)
            return cls(segment, rows, np.zeros(len(rows)), None, None, keep)
        rows, codes = _intersect(segment.size, postings)
        selected = keep[rows]
        rows, codes = rows[selected], codes[selected]
        if len(idf) > MAX_CODED_TERMS:
            scores = np.zeros(len(rows))
            for i, value in enumerate(idf):
                scores += value * np.where((codes >> i) & 1, STRONG_WEIGHT, WEAK_WEIGHT)
            return cls(segment, rows, scores, None, None)
        table = np.zeros(1 << len(idf))
        every = np.arange(len(table))
        for i, value in enumerate(idf):
            table += value * np.where((every >> i) & 1, STRONG_WEIGHT, WEAK_WEIGHT)
        present = np.flatnonzero(np.bincount(codes, minlength=len(table)))
        levels = [(score, present[table[present] == score])
                  for score in sorted(set(table[present].tolist()), reverse=True)]
        return cls(segment, rows, table[codes], levels, codes)

    @property
    def dense(self) -> bool:
        n = self.segment.size
        return n >= search_segment.DENSE_MIN_ROWS and len(self.rows) >= n * DENSE_RESULT

    @functools.cached_property
    def bits(self) -> np.ndarray:
        """The mask packed into 64-bit words, as the facet bitmaps are."""
        words = np.zeros(((self.segment.size + 63) // 64) * 8, dtype=np.uint8)
        packed = np.packbits(self.mask, bitorder="little")
        words[:len(packed)] = packed
        return words.view(np.uint64)

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = np.zeros(self.segment.size, dtype=bool)
            self._mask[self.rows] = True
        return self._mask

    def first(self, sort: str, count: int) -> _Candidates:
        """The segment's first ``count`` rows in the sort order."""
        arrays = self.segment.arrays
        if not self.dense or sort == "id" or (sort == "relevance" and self.levels is None):
            if sort == "title":
                keys = [arrays["title_key"][self.rows]]
            elif sort == "id":
                keys = [arrays["uuid_low"][self.rows], arrays["uuid_high"][self.rows]]
            elif sort == "modified":
                keys = [arrays["rank_modified"][self.rows]]
            else:
                keys = [arrays["rank_modified"][self.rows], -self.scores]
            picked = np.lexsort(keys)[:count]
            return self._candidates(self.rows[picked], self.scores[picked])
        if sort != "relevance":
            order = arrays["title_order" if sort == "title" else "order_modified"]
            rows = _walk(order, self.mask, count)
            return self._candidates(rows, np.zeros(len(rows)))
        assert self.levels is not None and self.codes is not None
        found: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for score, codes in self.levels:
            if count <= 0:
                break
            level = np.zeros(self.segment.size, dtype=bool)
            level[self.rows[np.isin(self.codes, codes)]] = True
            rows = _walk(arrays["order_modified"], level, count)
            found.append(rows)
            scores.append(np.full(len(rows), score))
            count -= len(rows)
        rows = np.concatenate(found) if found else self.rows[:0]
        return self._candidates(rows, np.concatenate(scores) if scores else np.zeros(0))

    def _candidates(self, rows: np.ndarray, scores: np.ndarray) -> _Candidates:
        arrays = self.segment.arrays
        return _Candidates(arrays["ids"][rows], scores, arrays["modified"][rows],
                           arrays["title_key"][rows], arrays["uuid_high"][rows],
                           arrays["uuid_low"][rows])


def _visible(segment: Segment, live: np.ndarray | None, scope: Visibility) -> np.ndarray:
    """Rows the caller may find: not drafts (except of their own organizations) and not
    members-only unless they belong to the alliance; never rows replaced by later changes."""
    if scope.everything:
        mask = np.ones(segment.size, dtype=bool)
    else:
        allowed = (segment.visible_to_members if scope.member_of_alliance
                   else segment.visible_to_public)
        mask = allowed.copy()
        drafts = segment.draft_rows
        if scope.organization_ids and len(drafts):
            own = drafts[np.isin(segment.arrays["organization_ids"][drafts],
                                 np.fromiter(scope.organization_ids, np.int64))]
            if not scope.member_of_alliance:
                members = segment.values["access_level"].find("members")
                own = own[segment.doc_codes("access_level")[own] != members]
            mask[own] = True
    if live is not None:
        mask &= live
    return mask


def _intersect(size: int, postings: list[tuple[np.ndarray, np.ndarray]]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding every word (postings rarest first) and, per row, the words it holds in
    its title or keywords as bits."""
    docs, strong = postings[0]
    order = np.argsort(docs, kind="stable")
    rows = docs[order].astype(np.int64)
    codes = strong[order].astype(np.int64)
    for i, (docs, strong) in enumerate(postings[1:], start=1):
        if len(rows) == 0:
            break
        marker = np.zeros(size, dtype=np.uint8)
        marker[docs] = 1 + strong
        found = marker[rows]
        held = found > 0
        rows = rows[held]
        codes = codes[held] | ((found[held] == 2).astype(np.int64) << i)
    return rows, codes


def _walk(order: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` rows of ``order`` where ``mask`` holds: cheap when many do."""
    found: list[np.ndarray] = []
    start, step = 0, max(1024, 8 * count)
    while count > 0 and start < len(order):
        chunk = order[start:start + step]
        hits = chunk[mask[chunk]][:count]
        found.append(hits)
        count -= len(hits)
        start += step
        step *= 2
    return np.concatenate(found) if found else order[:0]


def _ranked(parts: list[_Candidates], sort: str) -> list[int]:
    """Ids of the candidates of every segment in order; ties by id so that consecutive pages
    neither repeat nor skip a dataset."""
    ids = np.concatenate([p.ids for p in parts])
    if sort == "title":
        keys = [ids, np.concatenate([p.title_key for p in parts])]
    elif sort == "id":
        keys = [ids, np.concatenate([p.uuid_low for p in parts]),
                np.concatenate([p.uuid_high for p in parts])]
    else:
        modified = np.concatenate([p.modified for p in parts])
        keys = [ids, -modified]
        if sort == "relevance":
            keys.append(-np.concatenate([p.scores for p in parts]))
    return ids[np.lexsort(keys)].tolist()


# --- facet counts -----------------------------------------------------------------------------


def _facets(matches: list[_Match], limit: int) -> dict[str, dict[str, int]]:
    """The ``limit`` most frequent values of every facet over the result (ties by value).
    The overlay is counted exactly; a large base result is counted value by value, most
    frequent first, only until no value left could still enter the top."""
    if limit == 0:  # a caller that only pages (the DCAT catalog) pays for no counting
        return {facet: {} for facet in FACETS}
    base, overlay = matches
    result = {}
    for facet in FACETS:
        extra = _all_counts(overlay, facet)
        count = _dense_counts if base.dense else _gathered_counts
        totals = count(base, facet, extra, limit)
        top = heapq.nsmallest(limit, totals.items(), key=lambda item: (-item[1], item[0]))
        result[facet] = {value: count for value, count in top if count}
    return result


def _code_counts(match: _Match, facet: str) -> np.ndarray:
    segment = match.segment
    _indptr, codes = gather_csr(segment.arrays[f"{facet}.doc_indptr"],
                                segment.arrays[f"{facet}.doc_codes"], match.rows)
    return np.bincount(codes, minlength=len(segment.values[facet]))


def _all_counts(match: _Match, facet: str) -> dict[str, int]:
    values = match.segment.value_list(facet)
    counts = _code_counts(match, facet)
    return {values[c]: int(counts[c]) for c in np.flatnonzero(counts).tolist()}


def _gathered_counts(match: _Match, facet: str, extra: dict[str, int],
                     limit: int) -> dict[str, int]:
    """Totals of the values that can be in the top: the base's most frequent ``limit`` plus
    one per overlay value (ties by value, as codes follow the values' order), and the
    overlay's values."""
    counts = _code_counts(match, facet)
    values = match.segment.value_list(facet)
    totals = {values[c]: n for c, n in
              _top_codes(np.arange(len(counts)), counts, limit + len(extra))}
    codes = match.segment.value_codes(facet)
    for value, count in extra.items():
        code = codes.get(value)
        totals[value] = count + (int(counts[code]) if code is not None else 0)
    return totals


def _dense_counts(match: _Match, facet: str, extra: dict[str, int],
                  limit: int) -> dict[str, int]:
    """Totals of the values that can be in the top of a large result: values are counted by
    falling frequency (with their bitmap when they have one) until the ``limit``-th best total
    is above what any value left could reach (its frequency plus the largest overlay count)."""
    segment = match.segment
    arrays = segment.arrays
    codes_of = segment.value_codes(facet)
    only = {v: c for v, c in extra.items() if v not in codes_of}  # values new in the overlay
    added = {codes_of[v]: c for v, c in extra.items() if v in codes_of}
    bound = max(extra.values(), default=0)
    indptr, docs = arrays[f"{facet}.value_indptr"], arrays[f"{facet}.value_docs"]
    frequency = np.diff(indptr)
    order, bits = arrays[f"{facet}.by_frequency"], arrays[f"{facet}.dense_bits"]
    best = np.sort(np.fromiter(only.values(), np.int64, len(only)))[::-1][:limit]
    visited: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    start, step = 0, 32
    while start < len(order):
        if len(best) >= limit and best[limit - 1] > frequency[order[start]] + bound:
            break
        chunk = order[start:start + step]
        counts = np.empty(len(chunk), dtype=np.int64)
        dense = max(0, min(len(bits) - start, len(chunk)))  # the first ones have bitmaps
        if dense:
            counts[:dense] = _popcounts(bits[start:start + dense], match.bits)
        if dense < len(chunk):
            offsets, found = gather_csr(indptr, docs, chunk[dense:])
            held = np.zeros(len(found) + 1, dtype=np.int64)
            np.cumsum(match.mask[found], out=held[1:])
            counts[dense:] = held[offsets[1:]] - held[offsets[:-1]]
        if added:
            counts += np.fromiter((added.get(c, 0) for c in chunk.tolist()), np.int64,
                                  len(chunk))
        visited.append(chunk)
        totals.append(counts)
        best = np.sort(np.concatenate([best, counts]))[::-1][:limit]
        start += step
        step = min(step * 2, 4096)
    codes = np.concatenate(visited) if visited else order[:0]
    counts = np.concatenate(totals) if totals else np.zeros(0, dtype=np.int64)
    values = segment.value_list(facet)
    return {**{values[c]: n for c, n in _top_codes(codes, counts, limit)}, **only}


def _popcounts(bitmaps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How many bits each bitmap shares with the mask, a few bitmaps at a time (buffers stay
    in the cache instead of copies of every bitmap)."""
    block = 8
    shared = np.empty((block, len(mask)), dtype=np.uint64)
    ones = np.empty((block, len(mask)), dtype=np.uint8)
    counts = np.empty(len(bitmaps), dtype=np.int64)
    for first in range(0, len(bitmaps), block):
        rows = bitmaps[first:first + block]
        np.bitwise_and(rows, mask, out=shared[:len(rows)])
        np.bitwise_count(shared[:len(rows)], out=ones[:len(rows)])
        counts[first:first + len(rows)] = ones[:len(rows)].sum(axis=1)
    return counts


def _top_codes(codes: np.ndarray, counts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """The ``limit`` codes with the highest nonzero counts; ties by code (= by value)."""
    present = counts > 0
    codes, counts = codes[present], counts[present]
    if len(codes) > limit:
        kth = np.partition(counts, len(counts) - limit)[len(counts) - limit]
        above = counts > kth
        tied = np.flatnonzero(counts == kth)
        tied = tied[np.argsort(codes[tied], kind="stable")][:limit - int(above.sum())]
        keep = np.concatenate([np.flatnonzero(above), tied])
        codes, counts = codes[keep], counts[keep]
    return list(zip(codes.tolist(), counts.tolist(), strict=True))
