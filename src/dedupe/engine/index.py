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
