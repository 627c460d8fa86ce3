"""RFC 6962 hashing and proofs (allmende.transparency.merkle) against pymerkle, an independent
implementation, and the RFC 8785 leaves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymerkle import InmemoryTree, verify_consistency

from allmende.errors import Invalid
from allmende.transparency import merkle
from allmende.transparency.log import leaf_bytes
from properties import property_test


def _stored(leaves: list[bytes]) -> tuple[list[bytes], dict[int, bytes]]:
    frontier: list[bytes] = []
    nodes: dict[int, bytes] = {}
    for size, leaf in enumerate(leaves):
        frontier, made = merkle.push(frontier, size, leaf)
        nodes.update(made)
    return frontier, nodes


def _oracle(leaves: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")  # RFC 6962 prefixes (0x00 leaf, 0x01 node)
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree


sizes = st.integers(min_value=1, max_value=70)


@property_test(examples=60, fixed_seed=20261221)
@given(size=sizes, data=st.data())
def test_roots_and_inclusion_paths_agree_with_pymerkle(size, data):
    leaves = [f"leaf {i}".encode() for i in range(size)]
    oracle = _oracle(leaves)
    frontier, nodes = _stored(leaves)
    assert merkle.frontier_root(frontier) == oracle.get_root(size) == merkle.root_of(leaves)
    tree_size = data.draw(st.integers(1, size))
    index = data.draw(st.integers(0, tree_size - 1))
    path = merkle.hashes_of(merkle.inclusion_ranges(index, tree_size),
                            lambda ids: {i: nodes[i] for i in ids})
    # pymerkle's path is the leaf's own hash followed by the RFC 6962 audit path
    assert oracle.prove_inclusion(index + 1, tree_size).path == \
        [merkle.leaf_hash(leaves[index]), *path]
    root = oracle.get_root(tree_size)
    assert merkle.verify_inclusion(leaves[index], index, tree_size, path, root)
    assert not merkle.verify_inclusion(b"other", index, tree_size, path, root)
    if path:
        assert not merkle.verify_inclusion(leaves[index], index, tree_size, path[:-1], root)


@property_test(examples=60, fixed_seed=20261222)
@given(size=sizes, data=st.data())
def test_consistency_proofs_verify_against_pymerkles_roots(size, data):
    leaves = [f"event {i}".encode() for i in range(size)]
    oracle = _oracle(leaves)
    _, nodes = _stored(leaves)
    second = data.draw(st.integers(1, size))
    first = data.draw(st.integers(1, second))
    proof = merkle.hashes_of(merkle.consistency_ranges(first, second),
                             lambda ids: {i: nodes[i] for i in ids})
    old, new = oracle.get_root(first), oracle.get_root(second)
    assert merkle.verify_consistency(first, second, old, new, proof)
    # pymerkle's own proof for the same states confirms the pair of roots is consistent
    verify_consistency(old, new, oracle.prove_consistency(first, second))
    if first < second:
        other = _oracle([*leaves[:first - 1], b"rewritten", *leaves[first:]])
        assert not merkle.verify_consistency(first, second, other.get_root(first), new, proof)
        assert not merkle.verify_consistency(first, second, old, other.get_root(second), proof)


def test_the_empty_tree_and_a_single_leaf():
    assert merkle.root_of([]) == merkle.EMPTY_ROOT == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert merkle.root_of([b""]) == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")  # RFC 6962 tests
    assert merkle.verify_inclusion(b"", 0, 1, [], merkle.root_of([b""]))


def test_leaves_are_rfc_8785_canonical_json():
    # RFC 8785 3.2.2/3.2.3: sorted keys (by UTF-16 code units), no whitespace, ES6 numbers
    assert leaf_bytes({"type": "t", "b": [1e21, 1.5, -0.0, 1e-7], "a": "€\u000f",
                       "\u20ac": 1, "\U0001f600": 2, "\ufb33": 3}) == (
        '{"a":"\u20ac\\u000f","b":[1e+21,1.5,0,1e-7],"type":"t",'
        '"\u20ac":1,"\U0001f600":2,"\ufb33":3}'
    ).encode()
    assert leaf_bytes({"type": "x", "n": 2**53 - 1}) == b'{"n":9007199254740991,"type":"x"}'


@pytest.mark.parametrize("event", [
    {"no": "type"}, {"type": ""}, {"type": 3}, {"type": "x", "n": float("nan")},
    {"type": "x", "n": 2**60}, {"type": "x", "organization": 5}, {"type": "x", "v": {1, 2}},
    ["type", "x"],
])
def test_events_that_cannot_be_leaves_are_refused(event):
    with pytest.raises(Invalid):
        leaf_bytes(event)
