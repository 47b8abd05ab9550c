"""MinHash signatures, vectorised, compatible with datasketch's ``affine32`` scheme.

datasketch (>= 2.0) ``MinHash(num_perm, seed, scheme="affine32")`` maps each 32-bit input hash
``h`` through the MurmurHash3 32-bit finaliser, then through ``num_perm`` affine maps
``a * h + b mod 2**32`` (odd ``a``), keeping the minimum of each. This module computes the same
values for many shingles and many documents at once, so a signature made here equals the one
datasketch makes from the same 32-bit shingle hashes, and converts to ``LeanMinHash`` losslessly.

When the C kernel ``_native/minhash.c`` is built (and ``DEDUPE_PURE`` is not set), signatures,
band keys and candidate pairs run there: one running-minimum row per set, every shingle's
``num_perm`` permutations computed into it (vectorised). The numpy code below is the fallback
and the reference: tests check the two give equal arrays.
"""

from __future__ import annotations

import operator
import random
from functools import lru_cache

import numpy as np

from . import native
from .hashing import sorted_unique

#: the C kernel (``_native/minhash.c``) or None: every function below then runs its numpy code,
#: which gives equal results (tests compare the two)
_K = native.load("minhash")

EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's "no value yet" (max hash) for affine32

_C1 = np.uint32(0x85EBCA6B)
_C2 = np.uint32(0xC2B2AE35)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, element-wise on a uint32 array (as datasketch's ``_fmix``)."""
    h = h ^ (h >> np.uint32(16))
    h = h * _C1
    h = h ^ (h >> np.uint32(13))
    h = h * _C2
    return h ^ (h >> np.uint32(16))


def _mt19937(seed: int) -> random.Random:
    """A Mersenne Twister seeded as ``numpy.random.RandomState(seed)`` seeds its own (the
    reference ``init_genrand``): the stdlib's generator is the same MT19937 with the same
    tempering, only its ``seed()`` fills the state otherwise, so the state is set here. Drawing
    ``getrandbits(32)`` then gives the numbers ``RandomState`` draws (tests compare the two).
    This spares each worker importing ``numpy.random``, which imports ``secrets`` and with it
    OpenSSL: ~6 MB resident in every process that makes a signature."""
    seed = operator.index(seed)
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError("Seed must be between 0 and 2**32 - 1")  # numpy's words
    key = [seed]
    for i in range(1, 624):
        prev = key[-1]
        key.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    gen = random.Random()
    gen.setstate((3, (*key, 624), None))
    return gen


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 parameters datasketch draws for ``scheme="affine32"``:
    ``RandomState(seed).randint(0, 2**31, num_perm, dtype=uint32) * 2 + 1``, then
    ``randint(0, 2**32, num_perm, dtype=uint64)``. For these two ranges numpy's bounded draw is
    one raw 32-bit number each, masked to 31 bits for ``a`` (its mask equals the range: nothing
    is rejected), which is what is drawn here."""
    gen = _mt19937(seed)
    a = np.array([gen.getrandbits(32) & 0x7FFFFFFF for _ in range(num_perm)], dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = np.array([gen.getrandbits(32) for _ in range(num_perm)], dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def to_hash32(h64: np.ndarray) -> np.ndarray:
    """Fold 64-bit shingle hashes to the 32-bit input hashes MinHash consumes (high half)."""
    return (h64 >> np.uint64(32)).astype(np.uint32)


def signatures(hash32: np.ndarray, offsets: np.ndarray, num_perm: int = 128, seed: int = 1, *, chunk: int = 8192) -> np.ndarray:
    """MinHash signatures of many sets at once.

    Args:
        hash32: uint32 input hashes of all sets, concatenated.
        offsets: int array of length ``n_sets + 1``; set ``i`` is ``hash32[offsets[i]:offsets[i+1]]``.
        num_perm, seed: as datasketch's ``MinHash``.
        chunk: shingles processed per block by the numpy code (bounds its work buffer to
            ``chunk * num_perm * 4`` bytes; the C kernel needs no buffer). 8192 measured fastest at 128 permutations: smaller blocks pay per-call
            overhead, larger ones fall out of cache.

    Returns:
        uint32 array ``(n_sets, num_perm)``; an empty set gets all :data:`EMPTY`.

    >>> sig = signatures(np.array([1, 2, 3], dtype=np.uint32), np.array([0, 3, 3]), num_perm=4)
    >>> sig.shape, bool((sig[1] == EMPTY).all())
    ((2, 4), True)
    """
    a, b = permutations(num_perm, seed)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_sets = len(offsets) - 1
    if _K is not None and n_sets >= 0:
        out = np.empty((n_sets, num_perm), dtype=np.uint32)
        _K.signatures(np.ascontiguousarray(hash32, dtype=np.uint32), np.ascontiguousarray(offsets), a, b, out)
        return out
    out = np.full((n_sets, num_perm), EMPTY, dtype=np.uint32)
    total = int(offsets[-1]) if n_sets >= 0 and len(offsets) else 0
    if total == 0:
        return out
    mixed = fmix32(np.asarray(hash32, dtype=np.uint32)[:total])
    # Layout (num_perm, chunk): every numpy inner loop then runs over a long contiguous row
    # (SIMD-friendly), and the per-set minimum is a reduceat along the contiguous axis.
    # 600k shingles x 128 permutations: 0.107 s with the (chunk, num_perm) layout, 0.019 s here.
    a_col = a[:, None]
    b_col = b[:, None]
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    set_start = offsets[nonempty]  # start of every non-empty set, increasing
    if total <= chunk:  # one block (a page's sentences): no per-block bookkeeping
        blk = a_col * mixed[None, :]
        blk += b_col
        out[nonempty] = np.minimum.reduceat(blk, set_start, axis=1).T
        return out
    buf = np.empty((num_perm, min(chunk, total)), dtype=np.uint32)
    for lo in range(0, total, chunk):
        hi = min(total, lo + chunk)
        blk = buf[:, : hi - lo]
        np.multiply(a_col, mixed[None, lo:hi], out=blk)  # uint32 wraps mod 2**32
        np.add(blk, b_col, out=blk)
        # non-empty sets overlapping [lo, hi): the one containing lo, then those starting inside
        first = max(int(np.searchsorted(set_start, lo, side="right")) - 1, 0)  # 0: the block starts before offsets[0]
        last = int(np.searchsorted(set_start, hi, side="left"))
        if last <= first:  # no set in this block (it lies before offsets[0])
            continue
        owners = nonempty[first:last]
        starts = np.maximum(set_start[first:last], lo) - lo
        mins = np.minimum.reduceat(blk, starts, axis=1).T
        out[owners] = np.minimum(out[owners], mins)
    return out


def signatures_distinct(hash64: np.ndarray, offsets: np.ndarray, num_perm: int = 128, seed: int = 1, *, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """:func:`signatures` of the 32-bit input hashes (:func:`to_hash32`) of many sets of 64-bit
    shingle hashes, with the number of distinct 32-bit hashes of each set.

    Args:
        hash64: uint64 shingle hashes of all sets, concatenated (duplicates allowed).
        offsets: int array of length ``n_sets + 1``, as :func:`signatures`.
        num_perm, seed: as datasketch's ``MinHash``.
        chunk: as :func:`signatures` (numpy code only); 2048: a 1 MB work buffer at 128 permutations.

    Returns:
        ``(sigs, counts)``: uint32 ``(n_sets, num_perm)`` and int64 ``(n_sets,)``.

    >>> s, c = signatures_distinct(np.array([5 << 32, 7 << 32, 5 << 32], dtype=np.uint64), np.array([0, 3, 3]), 4)
    >>> c.tolist(), bool((s[0] == signatures(np.array([5, 7], dtype=np.uint32), np.array([0, 2]), 4)[0]).all())
    ([2, 0], True)
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    m = len(offsets) - 1
    if _K is not None and m >= 0:
        a, b = permutations(num_perm, seed)
        sigs = np.empty((m, num_perm), dtype=np.uint32)
        counts = np.empty(m, dtype=np.int64)
        _K.signatures_distinct(np.ascontiguousarray(hash64, dtype=np.uint64), offsets, a, b, sigs, counts)
        return sigs, counts
    # distinct 32-bit hashes per set: sorted set by set (a few small uint32 sorts cost a third of
    # one sort of (set << 32 | hash) over all sets)
    h32 = to_hash32(np.asarray(hash64, dtype=np.uint64))
    cut = offsets.tolist()
    uniq = [sorted_unique(h32[a:b]) for a, b in zip(cut[:-1], cut[1:])]
    u_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(u) for u in uniq), dtype=np.int64, count=m), out=u_off[1:])
    flat = np.concatenate(uniq) if uniq else np.empty(0, dtype=np.uint32)
    return signatures(flat, u_off, num_perm, seed, chunk=chunk), np.diff(u_off)


