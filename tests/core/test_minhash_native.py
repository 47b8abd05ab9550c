"""The C kernel ``_native/minhash.c`` against its numpy twins in ``core.minhash`` / ``core.shingle``
(exactly equal values and dtypes), against datasketch, and its argument checks."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import minhash, native, shingle
from dedupe.core.hashing import TOKEN_BASE, kgram_hashes
from dedupe.core.minhash import EMPTY, band_keys, candidate_pairs, candidate_pairs_many, permutations, signatures, signatures_distinct
from dedupe.core.shingle import shingle_hashes

K = native.load("minhash")
needs_kernel = pytest.mark.skipif(K is None, reason="C kernel minhash not built (or DEDUPE_PURE=1)")


@contextmanager
def numpy_only():
    """The numpy code of core.minhash and core.shingle (their kernel switched off)."""
    saved = minhash._K, shingle._K
    minhash._K = shingle._K = None
    try:
        yield
    finally:
        minhash._K, shingle._K = saved


def both(fn, *args, **kwargs):
    got = fn(*args, **kwargs)
    with numpy_only():
        want = fn(*args, **kwargs)
    return got, want


def assert_same(got, want):
    got_t, want_t = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert len(got_t) == len(want_t)
    for g, w in zip(got_t, want_t):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.array_equal(g, w)


# sets as lists of 32-bit values, drawn from a small pool sometimes (duplicates within a set)
value = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 2**31, 2**32 - 1, 12345]))
sets = st.lists(st.lists(value, max_size=40), max_size=12)


def flat(sets_: list[list[int]], dtype=np.uint32) -> tuple[np.ndarray, np.ndarray]:
    h = np.array([v for s in sets_ for v in s], dtype=dtype)
    off = np.zeros(len(sets_) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets_], out=off[1:])
    return h, off


@needs_kernel
@settings(max_examples=150, deadline=None)
@given(sets, st.sampled_from([1, 3, 8, 33, 128]), st.integers(0, 2**32 - 1), st.sampled_from([1, 5, 64, 8192]))
def test_signatures_kernel_equals_numpy(sets_, num_perm, seed, chunk):
    h, off = flat(sets_)
    got, want = both(signatures, h, off, num_perm, seed, chunk=chunk)
    assert_same(got, want)
    assert got.dtype == np.uint32 and got.shape == (len(sets_), num_perm)


@settings(max_examples=40, deadline=None)
@given(st.lists(value, max_size=30), st.sampled_from([1, 16, 128]), st.integers(0, 2**16))
def test_signatures_equal_datasketch(values, num_perm, seed):
    m = MinHash(num_perm=num_perm, seed=seed, scheme="affine32", hashfunc=int)
    for v in values:
        m.update(v)
    sig = signatures(np.array(values, dtype=np.uint32), np.array([0, len(values)]), num_perm, seed)[0]
    assert np.array_equal(sig, m.hashvalues.astype(np.uint32))


@needs_kernel
@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 5 << 32, (5 << 32) + 1, 2**64 - 1]), max_size=40), max_size=12),
       st.sampled_from([1, 7, 128]), st.integers(0, 2**20))
def test_signatures_distinct_kernel_equals_numpy(sets_, num_perm, seed):
    h, off = flat(sets_, np.uint64)
    got, want = both(signatures_distinct, h, off, num_perm, seed)
    assert_same(got, want)
    sigs, counts = got
    assert counts.tolist() == [len({v >> 32 for v in s}) for s in sets_]
    # the signature of the distinct 32-bit hashes is the signature with duplicates kept
    assert np.array_equal(sigs, signatures(minhash.to_hash32(h), off, num_perm, seed))


def test_signatures_distinct_no_sets_and_empty_sets():
    for off in ([0], [0, 0, 0]):
        got, want = both(signatures_distinct, np.empty(0, np.uint64), np.array(off), 16)
        assert_same(got, want)
    sigs, counts = signatures_distinct(np.empty(0, np.uint64), np.array([0, 0]), 16)
    assert (sigs == EMPTY).all() and counts.tolist() == [0]


def _unfmix32(y: np.ndarray) -> np.ndarray:
    """The inverse of :func:`~dedupe.core.minhash.fmix32` (each of its steps is invertible)."""
    y = y.astype(np.uint32)
    y = y ^ (y >> np.uint32(16))
    y = y * np.uint32(pow(0xC2B2AE35, -1, 1 << 32))
    y = y ^ (y >> np.uint32(13)) ^ (y >> np.uint32(26))
    y = y * np.uint32(pow(0x85EBCA6B, -1, 1 << 32))
    return y ^ (y >> np.uint32(16))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 63), max_size=80), st.integers(0, 2**12 - 1), st.integers(0, 40))
def test_signatures_distinct_colliding_slots(ids, low, n_dup):
    """Inputs whose mixed values share their low 20 bits (one probe chain in the kernel's hash
    set) or differ in one bit only: the counts and signatures still equal the numpy ones."""
    mixed = (np.array(ids, dtype=np.uint32) << np.uint32(20)) | np.uint32(low)
    mixed[::3] ^= np.uint32(1)
    x = _unfmix32(mixed)
    assert np.array_equal(minhash.fmix32(x), mixed)
    h64 = (x.astype(np.uint64) << np.uint64(32)) | np.uint64(7)
    h64 = np.concatenate([h64, h64[:n_dup]])
    off = np.array([0, len(h64) // 2, len(h64)])
    got, want = both(signatures_distinct, h64, off, 32, 3)
    assert_same(got, want)
    assert got[1].tolist() == [len(np.unique(h64[a:b] >> np.uint64(32))) for a, b in ((0, off[1]), (off[1], off[2]))]


def test_signatures_distinct_equals_datasketch_of_distinct_hashes():
    rng = np.random.default_rng(1)
    h = rng.integers(0, 2**64, 600, dtype=np.uint64)
    h[300:] = h[:300]  # every value twice
    sigs, counts = signatures_distinct(h, np.array([0, 600]), 128, 1)
    m = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=int)
    for v in (h >> np.uint64(32)).tolist():
        m.update(v)
    assert counts.tolist() == [len(np.unique(h >> np.uint64(32)))] and np.array_equal(sigs[0], m.hashvalues)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.lists(st.integers(0, 9), max_size=6), st.sampled_from([1, 3, 8, 8192]))
def test_signatures_offsets_not_starting_at_zero(skip, lens, chunk):
    """Hashes before offsets[0] belong to no set: every path (kernel, numpy in one block or in
    blocks of ``chunk``) ignores them."""
    rng = np.random.default_rng(skip * 100 + len(lens))
    off = np.concatenate(([skip], skip + np.cumsum(lens))).astype(np.int64)
    h = rng.integers(0, 2**32, off[-1] + 3, dtype=np.uint64).astype(np.uint32)
    want = signatures(h[skip:], off - skip, 8, 2)
    assert_same(signatures(h, off, 8, 2, chunk=chunk), want)
    with numpy_only():
        assert_same(signatures(h, off, 8, 2, chunk=chunk), want)


@needs_kernel
def test_signatures_large_and_chunked():
    rng = np.random.default_rng(5)
    lens = rng.integers(0, 3000, 40)
    off = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    h = rng.integers(0, 2**32, off[-1], dtype=np.uint64).astype(np.uint32)
    got, want = both(signatures, h, off, 128, 1, chunk=2048)
    assert_same(got, want)
    h64 = rng.integers(0, 2**64, off[-1], dtype=np.uint64)
    got, want = both(signatures_distinct, h64, off, 128, 1)
    assert_same(got, want)


@needs_kernel
@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30), st.integers(0, 130), st.integers(1, 140), st.booleans(), st.integers(0, 2**32))
def test_band_keys_kernel_equals_numpy(n, num_perm, bands, wide, seed):
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**32, (n, num_perm), dtype=np.uint64)
    if not wide:
        sigs = sigs.astype(np.uint32)
    got, want = both(band_keys, sigs, bands)
    assert_same(got, want)
    if n and num_perm:  # a non-contiguous view gives the same keys as its copy
        got, want = both(band_keys, sigs[:, ::-1], bands)
        assert_same(got, want)


@needs_kernel
@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=25), max_size=8), st.integers(1, 7), st.integers(1, 4),
       st.integers(0, 2**32))
def test_shingle_hashes_kernel_equals_numpy(docs, k, char_k, seed):
    rng = np.random.default_rng(seed)
    h, off = flat(docs, np.uint64)
    single = rng.random(len(h)) < 0.6
    assert_same(*both(shingle_hashes, h, off, k))
    assert_same(*both(shingle_hashes, h, off, k, single=single, char_k=char_k))


def test_shingle_hashes_kernel_equals_kgram_hashes():
    rng = np.random.default_rng(3)
    h = rng.integers(0, 2**64, 1000, dtype=np.uint64)
    sh, off = shingle_hashes(h, np.array([0, 1000]), 5)
    assert off.tolist() == [0, 996] and np.array_equal(sh, kgram_hashes(h, 5))


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=10), st.integers(1, 5), st.integers(1, 8), st.booleans(), st.integers(0, 2**32))
def test_candidate_pairs_kernel_equals_numpy(sizes, bands, values, signed, seed):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    keys = rng.integers(0, values, size=(n, bands)).astype(np.uint64)
    keys[keys == 3] = np.uint64(2**64 - 1)
    if signed:
        keys = keys.view(np.int64)  # 2**64 - 1 is -1: only equality matters
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    got, want = both(candidate_pairs_many, keys, offsets)
    assert len(got) == len(want) == len(sizes)
    for g, w in zip(got, want):
        assert_same(g, w)
    assert_same(*both(candidate_pairs, keys))
    if n > 1 and bands > 1:  # a non-contiguous view
        assert_same(*both(candidate_pairs, keys[:, ::-1]))
        for g, w in zip(*both(candidate_pairs_many, keys[:, 1:], offsets)):
            assert_same(g, w)


@needs_kernel
def test_candidate_pairs_kernel_equals_numpy_large_tables():
    """Tables of hundreds of rows with many distinct keys: long probe chains in the kernel's
    hash table (and chains that wrap around its end)."""
    rng = np.random.default_rng(11)
    for values, top in ((5, 400), (40, 400), (300, 400), (2**64 - 1, 400), (2**64 - 1, 8), (60, 8)):
        sizes = rng.integers(0, top, 12 if top > 8 else 3000)
        keys = rng.integers(0, values, size=(int(sizes.sum()), 8), dtype=np.uint64)
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        got, want = both(candidate_pairs_many, keys, offsets)
        for g, w in zip(got, want):
            assert_same(g, w)


@needs_kernel
def test_kernel_rejects_bad_arguments():
    a, b = permutations(4, 1)
    h = np.arange(10, dtype=np.uint32)
    out = np.empty((2, 4), np.uint32)
    ok_off = np.array([0, 4, 10], np.int64)
    K.signatures(h, ok_off, a, b, out)  # the valid call
    bad = [
        (h, np.array([0, 5, 4], np.int64), a, b, out),  # decreasing
        (h, np.array([0, 4, 11], np.int64), a, b, out),  # past the end
        (h, np.array([-1, 4, 10], np.int64), a, b, out),  # negative
        (h, np.array([], np.int64), a, b, np.empty(0, np.uint32)),  # no offsets
        (h, ok_off, a, b[:3], out),  # a, b lengths differ
        (h, ok_off, a, b, np.empty((2, 3), np.uint32)),  # out too small
        (h.astype(np.uint64), ok_off, a, b, out),  # wrong item size
        (h, ok_off.astype(np.int32), a, b, out),
        (h, ok_off, a, b, out.astype(np.uint64)),
        (h.astype(np.int32), ok_off, a, b, out),  # right width, wrong sign or kind
        (h.astype(np.float32), ok_off, a, b, out),
        (h, ok_off.astype(np.uint64), a, b, out),
        (h, ok_off.astype(np.float64), a, b, out),
        (h, ok_off, a.view(np.int32), b, out),
        (h, ok_off, a, b, out.view(np.float32)),
        (h, ok_off.byteswap().view(ok_off.dtype.newbyteorder()), a, b, out),  # same values, foreign byte order
    ]
    for args in bad:
        with pytest.raises(ValueError):
            K.signatures(*args)
    with pytest.raises((TypeError, BufferError)):
        K.signatures(h, ok_off, a, b, np.empty((2, 4), np.uint32).tobytes())  # read-only out
    cnt = np.empty(2, np.int64)
    h64 = np.arange(10, dtype=np.uint64)
    K.signatures_distinct(h64, ok_off, a, b, out, cnt)
    for args in [(h64, np.array([0, 4, 11], np.int64), a, b, out, cnt), (h64, ok_off, a, b, out, cnt[:1]), (h, ok_off, a, b, out, cnt),
                 (h64.astype(np.float64), ok_off, a, b, out, cnt), (h64.view(np.int64), ok_off, a, b, out, cnt), (h64, ok_off, a, b, out, cnt.view(np.uint64))]:
        with pytest.raises(ValueError):
            K.signatures_distinct(*args)
    keys = np.empty((2, 2), np.uint64)
    K.band_keys(out, 4, 2, keys)
    for args in [(out, 4, 0, keys), (out, 3, 2, keys), (out, 4, 4, keys), (out.astype(np.uint16), 4, 2, keys), (out.view(np.int32), 4, 2, keys),
                 (out.astype(np.float64), 4, 2, keys), (out, 4, 2, keys.view(np.float64))]:
        with pytest.raises(ValueError):
            K.band_keys(*args)
    ck = np.zeros((4, 2), np.uint64)
    pairs, counts = np.empty((8, 2), np.int64), np.empty(2, np.int64)
    assert K.candidate_pairs_many(ck, 2, np.array([0, 2, 4], np.int64), pairs, counts) == 2 and counts.tolist() == [1, 1]
    bad_cp = [
        (ck, 0, np.array([0, 2, 4], np.int64), pairs, counts),  # no bands
        (ck, 3, np.array([0, 2, 4], np.int64), pairs, counts),  # keys not rows x bands
        (ck, 2, np.array([0, 3, 2], np.int64), pairs, counts),  # decreasing
        (ck, 2, np.array([0, 2, 5], np.int64), pairs, counts),  # past the rows
        (ck, 2, np.array([0, 2, 4], np.int64), pairs[:3], counts),  # pairs too small
        (ck, 2, np.array([0, 2, 4], np.int64), pairs, counts[:1]),
        (ck.astype(np.uint32), 2, np.array([0, 2, 4], np.int64), pairs, counts),
        (ck.astype(np.float64), 2, np.array([0, 2, 4], np.int64), pairs, counts),
        (ck, 2, np.array([0, 2, 4], np.uint64), pairs, counts),
        (ck, 2, np.array([0, 2, 4], np.int64), pairs.view(np.uint64), counts),
    ]
    assert K.candidate_pairs_many(ck.view(np.int64), 2, np.array([0, 2, 4], np.int64), pairs, counts) == 2  # signed keys: fine
    for args in bad_cp:
        with pytest.raises(ValueError):
            K.candidate_pairs_many(*args)
    toks = np.arange(6, dtype=np.uint64)
    sh = np.empty(4, np.uint64)
    K.shingle_hashes(toks, np.array([0, 6], np.int64), np.array([3], np.int64), np.array([0, 4], np.int64), TOKEN_BASE, sh)
    bad_sh = [
        (np.array([0, 6], np.int64), np.array([4], np.int64), np.array([0, 4], np.int64)),  # 4 shingles of 4 tokens: past the end
        (np.array([0, 7], np.int64), np.array([3], np.int64), np.array([0, 4], np.int64)),  # document past the tokens
        (np.array([0, 6], np.int64), np.array([0], np.int64), np.array([0, 4], np.int64)),  # k of 0
        (np.array([0, 6], np.int64), np.array([3], np.int64), np.array([0, 3], np.int64)),  # sh_off does not end at len(out)
        (np.array([0, 6], np.int64), np.array([3, 3], np.int64), np.array([0, 4], np.int64)),  # lengths differ
    ]
    bad_sh += [
        (np.array([0, 6], np.uint64), np.array([3], np.int64), np.array([0, 4], np.int64)),  # unsigned offsets
        (np.array([0, 6], np.int64), np.array([3.0]), np.array([0, 4], np.int64)),  # float k
    ]
    for off, kk, so in bad_sh:
        with pytest.raises(ValueError):
            K.shingle_hashes(toks, off, kk, so, TOKEN_BASE, sh)
    for t_bad, out_bad in [(toks.astype(np.float64), sh), (toks.view(np.int64), sh), (toks, sh.view(np.int64))]:
        with pytest.raises(ValueError):
            K.shingle_hashes(t_bad, np.array([0, 6], np.int64), np.array([3], np.int64), np.array([0, 4], np.int64), TOKEN_BASE, out_bad)
