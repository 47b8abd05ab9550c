"""Document signatures: page text in, 128-permutation MinHash out, many documents per numpy call.

The path is tokenise (:func:`~dedupe.core.tokenize.tokenize_many`, NFKC + case folding, stable
uint64 token hashes) → shingle (:func:`~dedupe.core.shingle.shingle_hashes`: word n-grams, or
character n-grams for text written without spaces) → MinHash
(:func:`~dedupe.core.minhash.signatures`, datasketch ``scheme="affine32"`` values). Documents are
processed in batches: one set of numpy calls per batch, so per-document Python overhead is a few
list operations, and memory is proportional to the batch, not the corpus.

Signatures equal those of ``datasketch.MinHash(num_perm, seed, scheme="affine32",
hashfunc=dedupe.core.shingle.shingle_hash32)`` updated with the same shingles (token tuples), and
convert losslessly to and from ``datasketch.LeanMinHash`` (:func:`to_lean_minhash`,
:func:`from_lean_minhash`) for datasketch's LSH and storage backends.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

from ..config import SignatureConfig
from ..core.minhash import signatures, to_hash32
from ..core.shingle import shingle_hashes
from ..core.tokenize import tokenize_many
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from datasketch import LeanMinHash

DEFAULT_BATCH = 256


def _batch_signatures(texts: Sequence[str], cfg: SignatureConfig) -> np.ndarray:
    toks = tokenize_many(texts)
    sh, sh_off = shingle_hashes(
        toks.hashes, toks.offsets, cfg.shingle_size, single=toks.single, char_k=cfg.char_shingle_size
    )
    return signatures(to_hash32(sh), sh_off, cfg.num_perm, cfg.seed)


def iter_signatures(
    texts: Iterable[str], cfg: SignatureConfig | None = None, *, batch_size: int = DEFAULT_BATCH
) -> Iterator[np.ndarray]:
    """Signatures of a stream of texts, one ``(b, num_perm)`` uint32 array per batch of ``b <= batch_size``.

    Memory is proportional to ``batch_size`` (times the document length), never to the stream.

    >>> [s.shape for s in iter_signatures(["a b c d e f"] * 5, batch_size=2)]
    [(2, 128), (2, 128), (1, 128)]
    """
    cfg = cfg or SignatureConfig()
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    it = iter(texts)
    while True:
        batch = list(islice(it, batch_size))
        if not batch:
            return
        yield _batch_signatures(batch, cfg)


def signatures_for_texts(
    texts: Iterable[str], cfg: SignatureConfig | None = None, *, batch_size: int = DEFAULT_BATCH
) -> np.ndarray:
    """MinHash signatures of texts: uint32 array ``(n, cfg.num_perm)``.

    Args:
        texts: page texts (str).
        cfg: shingle size, character shingle size, permutations and seed.
        batch_size: documents per vectorised batch (bounds the working memory).

    Returns:
        one row per text; a text without any token gets all ``0xFFFFFFFF`` (datasketch's empty
        MinHash).

    >>> s = signatures_for_texts(["the quick brown fox jumps over", "The quick brown fox jumps over!"])
    >>> s.shape, bool((s[0] == s[1]).all())
    ((2, 128), True)
    """
    cfg = cfg or SignatureConfig()
    parts = list(iter_signatures(texts, cfg, batch_size=batch_size))
    if not parts:
        return np.empty((0, cfg.num_perm), dtype=np.uint32)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def to_lean_minhash(sig: np.ndarray, seed: int = 1) -> "LeanMinHash":
    """A datasketch ``LeanMinHash`` (``scheme="affine32"``) holding one signature row.

    >>> lm = to_lean_minhash(signatures_for_texts(["a b c d e f"])[0])
    >>> len(lm), lm.scheme
    (128, 'affine32')
    """
    from datasketch import LeanMinHash

    sig = np.asarray(sig)
    if sig.ndim != 1:
        raise ValueError(f"to_lean_minhash takes one signature (1-D), got shape {sig.shape}")
    return LeanMinHash(seed=seed, hashvalues=sig.astype(np.uint32), scheme="affine32")


def from_lean_minhash(m: object) -> np.ndarray:
    """The uint32 signature row of a datasketch ``MinHash`` / ``LeanMinHash`` made with ``scheme="affine32"``."""
    scheme = getattr(m, "scheme", None)
    if scheme != "affine32":
        raise ValueError(f"expected a MinHash with scheme='affine32', got scheme={scheme!r}")
    return np.asarray(m.hashvalues, dtype=np.uint32).copy()  # type: ignore[attr-defined]
