"""One immutable segment of the search index, in columnar numpy form.

A segment owns everything it needs to answer a query on its own: its rows (ordered by dataset
id), its term postings with a vocabulary of its own, and per facet its own sorted value list
with the codes into it. Nothing is shared between segments, so no two segments can ever
disagree about what a code means: facet values travel between segments as strings (when
counts are added up or segments are merged, the merged segment codes its values anew).

Every array lives in ``Segment.arrays`` under a fixed name, so a segment is saved as plain
``.npy`` files and mapped back from them (``search_snapshot``).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from allmende.catalog.text import fold

STRONG_WEIGHT = 3.0
WEAK_WEIGHT = 1.0
FACETS = ("organization", "theme", "format", "license", "access_level", "keyword")
# A facet value carried by at least this share of a segment's rows gets a bitmap of its own:
# counting it over a large result is then one AND and a popcount over n/64 words, sequential
# memory, where reading its row list would be a random access per row.
DENSE_SHARE = 1 / 512
DENSE_MIN_ROWS = 16_384
ROW_ARRAYS = ("ids", "revisions", "organization_ids", "draft", "modified", "uuid_high",
              "uuid_low")
ROW_TYPES = (np.int64, np.int64, np.int64, bool, np.float64, np.uint64, np.uint64)


@dataclass(slots=True)  # not frozen: a million of them are made in a first build
class IndexedDataset:
    """What the index needs of one dataset row."""

    id: int
    organization_id: int
    organization: str  # slug, the facet value
    organization_name: str
    access_level: str
    license: str
    draft: bool
    deleted: bool
    modified: float
    title: str
    themes: Sequence[str]
    formats: Sequence[str]
    keywords: Sequence[str]
    strong_terms: Sequence[str]
    weak_terms: Sequence[str]
    revision: int = 0
    uuid: str = ""  # the stable identifier interfaces page by (sort "id")

    def facet_values(self) -> tuple[Sequence[str], ...]:
        """The values of every facet, in the order of FACETS."""
        return ((self.organization,), self.themes, self.formats, (self.license,),
                (self.access_level,), self.keywords)


class Strings:
    """Sorted or ordered strings as one UTF-8 blob with offsets: compact, mappable from a file,
    and searchable with ``bisect`` without decoding more than a few of them."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def of(cls, values: Iterable[str]) -> Strings:
        encoded = [v.encode() for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.blob[self.offsets[i]:self.offsets[i + 1]].tobytes().decode()

    def tolist(self) -> list[str]:
        data = self.blob.tobytes()
        bounds = self.offsets.tolist()
        return [data[a:b].decode() for a, b in itertools.pairwise(bounds)]

    def find(self, value: str) -> int:
        """The position of a value in sorted strings, or -1."""
        i = bisect.bisect_left(self, value)
        return i if i < len(self) and self[i] == value else -1

    def codes(self, values: Iterable[str]) -> np.ndarray:
        found = (self.find(v) for v in values)
        return np.array([c for c in found if c >= 0], dtype=np.int64)

    def take(self, order: np.ndarray) -> Strings:
        """These strings in another order (vectorized: no decoding)."""
        indptr, blob = gather_csr(self.offsets, self.blob, order)
        return Strings(blob, indptr)


class _TitleKeys(Sequence[tuple[str, int]]):
    """A segment's (folded title, id) pairs in title order, for bisect."""

    def __init__(self, segment: Segment) -> None:
        self.titles = segment.titles
        self.ids = segment.arrays["ids"][segment.arrays["title_order"]]

    def __len__(self) -> int:
        return len(self.titles)

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        return self.titles[i], int(self.ids[i])


GATHER_CHUNK = 1 << 22  # values gathered per step: bounds the index arrays a gather needs


def gather_csr(indptr: np.ndarray, values: np.ndarray,
               rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The given rows of a CSR structure as a CSR structure of their own (in steps, so that
    gathering a million titles does not need index arrays of 8 bytes per byte gathered)."""
    rows = np.asarray(rows)
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    out_indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_indptr[1:])
    total = int(out_indptr[-1])
    out = np.empty(total, dtype=values.dtype)
    first = 0
    while first < len(rows):
        last = int(np.searchsorted(out_indptr, out_indptr[first] + GATHER_CHUNK, "right"))
        last = min(max(last - 1, first + 1), len(rows))
        begin, end = int(out_indptr[first]), int(out_indptr[last])
        if end > begin:
            shift = np.repeat(starts[first:last] - out_indptr[first:last],
                              lengths[first:last])
            out[begin:end] = values[shift + np.arange(begin, end)]
        first = last
    return out_indptr, out


def _group(codes: np.ndarray, size: int, *payloads: np.ndarray
           ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Postings: payloads grouped by code (stable, so rows stay ascending within a code)."""
    order = np.argsort(codes, kind="stable")
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=size), out=indptr[1:])
    return indptr, [p[order] for p in payloads]


