"""What an index store must do, and an in-memory implementation.

The corpus job and the persistent index share this protocol, so that feeding pages through a
persistent store gives the same templates, clusters and cleaned text as an in-memory corpus run.

Evidence kept per site: for every *fingerprint* (a stable uint64: a span k-gram or a short
line, see :mod:`dedupe.engine.templates`), the set of pages of the site holding it. Observing a
document id again replaces its earlier contribution (a re-crawl never double-counts).

Evidence kept per document: its MinHash signature and LSH band keys (near-duplicate documents).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class IndexStore(Protocol):
    """The operations the engine needs from an index backend."""

    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        """Record that ``doc_id`` of ``site`` holds ``fingerprints`` (unique uint64), replacing
        whatever this ``doc_id`` contributed before (also under another site)."""

    def site_pages(self, site: str) -> int:
        """How many distinct pages of ``site`` have been observed."""

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        """For each fingerprint, how many observed pages of ``site`` hold it (int64 array)."""

    def put_signature(self, doc_id: str, signature: np.ndarray, band_keys: np.ndarray) -> None:
        """Store (or replace) a document's MinHash signature (uint32) and band keys (uint64)."""

    def get_signature(self, doc_id: str) -> np.ndarray | None:
        """The stored signature of ``doc_id``, or None."""

    def band_candidates(self, band_keys: np.ndarray) -> list[str]:
        """Ids of stored documents sharing at least one band key (same band position), sorted."""

    def forget_doc(self, doc_id: str) -> None:
        """Remove everything ``doc_id`` contributed."""

    def forget_site(self, site: str) -> None:
        """Remove every page of ``site`` and their evidence."""

    def doc_ids(self, site: str | None = None) -> list[str]:
        """Observed document ids (of one site, or all), sorted."""


