"""Incremental corpus mode over a persistent index store (a crawl, page after page, day after day).

:class:`Index` drives the corpus functions of :mod:`dedupe.engine.corpus` against a store that
remembers earlier pages (:class:`~dedupe.stores.sqlite.SQLiteIndex` by default, see
:func:`dedupe.open_index`):

* :meth:`Index.observe` records pages as template evidence (one transaction per call).
* :meth:`Index.clean` observes one page, cleans it against its site's evidence *so far*, and
  looks its cleaned text up among the stored signatures (near-duplicate of a page seen before),
  then stores its own signature.
* :meth:`Index.corpus` is corpus mode on a batch, with the stored pages as extra evidence.
* :meth:`Index.reclean` re-cleans stored pages against everything the index now holds, without
  re-observing: once a site has enough pages, its early pages can be cleaned again. Fed page by
  page and then re-cleaned, the results equal an in-memory corpus run on the same pages.

The store needs, beyond :class:`~dedupe.engine.index.IndexStore`: ``observe_many``,
``put_signatures``, ``doc_info``, ``get_text``, ``signature_table``, ``forget_docs``; and, to
keep copies of one page from voting for each other's body across calls, ``copy_candidates``,
``copy_candidates_many`` and ``doc_fingerprints`` (a store without them gets no such exclusion
beyond a batch).
"""

from __future__ import annotations

import contextlib
import dataclasses
from itertools import islice
from typing import Any, Callable, Collection, Iterable, Iterator, Sequence

import numpy as np

from ..config import Config
from ..core.hashing import SortedLookup
from ..core.minhash import EMPTY, band_keys
from ..core.tokenize import tokenize
from ..errors import IndexStoreError, InputError
from ..models import CleanResult, Document
from . import neardup
from .corpus import Exclusion, _finish, _kept_tokens, _signatures_many, _site_level, observe_document, run_corpus, site_of
from .templates import page_features
from .within import within_analysis
from .crosspage import policy_rank


