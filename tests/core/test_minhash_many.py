"""``candidate_pairs_many`` equals ``candidate_pairs`` table by table (keys drawn from a few
values so that buckets collide within and across tables, empty and one-row tables included)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.minhash import candidate_pairs, candidate_pairs_many


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 7), max_size=10), st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**32))
def test_candidate_pairs_many_equals_per_table(sizes, bands, values, seed):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    keys = rng.integers(0, values, size=(n, bands)).astype(np.uint64)
    if values > 3:  # some large keys too
        keys[keys == 3] = np.uint64(2**64 - 1)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    got = candidate_pairs_many(keys, offsets)
    assert len(got) == len(sizes)
    for i, g in enumerate(got):
        want = candidate_pairs(keys[offsets[i] : offsets[i + 1]])
        assert g.dtype == want.dtype and g.shape == want.shape
        assert g.tolist() == want.tolist()


def test_candidate_pairs_many_no_tables_and_no_rows():
    assert candidate_pairs_many(np.empty((0, 3), np.uint64), np.zeros(1, np.int64)) == []
    got = candidate_pairs_many(np.empty((0, 3), np.uint64), np.zeros(3, np.int64))
    assert [g.shape for g in got] == [(0, 2), (0, 2)]

