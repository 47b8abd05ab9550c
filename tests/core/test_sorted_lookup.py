"""SortedLookup.index_of: the site kernel's directory search equals numpy's searchsorted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import hashing, native
from dedupe.core.hashing import SortedLookup

U64 = np.uint64
KERNEL = native.load("site")

values = st.integers(0, 2**64 - 1) | st.integers(0, 40) | st.integers(2**64 - 40, 2**64 - 1) | st.integers(2**63 - 20, 2**63 + 20)


def _numpy_index_of(keys: np.ndarray, q: np.ndarray) -> list[int]:
    pos = np.searchsorted(keys, q)
    return [int(p) if p < len(keys) and keys[p] == x else -1 for p, x in zip(pos.tolist(), q)]


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(values, max_size=300, unique=True), extra=st.lists(values, max_size=50), n_hits=st.integers(0, 50))
def test_index_of_equals_searchsorted(keys: list[int], extra: list[int], n_hits: int) -> None:
    k = np.array(sorted(keys), dtype=U64)
    q = np.array(extra + sorted(keys)[:n_hits][::-1], dtype=U64)
    want = _numpy_index_of(k, q)
    for use in (KERNEL, None):
        hashing._SITE = use
        try:
            got = SortedLookup(k).index_of(q)
        finally:
            hashing._SITE = KERNEL
        assert got.dtype == np.int64 and got.tolist() == want


def test_large_tables_and_reuse() -> None:
    rng = np.random.default_rng(3)
    for n in (17, 1000, 100_000):
        k = np.unique(rng.integers(0, 2**64, n, dtype=U64, endpoint=False))
        t = SortedLookup(k)
        for _ in range(2):  # the directory is built once, then reused
            q = np.concatenate([rng.integers(0, 2**64, 5000, dtype=U64, endpoint=False), k[rng.integers(0, len(k), 500)],
                                np.array([0, 2**64 - 1, k[0], k[-1]], dtype=U64)])
            assert t.index_of(q).tolist() == _numpy_index_of(k, q)


@pytest.mark.skipif(KERNEL is None, reason="site kernel not built")
def test_kernel_refuses_bad_arguments() -> None:
    k = np.arange(1, 100, dtype=U64) << np.uint64(56)
    t = SortedLookup(k)
    t.index_of(k[:3])
    d, shift = t._dir, t._shift
    q = k[:5].copy()
    out = np.empty(5, dtype=np.int64)
    with pytest.raises(ValueError, match="shift"):
        KERNEL.lookup(k, d, shift + 1, q, out)
    with pytest.raises(ValueError, match="shift"):
        KERNEL.lookup(k, d, shift, q, out[:4])
    bad = d.copy()
    bad[int(q[0] >> np.uint64(shift)) + 1] = len(k) + 5  # past the keys
    with pytest.raises(ValueError, match="out of the keys' bounds"):
        KERNEL.lookup(k, bad, shift, q, out)
    bad = d.copy()
    bad[int(q[0] >> np.uint64(shift))] = -1
    with pytest.raises(ValueError, match="out of the keys' bounds"):
        KERNEL.lookup(k, bad, shift, q, out)
    with pytest.raises(ValueError, match="wrong array type"):
        KERNEL.lookup(k.astype(np.int64), d, shift, q, out)
    with pytest.raises(ValueError, match="writable"):
        ro = out.copy()
        ro.flags.writeable = False
        KERNEL.lookup(k, d, shift, q, ro)