#: (documents x bands) keys computed at once by :func:`band_keys` (its work buffers: ~2 MB)
BAND_KEY_BLOCK = 1 << 17


def band_keys(sigs: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 key per (set, band): a stable hash of the band's rows. Shape ``(n, bands)``."""
    n, num_perm = sigs.shape
    rows = num_perm // bands
    out = np.empty((n, bands), dtype=np.uint64)
    if _K is not None and sigs.dtype in (np.uint32, np.uint64):
        _K.band_keys(np.ascontiguousarray(sigs), num_perm, bands, out)
        return out
    # blocks of documents: the work buffers stay small (~2 MB) whatever n is
    step = max(1, BAND_KEY_BLOCK // max(bands, 1))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        # rows-major copy: s[r] is the contiguous (block, bands) array of row r of every band
        s = np.ascontiguousarray(sigs[lo:hi, : bands * rows].reshape(hi - lo, bands, rows).transpose(2, 0, 1), dtype=np.uint64)
        acc = out[lo:hi]
        acc.fill(0)
        tmp = np.empty_like(acc)
        with np.errstate(over="ignore"):
            for r in range(rows):
                np.multiply(acc, np.uint64(0x9E3779B97F4A7C15), out=acc)
                np.add(acc, s[r], out=acc)
                np.add(acc, np.uint64(r + 1), out=acc)
                _fmix64_inplace(acc, tmp)
            np.add(acc, np.arange(bands, dtype=np.uint64)[None, :] * np.uint64(0xC2B2AE3D27D4EB4F), out=acc)
            _fmix64_inplace(acc, tmp)
    return out


_S33 = np.uint64(33)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)


def _fmix64_inplace(h: np.ndarray, tmp: np.ndarray) -> None:
    """:func:`~dedupe.core.hashing.fmix64` of ``h`` written into ``h`` (``tmp``: scratch, same shape)."""
    np.right_shift(h, _S33, out=tmp)
    np.bitwise_xor(h, tmp, out=h)
    np.multiply(h, _M1, out=h)
    np.right_shift(h, _S33, out=tmp)
    np.bitwise_xor(h, tmp, out=h)
    np.multiply(h, _M2, out=h)
    np.right_shift(h, _S33, out=tmp)
    np.bitwise_xor(h, tmp, out=h)


def candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of sets sharing at least one band key. Shape ``(p, 2)``, sorted, unique.

    Within each bucket, members are chained (each to the bucket's first member), which is enough
    for union-find clustering and keeps the pair count linear in bucket size.
    """
    n, bands = keys.shape
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    if _K is not None and bands >= 1 and keys.dtype.itemsize == 8 and keys.dtype.kind in "iu":
        pairs = np.empty((n * bands, 2), dtype=np.int64)
        total = _K.candidate_pairs_many(np.ascontiguousarray(keys), bands, np.array([0, n], dtype=np.int64), pairs, np.empty(1, dtype=np.int64))
        return pairs[:total].copy()
    flat = keys.ravel()
    # owners increase along ``flat``, so a stable sort by key orders (key, owner) as a lexsort would
    order = np.argsort(flat, kind="stable")
    fk = flat[order]
    same = fk[1:] == fk[:-1]
    if not same.any():
        return np.empty((0, 2), dtype=np.int64)
    fo = order // bands
    # first member of each bucket run
    run_start = np.flatnonzero(np.concatenate(([True], ~same)))
    run_id = np.cumsum(np.concatenate(([True], ~same))) - 1
    first = fo[run_start][run_id]
    mask = fo != first
    pairs = np.stack([first[mask], fo[mask]], axis=1)
    if not len(pairs):
        return np.empty((0, 2), dtype=np.int64)
    pairs.sort(axis=1)
    # unique rows in lexicographic order, as np.unique(pairs, axis=0), through one int64 code
    code = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([code // n, code % n], axis=1)


def candidate_pairs_many(keys: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """:func:`candidate_pairs` of many key tables at once: table ``i`` is
    ``keys[offsets[i]:offsets[i+1]]`` (rows of ``keys`` are sets, tables own consecutive rows).
    Equal results (pairs in each table's own row numbers), with one sort for all tables.

    A bucket is a run of equal keys *within one table*: the stable sort orders equal keys by
    row, so each table's members of a key are consecutive and its first member is the one
    :func:`candidate_pairs` chains to.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    m = len(offsets) - 1
    empty = np.empty((0, 2), dtype=np.int64)
    n, bands = keys.shape
    if m <= 0:
        return []
    if n < 2:
        return [empty] * m
    if _K is not None and bands >= 1 and keys.dtype.itemsize == 8 and keys.dtype.kind in "iu":
        # pairs depend on which keys are equal, not on their order: any 8-byte integer keys
        pairs = np.empty((n * bands, 2), dtype=np.int64)
        counts = np.empty(m, dtype=np.int64)
        _K.candidate_pairs_many(np.ascontiguousarray(keys), bands, np.ascontiguousarray(offsets), pairs, counts)
        ends = np.cumsum(counts).tolist()
        return [pairs[b - c : b] if c else empty for b, c in zip(ends, counts.tolist())]
    flat = keys.ravel()
    # sorted table by table (several small sorts cost less than one over all tables), each by
    # key, rows in order within a key (stable)
    f_off = (offsets * bands).tolist()
    order = np.concatenate([np.argsort(flat[a:b], kind="stable") + a for a, b in zip(f_off[:-1], f_off[1:])])
    fk = flat[order]
    fo = order // bands
    # table of each row, then of each sorted entry
    row_tab = np.repeat(np.arange(m, dtype=np.int64), np.diff(offsets))
    ft = row_tab[fo]
    new = np.empty(len(fk), dtype=bool)
    new[0] = True
    np.not_equal(fk[1:], fk[:-1], out=new[1:])
    new[1:] |= ft[1:] != ft[:-1]
    if new.all():
        return [empty] * m
    run_start = np.flatnonzero(new)
    run_id = np.cumsum(new) - 1
    first = fo[run_start][run_id]
    mask = fo != first
    if not mask.any():
        return [empty] * m
    pa, pb = first[mask], fo[mask]
    lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
    # rows are global, tables are row ranges: sorting (lo, hi) sorts by table, then as each
    # table's own (i, j) order
    code = sorted_unique(lo * n + hi)
    lo, hi = code // n, code % n
    cut = np.searchsorted(lo, offsets).tolist()
    off = offsets.tolist()
    out: list[np.ndarray] = []
    for i in range(m):
        a, b = cut[i], cut[i + 1]
        if a == b:
            out.append(empty)
            continue
        out.append(np.stack([lo[a:b] - off[i], hi[a:b] - off[i]], axis=1))
    return out
