"""The corpus job: count first, then clean, then cluster near-duplicate documents.

Passes over an iterable of :class:`~dedupe.models.Document`:

1. **Observe.** Every document is tokenised; its template fingerprints (span k-grams and short
   lines, :mod:`dedupe.engine.templates`) go to the index store under the document's site, and
   its block fingerprints (lines of at least ``corpus.crosspage_min_tokens`` tokens) are kept
   for cross-page duplicates. Nothing is cleaned before the whole input has been counted, so the
   result does not depend on input order.
2. **Clean.** Each document is cleaned against the complete evidence: site pieces (templates and,
   unless ``dedupe_only``, text outside the main text), within-page repeats, cross-page
   duplicate blocks (flagged, or removed from all but the canonical page). Its MinHash signature
   is taken on the CLEANED text.
3. **Near-duplicate documents.** LSH banding over the signatures, verification with the exact
   Jaccard of the cleaned texts' shingle sets, union-find clusters, one canonical per cluster
   (:mod:`dedupe.engine.neardup`).

Results come back in input order (or sorted by id with ``order="id"``) with ``meta``:
``cluster`` (the canonical document's id, or ``None``), ``canonical`` (bool), ``removed_chars``
(characters removed, by kind).

Memory: the documents and the cleaned results are spilled to a temporary file between passes
(unless ``docs`` is a list/tuple, which is iterated again), so the driver itself holds only
per-document fingerprints of blocks and one signature per document. Spilled records are plain
pickled tuples (:func:`_encode_doc`, :func:`_encode_result`): the driver writes the workers'
result records to the spill file as bytes, without unpickling them. A worker's result record
holds neither the original text nor the cleaned text (the original with the removed spans cut
out): the driver takes the original from the input again when it yields the result.

Per-document work (tokenising, fingerprints, cleaning, signatures) runs in ``workers``
processes: one pool for both passes (``forkserver`` with this module preloaded where there is
one, else ``spawn``: :func:`~dedupe.engine.pool.pool_context`). With a spilled input (and ``/proc``) the workers
read the pages of their chunks from the spill file (:class:`_FileChunk`): no page's text goes
through a pipe; with the default :class:`CountIndex` they append each chunk's template
fingerprints to its count file themselves (:meth:`CountIndex.spill_path
<dedupe.engine.index.CountIndex.spill_path>`), so the driver neither receives nor sorts
them (it registers where they lie). After counting, the index is pickled once to a
temporary file that each worker loads on first use (the default :class:`CountIndex` is a few flat
arrays holding only fingerprints seen on 2+ pages of a site). With a pool the workers also count
the default store's records, and write what they keep to a file of their own from which each
worker builds its counts (:meth:`CountIndex.freeze_shared
<dedupe.engine.index.CountIndex.freeze_shared>`): the driver never holds the counted evidence.
Work goes out in chunks of consecutive pages (:data:`CHUNK_DOCS`, :data:`CHUNK_BYTES`) whose
tokenising, within-page blocking and MinHash signatures run as one batch (equal to the
page-by-page results), and is merged in input order, so the output depends neither on the number
of workers nor on the cut.

What else runs in the workers rather than the driver: each page's identity
(:func:`~dedupe.engine.neardup.page_id`, observe pass); with a ``row_encoder`` (the CLI's JSONL
output), the encoding of each page's output right after it is cleaned — pool workers append it
to the driver's row file themselves (:class:`_Records`) and the driver only splices in the
cluster (:class:`Encoded`); and the exact check of the near-duplicate candidates, a group of
pairs at a time (:func:`_compare_chunk`: the pages are shingled there, the driver gets three
counts per pair; the pool lives until clustering is done).
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import re
import select
import signal
import tempfile
import threading
import time
from array import array
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

import numpy as np

from ..config import Config
from ..core import native
from ..core.spans import Piece
from ..core.minhash import signatures, signatures_distinct
from ..core.shingle import shingle_hashes
from ..core.tokenize import Tokens, tokenize, tokenize_batch
from ..errors import InputError, WorkerError
from ..models import CleanResult, Document, Span
from . import crosspage, neardup, phrases
from .phrases import phrase_pieces
from .assemble import assemble
from .pool import WORKER_ENV, pool_context
from .index import CountIndex, IndexStore, Segment, SharedCounts, drop_count_table, fd_path, release_memory, runs_sorted_unique, write_segment
from .within import WithinAnalysis, flagged_spans, within_analysis, within_analysis_many

from .site import site_pieces as _site_pieces
from .site import site_pieces_many as _site_pieces_many
from .templates import PageFeatures, fingerprints_and_lines, fingerprints_many, page_features_many
from .templates import doc_fingerprints as _doc_fingerprints

ProgressFn = Callable[[str, int, "int | None"], None]


# ---------------------------------------------------------------------------------------------
# one document
# ---------------------------------------------------------------------------------------------
def site_of(doc: Document) -> str:
    """The site key of a document: its ``site`` field, else its URL host (lower-cased, without a
    leading ``www.``), else ``""`` (one group for the whole input).

    >>> site_of(Document("a", "t", url="https://WWW.Example.com/x"))
    'example.com'
    >>> site_of(Document("a", "t", url="https://x.org/", site="mine"))
    'mine'
    """
    if doc.site:
        return doc.site
    if doc.url:
        return _url_site(doc.url)
    return ""


#: a plain http(s) URL whose host is letters, digits, dots and hyphens (nearly every URL): its host
#: is read off directly, the same as ``urlsplit(url).hostname`` (tested), at a fifth of the cost
#: (``re.ASCII``: case-insensitive Unicode matching would take "httpſ", a long s, for "https")
_PLAIN_URL = re.compile(r"(?i:https?)://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|\Z)", re.ASCII)


def _url_site(url: str) -> str:
    url = url.strip()
    m = _PLAIN_URL.match(url)
    if m is not None:
        host = m.group(1)
    else:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host


def _fingerprints(text: str, toks: Tokens, cfg: Config) -> np.ndarray:
    if not cfg.templates.enabled:
        return np.empty(0, dtype=np.uint64)
    return np.asarray(_doc_fingerprints(text, toks, cfg.templates), dtype=np.uint64)


def _fingerprints_many(texts: Sequence[str], toks_list: Sequence[Tokens], cfg: Config) -> list[np.ndarray]:
    """:func:`_fingerprints` of many pages (equal results; the hashing passes run once)."""
    if not cfg.templates.enabled:
        return [np.empty(0, dtype=np.uint64) for _ in texts]
    return fingerprints_many(texts, toks_list, cfg.templates)


def observe_document(doc: Document, index: IndexStore, cfg: Config, *, toks: Tokens | None = None) -> np.ndarray:
    """Tokenise ``doc`` (unless its tokens ``toks`` are given), compute its template fingerprints
    and record them in ``index`` under :func:`site_of` ``(doc)``. Returns the fingerprints."""
    fps = _fingerprints(doc.text, tokenize(doc.text) if toks is None else toks, cfg)
    index.observe(site_of(doc), doc.id, fps)
    return fps


def _site_cfg(cfg: Config, dedupe_only: bool) -> Config:
    if dedupe_only and cfg.templates.main_text:
        return dataclasses.replace(cfg, templates=dataclasses.replace(cfg.templates, main_text=False))
    return cfg


class ExcludingIndex:
    """A read view of an index store for one page, without the evidence of its copies.

    Copies of one page on a site (a re-crawl, one article under two URLs) hold the same body; if
    they counted as evidence for each other, the body would look like a template. This view
    subtracts, for ``site``, the pages ``n_other`` and the fingerprints ``other_fps`` (unique,
    sorted) with ``counts`` that the page's copies contributed. Only the two read operations the
    site pieces use are overridden; everything else goes to the wrapped store.
    """

    def __init__(self, base: IndexStore, site: str, other_fps: np.ndarray, counts: np.ndarray, n_other: int) -> None:
        self._base = base
        self._site = site
        self._fps = other_fps
        self._counts = counts
        self._n_other = n_other

    def site_pages(self, site: str) -> int:
        n = self._base.site_pages(site)
        return max(n - self._n_other, 1) if site == self._site else n

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        df = np.asarray(self._base.doc_freq(site, fingerprints), dtype=np.int64)
        if site != self._site or not len(self._fps) or not len(df):
            return df
        fps = np.asarray(fingerprints, dtype=np.uint64)
        pos = np.minimum(np.searchsorted(self._fps, fps), len(self._fps) - 1)
        hit = self._fps[pos] == fps
        df = df.copy()
        df[hit] -= self._counts[pos[hit]]
        return np.maximum(df, 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


#: per document: (fingerprints of its copies, unique; their counts; number of copies)
Exclusion = tuple[np.ndarray, np.ndarray, int]


def merge_exclusions(a: "Exclusion | None", b: "Exclusion | None") -> "Exclusion | None":
    """The evidence of two disjoint sets of copies of one page, together."""
    if a is None or b is None:
        return a if b is None else b
    u, inv = np.unique(np.concatenate((a[0], b[0])), return_inverse=True)
    c = np.zeros(len(u), dtype=np.int64)
    np.add.at(c, inv.reshape(-1), np.concatenate((a[1], b[1])).astype(np.int64))
    return u.astype(np.uint64), c, a[2] + b[2]


def _check_doc(doc: Document, cfg: Config) -> None:
    if not isinstance(doc.text, str):
        raise InputError(f"document {doc.id!r}: text must be a str, got {type(doc.text).__name__}")
    if len(doc.text) > cfg.max_doc_chars:
        raise InputError(f"document {doc.id!r} has {len(doc.text):,} characters, more than max_doc_chars={cfg.max_doc_chars:,}")


def clean_document(
    doc: Document,
    index: IndexStore,
    cfg: Config,
    *,
    dedupe_only: bool = False,
    crosspage_hits: Sequence[crosspage.Hit] = (),
    toks: Tokens | None = None,
    exclude: Exclusion | None = None,
) -> CleanResult:
    """Clean one document against the evidence in ``index`` (observe the corpus first).

    Site pieces (templates; off-main text unless ``dedupe_only``) + within-page repeats +
    cross-page blocks (``crosspage_hits``, from :func:`dedupe.engine.crosspage.BlockTable.resolve`).
    ``exclude``: the template evidence of this page's copies, not counted (see
    :class:`ExcludingIndex`).

    Returns:
        the :class:`CleanResult`; ``meta["removed_chars"]`` holds characters removed, by kind.
    """
    _check_doc(doc, cfg)
    if toks is None:
        toks = tokenize(doc.text)
    site_p, site_mask = _site_level(doc, toks, index, cfg, dedupe_only, exclude)
    # within-page repeats know what the site level removes: their kept copy never lies there
    wa = within_analysis(doc.text, toks, cfg.within, excluded=site_mask)
    return _finish(doc, toks, site_p, wa, crosspage_hits, cfg)


def _site_level(
    doc: Document, toks: Tokens, index: IndexStore, cfg: Config, dedupe_only: bool, exclude: Exclusion | None,
    feats: PageFeatures | None = None,
) -> tuple[list[Piece], np.ndarray]:
    """The site pieces of one page (templates, off-main; and the caller's ``templates.phrases``,
    even with templates off) and the mask of the tokens they remove. ``feats``: the page's
    template features (computed when not given)."""
    if not cfg.templates.enabled:
        return _with_phrases(doc, toks, cfg, [], np.zeros(len(toks), dtype=bool))
    site = site_of(doc)
    view = index if exclude is None else ExcludingIndex(index, site, *exclude)
    site_p, site_mask = _site_pieces(doc.text, toks, view, site, _site_cfg(cfg, dedupe_only), feats)
    return _with_phrases(doc, toks, cfg, list(site_p), np.asarray(site_mask, dtype=bool))


def _with_phrases(doc: Document, toks: Tokens, cfg: Config, pieces: list[Piece], mask: np.ndarray) -> tuple[list[Piece], np.ndarray]:
    """A page's site pieces and mask plus those of the caller's ``templates.phrases``."""
    if not cfg.templates.phrases:
        return pieces, mask
    pp, pm = phrase_pieces(doc.text, toks, phrases.for_config(cfg.templates))
    return pieces + pp, mask | pm


def _site_level_many(
    items: Sequence[tuple[Document, Any, "Exclusion | None"]], toks_list: Sequence[Tokens], index: IndexStore, cfg: Config,
    dedupe_only: bool, feats: Sequence[PageFeatures | None],
) -> list[tuple[list[Piece], np.ndarray]]:
    """:func:`_site_level` of the pages ``(doc, _, exclude)`` of a chunk (equal results; the
    main-text selection runs once for them all, :func:`dedupe.engine.site.site_pieces_many`)."""
    if not cfg.templates.enabled:
        return [_site_level(doc, toks, index, cfg, dedupe_only, exclude, f) for (doc, _, exclude), toks, f in zip(items, toks_list, feats)]
    sites = [site_of(doc) for doc, _, _ in items]
    views = [index if exclude is None else ExcludingIndex(index, site, *exclude) for (_, _, exclude), site in zip(items, sites)]
    got = _site_pieces_many([doc.text for doc, _, _ in items], toks_list, views, sites, _site_cfg(cfg, dedupe_only), feats)
    return [
        _with_phrases(doc, toks, cfg, list(site_p), np.asarray(site_mask, dtype=bool))
        for (doc, _, _), toks, (site_p, site_mask) in zip(items, toks_list, got)
    ]


def _finish(
    doc: Document, toks: Tokens, site_p: list[Piece], wa: WithinAnalysis, crosspage_hits: Sequence[crosspage.Hit], cfg: Config
) -> CleanResult:
    """Site pieces + within-page analysis + cross-page blocks -> the page's :class:`CleanResult`."""
    text = doc.text
    pieces = site_p + wa.pieces
    flagged: list[Span] = flagged_spans(text, wa.flagged)
    if crosspage_hits:
        cp_pieces, cp_flagged = crosspage.doc_pieces(doc.id, text, toks, pieces, crosspage_hits, cfg.corpus)
        pieces += cp_pieces
        flagged += cp_flagged
    r = assemble(doc.id, text, pieces, flagged)
    return CleanResult(r.doc_id, r.original, r.text, r.spans, {"removed_chars": r.removed_chars()})


