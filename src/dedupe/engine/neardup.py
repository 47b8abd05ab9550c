"""Near-duplicate documents: MinHash + LSH banding on the cleaned text, verified, clustered.

1. Each document's CLEANED text is shingled (word ``signature.shingle_size``-grams; character
   n-grams of ``signature.char_shingle_size`` for text mostly without spaces) and signed with
   ``signature.num_perm`` MinHash permutations (datasketch ``affine32`` values).
2. LSH banding (``neardup.bands`` bands) proposes candidate pairs: the members of each bucket
   are chained both to the bucket's first member and to their neighbour, so a bucket of ``m``
   documents costs ``O(m)`` pairs.
   With ``neardup.containment`` on, a second, finer banding (``neardup.containment_bands``
   bands of ``num_perm / containment_bands`` rows) adds candidates: a copy inside a longer page
   has a low Jaccard (a full copy at half the size has J = 0.5, at a third J = 0.33), which
   32 x 4 bands propose with probability 0.80 at J = 0.47 and 0.23 at J = 0.3; 64 x 2 bands
   propose them with probability > 0.999 / 0.998.
3. Every candidate whose signature estimate is within reach of a rule is verified with the
   EXACT shingle sets; the MinHash estimate alone has a standard error of about 0.04 at 128
   permutations and J = 0.7, too coarse near the threshold. A pair is joined when
   * its Jaccard is at least ``neardup.threshold``, or
   * (containment rule) the smaller page has at least ``neardup.containment_min_shingles``
     distinct shingles, at least ``neardup.containment_min_ratio`` times as many as the larger
     one, and at least ``neardup.containment`` of them are in the larger one: a syndicated copy
     that kept reader comments, a second article or extra boxes. The size-ratio floor keeps a
     short page that happens to be quoted in a much longer, otherwise unrelated page (a digest,
     a round-up) out of its cluster.
4. Verified pairs are joined with union-find; each cluster gets one canonical member by
   ``neardup.canonical`` (``first`` in input order, ``longest`` cleaned text, smallest ``url``;
   ties to the smallest id). Each member's score is its exact Jaccard with the canonical one
   (below ``threshold`` for a member joined by the containment rule).

Documents with fewer than ``neardup.min_shingles`` distinct shingles are never clustered.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Protocol, Sequence
from urllib.parse import urlsplit

import numpy as np

from ..config import Config, NearDupConfig, SignatureConfig
from ..core import native
from ..core.hashing import TOKEN_BASE, kgram_hashes, range_hashes, sorted_unique
from ..core.minhash import EMPTY, band_keys, signatures, to_hash32
from ..core.tokenize import tokenize
from ..models import KIND_NEAR_DUP_DOC, CleanResult, Document, Span
from . import crosspage
from .crosspage import policy_rank

try:  # the batch shingling of engine/signatures.py (same hashes as the fallback below)
    from ..core.shingle import shingle_hashes as _shingle_hashes
except ImportError:  # pragma: no cover
    _shingle_hashes = None

#: estimated Jaccard below ``threshold - PREFILTER_SLACK`` is not worth an exact check
PREFILTER_SLACK = 0.25


def shingle_set(text: str, cfg: SignatureConfig, *, hashes: np.ndarray | None = None, single: np.ndarray | None = None) -> np.ndarray:
    """Sorted unique uint32 shingle hashes (the MinHash input) of one text.

    ``hashes`` / ``single``: the text's token hashes and spaceless flags, when already known
    (e.g. the tokens of a page that survive cleaning), to skip tokenising.

    >>> a = shingle_set("one two three four five six", SignatureConfig())
    >>> len(a)
    2
    """
    if hashes is None or single is None:
        toks = tokenize(text)
        hashes, single = toks.hashes, toks.single
    n = len(hashes)
    if n == 0:
        return np.empty(0, dtype=np.uint32)
    if _shingle_hashes is not None:
        sh, _ = _shingle_hashes(hashes, np.array([0, n], dtype=np.int64), cfg.shingle_size, single=single, char_k=cfg.char_shingle_size)
    else:
        k = cfg.char_shingle_size if int(single.sum()) * 2 > n else cfg.shingle_size
        if n >= k:
            sh = kgram_hashes(hashes, k)
        else:
            sh = range_hashes(hashes, np.array([0]), np.array([n]), base=TOKEN_BASE)
    return np.unique(to_hash32(np.asarray(sh, dtype=np.uint64)))


def signature_of(text: str, cfg: Config, *, hashes: np.ndarray | None = None, single: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """``(signature, number of distinct shingles)`` of one (cleaned) text."""
    sh = shingle_set(text, cfg.signature, hashes=hashes, single=single)
    sig = signatures(sh, np.array([0, len(sh)], dtype=np.int64), cfg.signature.num_perm, cfg.signature.seed)[0]
    return sig, len(sh)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique arrays."""
    return _jaccard_counts(len(np.intersect1d(a, b, assume_unique=True)), len(a), len(b))


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Exact containment of the smaller of two sorted unique arrays in the other:
    ``|a & b| / min(|a|, |b|)`` (0.0 when one is empty).

    >>> containment(np.array([1, 2, 3]), np.array([1, 2, 3, 4, 5, 6]))
    1.0
    """
    small = min(len(a), len(b))
    if not small:
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / small


def containment_ok(n_a: np.ndarray | int, n_b: np.ndarray | int, nd: "NearDupConfig") -> np.ndarray:
    """Whether a pair with these shingle counts may be joined by the containment rule at all
    (size floor and size ratio of ``nd``; the shared fraction is checked separately)."""
    n_a, n_b = np.asarray(n_a), np.asarray(n_b)
    small, large = np.minimum(n_a, n_b), np.maximum(n_a, n_b)
    return (nd.containment > 0) & (small >= nd.containment_min_shingles) & (small >= nd.containment_min_ratio * large)


def _verified(a: np.ndarray, b: np.ndarray, nd: "NearDupConfig") -> bool:
    """The exact check of one candidate pair (see the module doc, step 3)."""
    return _verified_counts(len(np.intersect1d(a, b, assume_unique=True)), len(a), len(b), nd)


def _verified_counts(inter: int, n_a: int, n_b: int, nd: "NearDupConfig") -> bool:
    """:func:`_verified` of a pair whose shingle sets have ``n_a`` and ``n_b`` members, ``inter``
    of them shared."""
    if not n_a or not n_b:
        return False
    if inter / (n_a + n_b - inter) >= nd.threshold:
        return True
    return bool(containment_ok(n_a, n_b, nd)) and inter / min(n_a, n_b) >= nd.containment


def _jaccard_counts(inter: int, n_a: int, n_b: int) -> float:
    """:func:`jaccard` from the sizes of the two sets and of their intersection."""
    if not n_a and not n_b:
        return 1.0
    return inter / (n_a + n_b - inter)


def pair_counts(sets: "Sequence[np.ndarray]", pairs: np.ndarray) -> np.ndarray:
    """For each pair ``(a, b)`` of indexes into ``sets`` (sorted unique shingle sets): the size
    of their intersection and their sizes, an ``(len(pairs), 3)`` int64 array (what
    :func:`cluster`'s ``compare_many`` returns)."""
    out = np.zeros((len(pairs), 3), dtype=np.int64)
    for k, (a, b) in enumerate(np.asarray(pairs, dtype=np.int64).reshape(-1, 2).tolist()):
        sa, sb = sets[a], sets[b]
        out[k] = (len(np.intersect1d(sa, sb, assume_unique=True)), len(sa), len(sb))
    return out


def lsh_pairs(keys: np.ndarray) -> np.ndarray:
    """Candidate pairs ``(i, j)``, ``i < j``, from band keys ``(n, bands)``: members of a bucket
    chained to the bucket's first member and to their neighbour. Sorted, unique.

    One band at a time (work buffers of ``n`` entries, not ``n * bands``)."""
    n, bands = keys.shape
    return _lsh_pairs_cols(n, bands, lambda b: keys[:, b])


_MH = native.load("minhash")  # the kernel of _band_pair_keys, or None

#: pair keys held from earlier bands before they are merged into one sorted unique array
LSH_MERGE_PAIRS = 1 << 18
#: threads of the LSH pass, each over every other band (the bands are independent, and numpy's
#: sorts release the GIL); used from this many documents up
LSH_THREADS = 2
LSH_THREAD_MIN = 4096


def _band_pair_keys(col: np.ndarray, n: int) -> np.ndarray | None:
    """The pairs of one band (``col``: its ``n`` keys) as int64 keys ``i * n + j``, ``i < j``:
    members of a bucket chained to the bucket's first member and to their neighbour; None when
    no two keys are equal. (The minhash kernel's ``band_pair_keys`` finds the same pairs with a
    hash table, releasing the GIL, in ~a third of the time of the sort below: in any order and
    once each where the numpy code gives the same pair twice; callers keep the sorted unique
    keys.)"""
    if _MH is not None and col.dtype.itemsize == 8 and col.dtype.kind in "iu" and len(col) == n:
        if n >= LSH_SPLIT_MIN:
            return _band_pair_keys_split(col, n)
        out = np.empty(2 * n, dtype=np.int64)
        # native byte order, aligned and contiguous (the same values)
        got = _MH.band_pair_keys(np.ascontiguousarray(col, dtype=np.uint64 if col.dtype.kind == "u" else np.int64), out)
        # a copy of what was found: a view would keep the whole 2n buffer alive while the
        # bands' keys pile up (32-64 bands: ~13-26 MB at 25,000 documents)
        return out[:got].copy() if got else None
    return _band_pair_keys_numpy(col, n)


#: columns of this many keys or more go to the kernel in :data:`LSH_SPLIT` parts by the keys'
#: top bits (:func:`_band_pair_keys_split`)
LSH_SPLIT_MIN = 1 << 13
LSH_SPLIT = 16


def _band_pair_keys_split(col: np.ndarray, n: int) -> np.ndarray | None:
    """:func:`_band_pair_keys` of a long column, a part of its keys at a time: the keys are parted
    by their top bits (equal keys share a part), each part's positions in ascending order, so the
    kernel chains each bucket's members as over the whole column (the same pairs). The kernel's
    table and output grow with what it is given: whole, a column of 253,000 documents (1 GB of
    corpus) took ~18 MB per band and thread, ~3 MB this way."""
    # native byte order (the kernel takes nothing else); int64 keys as their uint64 bits
    u = np.ascontiguousarray(col, dtype=np.uint64 if col.dtype.kind == "u" else np.int64).view(np.uint64)
    top = (u >> np.uint64(64 - 4)).astype(np.uint8)  # LSH_SPLIT = 16 parts
    order = np.argsort(top, kind="stable")  # positions by part, ascending within each
    cuts = np.zeros(LSH_SPLIT + 1, dtype=np.int64)
    np.cumsum(np.bincount(top, minlength=LSH_SPLIT), out=cuts[1:])
    del top
    got: list[np.ndarray] = []
    for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        m = hi - lo
        if m < 2:
            continue
        idx = order[lo:hi]
        out = np.empty(2 * m, dtype=np.int64)
        k = _MH.band_pair_keys(np.ascontiguousarray(u[idx]), out)
        if k:
            a, b = np.divmod(out[:k], m)
            got.append(idx[a] * n + idx[b])
    return np.concatenate(got) if got else None


def _band_pair_keys_numpy(col: np.ndarray, n: int) -> np.ndarray | None:
    """:func:`_band_pair_keys` by one stable sort (the reference of the kernel)."""
    fo = np.argsort(col, kind="stable")  # equal keys keep document order
    fk = col[fo]
    same = fk[1:] == fk[:-1]
    if not same.any():
        return None
    start = np.concatenate(([True], ~same))
    run_first = fo[np.flatnonzero(start)][np.cumsum(start) - 1]
    nxt = fo[1:][same]
    out = []
    for a in (run_first[1:][same], fo[:-1][same]):  # to the first member, to the neighbour
        lo, hi = np.minimum(a, nxt), np.maximum(a, nxt)
        out.append((lo * n + hi)[lo != hi])
    return np.concatenate(out)


def _lsh_pairs_cols(n: int, bands: int, column: Callable[[int], np.ndarray]) -> np.ndarray:
    """:func:`lsh_pairs` of the band keys whose column ``b`` (``n`` keys) is ``column(b)``
    (called from :data:`LSH_THREADS` threads at once: it must be thread-safe)."""
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)

    # a pair (i, j), i < j, as one int64 key i * n + j (sorted keys = pairs sorted by (i, j));
    # the bands' keys are merged into one sorted unique array whenever they pile up, so
    # near-identical documents paired again in every band cost their pairs once, not per band
    def pairs_of(band_ids: range) -> np.ndarray | None:
        out: list[np.ndarray] = []
        held = 0
        for b in band_ids:
            k = _band_pair_keys(column(b), n)
            if k is None:
                continue
            out.append(k)
            held += len(k)
            if held > LSH_MERGE_PAIRS and len(out) > 2:
                out = [sorted_unique(np.concatenate(out))]
                held = len(out[0])
        return sorted_unique(np.concatenate(out)) if out else None

    threads = max(1, min(LSH_THREADS, bands)) if n >= LSH_THREAD_MIN else 1
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dedupe-lsh") as pool:
            parts = list(pool.map(pairs_of, [range(t, bands, threads) for t in range(threads)]))
    else:
        parts = [pairs_of(range(bands))]
    got = [p for p in parts if p is not None]
    if not got:
        return np.empty((0, 2), dtype=np.int64)
    keys = got[0] if len(got) == 1 else sorted_unique(np.concatenate(got))
    del got, parts
    return np.stack([keys // n, keys % n], axis=1)


#: signature rows read at once by :func:`candidates` (band keys, estimates): 0.5 MB per block at
#: 128 permutations (band_keys works on ~4x that), whatever the number of documents
SIG_BLOCK = 1024
#: band keys up to this many bytes stay in memory; more go to a temporary file, band-major
#: (written a block of rows at a time, read back a band at a time). 1 MB: at 4 MB the 64
#: containment bands of ~6,000 documents (3.3 MB) were the driver's peak at 25 MB of corpus;
#: through the file it is ~3 MB lower, the pairs the same
BAND_KEYS_IN_MEMORY = 1 << 20


def _sig_rows(sigs: "np.ndarray | SignatureRows", idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``sigs``: an array, or a store of signatures kept out of memory (an object
    with ``take_rows(idx)``, e.g. a temporary file read in blocks)."""
    take = getattr(sigs, "take_rows", None)
    return take(idx) if take is not None else np.asarray(sigs)[idx]


def _first_column(sigs: "np.ndarray | SignatureRows") -> np.ndarray:
    if isinstance(sigs, np.ndarray):
        return sigs[:, 0]
    n = len(sigs)
    # a copy of each block's column (a view would keep the whole block alive)
    parts = [_sig_rows(sigs, np.arange(lo, min(n, lo + SIG_BLOCK)))[:, 0].copy() for lo in range(0, n, SIG_BLOCK)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint32)


def _lsh_pairs_blocks(rows: Callable[[np.ndarray], np.ndarray], m: int, bands: int) -> np.ndarray:
    """``lsh_pairs(band_keys(S, bands))`` of the ``m`` signatures ``S[i] = rows([i])[0]``, read
    in blocks of :data:`SIG_BLOCK` rows (a band key depends on its row only). Band keys over
    :data:`BAND_KEYS_IN_MEMORY` bytes go to a temporary file, one band after the other, and are
    read back one band at a time."""
    blocks = ((lo, min(m, lo + SIG_BLOCK)) for lo in range(0, m, SIG_BLOCK))
    if m * bands * 8 <= BAND_KEYS_IN_MEMORY:
        # band-major, each block's keys written in place: one copy of the keys (a concatenation
        # of the blocks' held two at its peak: +3 MB at 6,000 documents and 64 bands)
        kt = np.empty((bands, m), dtype=np.uint64)
        for lo, hi in blocks:
            kt[:, lo:hi] = band_keys(rows(np.arange(lo, hi)), bands).T
        return _lsh_pairs_cols(m, bands, kt.__getitem__)
    with tempfile.TemporaryFile(prefix="dedupe-bands-") as fh:
        for lo, hi in blocks:
            kt = np.ascontiguousarray(band_keys(rows(np.arange(lo, hi)), bands).T)
            for b in range(bands):
                fh.seek(8 * (b * m + lo))
                fh.write(memoryview(kt[b]))
        del kt
        fh.flush()

        def column(b: int) -> np.ndarray:  # pread: the threads of _lsh_pairs_cols share the file
            data = os.pread(fh.fileno(), 8 * m, 8 * b * m)
            if len(data) != 8 * m:
                raise OSError(f"band keys file: {len(data)} of {8 * m} bytes read")
            return np.frombuffer(data, dtype=np.uint64)

        return _lsh_pairs_cols(m, bands, column)


def candidates(
    sigs: "np.ndarray | SignatureRows", n_shingles: np.ndarray, nd: NearDupConfig, rows: np.ndarray | None = None
) -> np.ndarray:
    """Candidate pairs ``(i, j)``, ``i < j`` (sorted, unique) worth an exact check: proposed by
    LSH (``nd.bands``, plus ``nd.containment_bands`` when the containment rule is on) and kept
    when the signature estimate is within ``PREFILTER_SLACK`` of a rule. The containment of the
    smaller set is estimated from the Jaccard estimate ``e`` and the exact set sizes:
    ``|a & b| = e (|a| + |b|) / (1 + e)``.

    ``rows``: the signatures considered are ``sigs[rows]`` (pairs index into ``rows``; default
    all); ``n_shingles`` is given for those. Signatures are read in blocks of :data:`SIG_BLOCK`
    rows, so ``sigs`` may be kept out of memory (see :func:`_sig_rows`)."""
    m = len(sigs) if rows is None else len(rows)
    if m < 2:
        return np.empty((0, 2), dtype=np.int64)

    def get(idx: np.ndarray) -> np.ndarray:
        return _sig_rows(sigs, idx if rows is None else rows[idx])

    pairs = _lsh_pairs_blocks(get, m, nd.bands)
    if nd.containment > 0 and nd.containment_bands and nd.containment_bands != nd.bands:
        more = _lsh_pairs_blocks(get, m, nd.containment_bands)
        na, nb = n_shingles[more[:, 0]], n_shingles[more[:, 1]]
        more = more[containment_ok(na, nb, nd)]  # exact sizes: cheap, before any estimate
        if len(more):
            pairs = np.unique(np.concatenate([pairs, more]), axis=0) if len(pairs) else more
    if not len(pairs):
        return pairs
    # estimates in blocks of pairs: (pairs x perms) comparisons at once would cost ~30 MB at 100 MB
    est = np.empty(len(pairs), dtype=np.float64)
    for k in range(0, len(pairs), SIG_BLOCK):
        blk = pairs[k : k + SIG_BLOCK]
        est[k : k + len(blk)] = (get(blk[:, 0]) == get(blk[:, 1])).mean(axis=1)
    keep = est >= nd.threshold - PREFILTER_SLACK
    if nd.containment > 0:
        na, nb = n_shingles[pairs[:, 0]].astype(np.float64), n_shingles[pairs[:, 1]].astype(np.float64)
        c_est = est * (na + nb) / (1.0 + est) / np.maximum(np.minimum(na, nb), 1.0)
        keep |= containment_ok(na, nb, nd) & (c_est >= nd.containment - PREFILTER_SLACK)
    return pairs[keep]


class SignatureRows(Protocol):
    """Signatures ``(n, num_perm)`` kept out of memory (e.g. in a temporary file), as
    :func:`cluster` and :func:`candidates` accept them: ``len`` and rows by index."""

    def __len__(self) -> int: ...

    def take_rows(self, idx: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class Clusters:
    """Per document: index of its cluster's canonical member (-1 = in no cluster) and its exact
    Jaccard with that member (1.0 for the canonical member itself)."""

    canonical: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls, n: int) -> "Clusters":
        return cls(np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float64))

    def n_clusters(self) -> int:
        c = self.canonical[self.canonical >= 0]
        return len(np.unique(c))


class _UF:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        p = self.parent.setdefault(x, x)
        while p != x:
            gp = self.parent[p]
            self.parent[x] = gp
            x, p = p, gp
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


#: candidate pairs verified at a time (the Python objects of a block only)
_PAIR_BLOCK = 1 << 16


def cluster(
    sigs: "np.ndarray | SignatureRows",
    n_shingles: np.ndarray,
    get_text: Callable[[int], str],
    cfg: Config,
    *,
    ids: Sequence[str],
    urls: Sequence[str | None],
    lengths: Sequence[int],
    compare_many: "Callable[[np.ndarray], np.ndarray] | None" = None,
    order: "Callable[[], np.ndarray] | None" = None,
) -> Clusters:
    """Verified near-duplicate clusters of documents ``0..n-1``.

    Args:
        sigs: ``(n, num_perm)`` signatures of the cleaned texts (an array, or a
            :class:`SignatureRows` store read in blocks).
        n_shingles: distinct shingles per document (documents below ``neardup.min_shingles``
            are left out).
        get_text: the cleaned text of document ``i`` (called only for candidates).
        ids, urls, lengths: for the canonical policy (``lengths`` = cleaned text lengths).
        compare_many: when given, called with an ``(m, 2)`` array of document pairs and
            returning :func:`pair_counts` of their shingle sets (e.g. computed by worker
            processes, a group of pairs at a time), instead of ``get_text`` one document at a
            time with every candidate's shingle set held here. Called once with the candidate
            pairs, then, when a cluster's canonical member was not paired with some member,
            once more with those pairs (for their scores).
        order: gives :func:`~dedupe.engine.crosspage.id_order` of ``ids`` (an
            :class:`~dedupe.engine.crosspage.IdOrder`), when the caller has one.
    """
    n = len(sigs)
    out = Clusters.empty(n)
    nd = cfg.neardup
    n_shingles = np.asarray(n_shingles)
    eligible = np.flatnonzero((n_shingles >= nd.min_shingles) & (_first_column(sigs) != EMPTY))
    if len(eligible) < 2:
        return out
    pairs = candidates(sigs, n_shingles[eligible], nd, rows=eligible)
    if not len(pairs):
        return out
    pairs = eligible[pairs]
    if compare_many is None:
        cache: dict[int, np.ndarray] = {}

        def sh(i: int) -> np.ndarray:
            got = cache.get(i)
            if got is None:
                got = cache[i] = shingle_set(get_text(i), cfg.signature)
            return got

        def compare_many(p: np.ndarray) -> np.ndarray:
            docs = sorted(set(p.ravel().tolist()))
            at = {d: k for k, d in enumerate(docs)}
            return pair_counts([sh(d) for d in docs], np.array([(at[i], at[j]) for i, j in p.tolist()], dtype=np.int64).reshape(-1, 2))

    def compared(p: np.ndarray) -> np.ndarray:
        got = np.asarray(compare_many(p), dtype=np.int64)
        if got.shape != (len(p), 3):
            raise ValueError("compare_many must give (intersection, size, size) per pair")
        return got

    # the counts of each compared pair (i, j), i < j, found by its key i * n + j: flat arrays,
    # not a dict of tuples (~450 bytes a pair at its peak)
    counts = compared(pairs)
    keys = pairs[:, 0] * n + pairs[:, 1]
    if len(keys) > 1 and bool((keys[1:] < keys[:-1]).any()):  # candidates come sorted: a guard
        o = np.argsort(keys, kind="stable")
        keys, counts = keys[o], counts[o]
    uf = _UF()
    for lo in range(0, len(pairs), _PAIR_BLOCK):
        for (i, j), c in zip(pairs[lo : lo + _PAIR_BLOCK].tolist(), counts[lo : lo + _PAIR_BLOCK].tolist()):
            if _verified_counts(*c, nd):
                uf.union(i, j)
    groups: dict[int, list[int]] = {}
    for x in sorted(uf.parent):
        groups.setdefault(uf.find(x), []).append(x)
    rank = policy_rank(nd.canonical, ids=ids, urls=urls, lengths=lengths, order=order)
    chosen: list[tuple[list[int], int]] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        chosen.append((members, min(members, key=lambda i: rank[i])))

    def found(q: np.ndarray) -> np.ndarray:
        """Where each key of ``q`` is in ``keys`` (-1: not compared)."""
        pos = np.searchsorted(keys, q)
        hit = pos < len(keys)
        hit[hit] = keys[pos[hit]] == q[hit]
        return np.where(hit, pos, -1)

    # each member's pair with its canonical document; those never compared need one more look
    scored = [(m, c) for members, c in chosen for m in members if m != c]
    want = np.array([(min(m, c), max(m, c)) for m, c in scored], dtype=np.int64).reshape(-1, 2)
    at = found(want[:, 0] * n + want[:, 1])
    if (at < 0).any():
        more = np.unique(want[at < 0], axis=0)
        keys = np.concatenate([keys, more[:, 0] * n + more[:, 1]])
        counts = np.concatenate([counts, compared(more)])
        o = np.argsort(keys, kind="stable")
        keys, counts = keys[o], counts[o]
        at = found(want[:, 0] * n + want[:, 1])
    score = dict(zip(scored, (_jaccard_counts(*c) for c in counts[at].tolist())))
    for members, canon in chosen:
        for m in members:
            out.canonical[m] = canon
            out.score[m] = 1.0 if m == canon else score[(m, canon)]
    return out


#: a plain http(s) URL (nearly every URL): an ASCII host of letters, digits, dots and hyphens, an
#: optional port, then path, query and fragment with no tab or line break (urlsplit drops those);
#: its groups are ``urlsplit``'s hostname (before lower-casing), path and query (tested), at a
#: sixth of the cost (7 -> ~1 us a page; every page's identity is read in the first pass).
#: ``re.ASCII``: case-insensitive Unicode matching would take "httpſ" (long s) for "https"
_PLAIN_PAGE_URL = re.compile(r"(?i:https?)://([A-Za-z0-9.-]+)(?::[0-9]*)?(/[^?#\t\r\n]*)?(?:\?([^#\t\r\n]*))?(?:#[^\t\r\n]*)?\Z", re.ASCII)


def page_key(url: str | None) -> str | None:
    """The URL of a page, normalised for telling re-crawls apart from other pages of a site:
    scheme and fragment dropped, host lower-cased without ``www.``, trailing ``/`` and
    ``index.html``-like endings dropped, ``utm_*`` tracking parameters dropped, other query
    parameters kept (``news.htm?id=1`` and ``?id=2`` are two pages). ``None`` when unknown.

    >>> page_key("HTTPS://www.Example.com/a/b/?utm_source=x&id=3#top")
    'example.com/a/b?id=3'
    >>> page_key("http://example.com/a/b") == page_key("https://example.com/a/b/")
    True
    >>> page_key(None) is None
    True
    """
    if not url or not url.strip():
        return None
    url = url.strip()
    m = _PLAIN_PAGE_URL.match(url)
    if m is not None:
        host, path, query = m.group(1).lower().rstrip("."), m.group(2) or "", m.group(3) or ""
    else:
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".")
        except ValueError:
            return url
        path, query = parts.path, parts.query
    if host.startswith("www."):
        host = host[4:]
    for tail in ("index.html", "index.htm", "index.php"):
        if path.endswith("/" + tail):
            path = path[: -len(tail)]
    path = path.rstrip("/")
    query = "&".join(q for q in query.split("&") if q and not q.lower().startswith("utm_"))
    return f"{host}{path}" + (f"?{query}" if query else "")


#: the ``Document.meta`` key of what a page's HTML head says of it: a dict with ``title``,
#: ``canonical`` (``<link rel=canonical>`` href) and ``og_url``, each optional. The HTML readers
#: (``dedupe.io``: ``html`` rows, ``.html`` files) fill it; an API caller may set it.
PAGE_META = "page"

_WS = re.compile(r"\s+")


def title_key(title: str | None) -> str | None:
    """A page title normalised for telling pages apart: NFKC, case-folded, whitespace runs
    collapsed to one space and stripped; digits and punctuation kept (``Page 2`` and ``Page 3``
    are two pages). ``None`` when empty.

    >>> title_key("  Fall LEAF\\n Bunting - The Crafty Crow ")
    'fall leaf bunting - the crafty crow'
    >>> title_key(" ") is None
    True
    """
    if not title:
        return None
    key = _WS.sub(" ", unicodedata.normalize("NFKC", title).casefold()).strip()
    return key or None


class PageId(NamedTuple):
    """What tells a page apart from the other pages of its site (see :func:`page_groups`).

    Attributes:
        url: :func:`page_key` of its URL (the document's ``url``, else the canonical link, else
            ``og:url`` of ``meta["page"]``), or ``None``.
        title: :func:`title_key` of its title (``meta["page"]["title"]``), or ``None``.
    """

    url: str | None
    title: str | None


def page_id(doc: Document) -> PageId:
    """The :class:`PageId` of a document: its URL if any (``url``, else the canonical link,
    else ``og:url`` from ``meta[PAGE_META]``), normalised by :func:`page_key`; and its title
    normalised by :func:`title_key`. A document from plain text without URL has neither.
    ``meta[PAGE_META]`` may also be a :class:`PageId` (keys already normalised): returned as is.

    >>> page_id(Document("a", "t", url="https://www.ex.com/p/", meta={"page": {"title": "P"}}))
    PageId(url='ex.com/p', title='p')
    >>> page_id(Document("a", "t", meta={"page": {"canonical": "http://ex.com/q", "title": "Q  1"}}))
    PageId(url='ex.com/q', title='q 1')
    >>> page_id(Document("a", "t"))
    PageId(url=None, title=None)
    """
    return page_id_of(doc.url, doc.meta)


def page_id_of(url: str | None, meta: "Mapping | None") -> PageId:
    """:func:`page_id` of a document with this ``url`` and ``meta`` (no :class:`Document` built)."""
    head = (meta or {}).get(PAGE_META) or {}
    if isinstance(head, PageId):  # an identity already normalised (as a persistent index stores it)
        return head
    if not isinstance(head, Mapping):
        head = {}
    for cand in (url, head.get("canonical"), head.get("og_url")):
        if isinstance(cand, str) and cand.strip():
            url = cand
            break
    title = head.get("title")
    return PageId(page_key(url), title_key(title if isinstance(title, str) else None))


def page_groups(
    sigs: "np.ndarray | SignatureRows",
    sites: Sequence[str],
    threshold: float,
    bands: int,
    urls: Sequence[PageId | str | None] | None = None,
    *,
    ids: Sequence[str] | None = None,
    order: "Callable[[], np.ndarray] | None" = None,
) -> list[list[int]]:
    """Groups (size >= 2, sorted) of pages of the SAME site whose signatures estimate a Jaccard
    of at least ``threshold`` and whose identities do not tell them apart: copies of one page
    (a re-crawl of one URL, or copies whose URL and title are unknown).

    Pairs are joined closest first: a page without identity that could join either of two pages
    told apart joins the one it is closer to. ``ids``: the pages' document ids; with them, pages
    are taken in id order (LSH buckets, then ties between pairs), so the groups do not depend on
    the input order. Without them, input positions break the ties. ``order``: gives their
    :func:`~dedupe.engine.crosspage.id_order` (an :class:`~dedupe.engine.crosspage.IdOrder`),
    when the caller has one.

    ``urls``: one :class:`PageId` per page (:func:`page_id`), or a bare URL (or ``None``),
    which stands for ``PageId(page_key(url), None)``.

    Used on the raw page texts before templates are learned: such copies must not vote for each
    other's content as "template". Two pages are told apart, deterministically, by:

    * their URLs, when both have one (``page_key``): two URLs are two pages even when the texts
      are nearly the same (posts of a photo blog whose only text is the site's sidebar and a
      title line); one URL is one page even when the title changed between crawls;
    * else their titles (``title_key``), when both have one: without URLs (HTML files, rows
      without ``url`` and without a canonical link), different titles are different pages and
      the same title is a re-crawl;
    * else nothing: pages with no identity are taken for copies, as are near-identical pages
      whose titles agree.

    A group keeps the URL and the titles of its members; a page without URL or title never joins
    two groups that are told apart. What the pages told apart share is the site's, and counts as
    such. A copy published under a second URL of the same site is then caught like any other
    repeated body: held by few of the site's pages, it is restored inside the main text
    (``templates.restore_below``) and clustered as a near-duplicate document.
    """
    n = len(sigs)
    if n < 2:
        return []
    # the order pages are taken in: by id when given, else by position
    if ids is None:
        perm = np.arange(n, dtype=np.int64)
    else:
        perm = crosspage.id_order(ids) if order is None else np.asarray(order(), dtype=np.int64)
    ok = perm[_first_column(sigs)[perm] != EMPTY]
    if len(ok) < 2:
        return []
    # signatures read in blocks of rows (``sigs`` may be a SignatureRows store on disk); pairs
    # come sorted by the positions of their pages in ``ok``, then mapped to input positions
    pairs = ok[_lsh_pairs_blocks(lambda idx: _sig_rows(sigs, ok[idx]), len(ok), bands)]
    if not len(pairs):
        return []
    # estimates in blocks of pairs: (pairs x perms) comparisons at once cost ~30 MB at 100 MB
    est = np.concatenate([
        (_sig_rows(sigs, pairs[k : k + SIG_BLOCK, 0]) == _sig_rows(sigs, pairs[k : k + SIG_BLOCK, 1])).mean(axis=1)
        for k in range(0, len(pairs), SIG_BLOCK)
    ])

    def ident(i: int) -> tuple[str | None, frozenset[str]]:
        u = urls[i] if urls is not None else None
        pid = u if isinstance(u, PageId) else PageId(page_key(u), None)
        return pid.url, (frozenset((pid.title,)) if pid.title is not None else frozenset())

    # closest pairs first (a page that could join either of two pages told apart joins the one
    # it is closer to), ties in the order above
    by_est = np.argsort(-est, kind="stable")
    pairs, est = pairs[by_est], est[by_est]
    uf = _UF()
    # root -> (the URL key its group holds or None, the title keys of its members)
    group_id: dict[int, tuple[str | None, frozenset[str]]] = {}
    for (i, j), e in zip(pairs.tolist(), est.tolist()):
        if e < threshold or sites[i] != sites[j]:
            continue
        ri, rj = uf.find(i), uf.find(j)
        if ri == rj:
            continue
        (ui, ti), (uj, tj) = group_id.get(ri) or ident(i), group_id.get(rj) or ident(j)
        if ui is not None and uj is not None:
            if ui != uj:
                continue  # two URLs: two pages
        elif ti and tj and not (ti & tj):
            continue  # no URL on one side, and the titles differ: two pages
        uf.union(ri, rj)
        group_id[uf.find(ri)] = (ui if ui is not None else uj, ti | tj)
    groups: dict[int, list[int]] = {}
    for x in sorted(uf.parent):
        groups.setdefault(uf.find(x), []).append(x)
    return [g for g in groups.values() if len(g) >= 2]


def copies_of(
    pid: PageId, sig: np.ndarray, candidates: Sequence[tuple[str, PageId, np.ndarray]], threshold: float
) -> list[tuple[str, float]]:
    """The candidates that :func:`page_groups` would put in one group with a page of identity
    ``pid`` and raw-text signature ``sig``, judging only the pairs this page is in (a page
    streamed against stored pages of its SAME site): ``[(id, estimate)]``, closest first.

    ``candidates``: ``(id, identity, raw signature)``. A candidate qualifies with a signature
    estimate of at least ``threshold``; taken closest first (ties by id), each joins unless the
    group built so far tells it apart (two URL keys differ; else both have titles and share
    none), and its URL and title then join the group's, as in :func:`page_groups`. Unlike
    :func:`page_groups`, pairs between candidates are not looked at: a stored page similar to a
    copy of this page but below ``threshold`` to it is not a copy (no transitive join), and two
    candidates are never merged through a third.

    >>> s = np.arange(8, dtype=np.uint32)
    >>> copies_of(PageId("ex.com/a", None), s, [("x", PageId("ex.com/a", "t"), s), ("y", PageId("ex.com/b", None), s)], 0.8)
    [('x', 1.0)]
    """
    if not len(candidates) or len(sig) == 0 or sig[0] == EMPTY:
        return []
    mat = np.stack([np.asarray(c[2], dtype=np.uint32) for c in candidates])
    est = (mat == np.asarray(sig, dtype=np.uint32)[None, :]).mean(axis=1)
    order = sorted((k for k in range(len(candidates)) if est[k] >= threshold and mat[k, 0] != EMPTY),
                   key=lambda k: (-float(est[k]), candidates[k][0]))
    url, titles = pid.url, ({pid.title} if pid.title is not None else set())
    out: list[tuple[str, float]] = []
    for k in order:
        cid, cp, _ = candidates[k]
        ct = {cp.title} if cp.title is not None else set()
        if url is not None and cp.url is not None:
            if url != cp.url:
                continue  # two URLs: two pages
        elif titles and ct and not (titles & ct):
            continue  # no URL on one side, and the titles differ: two pages
        out.append((cid, float(est[k])))
        url = url if url is not None else cp.url
        titles |= ct
    return out


def with_near_dup_span(res: CleanResult, canon_id: str, canon_chars: int, score: float, rule: str) -> CleanResult:
    """``res`` plus the flagged ``near-duplicate-doc`` span over its whole text, pointing at the
    canonical document ``canon_id`` (``kept`` = its first ``canon_chars`` characters)."""
    span = Span(0, len(res.original), res.original, KIND_NEAR_DUP_DOC, rule, float(score),
                kept=(0, int(canon_chars)), kept_doc=canon_id, removed=False)
    spans = tuple(sorted((*res.spans, span), key=lambda s: (s.start, s.end, not s.removed)))
    return dataclasses.replace(res, spans=spans)
