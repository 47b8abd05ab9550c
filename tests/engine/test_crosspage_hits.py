"""Hits: a document's hits are found by binary search without copying the hit arrays."""

from __future__ import annotations

import tracemalloc

import numpy as np

from dedupe.engine.crosspage import Hits


def _hits(n_docs: int, n: int, seed: int = 0) -> tuple[Hits, np.ndarray]:
    rng = np.random.default_rng(seed)
    doc = np.sort(rng.integers(0, n_docs, n)).astype(np.int32)
    st = rng.integers(0, 1000, n).astype(np.int32)
    en = st + 5
    pages = np.full(n, 2, dtype=np.int32)
    kdoc = np.full(n, -1, dtype=np.int32)
    return Hits(doc, st, en, pages, kdoc, st, en, [f"d{i}" for i in range(n_docs)]), doc


def test_each_documents_rows_are_its_hits() -> None:
    h, doc = _hits(50, 400)
    for d in range(52):  # two ids past the last document: none
        want = np.flatnonzero(doc == d)
        assert [r[0] for r in h.rows(d)] == h._st[want].tolist()
        assert (d in h) == bool(len(want))


def test_looking_a_document_up_does_not_copy_the_arrays() -> None:
    # numpy casts an int32 array to int64 to search it for a Python int: an O(hits) copy per page
    # made the driver quadratic in the corpus size. The look-up must allocate ~nothing.
    h, _ = _hits(1000, 2_000_000)
    tracemalloc.start()
    try:
        for d in range(0, 1000, 97):
            h.rows(d)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"{peak:,} bytes allocated looking up 11 documents"


def test_ids_outside_the_arrays_range_are_not_documents() -> None:
    h, _ = _hits(5, 20)
    for d in (2**31, 2**40, -(2**31) - 1, np.uint64(2**63)):
        assert d not in h and h.get(d, "none") == "none" and h.rows(d) == []