# ---------------------------------------------------------------------------------------------
# worker plumbing (spawn-safe: module-level functions, state set by the initializer)
# ---------------------------------------------------------------------------------------------
_W: dict[str, Any] = {}


def _init_worker(cfg: Config, index_blob: bytes | None, dedupe_only: bool) -> None:
    _W["cfg"] = cfg
    _W["index"] = pickle.loads(index_blob) if index_blob is not None else None
    _W["index_path"] = None
    _W["dedupe_only"] = dedupe_only


def _init_pool_worker(cfg: Config, index_blob: bytes | None, dedupe_only: bool, driver: int | None = None) -> None:
    """A pool worker's initializer: Ctrl-C (SIGINT to the process group) is the driver's to
    handle (it stops the pool); a worker that took it too would print a traceback. ``driver``:
    the driver's pid, watched (:func:`_exit_with`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the driver while it spawned this process
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if driver is not None:
        threading.Thread(target=_exit_with, args=(driver,), name="dedupe-driver-watch", daemon=True).start()
    _keep_heap()
    _init_worker(cfg, index_blob, dedupe_only)


#: glibc ``mallopt`` parameters and the values a pool worker sets (see :func:`_keep_heap`)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
WORKER_TRIM_THRESHOLD = 64 << 20
WORKER_MMAP_THRESHOLD = 32 << 20


def _keep_heap() -> bool:
    """In a pool worker (glibc only): keep up to :data:`WORKER_TRIM_THRESHOLD` bytes of freed
    heap instead of handing it back to the OS after every chunk. By default glibc trims the heap
    once ~2x its (adaptive) mmap threshold is free at the top, which a chunk's arrays (~1 MB
    each) exceed again and again: each chunk then faulted its pages in afresh (~150k page faults
    and ~0.4 CPU-s of kernel time per worker per 25 MB of corpus; ~10k with this). The peak
    resident size does not change (the kept heap is reused), results never do. Not done when the
    environment sets glibc malloc tunables itself (``MALLOC_*_`` / ``GLIBC_TUNABLES``), nor in the
    caller's process (``workers=1``). Returns whether it was set.

    The mmap threshold is set too (arrays up to :data:`WORKER_MMAP_THRESHOLD` come from the heap):
    setting the trim threshold stops glibc from raising its mmap threshold as big blocks are freed,
    so without it the result would depend on the heap's history (on a fresh heap ~1 MB arrays would
    stay mmapped and unmapped, faulted in on every chunk)."""
    if any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ) or "GLIBC_TUNABLES" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc
        return False


def _exit_with(pid: int) -> None:
    """End this worker once process ``pid`` (the driver) is gone. A driver killed without
    unwinding (SIGKILL) never closes the pool's pipes, and a worker holds both ends of its task
    queue: it would wait forever, keeping the driver's deleted spill files open. A pidfd (Linux
    5.3+) becomes readable when the process ends; elsewhere the pid is polled every second."""
    try:
        fd = os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        os._exit(1)
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # e.g. not ours to signal: alive
            pass


#: signals that stop the driver (the CLI turns SIGTERM / SIGHUP into an exception), blocked while
#: it spawns a worker
_STOP_SIGNALS = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}


def _index_for(path: str | None) -> Any:
    """The index of the current pass: in this process, or loaded once from ``path`` (a pickle
    written by the driver after counting) in a worker."""
    if path is not None and _W.get("index_path") != path:
        drop_count_table()  # the count is over: its site map table is not needed any more
        with open(path, "rb") as fh:
            got = pickle.load(fh)
        _W["index"] = got.load() if isinstance(got, SharedCounts) else got
        _W["index_path"] = path
    return _W["index"]


def _signatures_many(toks_list: Sequence[Tokens], keeps: Sequence[np.ndarray | None], cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """``neardup.signature_of`` of many pages at once: for page ``i``, the MinHash signature and
    the number of distinct shingles of its tokens ``toks_list[i]`` (those in ``keeps[i]`` when
    given). One shingling and one signature pass for all pages; equal results (the per-page
    shingle sets are the same, and a minimum does not depend on order)."""
    sc = cfg.signature
    hs = [t.hashes if k is None else t.hashes[k] for t, k in zip(toks_list, keeps)]
    sg = [t.single if k is None else t.single[k] for t, k in zip(toks_list, keeps)]
    m = len(hs)
    offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(h) for h in hs), dtype=np.int64, count=m), out=offsets[1:])
    if not m or not offsets[-1]:
        return signatures(np.empty(0, dtype=np.uint32), np.zeros(m + 1, dtype=np.int64), sc.num_perm, sc.seed), np.zeros(m, dtype=np.int64)
    sh, sh_off = shingle_hashes(np.concatenate(hs), offsets, sc.shingle_size, single=np.concatenate(sg), char_k=sc.char_shingle_size)
    # signatures of each page's distinct 32-bit shingles, and their number
    return signatures_distinct(sh, sh_off, sc.num_perm, sc.seed)


class _FileChunk:
    """:func:`_encode_doc` records of a file the driver can share (its document spill), sent to a
    pool worker instead of the records themselves (the worker reads them with one ``pread`` per
    run of adjacent records): the pages' text goes through no pipe and the driver never reads it
    back for the clean pass. ``offset``: where the first record starts (the records follow one
    another), or each record's offset (records the workers appended, see :class:`_Records`)."""

    __slots__ = ("path", "offset", "lengths")

    def __init__(self, path: str, offset: "int | list[int]", lengths: list[int]) -> None:
        self.path, self.offset, self.lengths = path, offset, lengths

    def __getstate__(self) -> tuple[str, "int | bytes", bytes]:
        off = self.offset if isinstance(self.offset, int) else array("q", self.offset).tobytes()
        return self.path, off, array("q", self.lengths).tobytes()

    def __setstate__(self, state: tuple[str, "int | bytes", bytes]) -> None:
        self.path = state[0]
        a = array("q")
        a.frombytes(state[2])
        self.lengths = a.tolist()
        if isinstance(state[1], bytes):
            o = array("q")
            o.frombytes(state[1])
            self.offset = o.tolist()
        else:
            self.offset = state[1]

    def blobs(self) -> list[bytes]:
        """The records (in a worker: the file is opened once per path and kept open)."""
        got = _W.get("spill")
        if got is None or got[0] != self.path:
            if got is not None:
                os.close(got[1])
            got = _W["spill"] = (self.path, os.open(self.path, os.O_RDONLY))
        lengths = self.lengths
        if isinstance(self.offset, int):
            runs = [(self.offset, 0, len(lengths))]
        else:  # runs of records that follow one another in the file: one read each
            offs, runs, i = self.offset, [], 0
            while i < len(lengths):
                j, end = i + 1, offs[i] + lengths[i]
                while j < len(lengths) and offs[j] == end:
                    end += lengths[j]
                    j += 1
                runs.append((offs[i], i, j))
                i = j
        out: list[bytes] = []
        for at, i, j in runs:
            total = sum(lengths[i:j])
            data = os.pread(got[1], total, at)
            if len(data) != total:
                raise WorkerError(f"the document spill file ended early ({len(data)} of {total} bytes)")
            if j - i == 1:
                out.append(data)
                continue
            pos = 0
            mv = memoryview(data)
            for n in lengths[i:j]:
                out.append(mv[pos : pos + n].tobytes())
                pos += n
        return out


def _can_open(path: str, append: bool = False) -> bool:
    """In a worker: can it open ``path`` for reading (``append``: to append to it)?"""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND if append else os.O_RDONLY))
    except OSError:
        return False
    return True


