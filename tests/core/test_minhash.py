"""MinHash kernel: against a naive per-set reference and against datasketch."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from dedupe.core.minhash import EMPTY, fmix32, permutations, signatures


def naive(h32: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    a, b = permutations(num_perm, seed)
    rows = []
    for i in range(len(offsets) - 1):
        x = fmix32(h32[offsets[i] : offsets[i + 1]])
        rows.append((x[:, None] * a + b).min(axis=0) if len(x) else np.full(num_perm, EMPTY, np.uint32))
    return np.array(rows, dtype=np.uint32).reshape(len(offsets) - 1, num_perm)


@pytest.mark.parametrize("chunk", [1, 3, 64, 8192])
@pytest.mark.parametrize("num_perm", [1, 32, 128])
def test_signatures_match_naive(chunk, num_perm):
    rng = np.random.default_rng(chunk * 1000 + num_perm)
    for _ in range(5):
        lens = rng.integers(0, 300, rng.integers(0, 30))
        lens[rng.random(len(lens)) < 0.2] = 0  # empty sets in between
        offsets = np.concatenate(([0], np.cumsum(lens)))
        h = rng.integers(0, 2**32, offsets[-1], dtype=np.uint64).astype(np.uint32)
        got = signatures(h, offsets, num_perm, seed=7, chunk=chunk)
        assert got.dtype == np.uint32
        assert (got == naive(h, offsets, num_perm, 7)).all()


def test_permutations_are_datasketchs():
    m = MinHash(num_perm=64, seed=3, scheme="affine32")
    a, b = permutations(64, 3)
    assert (np.asarray(m.permutations[0]) == a).all() and (np.asarray(m.permutations[1]) == b).all()


@pytest.mark.parametrize("seed", [0, 1, 3, 42, 2**31, 2**32 - 1])
@pytest.mark.parametrize("num_perm", [1, 2, 64, 128, 256, 1000])
def test_permutations_equal_numpys_random_state(seed, num_perm):
    # drawn from the stdlib's Mersenne Twister seeded as RandomState seeds its own
    gen = np.random.RandomState(seed)
    want_a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    want_b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)
    a, b = permutations.__wrapped__(num_perm, np.int64(seed))
    assert a.dtype == b.dtype == np.uint32
    assert np.array_equal(a, want_a) and np.array_equal(b, want_b)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_permutations_refuse_the_seeds_numpy_refuses(seed):
    with pytest.raises(ValueError):
        np.random.RandomState(seed)
    with pytest.raises(ValueError):
        permutations.__wrapped__(4, seed)


def test_signatures_equal_datasketch_on_raw_hashes():
    rng = np.random.default_rng(0)
    h = rng.integers(0, 2**32, 500, dtype=np.uint64).astype(np.uint32)
    m = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=int)
    for v in h.tolist():
        m.update(v)
    assert (signatures(h, np.array([0, 500]))[0] == m.hashvalues).all()


def test_empty():
    out = signatures(np.empty(0, np.uint32), np.array([0, 0, 0]), 16)
    assert out.shape == (2, 16) and (out == EMPTY).all()
    assert signatures(np.empty(0, np.uint32), np.array([0]), 16).shape == (0, 16)