class _Recorder:
    """Collects what :func:`observe_document` would write, to write it in one batch."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, np.ndarray]] = []

    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        self.items.append((site, doc_id, fingerprints))


class _NoObserve:
    """A read view of a store whose ``observe`` does nothing: clean against stored evidence only.

    With ``min_pages`` > 1 the snapshot keeps only fingerprints held by at least that many pages
    (fingerprints on fewer pages read as 0, as in :class:`~dedupe.engine.index.CountIndex`):
    when the template threshold is never below 2 pages, a count of 1 and 0 clean alike, and most
    stored fingerprints (page bodies) are on one page only.

    Nothing is written while the view cleans, so a site's whole (fingerprint, pages) table is
    read once and answered from memory (one query per site instead of one per page), within a
    budget of ``cache_rows`` rows; sites beyond the budget are queried page by page (no
    eviction: with interleaved sites an LRU would reload whole site tables for every page).
    """

    cache_rows = 4_000_000

    def __init__(self, store: Any, min_pages: int = 1) -> None:
        self.store = store
        self.min_pages = max(1, int(min_pages))
        self._sites: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lookups: dict[str, SortedLookup] = {}
        self._uncached: set[str] = set()
        self._pages: dict[str, int] = {}
        self._rows = 0

    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        return None

    def _site(self, site: str) -> tuple[np.ndarray, np.ndarray] | None:
        got = self._sites.get(site)
        if got is not None or site in self._uncached:
            return got
        if not hasattr(self.store, "site_doc_freqs") or self._rows >= self.cache_rows:
            self._uncached.add(site)
            return None
        got = self._sites[site] = self.store.site_doc_freqs(site, self.min_pages) if self.min_pages > 1 else self.store.site_doc_freqs(site)
        self._rows += len(got[0])
        return got

    def site_pages(self, site: str) -> int:
        n = self._pages.get(site)
        if n is None:
            n = self._pages[site] = self.store.site_pages(site)
        return n

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        table = self._site(site)
        if table is None:
            return self.store.doc_freq(site, fingerprints)
        keys, pages = table
        fps = np.asarray(fingerprints, dtype=np.uint64)
        out = np.zeros(len(fps), dtype=np.int64)
        if len(keys) and len(fps):
            look = self._lookups.get(site)
            if look is None:
                look = self._lookups[site] = SortedLookup(keys)
            pos = look.index_of(fps)
            hit = pos >= 0
            out[hit] = pages[pos[hit]]
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self.store, "min_pages": self.min_pages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["store"], state.get("min_pages", 1))


class _Preview:
    """A read view of a store for one page about to be observed: for its ``site``, the
    fingerprints on >= 2 pages with their counts and the page count as they will be once the
    page is observed (:meth:`~dedupe.stores.sqlite.SQLiteIndex.preview_observe`); fingerprints
    on fewer pages read 0, as in :class:`_NoObserve`. Other sites go to the store."""

    def __init__(self, store: Any, site: str, keys: np.ndarray, counts: np.ndarray, pages: int) -> None:
        self.store, self.site, self.keys, self.counts, self.pages = store, site, keys, counts, pages

    def site_pages(self, site: str) -> int:
        return self.pages if site == self.site else self.store.site_pages(site)

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        if site != self.site:
            return _NoObserve(self.store, 2).doc_freq(site, fingerprints)
        fps = np.asarray(fingerprints, dtype=np.uint64)
        out = np.zeros(len(fps), dtype=np.int64)
        keys = self.keys
        if len(keys) and len(fps):
            pos = np.minimum(np.searchsorted(keys, fps), len(keys) - 1)
            hit = keys[pos] == fps
            out[hit] = self.counts[pos[hit]]
        return out

    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _info(doc: Document, pid: neardup.PageId | None = None, raw_sig: np.ndarray | None = None) -> dict[str, Any]:
    """What a store keeps of an observed page besides its fingerprints: its URL, length, text,
    and (when given) its identity and the signature of its raw text, to find its copies."""
    info: dict[str, Any] = {"url": doc.url, "chars": len(doc.text), "text": doc.text}
    if pid is not None:
        info["page"] = pid
    if raw_sig is not None:
        info["raw_sig"] = raw_sig
    return info


def _as_doc(doc: Document | dict) -> Document:
    if isinstance(doc, Document):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and "text" in doc:
        return Document(doc["id"], doc["text"], url=doc.get("url"), site=doc.get("site"))
    raise InputError("a document must be a Document or a dict with 'id' (str) and 'text'")


class Index:
    """Corpus mode with memory: a store plus the settings it was built with.

    Args:
        store: the evidence store (e.g. :class:`~dedupe.stores.sqlite.SQLiteIndex`); closed by
            :meth:`close`.
        config: settings; default the store's own ``config``.
        dedupe_only: no main-text selection (templates and repeats only).
    """

    #: :meth:`corpus` links results to the stored pages and yields them this many at a time. Few:
    #: results held while many more pages are cleaned outlive the garbage collector's young
    #: generations and are promoted, and every 25 % growth of the old generation triggers a
    #: full collection over the whole heap (at 2048: 19 of them, 1.5 CPU-s, in a 100k-page
    #: batch). The LSH look-ups do not depend on it (see :attr:`lookup_every`).
    link_chunk = 64
    #: :meth:`corpus` looks the next this many pages (in output order) up among the stored
    #: pages' LSH buckets in one batch look-up, and reads the sites' page counts
    #: (``meta["site_pages"]``) again, after linking this many: the stored pages a page is
    #: compared with, and its site's count, are as of at most this many pages earlier
    #: (other writers' pages included)
    lookup_every = 2048
    #: :meth:`reclean` stores signatures and yields results this many at a time (one write each)
    reclean_chunk = 2048
    #: :meth:`corpus` writes its observations in one transaction per this many bytes of buffered
    #: texts and fingerprints (a smaller batch is one transaction, as :meth:`observe`). Each
    #: transaction updates the counts of every site it touches: with pages of many sites
    #: interleaved, a larger budget means more pages per site per write (one count update per
    #: shared fingerprint and site instead of one per page; fewer commits). Every write costs
    #: about the size of each touched site's set of seen fingerprints (merged) plus one upsert
    #: per template fingerprint of each touched site, so with interleaved sites the number of
    #: writes multiplies the cost: 32 MB: -10 % CPU of the batch against 8 MB on 2,000
    #: interleaved sites; 128 MB: -30 % store CPU against 32 MB at 100k pages of 2,000 sites
    #: (the store's writes of ``bench_index.py``'s batch, replayed: 17.3 -> 11.3-12.1 s). The
    #: buffer holds each page's UTF-8 bytes (not also its str), its fingerprints and raw-text
    #: signature, counted with ~0.4 KB per page for the rest.
    observe_budget = 128 << 20
    #: :meth:`corpus` writes its pages' signatures (and cleaned texts) in one transaction per this
    #: many bytes of cleaned text (each write rewrites the LSH bucket B-tree pages it touches:
    #: 64 MB instead of 32 MB, 9 -> 5 writes at 100k pages, -15 % of their CPU)
    sig_budget = 64 << 20

    def __init__(
        self,
        store: Any,
        config: Config | None = None,
        *,
        dedupe_only: bool = False,
        as_document: "Callable[[Any], Document] | None" = None,
    ) -> None:
        self.store = store
        self.config: Config = config or getattr(store, "config", None) or Config()
        self.dedupe_only = dedupe_only
        # dict -> Document: the API layer passes the same converter clean_corpus uses (ids as str
        # or int, `html` rows, bad rows explained); the plain fallback takes Documents and simple dicts
        self._as_doc: Callable[[Any], Document] = as_document or _as_doc
        # signatures of pages already yielded by corpus(), not yet written (see sig_budget);
        # written at the latest by close(), so a batch left half-read loses none of them
        self._unsaved_sigs: list[tuple] = []
        self._closed = False

    # -- evidence -------------------------------------------------------------------------------
    def _checked(self, d: Document | dict) -> Document:
        doc = self._as_doc(d)
        if not isinstance(doc.text, str):
            raise InputError(f"document {doc.id!r}: text must be a str")
        if len(doc.text) > self.config.max_doc_chars:
            raise InputError(f"document {doc.id!r} has {len(doc.text):,} characters, more than max_doc_chars")
        return doc

    def observe(self, docs: Iterable[Document | dict]) -> int:
        """Record pages as template evidence, all in ONE transaction (all or nothing).

        Re-observing an id replaces its earlier contribution. Returns the number of pages.
        """
        rec = _Recorder()
        infos: list[dict[str, Any]] = []
        for d in docs:
            doc = self._checked(d)
            toks = tokenize(doc.text)
            observe_document(doc, rec, self.config, toks=toks)
            infos.append(_info(doc, neardup.page_id(doc), self._raw_signature(doc, toks)))
        return self.store.observe_many([(*item, info) for item, info in zip(rec.items, infos)])

    def _raw_signature(self, doc: Document, toks: Any) -> np.ndarray:
        """The MinHash signature of a page's raw text (what run_corpus groups copies by)."""
        return neardup.signature_of(doc.text, self.config, hashes=toks.hashes, single=toks.single)[0]

    # -- copies of one page among the stored pages ------------------------------------------------
    def _copies(self, site: str, pid: neardup.PageId, raw_sig: np.ndarray, exclude: Collection[str]) -> list[str]:
        """Ids of the stored copies of a page (see :func:`~dedupe.engine.neardup.copies_of`)."""
        if not self.config.templates.enabled or not hasattr(self.store, "copy_candidates"):
            return []
        thr = self.config.corpus.dup_pages_threshold
        cands = self.store.copy_candidates(site, pid.url, pid.title, exclude, raw_sig, thr)
        return [c for c, _ in neardup.copies_of(pid, raw_sig, [(c, neardup.PageId(u, t), g) for c, u, t, g in cands], thr)]

    def _may_have_copies(self, site: str, pid: neardup.PageId, exclude: Collection[str]) -> bool:
        """Whether some stored page could be a copy of a page with identity ``pid`` by identity
        alone (a page with a URL key: one with that key or without one on its site), i.e.
        whether its raw signature is needed to find its copies."""
        if not self.config.templates.enabled or not hasattr(self.store, "copy_candidates"):
            return False
        return pid.url is None or bool(self.store.copy_candidates(site, pid.url, pid.title, exclude))

    def _exclusion(self, copies: Sequence[str]) -> Exclusion | None:
        """The template evidence the stored pages ``copies`` contributed (for ExcludingIndex)."""
        if not copies:
            return None
        got = self.store.doc_fingerprints(copies)
        arrays = [got[c] for c in copies if c in got]
        if not arrays:
            return None
        u, c = np.unique(np.concatenate(arrays), return_counts=True)
        return u.astype(np.uint64), c.astype(np.int64), len(arrays)

    def _stored_copies(
        self, ids: Sequence[str], sites: Sequence[str], pages: Sequence[neardup.PageId], raw_sigs: Any, batch: Collection[str],
        *, all_stored: bool = False,
    ) -> dict[int, Exclusion]:
        """For :func:`run_corpus` (``stored_copies``): the evidence of each batch page's copies
        stored by earlier batches (pages of ``batch`` are never candidates: the batch groups
        its own copies). ``all_stored``: every batch page is stored already (observed and
        written), so a site whose stored pages are all batch pages is not looked up."""
        if not hasattr(self.store, "copy_candidates_many"):
            return {}
        thr = self.config.corpus.dup_pages_threshold
        out: dict[int, Exclusion] = {}
        n = len(ids)
        ask = np.ones(n, dtype=bool)
        if all_stored and hasattr(self.store, "sites"):
            mine: dict[str, int] = {}
            for site in sites:
                mine[site] = mine.get(site, 0) + 1
            stored = self.store.sites()
            alone = {site for site, k in mine.items() if stored.get(site, 0) <= k}
            if alone:
                ask = np.fromiter((site not in alone for site in sites), dtype=bool, count=n)
        block = 4096
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            if not ask[lo:hi].any():
                continue
            pids = [pages[i] for i in range(lo, hi)]
            sig_rows = raw_sigs.take_rows(np.arange(lo, hi, dtype=np.int64))
            idx = [k for k in range(hi - lo) if ask[lo + k]]
            got = self.store.copy_candidates_many([(sites[lo + k], pids[k].url, pids[k].title, sig_rows[k]) for k in idx], batch, thr)
            found: list[list[Any]] = [[] for _ in range(hi - lo)]
            for k, g in zip(idx, got):
                found[k] = g
            if not any(found):
                continue
            for k, cands in enumerate(found):
                if not cands:
                    continue
                chosen = neardup.copies_of(pids[k], sig_rows[k], [(c, neardup.PageId(u, t), g) for c, u, t, g in cands], thr)
                ex = self._exclusion([c for c, _ in chosen])
                if ex is not None:
                    out[lo + k] = ex
        return out

    # -- cleaning -------------------------------------------------------------------------------
    def clean(self, doc: Document | dict) -> CleanResult:
        """Observe ``doc``, clean it against its site's evidence so far, find stored pages it
        near-duplicates, and store its signature.

        All of it is one write transaction when the store offers ``transaction()`` (the SQLite
        store does): the page is observed, cleaned and stored, or (on an error) none of it.
        The page is tokenised once and its template features computed once, for its
        fingerprints and for cleaning (the result equals
        :func:`~dedupe.engine.corpus.clean_document` against the same evidence).

        Copies of the page stored earlier on its site (a re-crawl under another id: same URL
        key, or identities that do not tell them apart, and raw text at least
        ``corpus.dup_pages_threshold`` similar; :func:`~dedupe.engine.neardup.copies_of`, the
        pair rule of :func:`~dedupe.engine.neardup.page_groups` judged against this page only,
        closest first) do not count as template evidence for it, as in corpus mode. The page's
        identity and raw-text signature are stored with it, for later pages.

        ``meta``: ``removed_chars``, ``cluster`` (the canonical page's id, or None),
        ``canonical`` (bool), ``site_pages`` (pages of the site observed so far, this one included).
        """
        doc = self._checked(doc)
        self._save_sigs()  # pages a batch on this Index yielded are stored pages for this one
        cfg = self.config
        toks = tokenize(doc.text)
        site = site_of(doc)
        # the template features once: the page's fingerprints (observe) and its site pieces (clean)
        feats = page_features(doc.text, toks, cfg.templates) if cfg.templates.enabled else None
        fps = feats.fingerprints() if feats is not None else np.empty(0, dtype=np.uint64)
        # its identity and raw-text signature: stored, and what finds its stored copies (a
        # re-crawl under another id), whose evidence is not counted for it, as in corpus mode
        pid = neardup.page_id(doc)
        mine = (doc.id,)
        transaction = getattr(self.store, "transaction", None)
        if transaction is None:  # a store without transactions: observe, then clean and link
            raw_sig = self._raw_signature(doc, toks)
            self.store.observe_many([(site, doc.id, fps, _info(doc, pid, raw_sig))])
            ex = self._exclusion(self._copies(site, pid, raw_sig, mine))
            res, sig = self._clean_page(doc, toks, feats, _NoObserve(self.store, self._min_pages()), ex)
            return self._link([(doc.id, site, res)], [sig])[0]
        # Clean BEFORE taking the write lock, against the evidence the site will hold once this
        # page is observed (read in one snapshot), so several processes clean in parallel; in
        # the lock, if another writer changed the site meanwhile, clean again against the real
        # evidence. Either way the result is the page cleaned against its site as committed.
        preview = getattr(self.store, "preview_observe", None)
        pre = preview(site, doc.id, fps) if preview is not None and self._min_pages() == 2 else None
        # (the copies are read after the preview: a write to the site in between changes its
        # generation, so the clean is then redone in the lock, copies included)
        # (when no stored page can be a copy by identity alone, e.g. none has its URL key, the
        # raw signature is taken after cleaning, in one pass with the cleaned text's)
        early = None
        raw_sig = None
        if pre is not None:
            gen, keys, counts, pages = pre
            view = _Preview(self.store, site, keys, counts, pages)
            if self._may_have_copies(site, pid, mine):
                raw_sig = self._raw_signature(doc, toks)
                early = self._clean_page(doc, toks, feats, view, self._exclusion(self._copies(site, pid, raw_sig, mine)))
            else:
                res, sig, raw_sig = self._clean_page(doc, toks, feats, view, want_raw=True)
                early = res, sig
        if raw_sig is None:
            raw_sig = self._raw_signature(doc, toks)
        info = _info(doc, pid, raw_sig)
        with transaction():
            fresh = early is not None and self.store.site_gen(site) == pre[0]
            self.store.observe_many([(site, doc.id, fps, info)])
            if fresh:
                res, sig = early
            else:
                self.prepared_misses += 1
                ex = self._exclusion(self._copies(site, pid, raw_sig, mine))
                res, sig = self._clean_page(doc, toks, feats, _NoObserve(self.store, self._min_pages()), ex)
            return self._link([(doc.id, site, res)], [sig])[0]

    #: pages whose clean before the write lock was stale (another writer changed their site
    #: meanwhile, or the page was a re-observation) and was done again in the lock
    prepared_misses = 0

    def _clean_page(
        self, doc: Document, toks: Any, feats: Any, view: Any, exclude: Exclusion | None = None, *, want_raw: bool = False
    ) -> Any:
        """:func:`~dedupe.engine.corpus.clean_document`'s steps with the page's tokens and
        features, against ``view`` without the evidence ``exclude`` of its copies; and the
        signature of the cleaned text, from the page's tokens outside the removed spans as
        run_corpus takes it (no second tokenising): ``(result, (signature, n_shingles))``.
        ``want_raw``: also the signature of the raw text, taken in the same pass, third."""
        cfg = self.config
        site_p, site_mask = _site_level(doc, toks, view, cfg, self.dedupe_only, exclude, feats)
        wa = within_analysis(doc.text, toks, cfg.within, excluded=site_mask)
        res = _finish(doc, toks, site_p, wa, (), cfg)
        keep = _kept_tokens(toks, res)
        if want_raw:
            both, n_sh = _signatures_many([toks, toks], [None, keep], cfg)
            return res, (both[1].copy(), int(n_sh[1])), both[0].copy()
        return res, neardup.signature_of(res.text, cfg, hashes=toks.hashes[keep], single=toks.single[keep])

    def corpus(self, docs: Iterable[Document | dict], *, workers: int = 1, progress: Any = None, order: str = "input") -> Iterator[CleanResult]:
        """Corpus mode on a batch, with the index as memory: the batch is observed into the store
        (earlier pages count as evidence too), cleaned, clustered within the batch, and each page
        not clustered in the batch is also looked up among stored pages.

        Memory: ``docs`` is consumed once, as a stream (:func:`run_corpus` spills it to a
        temporary file); observations are written in chunks (see :attr:`observe_budget`);
        results are linked to the stored pages and yielded :attr:`link_chunk` at a time, looked up
        :attr:`lookup_every` at a time. Only per-page ids, sites and signatures are held for the
        whole batch.
        """
        sigs: dict[str, tuple[np.ndarray, int]] = {}
        view = _BatchObserver(self.store, self._min_pages(), self.observe_budget)
        sites = view.sites  # doc_id -> site, as run_corpus observes each page

        def stream() -> Iterator[Document]:
            for d in docs:
                doc = self._as_doc(d)
                if isinstance(doc, Document):
                    view.note(doc)
                yield doc

        def stored_copies(ids: Sequence[str], s: Sequence[str], pages: Sequence[neardup.PageId], raw: Any) -> dict[int, Exclusion]:
            view._flush()  # the whole batch stored (as the first evidence read would): exact counts
            return self._stored_copies(ids, s, pages, raw, sites, all_stored=True)

        # a list or tuple of Documents is already in memory: run_corpus may iterate it twice
        # instead of spilling it (the notes hold references to the same texts, not copies)
        batch: Iterable[Document] = stream()
        if isinstance(docs, (list, tuple)) and all(isinstance(d, Document) for d in docs):
            batch = list(batch)
        def on_signature(i: int, doc_id: str, sig: np.ndarray, n_sh: int) -> None:
            # every page is observed before the first is cleaned: its observations are written by
            # now, whether or not cleaning read evidence (with templates off it reads none)
            if view._pending:
                view._flush()
            sigs[doc_id] = (np.array(sig, dtype=np.uint32), n_sh)

        results = run_corpus(
            batch, self.config, index=view, workers=workers, dedupe_only=self.dedupe_only, progress=progress, order=order,
            on_signature=on_signature, on_observe=view.note_raw, stored_copies=stored_copies,
        )
        # run_corpus counts the whole batch before its first result: by then ``sites`` holds
        # every id of the batch (stored pages of this batch are not near-duplicate candidates)
        # the batch's signatures are written sig_budget at a time, not per link chunk (fewer
        # write transactions into the LSH buckets; batch pages are never candidates of each other)
        pending = self._unsaved_sigs
        pending_chars = sum(len(rec[4]) for rec in pending)  # cleaned text waiting (kept as a count)
        # the pages in output order, looked up lookup_every at a time (see _window)
        ahead: list[str] | None = None
        window: dict[str, list[str] | None] = {}  # doc_id -> its candidates (None: none) while linked
        site_pages: dict[str, int] | None = None
        since = self.lookup_every  # pages linked since the last window's look-up
        try:
            for chunk in _chunks(results, self.link_chunk):
                if self._closed:
                    raise IndexStoreError("the index was closed while a batch was being read")
                view._flush()  # (written already by on_signature; a no-op then)
                if ahead is None:  # every page has its signature by the first result
                    # the signatures other batches on this Index yielded, written before any look-up
                    self._save_sigs()
                    pending_chars = 0
                    ahead = sorted(sigs) if order == "id" else list(sigs)
                    ahead.reverse()  # (popped from the end)
                if since >= self.lookup_every:
                    window.update(self._window(ahead, sigs, self.lookup_every, sites))
                    if hasattr(self.store, "sites"):
                        site_pages = self.store.sites()
                    since = 0
                missing = [r.doc_id for r in chunk if r.doc_id not in window]
                if missing:  # (not in the expected order: looked up now)
                    window.update(self._window(missing, sigs, len(missing), sites))
                since += len(chunk)
                candidates = {r.doc_id: c for r in chunk if (c := window.pop(r.doc_id)) is not None}
                items = [(r.doc_id, sites[r.doc_id], r) for r in chunk]
                out = self._link(
                    items, [sigs.pop(r.doc_id) for r in chunk], exclude=sites.keys(), defer=pending, digests=view.digests,
                    candidates=candidates, site_pages=site_pages,
                )
                pending_chars += sum(len(r.text) for r in chunk)
                yield from out
                if pending_chars >= self.sig_budget:
                    self._save_sigs()
                    pending_chars = 0
        except BaseException:  # (GeneratorExit too: the caller stopped reading)
            if not self._closed:  # what was yielded is written, or stays waiting (the error raised is the first)
                with contextlib.suppress(Exception):
                    self._save_sigs()
            raise
        if not self._closed:
            self._save_sigs()

    def _save_sigs(self) -> None:
        """Write the signatures waiting (kept waiting if the write fails: a later call retries)."""
        if self._unsaved_sigs:
            records = list(self._unsaved_sigs)
            self.store.put_signatures(map(_sig_item, records))
            del self._unsaved_sigs[: len(records)]

    def _min_pages(self) -> int:
        """Fewest pages a stored fingerprint needs to matter when cleaning (as run_corpus's
        CountIndex): 2 when the template threshold is never below 2 pages."""
        return 2 if self.config.templates.min_pages >= 2 else 1

    def reclean(
        self,
        ids: Sequence[str] | None = None,
        *,
        site: str | None = None,
        docs: Iterable[Document | dict] | None = None,
        workers: int = 1,
        progress: Any = None,
    ) -> Iterator[CleanResult]:
        """Re-clean stored pages against everything the index holds now, without re-observing.

        Which pages: ``docs`` (the caller passes them again: needed when the index does not
        store texts), else ``ids``, else every page of ``site``, else every observed page. Pages
        come in first-observation order; cross-page blocks and near-duplicate clusters are found
        among them (as a corpus run on them would). Their new signatures and cleaned texts are
        stored for later look-ups.

        Raises:
            InputError: an id is not in the index, or its text is not stored.
        """
        self._save_sigs()  # what a batch on this Index yielded is stored first (never written over it later)
        if docs is not None:
            batch: Iterable[Document] = (self._as_doc(d) for d in docs)
        else:
            if ids is None:
                ids = self.store.doc_ids(site)
            info = self.store.doc_info(ids)
            missing = [i for i in ids if i not in info]
            if missing:
                raise InputError(f"not in the index: {', '.join(map(repr, missing[:5]))}")
            batch = self._stored_docs(sorted(ids, key=lambda i: (info[i]["seq"], i)), info)
        sigs: dict[str, tuple[np.ndarray, int]] = {}
        results = run_corpus(
            batch, self.config, index=_NoObserve(self.store, self._min_pages()), workers=workers, dedupe_only=self.dedupe_only,
            progress=progress, on_signature=lambda i, doc_id, sig, n_sh: sigs.__setitem__(doc_id, (np.array(sig, dtype=np.uint32), n_sh)),
            # stored copies of the re-cleaned pages that are not re-cleaned with them
            stored_copies=lambda ids, s, pages, raw: self._stored_copies(ids, s, pages, raw, set(ids)),
        )
        for chunk in _chunks(results, self.reclean_chunk):
            self._store_signatures(chunk, [sigs.pop(r.doc_id) for r in chunk])
            yield from chunk

    def _stored_docs(self, ids: Sequence[str], info: dict[str, dict[str, Any]]) -> Iterator[Document]:
        """The stored pages ``ids``, read one at a time."""
        for doc_id in ids:
            text = self.store.get_text(doc_id)
            if text is None:
                raise InputError(f"the index does not store the text of {doc_id!r}; pass the documents again (docs=...)")
            meta = info[doc_id]
            # its identity as stored (a title or canonical link of its HTML head included)
            pid = neardup.PageId(meta.get("url_key"), meta.get("title_key"))
            yield Document(doc_id, text, url=meta.get("url"), site=meta.get("site"), meta={neardup.PAGE_META: pid})

    # -- near-duplicates against the stored pages ------------------------------------------------
    def _store_signatures(
        self, results: Sequence[CleanResult], sigs: Sequence[tuple[np.ndarray, int]] | None = None
    ) -> tuple[list[tuple[np.ndarray, int]], np.ndarray]:
        """Store the results' signatures (computed here unless given, e.g. by run_corpus) and
        LSH band keys; returns both."""
        sigs, keys = self._signatures(results, sigs)
        self._put_signatures(results, sigs, keys)
        return sigs, keys

    def _signatures(
        self, results: Sequence[CleanResult], sigs: Sequence[tuple[np.ndarray, int]] | None = None
    ) -> tuple[list[tuple[np.ndarray, int]], np.ndarray]:
        """The results' signatures (computed here unless given) and LSH band keys."""
        cfg = self.config
        if sigs is None:
            sigs = [neardup.signature_of(r.text, cfg) for r in results]
        sigs = list(sigs)
        if sigs:
            keys = band_keys(np.stack([s for s, _ in sigs]), cfg.neardup.bands)
        else:
            keys = np.zeros((0, cfg.neardup.bands), dtype=np.uint64)
        return sigs, keys

    def _put_signatures(
        self, results: Sequence[CleanResult], sigs: list[tuple[np.ndarray, int]], keys: np.ndarray, defer: list[tuple] | None = None,
        digests: dict[str, tuple[int, bytes]] | None = None,
    ) -> None:
        """Store signatures, band keys and cleaned texts (or append the items to ``defer``).
        ``digests``: ``{doc_id: (length, text_digest)}`` of originals digested already (taken out)."""
        got = digests.pop if digests else (lambda _k, _d=None: None)
        records = []
        for r, (sig, n_sh), k in zip(results, sigs, keys):
            cuts = _cuts(r, got(r.doc_id, None))
            records.append((r.doc_id, sig, k, n_sh, r.text, cuts.get("original_digest"), cuts.get("cuts")))
        if defer is not None:
            defer.extend(records)  # flat tuples: see _sig_item
        else:
            self.store.put_signatures(map(_sig_item, records))

    def _window(
        self, ahead: list[str], sigs: dict[str, tuple[np.ndarray, int]], n: int, exclude: Collection[str]
    ) -> dict[str, list[str] | None]:
        """Take the last ``n`` ids still unlinked off ``ahead`` (those in ``sigs``; the others are
        dropped) and look them up among the stored pages' LSH buckets in one batch look-up:
        ``{doc_id: its candidates, or None}``, without the ids of ``exclude`` (the batch's pages,
        never candidates). A page with too few shingles (or near-duplicates off) is not looked up."""
        take: list[str] = []
        while ahead and len(take) < n:
            d = ahead.pop()
            if d in sigs:  # (else linked already: looked up out of turn)
                take.append(d)
        out: dict[str, list[str] | None] = dict.fromkeys(take)
        ask = [d for d in take if self._lookup_ok(*sigs[d])]
        if ask:
            keys = band_keys(np.stack([sigs[d][0] for d in ask]), self.config.neardup.bands)
            for d, found in zip(ask, self._band_lookup(keys)):
                found = [c for c in found if c not in exclude]
                if found:
                    out[d] = found
        return out

    def _band_lookup(self, keys: np.ndarray) -> list[list[str]]:
        """The stored pages sharing an LSH bucket with each row of band keys ``keys`` (one query
        when the store offers ``band_candidates_many``)."""
        many = getattr(self.store, "band_candidates_many", None)
        return many(keys) if many is not None else [self.store.band_candidates(k) for k in keys]

    def _lookup_ok(self, sig: np.ndarray, n_shingles: int) -> bool:
        nd = self.config.neardup
        return bool(nd.enabled and n_shingles >= nd.min_shingles and sig[0] != EMPTY)

    def matches(
        self,
        doc_id: str,
        sig: np.ndarray,
        n_shingles: int,
        clean_text: str,
        exclude: Collection[str] = frozenset(),
        *,
        candidates: list[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Stored pages whose cleaned text is a near-duplicate of ``clean_text``: ``[(id, jaccard)]``.

        Verification is exact when the index stores cleaned texts: the Jaccard of the shingle
        sets reaches ``neardup.threshold``, or (``neardup.containment`` > 0) the containment rule
        of corpus mode holds (:func:`dedupe.engine.neardup.containment_ok`: the smaller page's
        shingles are at least ``containment`` in the larger one, within the size floors); the
        score is the exact Jaccard either way. Without stored texts, the MinHash estimate of the
        Jaccard decides alone. ``candidates``: the LSH candidates if already looked up.

        Candidates come from the stored ``neardup.bands`` band keys only (corpus mode adds a
        finer ``containment_bands`` pass within a batch): a contained copy is found when those
        bands propose it (probability 0.87 at Jaccard 0.5, 0.32 at 0.33).
        """
        cfg = self.config
        nd = cfg.neardup
        if not self._lookup_ok(sig, n_shingles):
            return []
        if candidates is None:
            candidates = self.store.band_candidates(band_keys(sig[None, :], nd.bands)[0])
        cands = [c for c in candidates if c != doc_id and c not in exclude]
        if not cands:
            return []
        stored = self.store.get_signatures(cands)
        mine: np.ndarray | None = None
        out: list[tuple[str, float]] = []
        for c in cands:
            other = stored.get(c)
            if other is None:
                continue
            est = float((other == sig).mean())
            # containment of the smaller set from the Jaccard estimate e: |a & b| / min(|a|, |b|)
            # = e (|a| + |b|) / ((1 + e) min), at most e (1 + 1/ratio) / (1 + e) when the sizes
            # pass the containment ratio floor (no bound without a floor)
            c_max = est * (1.0 + 1.0 / nd.containment_min_ratio) / (1.0 + est) if nd.containment_min_ratio > 0 else 1.0
            may_contain = nd.containment > 0 and c_max >= nd.containment - neardup.PREFILTER_SLACK
            if est < nd.threshold - neardup.PREFILTER_SLACK and not may_contain:
                continue
            text = self.store.get_text(c, clean=True)
            if text is None:
                if est >= nd.threshold:
                    out.append((c, est))
                continue
            if mine is None:
                mine = neardup.shingle_set(clean_text, cfg.signature)
            theirs = neardup.shingle_set(text, cfg.signature)
            if len(theirs) < nd.min_shingles:
                continue
            if neardup._verified(mine, theirs, nd):
                out.append((c, neardup.jaccard(mine, theirs)))
        return out

    def _near_dup_rule(self) -> str:
        """The rule of a ``near-duplicate-doc`` span found against stored pages (as corpus mode's,
        prefixed ``index:``)."""
        nd = self.config.neardup
        return f"index:minhash-lsh+jaccard>={nd.threshold}" + (f"|containment>={nd.containment}" if nd.containment > 0 else "")

    def _link(
        self,
        pairs: list[tuple[str, str, CleanResult]],
        sigs: Sequence[tuple[np.ndarray, int]] | None = None,
        exclude: Collection[str] | None = None,
        defer: list[tuple] | None = None,
        digests: dict[str, tuple[int, bytes]] | None = None,
        candidates: dict[str, list[str]] | None = None,
        site_pages: dict[str, int] | None = None,
    ) -> list[CleanResult]:
        """Store the results' signatures (or append them to ``defer``, for the caller to store);
        mark pages not clustered in their batch that near-duplicate a stored page. ``pairs``:
        ``(doc_id, site, result)``; ``exclude``: the ids of the whole batch (default: those of
        ``pairs``), never candidates. ``candidates``: the pages' LSH candidates looked up
        already (:meth:`_window`; a page not in it has none), else looked up here.
        ``site_pages``: ``{site: pages}`` read already, else read here."""
        batch_ids = exclude if exclude is not None else {doc_id for doc_id, _, _ in pairs}
        sigs, keys = self._signatures([r for _, _, r in pairs], sigs)
        policy = self.config.neardup.canonical
        # pages clustered in their batch are not linked to stored pages; the others' LSH
        # look-ups in one query (unless given), before the pages' own signatures are stored
        ask = [k for k, ((_, _, res), (sig, n_sh)) in enumerate(zip(pairs, sigs)) if res.meta.get("cluster") is None and self._lookup_ok(sig, n_sh)]
        cands: dict[int, list[str]] = {}
        if candidates is not None:
            cands = {k: candidates[pairs[k][0]] for k in ask if pairs[k][0] in candidates}
        elif ask:
            cands = dict(zip(ask, self._band_lookup(keys[ask])))
        self._put_signatures([r for _, _, r in pairs], sigs, keys, defer, digests)
        if site_pages is None and hasattr(self.store, "sites") and len(pairs) > 1:
            site_pages = self.store.sites()
        out: list[CleanResult] = []
        for k, ((doc_id, site, res), (sig, n_sh)) in enumerate(zip(pairs, sigs)):
            meta = dict(res.meta)
            meta.setdefault("cluster", None)
            meta.setdefault("canonical", True)
            if meta["cluster"] is None and cands.get(k):  # (no candidate: nothing to verify)
                found = self.matches(doc_id, sig, n_sh, res.text, exclude=batch_ids, candidates=cands[k])
                if found:
                    info = self.store.doc_info([doc_id] + [c for c, _ in found])
                    members = sorted(info, key=lambda i: (info[i]["seq"], i))  # first-seen order
                    rank = policy_rank(
                        policy,
                        ids=members,
                        urls=[info[m].get("url") for m in members],
                        lengths=[int(info[m].get("clean_chars") or 0) for m in members],
                    )
                    canon = members[int(np.argmin(rank))]
                    meta["cluster"] = canon
                    meta["canonical"] = canon == doc_id
                    if canon != doc_id:
                        score = dict(found)[canon] if canon in dict(found) else max(s for _, s in found)
                        res = neardup.with_near_dup_span(
                            res, canon, int(info[canon].get("chars") or 0), float(score),
                            self._near_dup_rule(),
                        )
            meta["site_pages"] = site_pages.get(site, 0) if site_pages is not None else self.store.site_pages(site)
            out.append(dataclasses.replace(res, meta=meta))
        return out

    # -- inspection and housekeeping ----------------------------------------------------------------
    def clusters(self) -> list[list[str]]:
        """Verified near-duplicate clusters among all stored signatures (sorted ids, canonical
        first by the config's policy)."""
        cfg = self.config
        ids, sigs, n_sh = self.store.signature_table()
        if len(ids) < 2 or not cfg.neardup.enabled:
            return []
        info = self.store.doc_info(ids)
        texts: dict[int, str] = {}

        def get_text(i: int) -> str:
            if i not in texts:
                texts[i] = self.store.get_text(ids[i], clean=True) or ""
            return texts[i]

        cl = neardup.cluster(
            sigs, n_sh, get_text, cfg, ids=ids, urls=[info.get(i, {}).get("url") for i in ids],
            lengths=[int(info.get(i, {}).get("clean_chars") or 0) for i in ids],
        )
        groups: dict[int, list[int]] = {}
        for i, c in enumerate(cl.canonical.tolist()):
            if c >= 0:
                groups.setdefault(c, []).append(i)
        return sorted([ids[c]] + sorted(ids[m] for m in ms if m != c) for c, ms in groups.items())

    def stats(self) -> dict[str, Any]:
        """Store statistics plus template fingerprints per site and near-duplicate clusters."""
        st = dict(self.store.stats())
        t = self.config.templates
        per_site = self.store.template_counts(t.min_pages, t.min_fraction)
        st["template_fingerprints"] = sum(per_site.values())
        st["sites_with_templates"] = len(per_site)
        st["clusters"] = len(self.clusters())
        return st

    def forget(self, ids: Iterable[str] = (), *, site: str | None = None) -> int:
        """Remove pages (by id, or all pages of ``site``) and their evidence; returns how many."""
        self._save_sigs()  # (a signature still waiting would bring a forgotten page back)
        n = 0
        ids = list(ids)
        if ids:
            n += self.store.forget_docs(ids)
        if site is not None:
            n += len(self.store.doc_ids(site))
            self.store.forget_site(site)
        return n

    def close(self) -> None:
        """Write the signatures waiting and close the store (a batch still being read stops
        with an error at its next chunk). If that write fails, they are lost (the store is
        closed): re-run the batch. A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._save_sigs()
        finally:
            self.store.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _BatchObserver(_NoObserve):
    """A store view for :func:`run_corpus` on a batch: observations are buffered and written
    when cleaning starts (the first evidence read), or earlier, in chunks, once the buffered
    texts and fingerprints reach ``budget`` bytes (so memory does not grow with the batch).

    :meth:`note` hands over each page's stored fields (url, length, text) as the page streams
    past, before run_corpus observes it; they are held only until its observation is buffered.
    """

    def __init__(self, store: Any, min_pages: int = 1, budget: int = 4 << 20) -> None:
        super().__init__(store, min_pages)
        self.budget = int(budget)
        self._pending: list[tuple] = []  # flat records: see observe and _store_item
        self._pending_bytes = 0
        self._info: dict[str, dict[str, Any]] = {}
        #: the site of every page observed through this view (the batch's ids)
        self.sites: dict[str, str] = {}
        #: ``{doc_id: (length, text_digest)}`` of the originals handed to the store, for the
        #: stored cleaned texts' cuts (:func:`_cuts`): each text is encoded and digested once
        self.digests: dict[str, tuple[int, bytes]] = {}
        # a store that keeps texts and takes them encoded and digested (PREPARED_TEXT)
        self._prepare = bool(getattr(store, "store_text", False) and getattr(store, "takes_prepared_text", False))

    def note(self, doc: Document) -> None:
        if isinstance(doc.text, str):
            self._info[doc.id] = {"url": doc.url, "chars": len(doc.text), "text": doc.text}

    def note_raw(self, i: int, doc_id: str, raw_sig: np.ndarray, pid: neardup.PageId) -> None:
        """run_corpus's ``on_observe``: the page's raw-text signature and identity, stored with
        its observation (to find its copies in later batches and page by page)."""
        info = self._info.get(doc_id)
        if info is not None:
            info["raw_sig"] = np.array(raw_sig, dtype=np.uint32)
            if pid is not None:
                info[_UKEY], info[_TKEY] = pid[0], pid[1]

    # The buffer holds each page as one flat tuple of strings, numbers, bytes and arrays: an
    # object the garbage collector stops tracking (a tuple holding a dict, or a PageId, stays
    # tracked). The store's items are built from them as they are written. (Tracked objects
    # that outlive a young collection are promoted, and each 25 % growth of the old generation
    # triggers a full collection over the whole heap: 30 of them, 3.5 CPU-s, in a 100k-page
    # batch when the buffer held dicts, against 1 in memory.)
    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        self.sites[doc_id] = site
        info = self._info.pop(doc_id, None)
        noted = info is not None
        info = info or {}
        text = info.get("text")
        raw = info.get("raw_sig")
        size = len(text) if isinstance(text, str) else 0
        data = digest = None
        if self._prepare and isinstance(text, str):
            data = text.encode("utf-8", "surrogatepass")
            digest = text_digest(data)
            text = None  # the store takes the bytes: the buffer holds one copy, not two
            self.digests[doc_id] = (len(info["text"]), digest)
            size = len(data)
        self._pending.append((
            site, doc_id, fingerprints, noted, info.get("url"), info.get("chars"), text, data, digest, raw,
            _UKEY in info, info.get(_UKEY), info.get(_TKEY),
        ))
        # + its raw signature (note_raw) and ~0.4 KB of dict, tuple and identity per page: small
        # pages are mostly that (a 300-byte page costs ~4x its bytes otherwise uncounted)
        self._pending_bytes += size + 8 * len(fingerprints) + int(getattr(raw, "nbytes", 0)) + 400
        if self._pending_bytes >= self.budget:
            self._flush()

    @staticmethod
    def _store_item(rec: tuple) -> tuple[str, str, np.ndarray, dict[str, Any]]:
        """A buffered page as an ``observe_many`` item ``(site, doc_id, fingerprints, info)``."""
        site, doc_id, fps, noted, url, chars, text, data, digest, raw, has_page, ukey, tkey = rec
        info: dict[str, Any] = {"url": url, "chars": chars} if noted else {}
        if text is not None:
            info["text"] = text
        if data is not None:
            info[PREPARED_TEXT] = (data, digest)
        if raw is not None:
            info["raw_sig"] = raw
        if has_page:
            info["page"] = (ukey, tkey)
        return site, doc_id, fps, info

    def _flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._pending_bytes = 0
            self.store.observe_many(map(self._store_item, pending))

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        self._flush()
        return super().doc_freq(site, fingerprints)

    def site_pages(self, site: str) -> int:
        self._flush()
        return super().site_pages(site)

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("_pending"):
            self._flush()
        return getattr(self.store, name)

    def __getstate__(self) -> dict[str, Any]:
        self._flush()
        return {"store": self.store, "min_pages": self.min_pages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        _NoObserve.__init__(self, state["store"], state.get("min_pages", 1))
        self.budget = 4 << 20
        self._pending = []
        self._pending_bytes = 0
        self._info = {}
        self.sites = {}
        self.digests = {}
        self._prepare = False


# keys of _BatchObserver's buffered pages (see _BatchObserver.observe)
_UKEY, _TKEY = "\x00ukey", "\x00tkey"

#: key of an observed page's info (``observe_many``) holding ``(its text's UTF-8 bytes,
#: text_digest of them)``, taken by the engine once for the store and for the cleaned text's cuts
#: (the info then need not hold the text itself: a store that takes it stores these bytes)
PREPARED_TEXT = "\x00prepared_text"


def text_digest(data: bytes) -> bytes:
    """8-byte BLAKE2b digest of a text's UTF-8 bytes (tells a store whether a cleaned text's cuts
    apply to the original it holds)."""
    import hashlib  # here: importing it loads OpenSSL (~3.5 MB resident), only a store needs this

    return hashlib.blake2b(data, digest_size=8).digest()


def _cuts(res: CleanResult, digested: tuple[int, bytes] | None = None) -> dict[str, Any]:
    """``{"original_digest", "cuts"}``: the :func:`text_digest` of the text ``res`` was cleaned
    from and the ``[start, end)`` offsets of its removed spans (flat int64), so a store holding
    that original can keep the cleaned text as offsets; ``{}`` when cutting those spans out of it
    does not give ``res.text`` exactly. ``digested``: ``(length, digest)`` of that original taken
    when it was observed (used when the lengths agree; else it is digested here)."""
    spans = res.removed_spans
    if any(a.start > b.start for a, b in zip(spans, spans[1:])):
        spans = sorted(spans, key=lambda s: s.start)
    original = res.original if isinstance(res.original, str) else res.rebuild()  # checked below either way
    parts, flat, pos = [], [], 0
    for s in spans:
        start, end = s.start, s.end
        if start < pos or original[start:end] != s.text:
            return {}
        parts.append(original[pos:start])
        flat += (start, end)
        pos = end
    parts.append(original[pos:])
    if "".join(parts) != res.text:
        return {}
    if digested is not None and digested[0] == len(original):
        digest = digested[1]
    else:
        digest = text_digest(original.encode("utf-8", "surrogatepass"))
    return {"original_digest": digest, "cuts": np.array(flat, dtype=np.int64)}


def _sig_item(rec: tuple) -> tuple[str, np.ndarray, np.ndarray, dict[str, Any]]:
    """A ``put_signatures`` item from a page's record ``(doc_id, signature, band keys,
    n_shingles, cleaned text, original_digest, cuts)`` (cuts None: store the cleaned text). The
    records wait for their write as flat tuples of strings, numbers, bytes and arrays, which the
    garbage collector stops tracking; a tuple holding a dict stays tracked, and thousands of
    them waiting trigger full collections (see _BatchObserver.observe)."""
    doc_id, sig, keys, n_sh, text, digest, cuts = rec
    extra: dict[str, Any] = {"n_shingles": n_sh, "clean_chars": len(text), "clean_text": text}
    if cuts is not None:
        extra["original_digest"], extra["cuts"] = digest, cuts
    return doc_id, sig, keys, extra


def _chunks(it: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items of ``it`` (the last one shorter)."""
    it = iter(it)
    while True:
        chunk = list(islice(it, max(1, int(size))))
        if not chunk:
            return
        yield chunk