class _Records:
    """Per-document byte records in an anonymous temporary file, read back by document number.
    Pool workers append a chunk's records themselves (:func:`_append_records`: the file's
    ``/proc`` path opened with ``O_APPEND``, one ``write`` per chunk, so concurrent writers never
    interleave within a chunk) and send back only where they lie; else the driver appends what
    came through the pipe. Chunks land in any order: each document's offset and length are kept
    (16 bytes per document)."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile(prefix="dedupe-", suffix=".rows")
        self._fd = self._fh.fileno()
        self._at = array("q")
        self._len = array("q")

    def shared_path(self) -> str | None:
        """A path a worker can open to append to this file (Linux ``/proc``), else None."""
        return fd_path(self._fd)

    def add(self, got: "list[bytes] | tuple[int, list[int]]", keep: "list[bool] | None" = None) -> None:
        """The records of the next chunk's documents: the records themselves, or ``(offset,
        lengths)`` of the records a worker wrote. ``keep``: which of them become documents (the
        others stay in the file, unnumbered)."""
        if isinstance(got, tuple):
            pos, lengths = got
        else:
            data = b"".join(got)
            pos = os.lseek(self._fd, 0, os.SEEK_END)
            _write_all(self._fd, data)
            lengths = [len(b) for b in got]
        for j, n in enumerate(lengths):
            if keep is None or keep[j]:
                self._at.append(pos)
                self._len.append(n)
            pos += n

    def get(self, i: int) -> bytes:
        n = self._len[i]
        data = os.pread(self._fd, n, self._at[i])
        if len(data) != n:
            raise WorkerError(f"a row record ended early ({len(data)} of {n} bytes)")
        return data

    def size(self, i: int) -> int:
        return self._len[i]

    def file_chunk(self, path: str, lo: int, hi: int) -> "_FileChunk":
        """Records ``lo .. hi - 1`` as a :class:`_FileChunk` of ``path`` (this file's shared path)."""
        return _FileChunk(path, self._at[lo:hi].tolist(), self._len[lo:hi].tolist())

    def flush(self) -> None:
        """Nothing to flush (every record is written when added): as :meth:`_Spill.flush`."""

    def __len__(self) -> int:
        return len(self._at)

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self._at)):
            yield self.get(i)

    def close(self) -> None:
        self._fh.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _append_records(path: str, blobs: list[bytes]) -> tuple[int, list[int]]:
    """In a pool worker: append ``blobs`` to the driver's :class:`_Records` file at ``path`` in
    one write; returns (their offset, their lengths)."""
    open_fds = _W.setdefault("records", {})  # path -> descriptor (the pages' records, the encoded rows)
    fd = open_fds.get(path)
    if fd is None:
        fd = open_fds[path] = os.open(path, os.O_WRONLY | os.O_APPEND)
    data = b"".join(blobs)
    n = os.write(fd, data)
    if n != len(data):  # a regular file takes it all (else: disk full); a second write could interleave
        raise WorkerError(f"could not write the row records ({n} of {len(data)} bytes)")
    end = os.lseek(fd, 0, os.SEEK_CUR)  # this descriptor's own position: the end of its write
    return end - len(data), [len(b) for b in blobs]


def _records(blobs: "list[bytes] | _FileChunk") -> list[bytes]:
    return blobs.blobs() if isinstance(blobs, _FileChunk) else blobs


#: what the observe work of a chunk of ``m`` pages returns: (template fingerprints of all its
#: pages concatenated, each page's sorted unique, with the number of each page's; block
#: fingerprints, starts and ends of all its pages concatenated, with the number of blocks of each
#: page; raw-text signatures ``(m, num_perm)``; each page's :func:`~dedupe.engine.neardup.page_id`
#: as a plain tuple; where the worker wrote the template fingerprints (a
#: :data:`~dedupe.engine.index.Segment`, the fingerprints array then empty) or None) — a few flat
#: arrays, cheap to send and keep
Observed = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, "list[tuple[str | None, str | None]]", "Segment | None"
]


def _work_parts(items: "list[Any]", size_of: Callable[[Any], int]) -> "list[list[Any]]":
    """A pool task's pages cut again for its work, as :func:`_chunks` cuts a one-process job's
    (``size_of``: a page's characters). A task carries :data:`POOL_CHUNK_SCALE` (or
    :data:`OBSERVE_CHUNK_SCALE`) times more pages, to send and merge fewer tasks, but its arrays
    (tokens with their offsets and hashes, fingerprints: ~35 bytes of work memory per character
    at the peak) are made for one part at a time. Each worker's peak resident size went 57 → 50
    MB at 25 MB of corpus and 63 → 56 at 100 MB, at the same speed (4-6 alternating runs); the
    results are the same (every chunk function equals its page-by-page version)."""
    return list(_chunks(items, size_of)) or [items]  # an empty task: one empty part, as before


def _observe_part(docs: "list[Document]", cfg: Config) -> "tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]":
    """The observe work of some pages (:func:`_observe_docs`): (their template fingerprints,
    each page's sorted unique; raw-text signatures; block fingerprints, starts, ends and each
    page's number of blocks), from one tokenising pass and one signature pass."""
    texts = [d.text for d in docs]
    toks_list = tokenize_batch(texts)
    raw_sigs, _ = _signatures_many(toks_list, [None] * len(docs), cfg)
    lines = None  # each token's line, when the template kernel computed them (the block pass reuses them)
    if cfg.templates.enabled:
        fps_list, lines = fingerprints_and_lines(texts, toks_list, cfg.templates)  # sorted unique: the driver skips np.unique
    else:
        fps_list = _fingerprints_many(texts, toks_list, cfg)
    if lines is not None:
        bfp, bs, be, n_blocks = crosspage.block_fingerprints_lines(toks_list, lines[0], lines[1], cfg.corpus)
    else:
        bfp, bs, be, n_blocks = crosspage.block_fingerprints_many(texts, toks_list, cfg.corpus)
    return fps_list, raw_sigs, bfp, bs, be, n_blocks


def _observe_chunk(task: "tuple[list[bytes] | _FileChunk, CountTo | None]") -> Observed:
    """Observe work of a chunk of pages (:func:`_encode_doc` records, or where they lie in the
    driver's spill file): one tokenising pass and one signature pass for them all. With a
    :data:`CountTo`, the pages' template fingerprints go to the driver's count file as one
    segment (:func:`~dedupe.engine.index.write_segment`), and the segment is sent back in their
    place (the fingerprints array is then empty)."""
    blobs, count_to = task
    return _observe_docs([_decode_doc_meta(b) for b in _records(blobs)], count_to)


def _observe_docs(decoded: "list[tuple[Document, Any]]", count_to: "CountTo | None") -> Observed:
    """:func:`_observe_chunk` of the pages ``(document, meta)`` (``meta``: what
    :func:`~dedupe.engine.neardup.page_id_of` reads)."""
    cfg: Config = _W["cfg"]
    for doc, _ in decoded:
        _check_doc(doc, cfg)
    # page identities (the URL and title keys: what page_id reads is in the record)
    pids = [tuple(neardup.page_id_of(d.url, meta)) for d, meta in decoded]
    parts = [_observe_part([d for d, _ in part], cfg) for part in _work_parts(decoded, lambda it: len(it[0].text))]
    fps_list = [f for p in parts for f in p[0]]
    n_fps = np.fromiter((len(f) for f in fps_list), dtype=np.int64, count=len(fps_list))
    fps = np.concatenate(fps_list).astype(np.uint64, copy=False) if fps_list else np.empty(0, dtype=np.uint64)
    for p in parts:  # the pages' own arrays go now: only the joined ones are written or sent
        p[0].clear()
    del fps_list
    seg = None
    if count_to is not None:
        path, site_nos, bits = count_to
        fps, n_fps = _sorted_unique_runs(fps, n_fps)
        # opened per chunk: a descriptor kept open would keep the deleted file's disk space after
        # the driver closed it (through the whole clean pass)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            seg = write_segment(fd, fps, np.repeat(site_nos, n_fps), bits)
        finally:
            os.close(fd)
        fps = np.empty(0, dtype=np.uint64)
    if len(parts) == 1:
        _, raw_sigs, bfp, bs, be, n_blocks = parts[0]
    else:
        raw_sigs, bfp, bs, be, n_blocks = (np.concatenate([p[i] for p in parts]) for i in range(1, 6))
    return fps, n_fps, bfp, bs, be, n_blocks, raw_sigs, pids, seg  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class ParsedSource:
    """Input that the pool's workers read and parse themselves, passed to :func:`run_corpus` as
    its ``docs``: the driver then reads no text (for JSONL files: no JSON decoding, no
    HTML-to-text conversion, no pickling of pages in the driver, which made it the pace of the
    first pass).

    Attributes:
        tasks: picklable descriptions of the input's pieces, in input order.
        parser: a module-level function run in the workers: ``parser(task)`` → the piece's rows
            in order, each a :class:`Document` or anything else (a row the caller rejects: it
            comes back to ``on_row`` as it is).
        keep: a module-level function run in the workers on each document (or None): its
            picklable value comes back to ``on_row``.
        on_row: called in the driver with each row in input order: a rejected row as ``parser``
            gave it, a document as ``(doc_id, len(text), keep(doc))``; returns True to take the
            document (False: dropped, e.g. a duplicate id the caller rejects).
        done: called once every row was handed to ``on_row`` (e.g. to free what the caller
            kept to judge them), or None.
        unique_ids: ``on_row`` takes no id twice (it refuses duplicates itself): the job keeps
            no set of the ids seen (~80 bytes a page through the first pass). Default False:
            a duplicate ``on_row`` takes ends the job with :class:`InputError`, as any input's.
    """

    tasks: Iterable[Any]
    parser: Callable[[Any], list]
    keep: "Callable[[Document], Any] | None"
    on_row: Callable[[Any], bool]
    done: "Callable[[], None] | None" = None
    unique_ids: bool = False


#: what a worker's parse of a piece returns: (each document's ``(id, site, url, len(text),
#: keep(doc))`` (``len(text)`` -1: its meta could not be pickled), the other rows as ``(position among the piece's rows, row)``, the documents'
#: :func:`_encode_doc` records or where the worker appended them: :func:`_append_records`)
Parsed = tuple["list[tuple]", "list[tuple[int, Any]]", "list[bytes] | tuple[int, list[int]]"]


def _parse_rows(payload: Any, parser: Callable[[Any], list], keep: Any, with_meta: bool) -> "tuple[list[tuple], list[tuple[int, Any]], list[bytes], list[Document]]":
    """The rows of a piece of a :class:`ParsedSource`: (each document's ``(id, site, url,
    len(text), keep(doc))``, the other rows with their positions, the documents' records, the
    documents)."""
    cfg: Config = _W["cfg"]
    rows: list[tuple] = []
    others: list[tuple[int, Any]] = []
    records: list[bytes] = []
    docs: list[Document] = []
    for j, row in enumerate(parser(payload)):
        if not isinstance(row, Document):
            others.append((j, row))
            continue
        _check_doc(row, cfg)
        try:
            records.append(_encode_doc(row, with_meta))
            n_chars = len(row.text)
        except RecursionError:  # a meta nested too deeply to pickle: taken, it is an InputError
            records.append(b"")
            n_chars = -1
        rows.append((row.id, site_of(row), row.url, n_chars, keep(row) if keep is not None else None))
        docs.append(row)
    return rows, others, records, docs


def _parse_chunk(task: tuple) -> Parsed:
    """Parse work of a piece of a :class:`ParsedSource`: its rows; the documents' records go to
    the driver's document file at ``rec_path`` (None: back through the pipe)."""
    payload, parser, keep, rec_path, with_meta = task
    rows, others, records, _ = _parse_rows(payload, parser, keep, with_meta)
    loc: "list[bytes] | tuple[int, list[int]]" = records
    if rec_path is not None and records:
        loc = _append_records(rec_path, records)
    return rows, others, loc


