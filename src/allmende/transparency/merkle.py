"""RFC 6962 / RFC 9162 Merkle tree hashing, without storage: leaf and node hashes, the frontier
an append-only tree keeps, the subtree ranges a proof needs, and the verification of
inclusion and consistency proofs (what a witness runs).

A range ``[start, end)`` that the RFC's recursion visits always starts at a multiple of a
power of two at least as large as the range, so its hash is a fold of complete ("perfect")
subtrees, largest first: :func:`pieces`. A store that keeps every complete subtree's hash
(``node_id(level, position)``) answers any proof with one lookup of a few dozen nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def node_id(level: int, position: int) -> int:
    """The key of the complete subtree of ``2**level`` leaves starting at leaf
    ``position << level``."""
    return level << 48 | position


def split(size: int) -> int:
    """The largest power of two below ``size`` (RFC 6962's k), ``size`` >= 2."""
    return 1 << (size - 1).bit_length() - 1


# --- appending --------------------------------------------------------------------------

def push(frontier: list[bytes], size: int, leaf: bytes
         ) -> tuple[list[bytes], list[tuple[int, bytes]]]:
    """Append ``leaf`` (its hash) to a tree of ``size`` leaves whose complete subtrees'
    roots are ``frontier`` (largest first). Returns the new frontier and the nodes that became
    complete, as ``(node_id, hash)``: the leaf itself and every subtree it closed."""
    current = leaf_hash(leaf)
    made = [(node_id(0, size), current)]
    frontier = list(frontier)
    level, position = 0, size
    while position & 1:  # the new subtree closes the one to its left
        current = node_hash(frontier.pop(), current)
        level, position = level + 1, position >> 1
        made.append((node_id(level, position), current))
    frontier.append(current)
    return frontier, made


def frontier_root(frontier: list[bytes]) -> bytes:
    """The tree's root from its complete subtrees' roots (largest first)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for subtree in reversed(frontier[:-1]):
        root = node_hash(subtree, root)
    return root


def pack(frontier: list[bytes]) -> bytes:
    return b"".join(frontier)


def unpack(packed: bytes) -> list[bytes]:
    return [packed[i:i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)]


# --- proofs from stored subtrees --------------------------------------------------------

def pieces(start: int, end: int) -> list[int]:
    """The complete subtrees (node ids) whose fold is the hash of ``[start, end)``."""
    found, position, rest = [], start, end - start
    while rest:
        level = rest.bit_length() - 1
        found.append(node_id(level, position >> level))
        position += 1 << level
        rest -= 1 << level
    return found


def range_hash(start: int, end: int, nodes: Mapping[int, bytes]) -> bytes:
    hashes = [nodes[n] for n in pieces(start, end)]
    root = hashes[-1]
    for subtree in reversed(hashes[:-1]):
        root = node_hash(subtree, root)
    return root


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes make the audit path of leaf ``index`` in a tree of ``size``
    (RFC 6962 PATH), leaf-side first."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes make the consistency proof from ``first`` to ``second`` leaves
    (RFC 6962 SUBPROOF), in the RFC's order."""
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    return ranges[::-1]


def hashes_of(ranges: list[tuple[int, int]], lookup: Callable[[list[int]], Mapping[int, bytes]]
              ) -> list[bytes]:
    """The hashes of ``ranges``, reading every node they need with one ``lookup``."""
    nodes = lookup(sorted({n for start, end in ranges for n in pieces(start, end)}))
    return [range_hash(start, end, nodes) for start, end in ranges]


# --- computing and verifying (what a witness does) -------------------------------------

def root_of(leaves: Iterable[bytes]) -> bytes:
    """The root of the tree of ``leaves`` (the leaf bytes), in one pass."""
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        frontier, _ = push(frontier, size, leaf)
    return frontier_root(frontier)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
                     ) -> bool:
    """RFC 9162 2.1.3.2: does the audit path ``proof`` lead from ``leaf`` to ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree of ``second`` leaves an extension of the one of
    ``first``?"""
    if not 0 < first <= second:
        return first == 0 and not proof  # everything extends the empty tree
    if first == second:
        return not proof and first_root == second_root
    if first & (first - 1) == 0:  # a power of two: the old root starts the path
        proof = [first_root, *proof]
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