class MemoryIndex:
    """In-memory :class:`IndexStore`; the reference the persistent stores must agree with."""

    def __init__(self) -> None:
        self._doc_site: dict[str, str] = {}
        self._doc_fps: dict[str, np.ndarray] = {}
        self._df: dict[str, dict[int, int]] = defaultdict(dict)
        self._pages: dict[str, set[str]] = defaultdict(set)
        self._sigs: dict[str, np.ndarray] = {}
        self._bands: dict[str, np.ndarray] = {}
        self._buckets: dict[tuple[int, int], set[str]] = defaultdict(set)

    # -- template evidence -------------------------------------------------------------
    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        self._drop_fps(doc_id)
        fps = np.unique(np.asarray(fingerprints, dtype=np.uint64))
        df = self._df[site]
        for fp in fps.tolist():
            df[fp] = df.get(fp, 0) + 1
        self._doc_site[doc_id] = site
        self._doc_fps[doc_id] = fps
        self._pages[site].add(doc_id)

    def observe_many(self, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        for site, doc_id, fps in items:
            self.observe(site, doc_id, fps)

    def _drop_fps(self, doc_id: str) -> None:
        old_site = self._doc_site.pop(doc_id, None)
        if old_site is None:
            return
        df = self._df[old_site]
        for fp in self._doc_fps.pop(doc_id).tolist():
            c = df[fp] - 1
            if c:
                df[fp] = c
            else:
                del df[fp]
        self._pages[old_site].discard(doc_id)

    def site_pages(self, site: str) -> int:
        return len(self._pages.get(site, ()))

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        df = self._df.get(site, {})
        return np.fromiter((df.get(fp, 0) for fp in np.asarray(fingerprints, dtype=np.uint64).tolist()), dtype=np.int64, count=len(fingerprints))

    # -- near-duplicate documents ---------------------------------------------------------
    def put_signature(self, doc_id: str, signature: np.ndarray, band_keys: np.ndarray) -> None:
        self._drop_sig(doc_id)
        keys = np.asarray(band_keys, dtype=np.uint64)
        self._sigs[doc_id] = np.asarray(signature, dtype=np.uint32).copy()
        self._bands[doc_id] = keys.copy()
        for b, key in enumerate(keys.tolist()):
            self._buckets[(b, key)].add(doc_id)

    def _drop_sig(self, doc_id: str) -> None:
        keys = self._bands.pop(doc_id, None)
        self._sigs.pop(doc_id, None)
        if keys is None:
            return
        for b, key in enumerate(keys.tolist()):
            bucket = self._buckets.get((b, key))
            if bucket is not None:
                bucket.discard(doc_id)
                if not bucket:
                    del self._buckets[(b, key)]

    def get_signature(self, doc_id: str) -> np.ndarray | None:
        return self._sigs.get(doc_id)

    def band_candidates(self, band_keys: np.ndarray) -> list[str]:
        out: set[str] = set()
        for b, key in enumerate(np.asarray(band_keys, dtype=np.uint64).tolist()):
            out |= self._buckets.get((b, key), set())
        return sorted(out)

    # -- housekeeping ---------------------------------------------------------------------
    def forget_doc(self, doc_id: str) -> None:
        self._drop_fps(doc_id)
        self._drop_sig(doc_id)

    def forget_site(self, site: str) -> None:
        for doc_id in sorted(self._pages.get(site, ())):
            self.forget_doc(doc_id)
        self._pages.pop(site, None)
        self._df.pop(site, None)

    def doc_ids(self, site: str | None = None) -> list[str]:
        if site is None:
            return sorted(self._doc_site)
        return sorted(self._pages.get(site, ()))


class CountIndex:
    """Compact, append-only template evidence for one corpus run (an :class:`IndexStore`).

    Counting: each observed page adds its unique fingerprints to a per-site buffer (uint64
    arrays); a buffer is merged into the site's sorted ``(fingerprints, counts)`` with one
    ``np.unique`` when it grows past the site's size (or past a global budget), so the cost is
    ``O(n log n)`` in the fingerprints and the memory ~12 bytes per distinct fingerprint of a site.
    :meth:`freeze` merges what is left and keeps only fingerprints held by at least ``min_count``
    pages; ``doc_freq`` is then one ``np.searchsorted`` per call, and the frozen store pickles as a
    few flat arrays (cheap to hand to ``spawn`` workers).

    Semantics: identical to :class:`MemoryIndex` for every fingerprint held by ``>= min_count``
    pages; fingerprints held by fewer read as 0. With ``min_count=1`` (default) it is exact.
    The corpus job uses ``min_count=2`` when the template threshold can never be below 2
    (``templates.min_pages >= 2``): a fingerprint on one page is never template evidence, and
    ~95% of a corpus's fingerprints (article bodies) are on one page only.

    Limits: append-only — observing a ``doc_id`` twice, ``observe`` after :meth:`freeze` and
    :meth:`forget_doc` raise :class:`~dedupe.errors.IndexStoreError` (use :class:`MemoryIndex` or a
    persistent store for incremental use). Signatures are kept in an inner :class:`MemoryIndex`.
    """

    #: merge every buffer when this many fingerprints are buffered in total
    BUFFER_BUDGET = 4_000_000

    def __init__(self, min_count: int = 1) -> None:
        self.min_count = max(1, int(min_count))
        self._fps: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}
        self._buf: dict[str, list[np.ndarray]] = defaultdict(list)
        self._buf_len: dict[str, int] = defaultdict(int)
        self._buffered = 0
        self._pages: dict[str, list[str]] = defaultdict(list)
        self._doc_site: dict[str, str] = {}
        self._frozen = False
        self._sig = MemoryIndex()

    # -- counting -------------------------------------------------------------------------
    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        from ..errors import IndexStoreError

        if self._frozen:
            raise IndexStoreError("CountIndex is frozen: no observe after freeze()")
        if doc_id in self._doc_site:
            raise IndexStoreError(f"CountIndex is append-only: document {doc_id!r} observed twice")
        fps = np.asarray(fingerprints, dtype=np.uint64)
        if len(fps) > 1 and not bool((fps[1:] > fps[:-1]).all()):  # sorted unique input: no sort
            fps = np.unique(fps)
        self._doc_site[doc_id] = site
        self._pages[site].append(doc_id)
        if len(fps):
            self._buf[site].append(fps)
            self._buf_len[site] += len(fps)
            self._buffered += len(fps)
            have = len(self._fps.get(site, ()))
            if self._buf_len[site] >= max(65536, have):
                self._merge(site)
            elif self._buffered >= self.BUFFER_BUDGET:
                for s in list(self._buf):
                    self._merge(s)

    def observe_many(self, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        for site, doc_id, fps in items:
            self.observe(site, doc_id, fps)

    def _merge(self, site: str) -> None:
        parts = self._buf.pop(site, None)
        n_buf = self._buf_len.pop(site, 0)
        self._buffered -= n_buf
        if not parts:
            return
        nf, nc = np.unique(np.concatenate(parts), return_counts=True)
        old_f = self._fps.get(site)
        if old_f is not None and len(old_f):
            allf = np.concatenate((old_f, nf))
            allc = np.concatenate((self._counts[site], nc.astype(np.uint32)))
            order = np.argsort(allf, kind="stable")
            allf, allc = allf[order], allc[order]
            first = np.flatnonzero(np.concatenate(([True], allf[1:] != allf[:-1])))
            nf = allf[first]
            nc = np.add.reduceat(allc, first)
        self._fps[site] = nf
        self._counts[site] = nc.astype(np.uint32)

    def freeze(self) -> "CountIndex":
        """Merge the buffers and drop fingerprints held by fewer than ``min_count`` pages."""
        if not self._frozen:
            for s in list(self._buf):
                self._merge(s)
            self._buf.clear()
            self._buf_len.clear()
            self._buffered = 0
            if self.min_count > 1:
                for s in list(self._fps):
                    keep = self._counts[s] >= self.min_count
                    self._fps[s] = self._fps[s][keep]
                    self._counts[s] = self._counts[s][keep]
            self._frozen = True
        return self

    # -- reading --------------------------------------------------------------------------
    def site_pages(self, site: str) -> int:
        return len(self._pages.get(site, ()))

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        if not self._frozen and self._buf.get(site):
            self._merge(site)
        q = np.asarray(fingerprints, dtype=np.uint64)
        out = np.zeros(len(q), dtype=np.int64)
        f = self._fps.get(site)
        if f is None or not len(f) or not len(q):
            return out
        pos = np.minimum(np.searchsorted(f, q), len(f) - 1)
        hit = f[pos] == q
        c = self._counts[site][pos[hit]].astype(np.int64)
        if self.min_count > 1:
            c[c < self.min_count] = 0
        out[hit] = c
        return out

    def n_fingerprints(self) -> int:
        """Distinct fingerprints held (over all sites)."""
        return sum(len(f) for f in self._fps.values()) + self._buffered

    # -- near-duplicate documents ---------------------------------------------------------
    def put_signature(self, doc_id: str, signature: np.ndarray, band_keys: np.ndarray) -> None:
        self._sig.put_signature(doc_id, signature, band_keys)

    def get_signature(self, doc_id: str) -> np.ndarray | None:
        return self._sig.get_signature(doc_id)

    def band_candidates(self, band_keys: np.ndarray) -> list[str]:
        return self._sig.band_candidates(band_keys)

    # -- housekeeping ---------------------------------------------------------------------
    def forget_doc(self, doc_id: str) -> None:
        from ..errors import IndexStoreError

        if doc_id in self._doc_site:
            raise IndexStoreError("CountIndex is append-only: forget_doc is not supported")
        self._sig.forget_doc(doc_id)

    def forget_site(self, site: str) -> None:
        for doc_id in self._pages.pop(site, []):
            self._doc_site.pop(doc_id, None)
            self._sig.forget_doc(doc_id)
        self._fps.pop(site, None)
        self._counts.pop(site, None)
        parts = self._buf.pop(site, None)
        self._buffered -= self._buf_len.pop(site, 0)
        del parts

    def doc_ids(self, site: str | None = None) -> list[str]:
        if site is None:
            return sorted(self._doc_site)
        return sorted(self._pages.get(site, ()))

    def __getstate__(self) -> dict:
        st = dict(self.__dict__)
        st["_buf"] = dict(st["_buf"])
        st["_buf_len"] = dict(st["_buf_len"])
        st["_pages"] = dict(st["_pages"])
        return st

    def __setstate__(self, st: dict) -> None:
        st["_buf"] = defaultdict(list, st["_buf"])
        st["_buf_len"] = defaultdict(int, st["_buf_len"])
        st["_pages"] = defaultdict(list, st["_pages"])
        self.__dict__.update(st)