def _parse_observe_chunk(task: tuple) -> "tuple[list[tuple], list[tuple[int, Any]], tuple[int, list[int]], Observed | None, list[str]]":
    """:func:`_parse_chunk` and :func:`_observe_chunk` of a piece in one task (the pages are
    observed as parsed, not read back from their records): the template fingerprints go to the
    count file at ``count_path`` as a segment numbered by the piece's own sites (the last item:
    the piece's sites in the order of those numbers; the driver registers the segment with its
    map to the store's numbers, or drops it when it drops a page: see ``run_corpus``)."""
    payload, parser, keep, rec_path, with_meta, count_path, bits = task
    rows, others, records, docs = _parse_rows(payload, parser, keep, with_meta)
    own: dict[str, int] = {}  # the piece's sites, numbered in order of first appearance
    nos = [own.setdefault(r[1], len(own)) for r in rows]
    decoded: list[tuple[Document, Any]] = []
    for doc in docs:
        page = _page_meta((doc.meta or {}).get(neardup.PAGE_META))  # what the record keeps for page_id
        decoded.append((doc, None if page is None else {neardup.PAGE_META: page}))
    loc = _append_records(rec_path, records) if records else (0, [])
    observed = _observe_docs(decoded, (count_path, np.array(nos, dtype=np.uint32), bits)) if decoded else None
    return rows, others, loc, observed, list(own)


#: where a pool worker sends a chunk's template fingerprints instead of the pipe: (the path of
#: the driver's :class:`~dedupe.engine.index.CountIndex` spill file, each page's site number,
#: the store's ``BUCKET_BITS``)
CountTo = tuple[str, np.ndarray, int]


def _sorted_unique_runs(fps: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fps, counts)`` (page ``j``'s run: the next ``counts[j]`` fingerprints) with each
    page's run sorted unique, as the counts need (a page holds a fingerprint or not). The runs
    the template pass gives are already, and come back as they are (the same arrays)."""
    if runs_sorted_unique(fps, counts):
        return fps, counts
    ends = np.cumsum(counts)
    runs = [np.unique(fps[b - c : b]) for b, c in zip(ends.tolist(), np.asarray(counts).tolist())]
    n = np.fromiter((len(r) for r in runs), dtype=np.int64, count=len(runs))
    return (np.concatenate(runs) if runs else fps[:0]), n


def _compare_chunk(task: "tuple[list[tuple[bytes, bytes]], np.ndarray]") -> np.ndarray:
    """:func:`~dedupe.engine.neardup.pair_counts` of a group of candidate pairs: the task holds
    the pages it needs (``(its _encode_doc record, its _encode_result record)``) and the pairs
    as indexes into them; each page's cleaned text is shingled here."""
    items, pairs = task
    sc = _W["cfg"].signature
    return neardup.pair_counts([neardup.shingle_set(_decode_text(res, _doc_text(doc)), sc) for doc, res in items], pairs)


def _pair_tasks(pairs: np.ndarray, size: Callable[[int], int], budget: int) -> "Iterator[tuple[list[int], np.ndarray, np.ndarray]]":
    """Groups of ``pairs`` (rows of document pairs) for :func:`_compare_chunk`: ``(documents,
    the group's pairs as indexes into them, the group's rows in pairs)``. A group holds pages
    of about ``budget`` in all (``size``: a page's), at least one pair: pairs are taken
    connected group by connected group (a component of the candidate graph: its pages shingled
    once), a component too big for one task split between several."""
    uf = neardup._UF()
    first, second = pairs[:, 0].tolist(), pairs[:, 1].tolist()
    for i, j in zip(first, second):
        uf.union(i, j)
    root = np.fromiter((uf.find(i) for i in first), dtype=np.int64, count=len(first))
    del uf
    docs: dict[int, int] = {}
    taken: list[int] = []
    used = 0

    def group() -> tuple[list[int], np.ndarray, np.ndarray]:
        rows = np.array(taken, dtype=np.int64)
        local = np.array([(docs[first[t]], docs[second[t]]) for t in taken], dtype=np.int64).reshape(-1, 2)
        return list(docs), local, rows

    for k in np.argsort(root, kind="stable").tolist():  # component by component, in pair order
        i, j = first[k], second[k]
        new = [d for d in dict.fromkeys((i, j)) if d not in docs]
        add = sum(size(d) for d in new)
        if taken and used + add > budget:
            yield group()
            docs, taken, used = {}, [], 0
            new = list(dict.fromkeys((i, j)))
            add = sum(size(d) for d in new)
        for d in new:
            docs[d] = len(docs)
        taken.append(k)
        used += add
    if taken:
        yield group()


def _fps_chunk(blobs: list[bytes]) -> list[np.ndarray]:
    cfg: Config = _W["cfg"]
    texts = [_decode_doc(b).text for b in blobs]
    return _fingerprints_many(texts, tokenize_batch(texts), cfg)


#: one page of a clean chunk: (:func:`_encode_doc` record (``None`` when the task's
#: :class:`_FileChunk` holds the records), its cross-page hits as plain tuples
#: (``crosspage.Hits.rows``: the fields of a ``Hit``; None when the task holds them as arrays),
#: its copies' evidence)
CleanItem = tuple["bytes | None", "list[tuple] | None", "Exclusion | None"]


#: where a clean task's worker writes its outputs itself instead of sending them back: (the path
#: of the driver's :class:`_Records` file of the encoded values, of its :class:`_Records` file of
#: the result records (each None: through the pipe), the path of its :class:`_SigFile` of the
#: cleaned texts' signatures and the chunk's first row in it (None: through the pipe))
CleanTo = tuple["str | None", "str | None", "tuple[str, int] | None"]

#: a clean task: (the chunk's pages, the shared index's path, where the pages' records lie in the
#: spill file (None: in the items), the ``row_encoder`` of :func:`run_corpus` or None, where the
#: worker writes its outputs (:data:`CleanTo`), the chunk's cross-page hits as arrays
#: (:class:`~dedupe.engine.crosspage.HitRows`; the items' hits are then None) or None)
CleanTask = tuple[list[CleanItem], "str | None", "_FileChunk | None", "RowEncoder | None", CleanTo, "crosspage.HitRows | None"]

#: ``row_encoder(doc_id, meta, result)`` of :func:`run_corpus`: a module-level (picklable)
#: function run in the workers; its value (anything picklable, None = none) comes back in
#: :class:`Encoded`
RowEncoder = Callable[[str, Any, CleanResult], Any]


def _clean_chunk(
    task: CleanTask,
) -> "tuple[list[bytes] | tuple[int, list[int]], np.ndarray | None, np.ndarray, np.ndarray, list[bytes] | tuple[int, list[int]] | None]":
    """Clean work of a chunk of pages: :func:`clean_document` of each, then the MinHash signature
    of its cleaned text (its tokens outside the removed spans). Tokenising, the within-page near
    pass's blocking and the signatures run once for the whole chunk.

    Returns (:func:`_encode_result` records (or where they were written:
    :func:`_append_records`), signatures (None: written to the signature file), distinct
    shingles, cleaned lengths, each page's pickled ``row_encoder`` value (or where they were
    written), None without an encoder)."""
    blobs, index_path, fc, encoder, (enc_path, res_path, sig_to), hit_rows = task
    cfg: Config = _W["cfg"]
    index = _index_for(index_path)
    if hit_rows is not None:  # the chunk's hits as arrays: each page's rows built here
        blobs = [(b, hits, exclude) for (b, _, exclude), hits in zip(blobs, hit_rows.rows())]
    if fc is not None:
        blobs = [(b, hits, exclude) for b, (_, hits, exclude) in zip(fc.blobs(), blobs)]  # type: ignore[misc]
    decoded = [_decode_doc_meta(b) for b, _, _ in blobs]  # type: ignore[arg-type]
    # the hits stay plain rows: crosspage.doc_pieces reads them as it reads Hit tuples
    items = [(doc, hits, exclude) for (doc, _), (_, hits, exclude) in zip(decoded, blobs)]
    for doc, _, _ in items:
        _check_doc(doc, cfg)
    results: list[CleanResult] = []
    sig_parts: list[np.ndarray] = []
    n_sh_parts: list[np.ndarray] = []
    for part in _work_parts(items, lambda it: len(it[0].text)):
        texts = [doc.text for doc, _, _ in part]
        toks_list = tokenize_batch(texts)
        feats = page_features_many(texts, toks_list, cfg.templates) if cfg.templates.enabled else [None] * len(part)
        site = _site_level_many(part, toks_list, index, cfg, _W["dedupe_only"], feats)
        was = within_analysis_many(texts, toks_list, cfg.within, [m for _, m in site])
        done = [_finish(doc, toks, sp, wa, hits, cfg) for (doc, hits, _), toks, (sp, _), wa in zip(part, toks_list, site, was)]
        sigs, n_sh = _signatures_many(toks_list, _kept_tokens_many(toks_list, done), cfg)
        results += done
        sig_parts.append(sigs)
        n_sh_parts.append(n_sh)
        del toks_list, feats, site, was  # the part's work memory goes before the next part's
    sigs, n_sh = (sig_parts[0], n_sh_parts[0]) if len(sig_parts) == 1 else (np.concatenate(sig_parts), np.concatenate(n_sh_parts))
    lengths = np.fromiter((len(r.text) for r in results), dtype=np.int64, count=len(results))
    encoded: "list[bytes] | tuple[int, list[int]] | None" = None
    if encoder is not None:
        encoded = [
            pickle.dumps(encoder(r.doc_id, meta, r), protocol=pickle.HIGHEST_PROTOCOL) for r, (_, meta) in zip(results, decoded)
        ]
        if enc_path is not None:
            encoded = _append_records(enc_path, encoded)
    # _finish's results come from assemble: each cleaned text is its original with the removed spans cut out
    records: "list[bytes] | tuple[int, list[int]]" = [_encode_result(r, original=False, is_cut=True) for r in results]
    if res_path is not None:
        records = _append_records(res_path, records)  # type: ignore[arg-type]
    if sig_to is not None:
        _write_sig_rows(sig_to[0], sig_to[1], sigs)
        return records, None, n_sh, lengths, encoded
    return records, sigs, n_sh, lengths, encoded


def _write_sig_rows(path: str, row: int, block: np.ndarray) -> None:
    """In a pool worker: write the signature rows ``block`` at row ``row`` of the driver's
    :class:`_SigFile` at ``path`` (a ``pwrite`` at its place: chunks land in any order)."""
    open_fds = _W.setdefault("sig_files", {})  # path -> descriptor
    fd = open_fds.get(path)
    if fd is None:
        fd = open_fds[path] = os.open(path, os.O_WRONLY)
    data = memoryview(np.ascontiguousarray(block, dtype=np.uint32)).cast("B")
    at = row * len(data) // max(len(block), 1)
    while data:
        n = os.pwrite(fd, data, at)
        if n <= 0:
            raise WorkerError("could not write the signature rows")
        data, at = data[n:], at + n


#: the write buffer of the pages' :class:`_Spill` (written page by page in the first pass)
SPILL_BUFFER = 1 << 18

#: a chunk of pages for one worker task: at most this many pages, or this many bytes of records
CHUNK_DOCS = 64
CHUNK_BYTES = 1 << 16
#: chunks sent to pool workers are this many times larger: fewer tasks to send, merge and
#: account for (2: driver -8%, workers -5% CPU at 10 MB against 1; 4: at 102.8 MB, 6.39-7.06 s
#: against 6.73-7.68 for 2 in five alternating runs, driver -0.3 and workers -0.4 CPU-s). A
#: worker still works a task's pages one chunk's worth at a time (:func:`_work_parts`): that had
#: cost ~7-8 MB more peak RSS per worker each time the scale doubled. With ``workers=1`` the
#: tasks run in the caller's process, and chunks stay small there
POOL_CHUNK_SCALE = 4
#: observe chunks sent to pool workers are cut by this many times :data:`CHUNK_DOCS` and
#: :data:`CHUNK_BYTES` (2x a clean chunk: a page's observe work is a third of its clean work, and
#: each chunk's template fingerprints become one segment of the count file, ~200 per 100 MB of
#: corpus, so :meth:`CountIndex.freeze <dedupe.engine.index.CountIndex.freeze>` makes as many
#: reads per MB whatever the corpus size); the pieces of input the workers parse are cut as
#: large (in bytes of JSONL)
OBSERVE_CHUNK_SCALE = 8


def _chunks(items: Iterable[Any], size_of: Callable[[Any], int], scale: int = 1) -> Iterator[list[Any]]:
    """Consecutive chunks of ``items`` (input order kept), cut by ``scale`` x :data:`CHUNK_DOCS`
    and :data:`CHUNK_BYTES`. Results never depend on the cut: every chunk function equals its
    page-by-page version."""
    buf: list[Any] = []
    size = 0
    max_docs, max_bytes = CHUNK_DOCS * scale, CHUNK_BYTES * scale
    for it in items:
        k = size_of(it)
        if buf and (len(buf) >= max_docs or size + k > max_bytes):
            yield buf
            buf, size = [], 0
        buf.append(it)
        size += k
    if buf:
        yield buf


def _kept_tokens(toks: Tokens, res: CleanResult) -> np.ndarray:
    """Mask of the tokens that lie outside every removed span (the cleaned text's tokens)."""
    keep = np.ones(len(toks), dtype=bool)
    rem = res.removed_spans
    if rem and len(toks):
        starts = np.array([s.start for s in rem], dtype=np.int64)
        ends = np.array([s.end for s in rem], dtype=np.int64)
        # token t is removed when some span has start <= tok.start < end (spans are disjoint)
        k = np.searchsorted(starts, toks.start, side="right") - 1
        inside = (k >= 0) & (toks.start < ends[np.maximum(k, 0)])
        keep &= ~inside
    return keep


def _kept_tokens_many(toks_list: Sequence[Tokens], results: Sequence[CleanResult]) -> list[np.ndarray | None]:
    """:func:`_kept_tokens` of many pages (None: every token of the page is kept), with one
    search for them all: the pages' offsets shifted to one line (page ``j`` after the text of the
    pages before it, plus one position each, so no span reaches the next page's tokens)."""
    m = len(results)
    base = 0
    starts: list[int] = []
    ends: list[int] = []
    has = [False] * m
    bases = np.zeros(m, dtype=np.int64)
    for j, res in enumerate(results):
        bases[j] = base
        for sp in res.spans:
            if sp.removed:
                starts.append(sp.start + base)
                ends.append(sp.end + base)
                has[j] = True
        base += len(res.original) + 1
    if not starts:
        return [None] * m
    lens = np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m)
    tok_start = np.concatenate([t.start for t in toks_list]).astype(np.int64, copy=False) + np.repeat(bases, lens)
    st = np.array(starts, dtype=np.int64)
    en = np.array(ends, dtype=np.int64)
    # token t is removed when some span has start <= tok.start < end (spans are disjoint, and
    # sorted: by start within a page, pages one after the other)
    k = np.searchsorted(st, tok_start, side="right") - 1
    keep = ~((k >= 0) & (tok_start < en[np.maximum(k, 0)]))
    cut = np.concatenate(([0], np.cumsum(lens))).tolist()
    return [keep[cut[j] : cut[j + 1]] if has[j] else None for j in range(m)]


