"""``band_keys`` works in blocks of documents (bounded work buffers): equal to the one-block
computation, whatever the number of documents and bands."""

from __future__ import annotations

import numpy as np
import pytest

from dedupe.core import minhash
from dedupe.core.minhash import band_keys


def _band_keys_one_block(sigs: np.ndarray, bands: int) -> np.ndarray:
    """band_keys with every document in one block (the block size made larger than any input)."""
    saved = minhash.BAND_KEY_BLOCK
    minhash.BAND_KEY_BLOCK = 1 << 62
    try:
        return band_keys(sigs, bands)
    finally:
        minhash.BAND_KEY_BLOCK = saved


@pytest.mark.parametrize("n, num_perm, bands", [(0, 128, 32), (1, 128, 32), (9000, 128, 32), (5000, 128, 64), (300, 120, 7), (2100, 64, 64)])
def test_band_keys_equal_one_block(n: int, num_perm: int, bands: int) -> None:
    rng = np.random.default_rng(n + bands)
    sigs = rng.integers(0, 2**32, (n, num_perm), dtype=np.uint64).astype(np.uint32)
    got = band_keys(sigs, bands)
    assert got.shape == (n, bands) and got.dtype == np.uint64
    assert np.array_equal(got, _band_keys_one_block(sigs, bands))
    if n > 1:
        assert np.array_equal(band_keys(sigs[1:], bands), got[1:])  # a row's keys depend on that row only
