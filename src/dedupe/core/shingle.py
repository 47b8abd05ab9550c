"""Shingles: stable 64-bit hashes of token n-grams, for many documents at once.

A document's shingles are its runs of ``k`` consecutive tokens (word n-grams). Text written
without spaces (Chinese, Japanese, Thai…) is tokenised into one-character tokens
(:attr:`~dedupe.core.tokenize.Tokens.single`); a document whose tokens are mostly such
characters uses ``char_k``-grams over them instead (character n-grams). A document with fewer
than ``k`` tokens has one shingle (all its tokens); an empty document has none.

The hash of a shingle is :func:`~dedupe.core.hashing.range_hashes` over its token hashes, the same
value :func:`~dedupe.core.hashing.kgram_hashes` gives. MinHash consumes its high 32 bits
(:func:`~dedupe.core.minhash.to_hash32`). :func:`shingle_hash64` / :func:`shingle_hash32` compute
the same values one shingle at a time in plain Python, from the normalised token strings: they
are the ``hashfunc`` to give datasketch for identical signatures, and a reference for tests.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import native
from .hashing import CHAR_BASE, TOKEN_BASE, range_hashes

#: the C kernel (``_native/minhash.c``) or None (then the numpy code, which gives equal results)
_K = native.load("minhash")

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def char_mode(single: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per document: True when more than half of its tokens are spaceless-script characters.

    Args:
        single: bool per token, all documents concatenated.
        offsets: int64, ``n_docs + 1`` token offsets.
    """
    csum = np.zeros(len(single) + 1, dtype=np.int64)
    np.cumsum(single, out=csum[1:])
    n_single = csum[offsets[1:]] - csum[offsets[:-1]]
    return 2 * n_single > np.diff(offsets)


def shingle_hashes(
    token_hashes: np.ndarray,
    offsets: np.ndarray,
    k: int,
    *,
    single: np.ndarray | None = None,
    char_k: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the token ``k``-grams of many documents.

    Args:
        token_hashes: uint64 token hashes of all documents, concatenated.
        offsets: int64 of length ``n_docs + 1``; document ``i`` owns tokens
            ``offsets[i]:offsets[i+1]``.
        k: n-gram size (words).
        single, char_k: when given, documents whose tokens are mostly spaceless-script
            characters (:func:`char_mode`) use ``char_k``-grams instead.

    Returns:
        ``(hashes, shingle_offsets)``: uint64 shingle hashes of all documents concatenated, in
        token order (duplicates kept), and their ``n_docs + 1`` offsets.

    >>> h = np.array([1, 2, 3, 4, 5, 9], dtype=np.uint64)
    >>> s, off = shingle_hashes(h, np.array([0, 4, 4, 6]), 3)
    >>> off.tolist()
    [0, 2, 2, 3]
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_tok = np.diff(offsets)
    if single is not None and char_k is not None and char_k != k:
        kk = np.where(char_mode(single, offsets), char_k, k).astype(np.int64)
    else:
        kk = np.full(len(n_tok), k, dtype=np.int64)
    k_eff = np.minimum(kk, n_tok)  # short documents: one shingle of all their tokens
    count = np.where(n_tok > 0, n_tok - k_eff + 1, 0)
    sh_off = np.zeros(len(n_tok) + 1, dtype=np.int64)
    np.cumsum(count, out=sh_off[1:])
    total = int(sh_off[-1])
    if total == 0:
        return np.empty(0, dtype=np.uint64), sh_off
    if _K is not None and k >= 1 and (char_k is None or char_k >= 1):
        out = np.empty(total, dtype=np.uint64)
        _K.shingle_hashes(np.ascontiguousarray(token_hashes, dtype=np.uint64), np.ascontiguousarray(offsets), k_eff, sh_off, TOKEN_BASE, out)
        return out, sh_off
    # start token of every shingle: document start + rank inside the document
    starts = np.arange(total, dtype=np.int64)
    starts += np.repeat(offsets[:-1] - sh_off[:-1], count)
    if (k_eff == k).all():
        ends = starts + k
    else:
        ends = starts + np.repeat(k_eff, count)
    return range_hashes(token_hashes, starts, ends, base=TOKEN_BASE), sh_off


def _fmix64(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def _seq_hash(values: Sequence[int], base: int) -> int:
    raw = 0
    p = 1
    for v in values:
        raw = (raw + v * p) & _MASK64
        p = (p * base) & _MASK64
    return _fmix64(raw ^ ((len(values) * _GOLDEN) & _MASK64))


def token_hash64(token: str) -> int:
    """Stable hash of one normalised token, in plain Python (equals ``tokenize(token).hashes[0]``)."""
    return _seq_hash([ord(c) for c in token], CHAR_BASE)


def shingle_hash64(tokens: Sequence[str]) -> int:
    """Stable 64-bit hash of one shingle given as its normalised token strings, in plain Python.

    >>> from dedupe.core.tokenize import tokenize
    >>> t = tokenize("One two three")
    >>> shingle_hash64(["one", "two", "three"]) == int(shingle_hashes(t.hashes, np.array([0, 3]), 3)[0][0])
    True
    """
    return _seq_hash([token_hash64(t) for t in tokens], TOKEN_BASE)


def shingle_hash32(tokens: Sequence[str]) -> int:
    """The 32-bit input hash MinHash consumes for a shingle (high half of :func:`shingle_hash64`).

    Pass it as ``hashfunc`` to ``datasketch.MinHash(scheme="affine32")`` and update with token
    tuples to get the signatures this package computes.
    """
    return shingle_hash64(tokens) >> 32