def _encode_doc(doc: Document, with_meta: bool = False) -> bytes:
    """What the workers need of a document, as one pickled record ``(id, text, url, site,
    meta)``: ``meta`` is the document's ``meta`` with ``with_meta`` (for a ``row_encoder``, see
    :func:`run_corpus`), else only its :data:`~dedupe.engine.neardup.PAGE_META` entry (what
    :func:`~dedupe.engine.neardup.page_id` reads), or None."""
    if with_meta:
        meta = doc.meta
    else:
        page = _page_meta((doc.meta or {}).get(neardup.PAGE_META))
        meta = None if page is None else {neardup.PAGE_META: page}
    text = doc.text
    if _TEXT_K is not None and type(text) is str:
        raw = _TEXT_K.raw_str(text)  # its code units as stored: no UTF-8 coding either way
        if raw[0] != 4:  # (4 bytes a character: one emoji would make the record ~4x its UTF-8)
            text = raw
    return pickle.dumps((doc.id, text, doc.url, doc.site, meta), protocol=pickle.HIGHEST_PROTOCOL)


#: the text kernel (``raw_str`` / ``from_raw``), or None
_TEXT_K = native.load("text")


def _text_of(stored: Any) -> Any:
    """The text of an :func:`_encode_doc` record's text field: a str as it is, or ``(kind,
    code units)`` (the text kernel's ``raw_str``) made a str again (with or without the kernel:
    a record may come from a process that has it)."""
    if type(stored) is not tuple:
        return stored
    kind, data = stored
    if _TEXT_K is not None:
        return _TEXT_K.from_raw(kind, data)
    if kind == 1:
        return data.decode("latin-1")
    units = np.frombuffer(data, dtype=np.uint16 if kind == 2 else np.uint32).astype("<u4")
    return units.tobytes().decode("utf-32-le", "surrogatepass")


def _doc_text(blob: bytes) -> str:
    """The text of an :func:`_encode_doc` record."""
    return _text_of(pickle.loads(blob)[1])


def _page_meta(head: Any) -> Any:
    """What :func:`~dedupe.engine.neardup.page_id` reads of a document's ``meta[PAGE_META]``: a
    :class:`~dedupe.engine.neardup.PageId` as is; of a mapping, its ``canonical``, ``og_url`` and
    ``title`` strings only (the rest may not pickle: a ``MappingProxyType``, a value of any
    type); None for anything else (read as no page meta)."""
    if isinstance(head, neardup.PageId):
        return head
    if not head or not isinstance(head, Mapping):
        return None
    page = {k: v for k in ("canonical", "og_url", "title") if isinstance(v := head.get(k), str)}
    return page or None


def _decode_doc(blob: bytes) -> Document:
    """The :class:`Document` of an :func:`_encode_doc` record, without ``meta``."""
    rec = pickle.loads(blob)
    return Document(rec[0], _text_of(rec[1]), rec[2], rec[3])


def _decode_doc_meta(blob: bytes) -> tuple[Document, Any]:
    """The :class:`Document` (without ``meta``) and the ``meta`` (None when the record has none)
    of an :func:`_encode_doc` record."""
    rec = pickle.loads(blob)
    return Document(rec[0], _text_of(rec[1]), rec[2], rec[3]), (rec[4] if len(rec) > 4 else None)


def _encode_result(res: CleanResult, *, original: bool = True, is_cut: bool = False) -> bytes:
    """A :class:`CleanResult` as plain tuples (pickling the dataclasses costs ~10x more); a
    span's text is left out when it is the original's ``[start:end]`` (always, by contract).

    ``original=False`` (the workers' records): the original text is left out too (the driver has
    it: pass it to :func:`_decode_result`), and so is the cleaned text when it is the original with
    the removed spans cut out (always, by contract; checked), so a record is a few hundred bytes
    instead of two copies of the page. ``is_cut``: the caller knows the cleaned text is that cut
    (:func:`~dedupe.engine.assemble.assemble` made it), so it is not built again to compare."""
    orig = res.original
    spans = tuple(
        (sp.start, sp.end, None if sp.text == orig[sp.start : sp.end] else sp.text, sp.kind, sp.rule, sp.score,
         sp.kept, sp.kept_doc, sp.removed, sp.site_pages)
        for sp in res.spans
    )
    if original:
        return pickle.dumps((res.doc_id, orig, res.text, spans, dict(res.meta)), protocol=pickle.HIGHEST_PROTOCOL)
    text = None if is_cut or res.text == _cut(orig, spans) else res.text
    return pickle.dumps((res.doc_id, None, text, spans, dict(res.meta)), protocol=pickle.HIGHEST_PROTOCOL)


def _cut(orig: str, spans: Sequence[tuple]) -> str:
    """``orig`` without the removed spans of the encoded ``spans`` (disjoint, sorted by start)."""
    parts: list[str] = []
    pos = 0
    for sp in spans:
        if sp[8]:
            parts.append(orig[pos : sp[0]])
            pos = sp[1]
    if not pos:
        return orig
    parts.append(orig[pos:])
    return "".join(parts)


def _decode_result(blob: bytes, original: str | None = None) -> CleanResult:
    """The :class:`CleanResult` of an :func:`_encode_result` record; ``original``: the page's
    text, for a record encoded without it."""
    doc_id, orig, text, spans, meta = pickle.loads(blob)
    if orig is None:
        orig = original
        if orig is None:
            raise ValueError("this result record needs its original text")
        if text is None:
            text = _cut(orig, spans)
    return CleanResult(
        doc_id, orig, text,
        tuple(Span(a, b, orig[a:b] if t is None else t, k, r, sc, kp, kd, rm, sp) for a, b, t, k, r, sc, kp, kd, rm, sp in spans),
        meta,
    )


def _decode_text(blob: bytes, original: str) -> str:
    """Only the cleaned text of an :func:`_encode_result` record (``original``: the page's text)."""
    _, orig, text, spans, _ = pickle.loads(blob)
    if text is not None:
        return text
    return _cut(original if orig is None else orig, spans)


class _Spill:
    """Append-only file of byte records with random access by record number (an anonymous
    temporary file: gone when closed, and never left behind by a killed process). Record
    offsets are kept in a flat array (8 bytes per record). Appends go through a buffer of
    ``buffer`` bytes (:data:`SPILL_BUFFER` for the pages' records: one ``write`` per ~60 pages
    instead of one per page); reads are one ``pread`` of the record (a buffered read would fill
    the buffer for each record read out of order)."""

    def __init__(self, buffer: int = io.DEFAULT_BUFFER_SIZE) -> None:
        self._fh = tempfile.TemporaryFile(prefix="dedupe-", suffix=".spill", buffering=buffer)
        self._fd = self._fh.fileno()
        self._ends = array("q")
        self._end = 0
        self._dirty = False  # appended since the last flush

    def append(self, blob: bytes) -> None:
        self._fh.write(blob)  # never sought nor read through: the file position stays at the end
        self._end += len(blob)
        self._ends.append(self._end)
        self._dirty = True

    def start(self, i: int) -> int:
        """The file offset of record ``i``."""
        return self._ends[i - 1] if i else 0

    def size(self, i: int) -> int:
        return self._ends[i] - (self._ends[i - 1] if i else 0)

    def file_chunk(self, path: str, lo: int, hi: int) -> "_FileChunk":
        """Records ``lo .. hi - 1`` as a :class:`_FileChunk` of ``path`` (this file's shared path)."""
        return _FileChunk(path, self.start(lo), [self.size(i) for i in range(lo, hi)])

    def shared_path(self) -> str | None:
        """A path another process can open to read this (anonymous) file: ``/proc/<pid>/fd/<fd>``
        on Linux, else None. Call :meth:`flush` before another process reads what was appended."""
        return fd_path(self._fd)

    def flush(self) -> None:
        if self._dirty:
            self._fh.flush()
            self._dirty = False

    def get(self, i: int) -> bytes:
        start = self._ends[i - 1] if i else 0
        n = self._ends[i] - start
        self.flush()
        data = os.pread(self._fd, n, start)
        if len(data) != n:
            raise WorkerError(f"a spilled record ended early ({len(data)} of {n} bytes)")
        return data

    def __len__(self) -> int:
        return len(self._ends)

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self._ends)):
            yield self.get(i)

    def close(self) -> None:
        self._fh.close()