class Segment:
    """Immutable. ``arrays`` holds every column; the rest is derived from them on creation."""

    def __init__(self, arrays: dict[str, np.ndarray], organization_names: dict[str, str]
                 ) -> None:
        self.arrays = arrays
        self.organization_names = organization_names
        self.size = len(arrays["ids"])
        self.ids = arrays["ids"]
        self.vocabulary = Strings(arrays["vocabulary.blob"], arrays["vocabulary.offsets"])
        self.titles = Strings(arrays["titles.blob"], arrays["titles.offsets"])
        self.values = {f: Strings(arrays[f"{f}.values.blob"], arrays[f"{f}.values.offsets"])
                       for f in FACETS}
        draft = arrays["draft"]
        members = self.values["access_level"].find("members")
        access = self.doc_codes("access_level")
        self.visible_to_members = ~draft
        self.visible_to_public = ~draft & (access != members)
        self.draft_rows = np.flatnonzero(draft)
        self._value_lists: dict[str, list[str]] = {}
        self._value_codes: dict[str, dict[str, int]] = {}
        self._title_keys: _TitleKeys | None = None

    def value_list(self, facet: str) -> list[str]:
        """The facet's values decoded, once per segment (counting looks values up by code)."""
        if facet not in self._value_lists:
            self._value_lists[facet] = self.values[facet].tolist()
        return self._value_lists[facet]

    def value_codes(self, facet: str) -> dict[str, int]:
        """Each value's code, once per segment (overlay counts are added to the base's)."""
        key = f"{facet}.codes"
        if key not in self._value_codes:
            self._value_codes[key] = {v: i for i, v in enumerate(self.value_list(facet))}
        return self._value_codes[key]

    def doc_codes(self, facet: str) -> np.ndarray:
        """The codes of a single-valued facet, one per row."""
        return self.arrays[f"{facet}.doc_codes"]

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        code = self.vocabulary.find(term)
        docs, strong = self.arrays["term_docs"], self.arrays["term_strong"]
        if code < 0:
            return docs[:0], strong[:0]
        indptr = self.arrays["term_indptr"]
        start, end = indptr[code], indptr[code + 1]
        return docs[start:end], strong[start:end]

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """The rows holding these dataset ids (ids not in the segment are left out)."""
        if self.size == 0 or len(ids) == 0:
            return np.zeros(0, dtype=np.int64)
        found = np.minimum(np.searchsorted(self.ids, ids), self.size - 1)
        return found[self.ids[found] == ids]

    def value_rows(self, facet: str, codes: np.ndarray) -> np.ndarray:
        """Every row carrying one of the facet codes (concatenated postings)."""
        _indptr, docs = gather_csr(self.arrays[f"{facet}.value_indptr"],
                                   self.arrays[f"{facet}.value_docs"], codes)
        return docs

    def title_keys(self) -> _TitleKeys:
        if self._title_keys is None:  # once per segment: a base is keyed against many times
            self._title_keys = _TitleKeys(self)
        return self._title_keys


# --------------------------------------------------------------------------------------------
# Building a segment from datasets
# --------------------------------------------------------------------------------------------


