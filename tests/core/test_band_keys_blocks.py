"""``band_keys`` works in blocks of documents (bounded work buffers): equal to the one-block
computation, whatever the number of documents and bands."""

from __future__ import annotations

import numpy as np
import pytest

from dedupe.core.minhash import _fmix64_inplace, band_keys


def _band_keys_one_block(sigs: np.ndarray, bands: int) -> np.ndarray:
    n, num_perm = sigs.shape
    rows = num_perm // bands
    s = np.ascontiguousarray(sigs[:, : bands * rows].reshape(n, bands, rows).transpose(2, 0, 1), dtype=np.uint64)
    acc = np.zeros((n, bands), dtype=np.uint64)
    tmp = np.empty_like(acc)
    with np.errstate(over="ignore"):
        for r in range(rows):
            np.multiply(acc, np.uint64(0x9E3779B97F4A7C15), out=acc)
            np.add(acc, s[r], out=acc)
            np.add(acc, np.uint64(r + 1), out=acc)
            _fmix64_inplace(acc, tmp)
        np.add(acc, np.arange(bands, dtype=np.uint64)[None, :] * np.uint64(0xC2B2AE3D27D4EB4F), out=acc)
        _fmix64_inplace(acc, tmp)
    return acc


@pytest.mark.parametrize("n, num_perm, bands", [(0, 128, 32), (1, 128, 32), (9000, 128, 32), (5000, 128, 64), (300, 120, 7), (2100, 64, 64)])
def test_band_keys_equal_one_block(n: int, num_perm: int, bands: int) -> None:
    rng = np.random.default_rng(n + bands)
    sigs = rng.integers(0, 2**32, (n, num_perm), dtype=np.uint64).astype(np.uint32)
    got = band_keys(sigs, bands)
    assert got.shape == (n, bands) and got.dtype == np.uint64
    assert np.array_equal(got, _band_keys_one_block(sigs, bands))
    if n > 1:
        assert np.array_equal(band_keys(sigs[1:], bands), got[1:])  # a row's keys depend on that row only