class _Strings:
    """An append-only column of ``str | None``: UTF-8 bytes (``surrogatepass``: any Python str
    comes back equal) and one end offset per row, ~1 byte per character + 9 per row instead of a
    str object (~50 bytes + its characters) and a list slot. Read-only sequence for the driver's
    per-page fields (URLs, page identities)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._ends = array("q")
        self._none = bytearray()

    def append(self, s: str | None) -> None:
        if s is not None:
            self._buf += s.encode("utf-8", "surrogatepass")
        self._none.append(s is None)
        self._ends.append(len(self._buf))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str | None:
        if i < 0:
            i += len(self._ends)
        if not 0 <= i < len(self._ends):
            raise IndexError(i)
        if self._none[i]:
            return None
        return self._buf[self._ends[i - 1] if i else 0 : self._ends[i]].decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str | None]:
        return (self[i] for i in range(len(self._ends)))


class _PageIds:
    """:class:`~dedupe.engine.neardup.PageId` of each page, kept as two :class:`_Strings`."""

    def __init__(self) -> None:
        self._url = _Strings()
        self._title = _Strings()

    def append(self, pid: neardup.PageId) -> None:
        self._url.append(pid.url)
        self._title.append(pid.title)

    def __len__(self) -> int:
        return len(self._url)

    def __getitem__(self, i: int) -> neardup.PageId:
        return neardup.PageId(self._url[i], self._title[i])

    def __iter__(self) -> Iterator[neardup.PageId]:
        return (self[i] for i in range(len(self)))


class _SigFile:
    """Signatures ``(n, num_perm)`` uint32 appended block by block to an anonymous temporary
    file and read back by rows (:class:`dedupe.engine.neardup.SignatureRows`): the driver never
    holds all of them (13 MB per 25,000 pages at 128 permutations)."""

    def __init__(self, num_perm: int) -> None:
        self._fh = tempfile.TemporaryFile(prefix="dedupe-", suffix=".sigs")
        self.num_perm = num_perm
        self._n = 0

    def append(self, block: np.ndarray) -> None:
        self._fh.seek(4 * self.num_perm * self._n)
        self._fh.write(memoryview(np.ascontiguousarray(block, dtype=np.uint32)))
        self._n += len(block)

    def shared_path(self) -> str | None:
        """A path a pool worker can open to write rows in place (:func:`_write_sig_rows`), else None."""
        self._fh.flush()
        return fd_path(self._fh.fileno())

    def extend(self, m: int) -> None:
        """The next ``m`` rows, written in place by a worker (:func:`_write_sig_rows`)."""
        self._n += m

    def __len__(self) -> int:
        return self._n

    def take_rows(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (any order, repeats allowed): one read per run of consecutive rows."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((len(idx), self.num_perm), dtype=np.uint32)
        if not len(idx):
            return out
        if int(idx.min()) < 0 or int(idx.max()) >= self._n:
            raise IndexError("signature row out of range")
        row = 4 * self.num_perm
        if int(idx[-1]) - int(idx[0]) == len(idx) - 1 and (len(idx) == 1 or bool((np.diff(idx) == 1).all())):
            self._fh.seek(row * int(idx[0]))  # one range of rows
            self._fh.readinto(memoryview(out).cast("B"))
            return out
        u, inv = np.unique(idx, return_inverse=True)
        cut = np.flatnonzero(np.diff(u) != 1) + 1
        got = np.empty((len(u), self.num_perm), dtype=np.uint32)
        for lo, hi in zip(np.concatenate(([0], cut)).tolist(), np.concatenate((cut, [len(u)])).tolist()):
            self._fh.seek(row * int(u[lo]))
            self._fh.readinto(memoryview(got[lo:hi]).cast("B"))
        np.take(got, inv.reshape(-1), axis=0, out=out)
        return out

    def close(self) -> None:
        self._fh.close()


class _Mapper:
    """Ordered ``map(fn, iterable)`` for both passes: in this process (``workers <= 1``) or one
    process pool (:func:`~dedupe.engine.pool.pool_context`). :meth:`share_index` hands the counted index to the workers: pickled
    once to a temporary file whose path travels with each clean task; a worker loads it on first
    use.

    The pool is a :class:`concurrent.futures.ProcessPoolExecutor` fed through a window of
    :data:`WINDOW_PER_WORKER` tasks per worker (the input is read as results come back, not all
    at once). A worker that dies (killed, out of memory, or unable to start: ``workers > 1``
    called from a script without a ``__main__`` guard) ends the run with :class:`WorkerError`
    instead of a hang."""

    def __init__(self, workers: int, cfg: Config, dedupe_only: bool) -> None:
        self.workers, self.cfg, self.dedupe_only = workers, cfg, dedupe_only
        self.pool: Any = None
        self.index_path: str | None = None  # the named file of the shared index, to remove
        self._index_fd = -1  # or the shared index's open file, without a name
        self._owned: list[Any] = []  # closed when the pool is done (what the workers load from)
        self._env: dict[str, str | None] = {}
        #: chunk size factor of this mapper's tasks (see :data:`POOL_CHUNK_SCALE`), and of its
        #: observe tasks (:data:`OBSERVE_CHUNK_SCALE`)
        self.scale = POOL_CHUNK_SCALE if workers > 1 else 1
        self.observe_scale = OBSERVE_CHUNK_SCALE if workers > 1 else 1

    def __enter__(self) -> "_Mapper":
        _init_worker(self.cfg, None, self.dedupe_only)
        if self.workers > 1:
            # for spawned workers (the forkserver gets it when it starts); restored on exit
            self._env = {k: os.environ.get(k) for k in WORKER_ENV}
            for k, v in WORKER_ENV.items():
                os.environ.setdefault(k, v)
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=pool_context(),
                initializer=_init_pool_worker, initargs=(self.cfg, None, self.dedupe_only, os.getpid()),
            )
        return self

    def can_open(self, path: str, append: bool = False) -> bool:
        """Can a worker open ``path`` (to read; ``append``: to append) (one round trip)?"""
        if self.pool is None:
            return True
        try:
            return bool(self._submit(_can_open, path, append).result())
        except BrokenProcessPool:
            return False

    def __call__(self, fn: Callable[[Any], Any], it: Iterable[Any]) -> Iterator[Any]:
        if self.pool is None:
            return map(fn, it)
        return self._ordered(fn, it)

    def _ordered(self, fn: Callable[[Any], Any], it: Iterable[Any]) -> Iterator[Any]:
        window: deque[Future] = deque()
        depth = WINDOW_PER_WORKER * self.workers
        try:
            for item in it:
                window.append(self._submit(fn, item))
                if len(window) >= depth:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        except BrokenProcessPool:
            raise WorkerError(
                "a worker process died (killed, out of memory, or it could not start: from Python, "
                "call clean_corpus / run_corpus with workers > 1 under `if __name__ == \"__main__\":`)"
            ) from None
        finally:
            for f in window:
                f.cancel()

    def one(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """``fn(item)`` (in a worker when there is a pool), waited for."""
        if self.pool is None:
            return fn(item)
        try:
            return self._submit(fn, item).result()
        except BrokenProcessPool:
            raise WorkerError("a worker process died (killed, out of memory, or it could not start)") from None

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """``pool.submit``, with the stop signals blocked in this thread meanwhile: a worker the
        pool spawns now inherits the mask, so a Ctrl-C while it starts (before its initializer
        ignores SIGINT) cannot stop it with a traceback, and a SIGTERM cannot cut the spawn in
        the middle; the driver gets the signal when the mask is restored."""
        if not hasattr(signal, "pthread_sigmask"):
            return self.pool.submit(fn, *args)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            return self.pool.submit(fn, *args)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def own(self, thing: Any) -> None:
        """Close ``thing`` when the pool is done (a file the workers may still read)."""
        self._owned.append(thing)

    def share_index(self, index: "IndexStore | SharedCounts") -> str | None:
        if self.pool is None:
            _W["index"] = index
            return None
        fd, path = tempfile.mkstemp(prefix="dedupe-", suffix=".index")
        try:
            with os.fdopen(os.dup(fd), "wb") as fh:
                pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
            # where the workers can reach the open file (Linux /proc), it loses its name now: a
            # driver killed without unwinding (SIGKILL, out of memory) then leaves no file behind
            shared = fd_path(fd)
            if shared is not None and self.can_open(shared):
                os.unlink(path)
                self._index_fd, fd = fd, -1
                return shared
            self.index_path = path
            return path
        except BaseException:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        finally:
            if fd >= 0:
                os.close(fd)

    def __exit__(self, *exc: Any) -> bool:
        try:
            if self.pool is not None:
                # stopped early (an error, Ctrl-C, SIGTERM): queued tasks are cancelled and the
                # workers end after their current chunk (they ignore SIGINT); terminating them
                # instead could cut a result in the middle of the pipe and hang the pool's thread
                self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
        finally:
            _W.clear()
            for thing in self._owned:
                thing.close()
            self._owned = []
            for k, v in self._env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            if self._index_fd >= 0:
                os.close(self._index_fd)
                self._index_fd = -1
            if self.index_path is not None:
                try:
                    os.unlink(self.index_path)
                except OSError:
                    pass
        return False


#: tasks in flight per worker process (enough to keep a worker busy while the driver merges)
WINDOW_PER_WORKER = 3


# ---------------------------------------------------------------------------------------------
# the corpus job
# ---------------------------------------------------------------------------------------------
_release_memory = release_memory  # glibc malloc_trim between passes (see index.release_memory)


def _exclusions(groups: list[list[int]], pmap: Any, source: Any) -> dict[int, Exclusion]:
    """For each member of each group of page copies: its copies' fingerprints and counts."""
    members = sorted(i for g in groups for i in g)
    if not members:
        return {}
    if isinstance(source, (_Spill, _Records)):
        blobs = [source.get(i) for i in members]
    else:
        blobs = [_encode_doc(source[i]) for i in members]
    fps_of = dict(zip(members, (f for chunk in pmap(_fps_chunk, _chunks(blobs, len, pmap.scale)) for f in chunk)))
    out: dict[int, Exclusion] = {}
    for g in groups:
        for i in g:
            others = [fps_of[j] for j in g if j != i]
            u, c = np.unique(np.concatenate(others), return_counts=True)
            out[i] = (u.astype(np.uint64), c.astype(np.int64), len(others))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Encoded:
    """What :func:`run_corpus` with a ``row_encoder`` yields for a document that is its
    near-duplicate cluster's canonical member or in no cluster (``canonical`` is True): the
    encoder's value for its :class:`CleanResult` (whose ``meta`` had neither ``cluster`` nor
    ``canonical``) and its ``cluster`` (the canonical id = its own, or None)."""

    doc_id: str
    cluster: str | None
    value: Any