class Builder:
    """Collects datasets (in chunks, so a whole catalog never sits in memory as objects) and
    builds one segment of them. Deleted datasets are left out: no search shows them."""

    def __init__(self) -> None:
        self.columns: dict[str, list[np.ndarray]] = {name: [] for name in ROW_ARRAYS}
        self.titles: list[str] = []
        self.names: dict[str, str] = {}
        self.vocabulary: dict[str, int] = {}
        self.books: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        self.term_codes: list[np.ndarray] = []
        self.term_strong: list[np.ndarray] = []
        self.term_counts: list[np.ndarray] = []
        self.facet_codes: dict[str, list[np.ndarray]] = {f: [] for f in FACETS}
        self.facet_counts: dict[str, list[np.ndarray]] = {f: [] for f in FACETS}

    def add(self, docs: Iterable[IndexedDataset]) -> None:
        live = [d for d in docs if not d.deleted]
        n = len(live)
        columns = {
            "ids": np.fromiter((d.id for d in live), np.int64, n),
            "revisions": np.fromiter((d.revision for d in live), np.int64, n),
            "organization_ids": np.fromiter((d.organization_id for d in live), np.int64, n),
            "draft": np.fromiter((d.draft for d in live), bool, n),
            "modified": np.fromiter((d.modified for d in live), np.float64, n),
            **_uuid_halves([d.uuid for d in live]),
        }
        for name, column in columns.items():
            self.columns[name].append(column)
        self.titles.extend(fold(d.title) for d in live)
        self.names.update((d.organization, d.organization_name) for d in live)
        self._add_terms(live)
        per_doc = [d.facet_values() for d in live]
        for facet_index, facet in enumerate(FACETS):
            book = self.books[facet]
            codes: list[int] = []
            counts: list[int] = []
            for facet_values in per_doc:
                values = dict.fromkeys(facet_values[facet_index])
                codes.extend(book.setdefault(v, len(book)) for v in values)
                counts.append(len(values))
            self.facet_codes[facet].append(np.array(codes, dtype=np.int32))
            self.facet_counts[facet].append(np.array(counts, dtype=np.int32))

    def _add_terms(self, docs: list[IndexedDataset]) -> None:
        vocabulary = self.vocabulary
        codes: list[int] = []
        strong: list[bool] = []
        counts: list[int] = []
        for doc in docs:
            weighted = dict.fromkeys(doc.weak_terms, False)
            weighted.update(dict.fromkeys(doc.strong_terms, True))
            codes.extend(vocabulary.setdefault(t, len(vocabulary)) for t in weighted)
            strong.extend(weighted.values())
            counts.append(len(weighted))
        self.term_codes.append(np.array(codes, dtype=np.int32))
        self.term_strong.append(np.array(strong, dtype=bool))
        self.term_counts.append(np.array(counts, dtype=np.int32))

    def build(self, base: Segment | None = None) -> Segment:
        """The segment; an overlay (``base`` given) ranks its titles between the base's."""
        columns = {name: _concat(parts, dtype) for (name, parts), dtype in zip(
            self.columns.items(), ROW_TYPES, strict=True)}
        n = len(columns["ids"])
        order = np.argsort(columns["ids"], kind="stable")  # rows ordered by dataset id
        arrays = {name: column[order] for name, column in columns.items()}
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        arrays.update(self._terms(inverse))
        for facet in FACETS:
            counts = _concat(self.facet_counts[facet], np.int32)
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            codes = _recode(self.books[facet], _concat(self.facet_codes[facet], np.int32))
            indptr, codes = gather_csr(indptr, codes, order)
            arrays.update(_facet_arrays(facet, sorted(self.books[facet]), indptr, codes, n))
        titles = [self.titles[i] for i in order]
        arrays.update(_order_arrays(arrays))
        # Rows are in id order, so a stable sort by title alone orders by (title, id).
        title_order = np.array(sorted(range(n), key=titles.__getitem__), dtype=np.int64)
        arrays.update(_title_arrays(Strings.of(titles[i] for i in title_order), title_order))
        segment = Segment(arrays, self.names)
        return rekey_titles(segment, base) if base is not None else segment

    def _terms(self, inverse: np.ndarray) -> dict[str, np.ndarray]:
        """Postings grouped by term, placed chunk by chunk (a counting sort: no argsort over
        all postings, whose index array alone would be 8 bytes per posting)."""
        remap = _recode(self.vocabulary, np.arange(len(self.vocabulary), dtype=np.int32))
        size = len(self.vocabulary)
        indptr = np.zeros(size + 1, dtype=np.int64)
        for codes in self.term_codes:
            indptr[1:] += np.bincount(remap[codes], minlength=size)
        np.cumsum(indptr, out=indptr)
        total = int(indptr[-1])
        docs = np.empty(total, dtype=np.int32)
        strong = np.empty(total, dtype=bool)
        cursor = indptr[:-1].copy()
        first_row = 0
        for chunk, counts in enumerate(self.term_counts):
            # Each chunk is released once placed, so the chunks and the postings they become
            # are not both held in full.
            codes, flags = remap[self.term_codes[chunk]], self.term_strong[chunk]
            self.term_codes[chunk] = self.term_strong[chunk] = _RELEASED
            owners = np.repeat(inverse[first_row:first_row + len(counts)].astype(np.int32),
                               counts)
            first_row += len(counts)
            order = np.argsort(codes, kind="stable")
            grouped = codes[order]
            per_code = np.bincount(codes, minlength=size)
            starts = np.cumsum(per_code) - per_code
            at = cursor[grouped] + (np.arange(len(order)) - starts[grouped])
            docs[at] = owners[order]
            strong[at] = flags[order]
            cursor += per_code
        self.term_codes.clear()
        self.term_strong.clear()
        vocabulary = Strings.of(sorted(self.vocabulary))
        return {"vocabulary.blob": vocabulary.blob, "vocabulary.offsets": vocabulary.offsets,
                "term_indptr": indptr, "term_docs": docs, "term_strong": strong}