def run_corpus(
    docs: Iterable[Document],
    cfg: Config | None = None,
    *,
    index: IndexStore | None = None,
    workers: int = 1,
    dedupe_only: bool = False,
    progress: ProgressFn | None = None,
    order: str = "input",
    on_signature: Callable[[int, str, np.ndarray, int], None] | None = None,
    on_observe: Callable[[int, str, np.ndarray, neardup.PageId], None] | None = None,
    stored_copies: Callable[[Sequence[str], Sequence[str], Sequence[neardup.PageId], neardup.SignatureRows], dict[int, Exclusion]] | None = None,
    row_encoder: RowEncoder | None = None,
) -> "Iterator[CleanResult | Encoded]":
    """Clean a corpus: observe everything, clean each document, cluster near-duplicates.

    Args:
        docs: documents with unique ids (a list/tuple is iterated twice; any other iterable is
            spilled to a temporary file during the first pass).
        cfg: settings (default :class:`Config`).
        index: the evidence store; default a fresh :class:`~dedupe.engine.index.CountIndex`
            (compact, frozen after the first pass; same results as a :class:`MemoryIndex`). A persistent store keeps
            what it saw before, so earlier pages count as evidence too.
        workers: processes for per-document work (1 = in this process).
        dedupe_only: keep site templates and repeats, but no main-text selection.
        progress: called as ``progress(stage, done, total)``; stages ``observe``, ``clean``,
            ``cluster``, ``write``.
        order: ``"input"`` (input order) or ``"id"`` (sorted by document id: the output is then a
            function of the set of documents, whatever their order).
        on_signature: called as ``on_signature(i, doc_id, signature, n_shingles)`` with each
            document's MinHash signature of its cleaned text (``i`` = input position), after
            cleaning and before anything is yielded (a persistent index stores them as they are).
        on_observe: called as ``on_observe(i, doc_id, raw_signature, page_id)`` for each
            document just before ``index.observe`` records it: the MinHash signature of its RAW
            text and its :func:`~dedupe.engine.neardup.page_id` (a persistent index stores them
            to find the page's copies later).
        stored_copies: called once after counting as ``stored_copies(ids, sites, page_ids,
            raw_signatures)``; returns ``{i: Exclusion}``, the evidence of copies of document
            ``i`` held outside this input (a persistent index's stored pages), excluded from its
            evidence together with its copies in the input.
        row_encoder: a module-level function ``row_encoder(doc_id, meta, result)`` run in the
            workers on each document's :class:`CleanResult` right after cleaning (``meta`` = the
            document's ``meta``; ``result.meta`` without ``cluster`` / ``canonical``): e.g. the
            CLI encodes the output rows there, in parallel. A document that ends up its
            cluster's canonical member or in no cluster is then yielded as :class:`Encoded`
            with that value (unless it is None); the others (non-canonical near-duplicates) as
            their :class:`CleanResult`, as without an encoder.

    Yields:
        one :class:`CleanResult` per document, ``meta`` = ``cluster``, ``canonical``,
        ``removed_chars`` (or an :class:`Encoded`, see ``row_encoder``).

    Raises:
        InputError: a duplicate id, a non-str text or a text over ``cfg.max_doc_chars``.
    """
    cfg = cfg or Config()
    if order not in ("input", "id"):
        raise ValueError("order must be 'input' or 'id'")
    own_index = index is None  # ours to trade for its counts once frozen (a caller's stays whole)
    if index is None:
        # compact counts; a fingerprint on one page can never be template evidence when the
        # threshold is >= 2 pages, so those (most of them) are not kept
        index = CountIndex(min_count=2 if cfg.templates.min_pages >= 2 else 1, track_ids=False)  # ids: checked here
    workers = max(1, int(workers))
    tick = progress or (lambda stage, done, total: None)

    parsed = docs if isinstance(docs, ParsedSource) else None
    reiterable = isinstance(docs, (list, tuple))
    if isinstance(docs, list):
        docs = tuple(docs)  # read again when yielding: a caller changing its list must not matter
    # the pages' records: written by the driver, or (parsed by the workers) appended by them
    doc_spill: "_Spill | _Records | None" = None if reiterable else (_Records() if parsed is not None else _Spill(SPILL_BUFFER))
    res_spill = _Records()  # the workers' result records (appended by them, in a pool)
    with_meta = row_encoder is not None
    # the encoder's values (pickled and, in a pool, written by the workers), read back when yielding
    enc_spill = _Records() if with_meta else None
    # raw-text signatures go to a temporary file while observing, read back in blocks
    raw_sigs = _SigFile(cfg.signature.num_perm)
    # cleaned-text signatures: on disk, read in blocks by the clustering
    sigs = _SigFile(cfg.signature.num_perm)
    try:
        # -- pass 1: observe ----------------------------------------------------------------
        # per page, compact: site names shared (a site's pages hold one str), URLs and page
        # identities as UTF-8 columns, lengths as an int array (ids stay str: callers hold them)
        ids: list[str] = []
        seen: set[str] = set()
        sites: list[str] = []
        site_names: dict[str, str] = {}
        urls = _Strings()
        pages = _PageIds()  # what tells a page apart from its site's others
        lengths = array("q")
        blocks = crosspage.BlockTable()

        def first_pass() -> Iterator[bytes]:
            for doc in docs:
                if not isinstance(doc, Document):
                    raise InputError(f"expected a Document, got {type(doc).__name__}")
                if doc.id in seen:
                    raise InputError(f"duplicate document id {doc.id!r}")
                seen.add(doc.id)
                _check_doc(doc, cfg)
                ids.append(doc.id)
                site = site_of(doc)
                sites.append(site_names.setdefault(site, site))
                urls.append(doc.url)
                lengths.append(len(doc.text))
                blob = _encode_doc(doc, with_meta)
                if doc_spill is not None:
                    doc_spill.append(blob)
                yield blob

        with _Mapper(workers, cfg, dedupe_only) as pmap:
            i = n_chunks = 0
            # the default store takes a chunk's fingerprints at once; any other page by page
            chunked = type(index) is CountIndex
            # pool workers read the pages from the spill file (where it can be shared), not a pipe
            spill_path = doc_spill.shared_path() if doc_spill is not None and pmap.pool is not None else None
            if spill_path is not None and not pmap.can_open(spill_path, append=parsed is not None):
                spill_path = None  # e.g. a process that is not dumpable: its /proc fds are closed to others

            # pool workers append the fingerprints to the default store's count file themselves
            count_path = index.spill_path() if chunked and pmap.pool is not None else None  # type: ignore[attr-defined]
            if count_path is not None and not pmap.can_open(count_path, append=True):
                count_path = None

            def count_to_of(k: int, m: int) -> "CountTo | None":
                if count_path is None:
                    return None
                nos = [index.site_number(s) for s in sites[k : k + m]]  # type: ignore[attr-defined]
                return (count_path, np.array(nos, dtype=np.uint32), index.BUCKET_BITS)  # type: ignore[attr-defined]

            def hand_over(rows: list[tuple], others: list[tuple[int, Any]], loc: Any) -> tuple[list[bool], int, int]:
                """A parsed piece's documents (``rows``) and other rows (``others``: (position,
                row)) handed to ``on_row`` in input order; the documents taken are numbered and
                their records (``loc``) added to the pages' file. Returns which documents were
                taken, the number of the first and how many."""
                assert parsed is not None and isinstance(doc_spill, _Records)
                take: list[bool] = []
                on_row = parsed.on_row
                unique = parsed.unique_ids
                at = 0  # documents handed over
                for k, (j, other) in enumerate(others + [(len(rows) + len(others), None)]):
                    for doc_id, site, url, n_chars, kept in rows[at : j - k]:  # the documents before row j
                        ok = bool(on_row((doc_id, n_chars, kept)))
                        if ok:
                            if n_chars < 0:
                                raise InputError(f"document {doc_id!r}: a field of its meta is nested too deeply to keep")
                            if not unique:
                                if doc_id in seen:
                                    raise InputError(f"duplicate document id {doc_id!r}")
                                seen.add(doc_id)
                            ids.append(doc_id)
                            sites.append(site_names.setdefault(site, site))
                            urls.append(url)
                            lengths.append(n_chars)
                        take.append(ok)
                    at = j - k
                    if k < len(others):
                        on_row(other)
                first = len(doc_spill)
                doc_spill.add(loc, take)
                return take, first, len(doc_spill) - first

            def fused_observed() -> Iterator["tuple[Observed, list[int] | None]"]:
                """Each piece of a :class:`ParsedSource` parsed and observed by one worker task
                (:func:`_parse_observe_chunk`): its observed pages and the map of its segment's
                site numbers. A piece with a page the driver drops (a duplicate id) is observed
                again from the kept pages' records (its segment, which counts the dropped page
                too, is left out)."""
                assert parsed is not None and isinstance(doc_spill, _Records) and spill_path is not None and count_path is not None
                tasks = (
                    (t, parsed.parser, parsed.keep, spill_path, with_meta, count_path, index.BUCKET_BITS)  # type: ignore[attr-defined]
                    for t in parsed.tasks
                )
                for rows, others, loc, obs, own in pmap(_parse_observe_chunk, tasks):
                    take, k, m = hand_over(rows, others, loc)
                    if not m:
                        continue
                    if all(take):
                        assert obs is not None
                        yield obs, [index.site_number(x) for x in own]  # type: ignore[attr-defined]
                    else:
                        yield pmap.one(_observe_chunk, (doc_spill.file_chunk(spill_path, k, k + m), count_to_of(k, m))), None

            def parsed_observe_tasks() -> Iterator["tuple[list[bytes] | _FileChunk, CountTo | None]"]:
                """The observe tasks of a :class:`ParsedSource`: each piece parsed by a worker,
                its rows handed to ``on_row`` in order, then its documents observed."""
                assert parsed is not None and isinstance(doc_spill, _Records)
                tasks = ((t, parsed.parser, parsed.keep, spill_path, with_meta) for t in parsed.tasks)
                for rows, others, loc in pmap(_parse_chunk, tasks):
                    _, k, m = hand_over(rows, others, loc)
                    if not m:
                        continue
                    if spill_path is None:
                        yield [doc_spill.get(i) for i in range(k, k + m)], count_to_of(k, m)
                    else:
                        yield doc_spill.file_chunk(spill_path, k, k + m), count_to_of(k, m)

            def observe_tasks() -> Iterator["tuple[list[bytes] | _FileChunk, CountTo | None]"]:
                if parsed is not None:
                    yield from parsed_observe_tasks()
                    return
                k = 0  # records of the spill file before this chunk
                for chunk in _chunks(first_pass(), len, pmap.observe_scale):
                    count_to = count_to_of(k, len(chunk))
                    if spill_path is None:
                        yield chunk, count_to
                    else:
                        assert isinstance(doc_spill, _Spill)
                        doc_spill.flush()
                        yield _FileChunk(spill_path, doc_spill.start(k), [len(b) for b in chunk]), count_to
                    k += len(chunk)

            fused = parsed is not None and spill_path is not None and count_path is not None
            observed = fused_observed() if fused else ((obs, None) for obs in pmap(_observe_chunk, observe_tasks()))
            for (fps, n_fps, bfp, bs, be, n_blocks, c_sigs, c_pids, seg), site_map in observed:
                m = len(n_fps)
                for u, t in c_pids:
                    pages.append(neardup.PageId(u, t))
                if chunked:
                    if on_observe is not None:
                        for j in range(m):
                            on_observe(i + j, ids[i + j], c_sigs[j], pages[i + j])
                    if count_path is not None:  # the worker wrote the fingerprints
                        index.add_segment(sites[i : i + m], ids[i : i + m], seg, site_map)  # type: ignore[attr-defined]
                    else:
                        index.observe_chunk(sites[i : i + m], ids[i : i + m], fps, n_fps)  # type: ignore[attr-defined]
                else:
                    cut = np.concatenate(([0], np.cumsum(n_fps))).tolist()
                    for j in range(m):
                        if on_observe is not None:
                            on_observe(i + j, ids[i + j], c_sigs[j], pages[i + j])
                        index.observe(sites[i + j], ids[i + j], fps[cut[j] : cut[j + 1]].copy())  # not a view of the chunk
                blocks.add_many(np.repeat(np.arange(i, i + m, dtype=np.int64), n_blocks), bfp, bs, be)
                raw_sigs.append(c_sigs)
                i += m
                tick("observe", i, None)
                n_chunks += 1
                if n_chunks % 64 == 0:
                    _release_memory()
            n = len(ids)
            tick("observe", n, n)
            seen.clear()
            # the pages in id order, sorted once when first needed: for the canonical policies,
            # the copy groups and the output order (each had sorted the ids again, a list of n
            # ints each time)
            by_id = crosspage.IdOrder(ids)
            if parsed is not None and parsed.done is not None:
                parsed.done()
            index_path: str | None = None  # where the workers load the counted evidence from
            shared = None
            if own_index and count_path is not None:
                # counted by the pool's workers (idle now), which also write what they keep to a
                # file that each loads for the clean pass: this process holds none of it
                shared = index.freeze_shared(pmap, lambda path: pmap.can_open(path, append=True))  # type: ignore[union-attr]
            if shared is not None:
                pmap.own(shared)
                index_path = pmap.share_index(shared)
                index = None
            elif isinstance(index, CountIndex):
                # counted by the pool's workers (idle now) where they can open the count file:
                # this process then holds only what is kept
                index.freeze(count_map=pmap if count_path is not None else None)
                if own_index:
                    # what cleaning reads, without the store's page ids (~150 bytes a page)
                    index = index.frozen_counts()
                    if pmap.pool is not None:
                        # handed to the workers now (nothing here reads it again): not held
                        # through the cross-page resolve and the copy groups (~200 bytes a page)
                        index_path = pmap.share_index(index)
                        index = None
                _release_memory()  # what counting read and sorted, before the block table's turn
            # cross-page blocks first (independent of the copy groups below)
            hits = blocks.resolve(cfg.corpus, ids=ids, urls=urls, lengths=lengths, order=by_id)
            del blocks
            _release_memory()

            # copies of one page on a site must not vote for each other's body as template
            exclusions: dict[int, Exclusion] = {}
            if cfg.templates.enabled and n > 1:
                groups = neardup.page_groups(raw_sigs, sites, cfg.corpus.dup_pages_threshold, cfg.neardup.bands, pages, ids=ids, order=by_id)
                exclusions = _exclusions(groups, pmap, docs if doc_spill is None else doc_spill)
            if cfg.templates.enabled and stored_copies is not None and n:
                for i, ex in stored_copies(ids, sites, pages, raw_sigs).items():
                    exclusions[i] = merge_exclusions(exclusions.get(i), ex)
            raw_sigs.close()

            _release_memory()

            # -- pass 2: clean ---------------------------------------------------------------
            # the workers get what cleaning reads (CountIndex: not its page ids)
            if index is not None:
                index_path = pmap.share_index(index.frozen_counts() if type(index) is CountIndex and pmap.pool is not None else index)
                if index_path is not None:
                    index = None  # the workers load their own copy (a caller's store stays the caller's)

            # pool workers append the encoded values and the result records to the files
            # themselves, and write the signatures in place (where they can)
            enc_path = enc_spill.shared_path() if enc_spill is not None and pmap.pool is not None else None
            if enc_path is not None and not pmap.can_open(enc_path, append=True):
                enc_path = None
            res_path = res_spill.shared_path() if pmap.pool is not None else None
            if res_path is not None and not pmap.can_open(res_path, append=True):
                res_path = None
            sig_path = sigs.shared_path() if pmap.pool is not None and on_signature is None else None
            if sig_path is not None and not pmap.can_open(sig_path, append=True):
                sig_path = None

            def clean_to(k: int) -> CleanTo:
                return enc_path, res_path, None if sig_path is None else (sig_path, k)

            def second_pass() -> Iterator[Any]:
                rows = hits.rows if isinstance(hits, (crosspage.Hits, crosspage.SpilledHits)) else (
                    lambda i: [(h.start, h.end, h.pages, h.kept_doc, h.kept) for h in hits.get(i, [])]
                )
                if spill_path is not None:
                    # the same chunks as from the records, cut by the records' lengths, without
                    # reading them: the workers read them from the spill file
                    assert doc_spill is not None
                    doc_spill.flush()
                    sizes = ((i, doc_spill.size(i)) for i in range(n))
                    k = 0
                    for chunk in _chunks(sizes, lambda it: it[1], pmap.scale):
                        fc = doc_spill.file_chunk(spill_path, k, k + len(chunk))
                        if isinstance(hits, (crosspage.Hits, crosspage.SpilledHits)):  # the chunk's hits at once, as arrays
                            yield (
                                [(None, None, exclusions.get(i)) for i, _ in chunk], index_path, fc, row_encoder, clean_to(k),
                                hits.rows_chunk(k, k + len(chunk)),
                            )
                        else:
                            yield [(None, rows(i), exclusions.get(i)) for i, _ in chunk], index_path, fc, row_encoder, clean_to(k), None
                        k += len(chunk)
                    return
                source = (_encode_doc(d, with_meta) for d in docs) if doc_spill is None else iter(doc_spill)
                items = ((blob, rows(i), exclusions.get(i)) for i, blob in enumerate(source))
                k = 0
                for chunk in _chunks(items, lambda it: len(it[0]), pmap.scale):
                    yield chunk, index_path, None, row_encoder, clean_to(k), None
                    k += len(chunk)

            n_shingles = np.zeros(n, dtype=np.int64)
            cleaned_len = np.zeros(n, dtype=np.int64)
            i = 0
            for c_res, c_sigs, c_nsh, c_len, c_enc in pmap(_clean_chunk, second_pass()):
                m = len(c_nsh)
                if enc_spill is not None:
                    enc_spill.add(c_enc)
                if c_sigs is None:  # written in place by the worker
                    sigs.extend(m)
                else:
                    sigs.append(c_sigs)
                n_shingles[i : i + m] = c_nsh
                cleaned_len[i : i + m] = c_len
                if on_signature is not None:
                    assert c_sigs is not None
                    for j in range(m):
                        on_signature(i + j, ids[i + j], c_sigs[j], int(c_nsh[j]))
                res_spill.add(c_res)
                i += m
                tick("clean", i, n)
            # what only the clean pass needed: cross-page hits, copy evidence, the counts (kept
            # alive by the caller when it passed its own store)
            del hits, exclusions, index
            tick("clean", n, n)
            _release_memory()

            # the workers' records leave out the original text: it comes from the input again
            if doc_spill is None:
                def original(i: int) -> str:
                    return docs[i].text  # type: ignore[index]
            else:
                def original(i: int) -> str:
                    return _doc_text(doc_spill.get(i))

            # -- pass 3: near-duplicate documents -------------------------------------------
            # (the pairs are compared a group at a time, by the pool where there is one: the
            # pages are shingled there, and this process never holds the candidates' shingle sets)
            def doc_record(i: int) -> bytes:
                return _encode_doc(docs[i]) if doc_spill is None else doc_spill.get(i)  # type: ignore[index]

            def compare_many(pairs: np.ndarray) -> np.ndarray:
                out = np.zeros((len(pairs), 3), dtype=np.int64)
                rows_of: deque[np.ndarray] = deque()  # the rows of the tasks given out, in order

                def tasks() -> Iterator[tuple[list[tuple[bytes, bytes]], np.ndarray]]:
                    for members, local, rows in _pair_tasks(pairs, lengths.__getitem__, CHUNK_BYTES * pmap.scale):
                        rows_of.append(rows)
                        yield [(doc_record(i), res_spill.get(i)) for i in members], local

                for got in pmap(_compare_chunk, tasks()):  # results in task order
                    out[rows_of.popleft()] = got
                return out

            clusters = neardup.Clusters.empty(n)
            if cfg.neardup.enabled and n > 1:
                clusters = neardup.cluster(
                    sigs,
                    n_shingles,
                    lambda i: _decode_text(res_spill.get(i), original(i)),
                    cfg,
                    ids=ids,
                    urls=urls,
                    lengths=cleaned_len,
                    compare_many=compare_many,
                    order=by_id,
                )
            sigs.close()
        _release_memory()
        tick("cluster", n, n)

        # -- yield ---------------------------------------------------------------------------
        seq: Iterable[int] = range(n) if order == "input" else map(int, by_id())
        # plain ints as read (an array of them, not a list: ~28 bytes a page less)
        canonical = array("q", clusters.canonical.astype(np.int64).tobytes())
        for done, i in enumerate(seq):
            canon = canonical[i]
            if enc_spill is not None and (canon < 0 or canon == i):
                value = pickle.loads(enc_spill.get(i))
                if value is not None:
                    yield Encoded(ids[i], ids[canon] if canon >= 0 else None, value)
                    if (done + 1) % 256 == 0:
                        tick("write", done + 1, n)
                    continue
            res: CleanResult = _decode_result(res_spill.get(i), original(i))
            meta = dict(res.meta)
            meta["cluster"] = ids[canon] if canon >= 0 else None
            meta["canonical"] = bool(canon < 0 or canon == i)
            if canon >= 0 and canon != i:
                rule = f"minhash-lsh+jaccard>={cfg.neardup.threshold}" + (
                    f"|containment>={cfg.neardup.containment}" if cfg.neardup.containment > 0 else ""
                )
                res = neardup.with_near_dup_span(res, ids[canon], int(lengths[canon]), float(clusters.score[i]), rule)
            meta["removed_chars"] = res.removed_chars()
            yield dataclasses.replace(res, meta=meta)
            if (done + 1) % 256 == 0:
                tick("write", done + 1, n)
        tick("write", n, n)
    finally:
        if doc_spill is not None:
            doc_spill.close()
        res_spill.close()
        if enc_spill is not None:
            enc_spill.close()
        raw_sigs.close()
        sigs.close()