_RELEASED = np.zeros(0, dtype=np.int32)


def _uuid_halves(uuids: list[str]) -> dict[str, np.ndarray]:
    """A UUID's 128 bits as two unsigned numbers: sorting by (high, low) is sorting by the
    UUID's text (lower-case hex), so interfaces page by "id" with numpy sorts."""
    numbers = [int(u.replace("-", ""), 16) if u else 0 for u in uuids]
    return {"uuid_high": np.fromiter((v >> 64 for v in numbers), np.uint64, len(numbers)),
            "uuid_low": np.fromiter((v & 0xFFFF_FFFF_FFFF_FFFF for v in numbers), np.uint64,
                                    len(numbers))}


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _recode(book: dict[str, int], codes: np.ndarray) -> np.ndarray:
    """Codes in insertion order → codes in sorted value order."""
    remap = np.empty(len(book), dtype=codes.dtype)
    remap[[book[v] for v in sorted(book)]] = np.arange(len(book), dtype=codes.dtype)
    return remap[codes] if len(codes) else codes


def _facet_arrays(facet: str, values: list[str], doc_indptr: np.ndarray,
                  doc_codes: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """A facet's columns: values, codes per row (CSR), rows per value, bitmaps of dense ones."""
    owners = np.repeat(np.arange(n, dtype=np.int32), np.diff(doc_indptr))
    value_indptr, (value_docs,) = _group(doc_codes, len(values), owners)
    frequency = np.diff(value_indptr)
    by_frequency = np.argsort(-frequency, kind="stable")
    dense = 0  # the most frequent values have bitmaps, in the order of by_frequency
    if n >= DENSE_MIN_ROWS:
        dense = int(np.count_nonzero(frequency >= max(1.0, n * DENSE_SHARE)))
    words = (n + 63) // 64
    bits = np.zeros((dense, words), dtype=np.uint64)
    for row, code in enumerate(by_frequency[:dense]):
        mask = np.zeros(words * 64, dtype=bool)
        mask[value_docs[value_indptr[code]:value_indptr[code + 1]]] = True
        bits[row] = np.packbits(mask, bitorder="little").view(np.uint64)
    strings = Strings.of(values)
    return {
        f"{facet}.values.blob": strings.blob, f"{facet}.values.offsets": strings.offsets,
        f"{facet}.doc_indptr": doc_indptr, f"{facet}.doc_codes": doc_codes.astype(np.int32),
        f"{facet}.value_indptr": value_indptr, f"{facet}.value_docs": value_docs,
        f"{facet}.dense_bits": bits, f"{facet}.by_frequency": by_frequency,
    }


def _order_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows newest first (ties by id), and each row's place in that order."""
    order = np.lexsort((arrays["ids"], -arrays["modified"]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return {"order_modified": order, "rank_modified": rank}


def _title_arrays(titles: Strings, title_order: np.ndarray,
                  slots: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Titles (folded, DIN 5007: umlauts as base letter + e) in (title, id) order and each
    row's sort key. A base ranks its rows 0..n-1. An overlay's row sorting just before the
    base's title ``s`` (its slot) gets a key in (s - 1, s), so titles of both compare as
    numbers."""
    m = len(title_order)
    key = np.empty(m, dtype=np.float64)
    if slots is None:
        key[title_order] = np.arange(m, dtype=np.float64)
        slots = key
    else:
        key[title_order] = slots[title_order] - 1 + (np.arange(m) + 1) / (m + 1)
    return {"titles.blob": titles.blob, "titles.offsets": titles.offsets,
            "title_order": title_order, "title_key": key, "title_slot": slots}


def rekey_titles(segment: Segment, base: Segment) -> Segment:
    """The overlay segment with its title keys placed between the base's."""
    keys = base.title_keys()
    own = segment.title_keys()
    title_order = segment.arrays["title_order"]
    slots = np.empty(len(own), dtype=np.float64)
    slots[title_order] = [bisect.bisect_left(keys, own[j]) for j in range(len(own))]
    arrays = {**segment.arrays, **_title_arrays(segment.titles, title_order, slots)}
    return Segment(arrays, segment.organization_names)


# --------------------------------------------------------------------------------------------
# Merging two segments
# --------------------------------------------------------------------------------------------


def empty_segment() -> Segment:
    return Builder().build()


def merge(first: Segment, keep: np.ndarray | None, second: Segment,
          base: Segment | None = None) -> Segment:
    """The rows of ``first`` where ``keep`` is true and every row of ``second`` (dataset ids
    must not overlap), as one new segment with its own vocabulary and facet values.

    ``base`` is None when ``first`` is the base and ``second`` its overlay (title keys then
    compare as numbers and become ranks); otherwise both are overlays of ``base``."""
    kept = np.arange(first.size) if keep is None else np.flatnonzero(keep)
    ids = np.concatenate([first.ids[kept], second.ids])
    order = np.argsort(ids, kind="stable")
    n = len(order)
    new_row = np.empty(n, dtype=np.int64)
    new_row[order] = np.arange(n)
    first_row = np.full(first.size, -1, dtype=np.int32)
    first_row[kept] = new_row[:len(kept)]
    second_row = new_row[len(kept):].astype(np.int32)
    arrays = {name: np.concatenate([first.arrays[name][kept], second.arrays[name]])[order]
              for name in ROW_ARRAYS}
    arrays.update(_merge_terms(first, first_row, second, second_row))
    for facet in FACETS:
        arrays.update(_merge_facet(facet, first, kept, second, order, n))
    arrays.update(_order_arrays(arrays))
    arrays.update(_merge_titles(first, kept, second, order, base))
    return Segment(arrays, {**first.organization_names, **second.organization_names})


def _union(first: Strings, second: Strings) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted union of two sorted string lists and where each side's entries went."""
    left, right = first.tolist(), second.tolist()
    union = list(heapq.merge(left, right))
    union = [v for i, v in enumerate(union) if i == 0 or v != union[i - 1]]
    index = {v: i for i, v in enumerate(union)}
    return (union, np.array([index[v] for v in left], dtype=np.int64),
            np.array([index[v] for v in right], dtype=np.int64))


def _merge_terms(first: Segment, first_row: np.ndarray, second: Segment,
                 second_row: np.ndarray) -> dict[str, np.ndarray]:
    """Postings of both, renumbered and regrouped over the union of both vocabularies: each
    term's kept postings of ``first``, then its postings of ``second``. ``first`` is read in
    steps, so that a merge holds only the merged postings in full."""
    union, to_union_first, to_union_second = _union(first.vocabulary, second.vocabulary)
    first_indptr = first.arrays["term_indptr"]
    first_docs, first_strong = first.arrays["term_docs"], first.arrays["term_strong"]
    kept_before = np.zeros(len(first_indptr), dtype=np.int64)  # kept postings before a term
    kept = np.zeros(len(first_indptr) - 1, dtype=np.int64)
    for begin in range(0, len(first_docs), GATHER_CHUNK):
        alive = first_row[first_docs[begin:begin + GATHER_CHUNK]] >= 0
        terms = np.searchsorted(first_indptr, np.flatnonzero(alive) + begin, "right") - 1
        kept += np.bincount(terms, minlength=len(kept))
    np.cumsum(kept, out=kept_before[1:])
    counts = np.zeros(len(union), dtype=np.int64)
    counts[to_union_first] = kept
    second_indptr = second.arrays["term_indptr"]
    counts_second = np.zeros(len(union), dtype=np.int64)
    counts_second[to_union_second] = np.diff(second_indptr)
    indptr = np.zeros(len(union) + 1, dtype=np.int64)
    np.cumsum(counts + counts_second, out=indptr[1:])
    docs = np.empty(int(indptr[-1]), dtype=np.int32)
    strong = np.empty(int(indptr[-1]), dtype=bool)
    seen = 0  # kept postings of first before the current step
    for begin in range(0, len(first_docs), GATHER_CHUNK):
        renumbered = first_row[first_docs[begin:begin + GATHER_CHUNK]]
        alive = np.flatnonzero(renumbered >= 0)
        terms = np.searchsorted(first_indptr, alive + begin, "right") - 1
        rank = seen + np.arange(len(alive)) - kept_before[terms]  # within its term
        at = indptr[to_union_first[terms]] + rank
        docs[at] = renumbered[alive]
        strong[at] = first_strong[begin:begin + GATHER_CHUNK][alive]
        seen += len(alive)
    terms = np.repeat(np.arange(len(second_indptr) - 1), np.diff(second_indptr))
    union_terms = to_union_second[terms]
    at = (indptr[union_terms] + counts[union_terms]
          + np.arange(len(terms)) - second_indptr[terms])
    docs[at] = second_row[second.arrays["term_docs"]]
    strong[at] = second.arrays["term_strong"]
    used = (counts + counts_second) > 0  # terms whose every dataset left are dropped
    compact = np.zeros(int(used.sum()) + 1, dtype=np.int64)
    compact[1:] = indptr[1:][used]
    vocabulary = Strings.of(v for v, u in zip(union, used.tolist(), strict=True) if u)
    return {"vocabulary.blob": vocabulary.blob, "vocabulary.offsets": vocabulary.offsets,
            "term_indptr": compact, "term_docs": docs, "term_strong": strong}


def _merge_facet(facet: str, first: Segment, kept: np.ndarray, second: Segment,
                 order: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The facet re-coded over the union of both segments' values (compared as strings)."""
    union, to_first, to_second = _union(first.values[facet], second.values[facet])
    indptr_first, codes_first = gather_csr(first.arrays[f"{facet}.doc_indptr"],
                                           first.arrays[f"{facet}.doc_codes"], kept)
    indptr_second = second.arrays[f"{facet}.doc_indptr"]
    codes = np.concatenate([to_first[codes_first],
                            to_second[second.arrays[f"{facet}.doc_codes"]]])
    indptr = np.concatenate([indptr_first, indptr_second[1:] + indptr_first[-1]])
    indptr, codes = gather_csr(indptr, codes, order)
    used = np.bincount(codes, minlength=len(union)) > 0
    recode = np.cumsum(used) - 1
    values = [v for v, u in zip(union, used.tolist(), strict=True) if u]
    return _facet_arrays(facet, values, indptr, recode[codes] if len(codes) else codes, n)


def _merge_titles(first: Segment, kept: np.ndarray, second: Segment, order: np.ndarray,
                  base: Segment | None) -> dict[str, np.ndarray]:
    """Titles of the merged rows in (title, id) order."""
    place_first = np.empty(first.size, dtype=np.int64)
    place_first[first.arrays["title_order"]] = np.arange(first.size)
    place_second = np.empty(second.size, dtype=np.int64)
    place_second[second.arrays["title_order"]] = np.arange(second.size)
    # Each merged row's title as an index into both title lists, concatenated.
    source = np.concatenate([place_first[kept], place_second + first.size])[order]
    slots = None
    if base is None:  # the keys of a base and its overlay compare as numbers
        keys = np.concatenate([first.arrays["title_key"][kept], second.arrays["title_key"]])
        title_order = np.argsort(keys[order], kind="stable")
    else:  # two overlays of one base keep their slots in it
        slots = np.concatenate([first.arrays["title_slot"][kept],
                                second.arrays["title_slot"]])[order]
        titles = first.titles.tolist() + second.titles.tolist()
        ids = np.concatenate([first.ids[kept], second.ids])[order].tolist()
        title_order = np.array(sorted(range(len(order)),
                                      key=lambda i: (titles[source[i]], ids[i])),
                               dtype=np.int64)
    offsets = np.concatenate([first.titles.offsets,
                              second.titles.offsets[1:] + first.titles.offsets[-1]])
    blob = np.concatenate([first.titles.blob, second.titles.blob])
    titles_in_order = Strings(blob, offsets).take(source[title_order])
    return _title_arrays(titles_in_order, title_order, slots)
