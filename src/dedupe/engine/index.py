"""What an index store must do, and an in-memory implementation.

The corpus job and the persistent index share this protocol, so that feeding pages through a
persistent store gives the same templates, clusters and cleaned text as an in-memory corpus run.

Evidence kept per site: for every *fingerprint* (a stable uint64: a span k-gram or a short
line, see :mod:`dedupe.engine.templates`), the set of pages of the site holding it. Observing a
document id again replaces its earlier contribution (a re-crawl never double-counts).

Evidence kept per document: its MinHash signature and LSH band keys (near-duplicate documents).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from ..core import native
from ..core.hashing import SortedLookup

_SITE_K = native.load("site")  # C kernel of the count (:meth:`CountIndex._count`), or None


def close_spill(owner: Any) -> None:
    """Close ``owner._tmp`` (a spill file) if it is open: the ``__del__`` of the classes that
    spill while counting, so a run cut short leaves no open file behind."""
    tmp = getattr(owner, "_tmp", None)
    if tmp is not None:
        try:
            tmp.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Passes that free many temporaries between long-lived arrays (counting, the corpus driver's
    passes) leave the heap fragmented: glibc keeps the freed pages in the process (its mmap
    threshold grows after the first large free), so the resident size would stack one pass's
    garbage on the next pass's peak. Only the resident size changes, never a result."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None


#: where a segment of (site, fingerprint) records lies in a :class:`CountIndex` spill file: (byte
#: offset of its fingerprints, of its site numbers, cuts of its buckets)
Segment = tuple[int, int, np.ndarray]


def bucket_records(fps: np.ndarray, sites: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site, fingerprint) records (uint64 fingerprints, uint32 site numbers) ordered by bucket
    (the top ``bits`` <= 8 bits of the fingerprint; a stable radix sort), with each bucket's cut
    (``2**bits + 1`` offsets)."""
    if not 1 <= bits <= 8:
        raise ValueError(f"bucket bits must be 1 to 8, not {bits}")
    bucket = (fps >> np.uint64(64 - bits)).astype(np.uint8)
    order = np.argsort(bucket, kind="stable")
    cuts = np.zeros((1 << bits) + 1, dtype=np.int64)
    np.cumsum(np.bincount(bucket, minlength=1 << bits), out=cuts[1:])
    return fps[order], sites[order], cuts


def write_segment(fd: int, fps: np.ndarray, sites: np.ndarray, bits: int) -> Segment:
    """Append the records (:func:`bucket_records`) to the file ``fd`` as one segment, in one
    ``writev`` (appends of other processes to an ``O_APPEND`` file never interleave with it);
    returns where it lies."""
    f, s, cuts = bucket_records(np.asarray(fps, dtype=np.uint64), np.asarray(sites, dtype=np.uint32), bits)
    if not len(f):
        return 0, 0, cuts
    bufs = [memoryview(f).cast("B"), memoryview(s).cast("B")]
    size = 12 * len(f)
    os.lseek(fd, 0, os.SEEK_END)
    n = os.writev(fd, bufs) if hasattr(os, "writev") else os.write(fd, b"".join(bufs))
    if n != size:  # a regular file takes it all (else: disk full); a second write could interleave
        raise OSError(f"could not write the count records ({n} of {size} bytes)")
    base = os.lseek(fd, 0, os.SEEK_CUR) - size  # this descriptor's own position: the end of its write
    return base, base + 8 * len(f), cuts


def fd_path(fd: int) -> str | None:
    """A path another process can open to reach this process's open file ``fd`` (an anonymous
    temporary file included): ``/proc/<pid>/fd/<fd>`` on Linux, else None."""
    path = f"/proc/{os.getpid()}/fd/{fd}"
    try:
        same = os.path.samestat(os.stat(path), os.fstat(fd))
    except OSError:
        return None
    return path if same else None


def runs_sorted_unique(fps: np.ndarray, counts: np.ndarray) -> bool:
    """Is each run of ``fps`` (page ``j``'s: the next ``counts[j]``) strictly increasing?"""
    ends = np.cumsum(counts)
    up = np.ones(len(fps), dtype=bool)
    np.greater(fps[1:], fps[:-1], out=up[1:])
    up[ends[:-1][ends[:-1] < len(fps)]] = True  # a page's first fingerprint
    return bool(up.all())


def _read_into(fd: int, bufs: "list[memoryview]", offset: int) -> None:
    """Fill ``bufs`` one after the other from file ``fd`` at ``offset`` (one ``preadv`` where
    there is one)."""
    size = sum(len(b) for b in bufs)
    if hasattr(os, "preadv"):
        n = os.preadv(fd, bufs, offset)
    else:  # pragma: no cover - no preadv (not Linux / BSD)
        data = os.pread(fd, size, offset)
        n = len(data)
        if n == size:
            at = 0
            for b in bufs:
                b[:] = data[at : at + len(b)]
                at += len(b)
    if n != size:
        raise OSError(f"the count spill file ended early ({n} of {size} bytes)")


def read_bucket_runs(
    fd: int, offs: "Sequence[tuple[int, int]]", cuts: np.ndarray, table: "tuple[np.ndarray, np.ndarray] | None"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The records of a run of buckets from a :class:`CountIndex` spill file ``fd``, one
    (fingerprints, site numbers) pair per bucket, each bucket's records in segment order.
    ``offs[j]``: where segment ``j``'s fingerprints and site numbers start; ``cuts[j]``: its
    record numbers at the buckets' bounds (segments x (buckets + 1)): a segment is ordered by
    bucket, so its run of these buckets is contiguous and read with one read per column,
    scattered by the read itself into each bucket's place (a buffer per bucket): no copy after
    it. ``table``: (map table, each segment's base in it) when segments were written with site
    numbers of their own (:meth:`CountIndex._site_maps`), else None."""
    nb = cuts.shape[1] - 1
    runs = np.diff(cuts, axis=1)  # each segment's records of each bucket
    bstart = np.zeros(nb + 1, dtype=np.int64)
    np.cumsum(runs.sum(axis=0), out=bstart[1:])
    dest = bstart[:-1] + np.cumsum(runs, axis=0) - runs  # where a segment's run of a bucket goes
    fps = np.empty(int(bstart[-1]), dtype=np.uint64)
    sites = np.empty(int(bstart[-1]), dtype=np.uint32)
    mf, ms = memoryview(fps).cast("B"), memoryview(sites).cast("B")
    for (off_fp, off_site), lo, r, d in zip(offs, cuts[:, 0].tolist(), runs.tolist(), dest.tolist()):
        got = [(a, n) for a, n in zip(d, r) if n]
        if got:
            _read_into(fd, [mf[8 * a : 8 * (a + n)] for a, n in got], off_fp + 8 * lo)
            _read_into(fd, [ms[4 * a : 4 * (a + n)] for a, n in got], off_site + 4 * lo)
    if table is not None:
        # segments written with numbers of their own: one gather per bucket through the
        # segments' maps laid end to end
        tab, base = table
        for k in range(nb):
            if bstart[k + 1] > bstart[k]:
                part = sites[bstart[k] : bstart[k + 1]]
                np.take(tab, np.repeat(base, runs[:, k]) + part, out=part)
    b = bstart.tolist()
    return [(fps[b[k] : b[k + 1]], sites[b[k] : b[k + 1]]) for k in range(nb)]


def count_bucket(
    fp: np.ndarray, site: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], *,
    min_count: int, bucket_bits: int, n_sites: int, bucket: int | None = None,
    scratch: "dict[int, np.ndarray] | None" = None,
) -> None:
    """Count one bucket of a :class:`CountIndex`'s records: appends (site numbers, fingerprints,
    page counts) of the distinct pairs held by ``>= min_count`` pages, sorted by (site,
    fingerprint). ``bucket``: the top ``bucket_bits`` bits every fingerprint shares (None: any).
    ``n_sites``: how many site numbers the store has. ``scratch``: the kernel's hash tables by
    thread, reused from call to call (a table allocated per bucket and freed made glibc raise its
    mmap threshold to the table's size, after which the freed work arrays of the count stayed in
    the heap: +30 MB of resident size at 300 MB of corpus)."""

    def narrow(x: np.ndarray) -> np.ndarray:  # uint16 site numbers sort stably by radix
        return x.astype(np.uint16) if n_sites <= 0xFFFF else x

    if not len(fp):
        return
    low_bits = 64 - bucket_bits
    if _SITE_K is not None and fp.dtype == np.uint64 and site.dtype == np.uint32:
        # the kernel: one hash-table pass, only the kept pairs sorted (same arrays)
        fp, site = np.ascontiguousarray(fp), np.ascontiguousarray(site)
        min_count = min(min_count, 1 << 32)  # counts are uint32
        most = len(fp) // min_count  # a kept pair stands for min_count records or more
        s, f, cnt = np.empty(most, dtype=np.uint32), np.empty(most, dtype=np.uint64), np.empty(most, dtype=np.uint32)
        need = 2 * max(16, 1 << (2 * len(fp) - 1).bit_length())  # uint64 items of the table
        me = threading.get_ident()
        table = None if scratch is None else scratch.get(me)
        if table is None or len(table) < need:
            table = np.empty(need, dtype=np.uint64)
            if scratch is not None:
                scratch[me] = table
        k = _SITE_K.count_pairs(fp, site, min_count, s, f, cnt, table)
        if k:
            parts.append((s[:k].copy(), f[:k].copy(), cnt[:k].copy()))
        return
    if bucket is not None and n_sites <= 1 << bucket_bits:
        # one bucket: every fingerprint has the same top BUCKET_BITS bits, so the site number
        # takes their place in one uint64 key, and one in-place sort of the keys orders the
        # records by (site, fingerprint) (~1.7x faster than the argsorts below)
        low = np.uint64((1 << low_bits) - 1)
        key = site.astype(np.uint64) << np.uint64(low_bits)
        key |= fp & low
        key.sort()
        new = np.empty(len(key), dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        first = np.flatnonzero(new)
        cnt = np.diff(np.append(first, len(key))).astype(np.uint32)
        key = key[first]
        s = (key >> np.uint64(low_bits)).astype(site.dtype)
        f = (key & low) | (np.uint64(bucket) << np.uint64(low_bits))
    else:
        # order by (site, fingerprint): a sort by fingerprint, then a stable sort by site (a
        # radix sort on 16-bit site numbers); ~2x faster than np.lexsort on the two keys
        order = np.argsort(fp)
        order = order[np.argsort(narrow(site[order]), kind="stable")]
        s, f = site[order], fp[order]
        new = np.empty(len(f), dtype=bool)
        new[0] = True
        new[1:] = (s[1:] != s[:-1]) | (f[1:] != f[:-1])
        first = np.flatnonzero(new)
        cnt = np.diff(np.append(first, len(f))).astype(np.uint32)
        s, f = s[first], f[first]
    if min_count > 1:
        keep = cnt >= min_count
        s, f, cnt = s[keep], f[keep], cnt[keep]
    if len(s):
        parts.append((s, f, cnt))


def _doc_freq(
    fps: dict[str, np.ndarray], counts: dict[str, np.ndarray], lookups: dict[str, SortedLookup], site: str, fingerprints: np.ndarray
) -> np.ndarray:
    """Page counts of ``fingerprints`` on ``site`` from per-site sorted fingerprints and their
    counts (0 where absent); ``lookups`` caches each site's :class:`SortedLookup`."""
    q = np.asarray(fingerprints, dtype=np.uint64)
    out = np.zeros(len(q), dtype=np.int64)
    f = fps.get(site)
    if f is None or not len(f) or not len(q):
        return out
    table = lookups.get(site)
    if table is None:
        table = lookups[site] = SortedLookup(f)
    pos = table.index_of(q)
    hit = pos >= 0
    out[hit] = counts[site][pos[hit]]
    return out


class FrozenCounts:
    """The read side of a frozen :class:`CountIndex` (:meth:`CountIndex.frozen_counts`): each
    site's page count and its kept fingerprints with their page counts; same ``site_pages`` and
    ``doc_freq``. Read-only: no observing, no signatures."""

    def __init__(self, fps: dict[str, np.ndarray], counts: dict[str, np.ndarray], pages: dict[str, int]) -> None:
        self._fps, self._counts, self._pages = fps, counts, pages
        self._lookups: dict[str, SortedLookup] = {}

    def site_pages(self, site: str) -> int:
        return self._pages.get(site, 0)

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        return _doc_freq(self._fps, self._counts, self._lookups, site, fingerprints)

    def __getstate__(self) -> dict:
        return {"fps": self._fps, "counts": self._counts, "pages": self._pages}  # lookups: rebuilt where read

    def __setstate__(self, st: dict) -> None:
        self.__init__(st["fps"], st["counts"], st["pages"])  # type: ignore[misc]


#: what counting a group of buckets keeps: (site numbers, fingerprints, page counts) per bucket
Parts = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class CountTask:
    """A group of buckets of a :class:`CountIndex` spill file, counted by :func:`count_task` in
    another process (:meth:`CountIndex.freeze` with ``count_map``)."""

    path: str  #: the spill file (a ``/proc`` path to the store's open file)
    b0: int  #: the first bucket
    offs: np.ndarray  #: (segments, 2): where each segment's fingerprints and site numbers start
    cuts: np.ndarray  #: (segments, buckets + 1): each segment's record numbers at the buckets' bounds
    table_at: "tuple[int, int] | None"  #: (byte offset, length) of the site map table in the file
    token: bytes  #: the freeze this task is part of (what a process's cached table belongs to)
    base: "np.ndarray | None"  #: each segment's base in the table
    min_count: int
    bucket_bits: int
    n_sites: int
    #: where the task writes what it keeps (:func:`count_task` then returns a :class:`KeptPart`),
    #: or None (it returns the kept pairs)
    keep_path: "str | None" = None


@dataclass(frozen=True)
class KeptPart:
    """Where a :class:`CountTask` with a ``keep_path`` wrote its kept pairs in that file:
    ``n`` fingerprints (uint64) from byte ``offset``, then their site numbers (uint32) and page
    counts (uint32), sorted by (site, fingerprint); and
    how many pairs each site has there (``sites``: the site numbers, ``sizes``: their counts)."""

    offset: int
    n: int
    sites: np.ndarray
    sizes: np.ndarray


def _write_kept(path: str, parts: Parts) -> KeptPart:
    """Append ``parts`` (one bucket's each, in bucket order) to the file ``path`` as one
    :class:`KeptPart` (one ``writev``: appends of other processes never interleave with it)."""
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return KeptPart(0, 0, z, z)
    s = np.concatenate([p[0] for p in parts]).astype(np.uint32, copy=False)
    f = np.concatenate([p[1] for p in parts]).astype(np.uint64, copy=False)
    c = np.concatenate([p[2] for p in parts]).astype(np.uint32, copy=False)
    if len(parts) > 1:  # one run per site: by site, each site's buckets (fingerprints) in order
        order = np.argsort(s, kind="stable")
        s, f, c = s[order], f[order], c[order]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        bufs = [memoryview(f).cast("B"), memoryview(s).cast("B"), memoryview(c).cast("B")]
        size = 16 * len(f)
        n = os.writev(fd, bufs) if hasattr(os, "writev") else os.write(fd, b"".join(bufs))
        if n != size:
            raise OSError(f"could not write the kept counts ({n} of {size} bytes)")
        offset = os.lseek(fd, 0, os.SEEK_CUR) - size  # this descriptor's own write
    finally:
        os.close(fd)
    sites, sizes = np.unique(s, return_counts=True)
    return KeptPart(offset, len(f), sites, sizes.astype(np.int64))


def _place_parts(parts: "Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]", sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept pairs (parts of (site numbers, fingerprints, page counts) in bucket order, each
    sorted by (site, fingerprint)) placed into one flat fingerprint array and
    one count array with a slice per site (``sizes``: each site number's pairs in all the parts):
    each part's run of a site goes after the earlier parts' runs, so each site's fingerprints
    come out sorted. Returns (fingerprints, counts, each site's start, and the end last)."""
    n_sites = len(sizes)
    starts = np.zeros(n_sites + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    f = np.empty(int(starts[-1]), dtype=np.uint64)
    cnt = np.empty(int(starts[-1]), dtype=np.uint32)
    fill = starts[:-1].copy()
    for ps, pf, pc in parts:
        if not len(ps):
            continue
        first = np.flatnonzero(np.concatenate(([True], ps[1:] != ps[:-1])))
        run_site = ps[first].astype(np.int64)
        run_len = np.diff(np.append(first, len(ps)))
        dest = np.repeat(fill[run_site] - first, run_len) + np.arange(len(ps))
        f[dest] = pf
        cnt[dest] = pc
        fill[run_site] += run_len  # one run per site in a part
        del ps, pf, pc, dest
    return f, cnt, starts


def _by_site(f: np.ndarray, cnt: np.ndarray, starts: np.ndarray, names: "Sequence[str]") -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:func:`_place_parts`' flat arrays as per-site views (sites with no pair left out)."""
    fps: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    sizes = np.diff(starts)
    for no in np.flatnonzero(sizes).tolist():
        lo, hi = int(starts[no]), int(starts[no + 1])
        fps[names[no]] = f[lo:hi]
        counts[names[no]] = cnt[lo:hi]
    return fps, counts


class SharedCounts:
    """The counts of a :class:`CountIndex` that other processes read (:meth:`CountIndex.freeze_shared`):
    the kept pairs lie in a file, written there by the processes that counted them; a process
    that needs them builds its :class:`FrozenCounts` with :meth:`load`. Pickles as the file's
    path and where each part lies (small); the process that made it keeps the file open (an
    anonymous file: ``/proc`` path) until :meth:`close`."""

    def __init__(self, path: str, parts: "list[tuple[int, int]]", sizes: np.ndarray, names: "list[str]", pages: dict[str, int], fh: Any = None) -> None:
        self.path, self.parts, self.sizes, self.names, self.pages = path, parts, sizes, names, pages
        self._fh = fh

    def _read(self, fd: int) -> "Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]":
        for offset, n in self.parts:
            f = np.empty(n, dtype=np.uint64)
            s = np.empty(n, dtype=np.uint32)
            c = np.empty(n, dtype=np.uint32)
            _read_into(fd, [memoryview(f).cast("B"), memoryview(s).cast("B"), memoryview(c).cast("B")], offset)
            yield s, f, c

    def load(self) -> FrozenCounts:
        """The counts, read from the file (peak: the flat arrays plus one part)."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            f, cnt, starts = _place_parts(self._read(fd), self.sizes)
        finally:
            os.close(fd)
        fps, counts = _by_site(f, cnt, starts, self.names)
        return FrozenCounts(fps, counts, dict(self.pages))

    def __getstate__(self) -> dict:
        st = dict(self.__dict__)
        st["_fh"] = None  # the file stays with the process that made it
        return st

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


#: a process's last site map table read by :func:`count_task`: (its freeze's token, table)
_TABLE: "list[Any]" = [None, None]


def drop_count_table() -> None:
    """Free the site map table :func:`count_task` keeps between the tasks of one freeze (a pool
    worker calls it when the clean pass starts)."""
    _TABLE[:] = [None, None]


def count_task(task: CountTask) -> "Parts | KeptPart":
    """Count a :class:`CountTask`'s buckets (:func:`count_bucket`), read from its spill file: the
    kept pairs, or where they were written (a task with a ``keep_path``)."""
    fd = os.open(task.path, os.O_RDONLY)
    try:
        table = None
        if task.table_at is not None:
            key = task.token
            if _TABLE[0] != key:
                _TABLE[:] = [None, None]  # the last run's table freed before this one is read
                tab = np.empty(task.table_at[1], dtype=np.uint32)
                _read_into(fd, [memoryview(tab).cast("B")], task.table_at[0])
                _TABLE[:] = [key, tab]
            table = (_TABLE[1], task.base)
        out: Parts = []
        if len(task.offs):
            scratch: dict[int, np.ndarray] = {}
            for k, (fp, site) in enumerate(read_bucket_runs(fd, task.offs.tolist(), task.cuts, table)):
                count_bucket(fp, site, out, min_count=task.min_count, bucket_bits=task.bucket_bits,
                             n_sites=task.n_sites, bucket=task.b0 + k, scratch=scratch)
    finally:
        os.close(fd)
    return out if task.keep_path is None else _write_kept(task.keep_path, out)


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

    Counting spills to disk, so memory stays flat whatever the corpus size: each observed page's
    unique fingerprints are buffered as ``(site number, fingerprint)`` records; a full buffer
    (``BUFFER_RECORDS``) is sorted by the top ``BUCKET_BITS`` bits of the fingerprint and appended
    to one anonymous temporary file (its fingerprints, then their site numbers) as a segment, with
    the offsets of each bucket's run remembered (corpus workers append segments of their own:
    :meth:`spill_path`, :meth:`add_segment`). :meth:`freeze` then reads a group of buckets at a
    time (a read per segment), counts pages per ``(site, fingerprint)`` (a hash table in the C
    kernel, else one sort), and keeps per site the sorted fingerprints held by at least
    ``min_count`` pages (buckets are visited in fingerprint order, so each site's array comes out
    sorted). Peak memory while freezing: ``COUNT_THREADS`` groups of buckets (each about
    ``GROUP_BYTES``, at least ``MIN_GROUP_BUCKETS`` and at most ``GROUP_BUCKETS`` 256ths of the
    records, 12 bytes a record) and as many hash tables (32-64 bytes a record of a bucket) plus
    what is kept; or only what is kept when other processes count the groups
    (``freeze(count_map=...)``: the corpus job's pool workers). ``doc_freq`` is one
    ``np.searchsorted`` per call and the frozen store pickles as a few flat arrays per site (cheap
    to hand to ``spawn`` workers; :meth:`frozen_counts` leaves the page ids out).

    Semantics: identical to :class:`MemoryIndex` for every fingerprint held by ``>= min_count``
    pages; fingerprints held by fewer read as 0. With ``min_count=1`` (default) it is exact.
    The corpus job uses ``min_count=2`` when the template threshold can never be below 2
    (``templates.min_pages >= 2``): a fingerprint on one page is never template evidence, and
    ~95% of a generated corpus's fingerprints (article bodies) are on one page only.

    Limits: append-only — observing a ``doc_id`` twice, ``observe`` after :meth:`freeze` and
    :meth:`forget_doc` raise :class:`~dedupe.errors.IndexStoreError` (use :class:`MemoryIndex` or a
    persistent store for incremental use). ``doc_freq`` (and pickling) freezes the store first.
    Signatures are kept in an inner :class:`MemoryIndex`.
    """

    #: records buffered in memory before they are written to the spill file (12 bytes each)
    BUFFER_RECORDS = 1 << 18
    #: buckets (by the top bits of the fingerprint) of the spilled records (1 to 8)
    BUCKET_BITS = 8
    #: threads reading and counting groups of spilled buckets in :meth:`freeze` (one group each)
    COUNT_THREADS = 2
    #: buckets :meth:`freeze` reads at a time per thread, at most (one read per segment and column
    #: for them all: corpus workers write a segment per observe chunk, smaller than the buffer's)
    GROUP_BUCKETS = 16
    #: ... as many as hold about this many bytes of records, but at least ``MIN_GROUP_BUCKETS``: at
    #: 100 MB of corpus 4 buckets a group instead of 2 took the count 0.50-0.75 s -> 0.41-0.53 (8-9
    #: buckets: 0.36-0.46, but the main process's peak grew by ~12 MB, above the other stages')
    GROUP_BYTES = 4 << 20
    MIN_GROUP_BUCKETS = 2

    def __init__(self, min_count: int = 1, spill_dir: str | None = None, *, track_ids: bool = True) -> None:
        self.min_count = max(1, int(min_count))
        #: False: only each site's number of pages is kept, not the pages' ids (the corpus job's
        #: own store: ~60 bytes a page less). The caller then guarantees unique ids (observing one
        #: twice counts it twice), and ``doc_ids`` / ``forget_*`` refuse
        self._npages: "dict[str, int] | None" = None if track_ids else {}
        self._spill_dir = spill_dir
        self._tmp: Any = None  # the spill file, while counting
        # per flush: (byte offset of its fingerprints, of their site numbers, bucket cuts)
        self._segs: list[tuple[int, int, np.ndarray]] = []
        #: each segment's site numbers as written -> this store's (:meth:`add_segment`'s
        #: ``site_map``), or None (written with this store's numbers)
        self._seg_maps: list["np.ndarray | None"] = []
        self._map_table: "tuple[np.ndarray, np.ndarray] | None" = None  # set by freeze
        self._fps: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}
        self._lookups: dict[str, SortedLookup] = {}  # per site, built on its first doc_freq
        self._site_no: dict[str, int] = {}
        self._buf: list[np.ndarray] = []  # fingerprints of the buffered pages (one array per page or chunk)
        self._buf_site: list[int] = []  # the site number of each buffered page
        self._buf_rep: list[int] = []  # and its number of fingerprints
        self._buf_len = 0
        self._spilled = 0
        self._pages: dict[str, list[str]] = defaultdict(list)
        self._doc_site: dict[str, str] = {}
        self._frozen = False
        self._shared = False  # frozen by freeze_shared: the counts are in other processes
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
        self._register((site,), (doc_id,))
        if len(fps):
            self._buf.append(fps)
            self._buf_site.append(self._site_no.setdefault(site, len(self._site_no)))
            self._buf_rep.append(len(fps))
            self._buf_len += len(fps)
            if self._buf_len >= self.BUFFER_RECORDS:
                self._flush()

    def observe_many(self, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        for site, doc_id, fps in items:
            self.observe(site, doc_id, fps)

    def observe_chunk(self, sites: "list[str]", doc_ids: "list[str]", fingerprints: np.ndarray, counts: np.ndarray) -> None:
        """:meth:`observe` of consecutive pages at once (the same counts): page ``j`` holds the
        next ``counts[j]`` of ``fingerprints`` (each page's run sorted unique, as the corpus
        workers send them; a run that is not is observed page by page)."""
        from ..errors import IndexStoreError

        fps = np.asarray(fingerprints, dtype=np.uint64)
        counts = np.asarray(counts, dtype=np.int64)
        ends = np.cumsum(counts)
        if len(counts) != len(sites) or len(sites) != len(doc_ids) or len(fps) != (int(ends[-1]) if len(ends) else 0):
            raise IndexStoreError("observe_chunk: sites, ids and counts must match the fingerprints")
        tracked = self._npages is None
        if self._frozen or (tracked and (len(set(doc_ids)) < len(doc_ids) or any(d in self._doc_site for d in doc_ids))) or not runs_sorted_unique(fps, counts):
            for site, doc_id, a, b in zip(sites, doc_ids, (ends - counts).tolist(), ends.tolist()):
                self.observe(site, doc_id, fps[a:b])  # raises what observe raises
            return
        self._register(sites, doc_ids)
        site_no = self._site_no
        for site, c in zip(sites, counts.tolist()):
            if c:
                self._buf_site.append(site_no.setdefault(site, len(site_no)))
                self._buf_rep.append(c)
        if len(fps):
            self._buf.append(fps)
            self._buf_len += len(fps)
            if self._buf_len >= self.BUFFER_RECORDS:
                self._flush()

    def _register(self, sites: "Sequence[str]", doc_ids: "Sequence[str]") -> None:
        """Pages observed (their ids checked already): their ids, or only their sites' counts."""
        if self._npages is not None:
            n = self._npages
            for site in sites:
                n[site] = n.get(site, 0) + 1
            return
        for site, doc_id in zip(sites, doc_ids):
            self._doc_site[doc_id] = site
            self._pages[site].append(doc_id)

    def _page_counts(self) -> dict[str, int]:
        """Each site's number of pages."""
        if self._npages is not None:
            return dict(self._npages)
        return {site: len(p) for site, p in self._pages.items()}

    def _ids_kept(self) -> None:
        if self._npages is not None:
            from ..errors import IndexStoreError

            raise IndexStoreError("CountIndex(track_ids=False) keeps no page ids")

    def _take_buffer(self) -> tuple[np.ndarray, np.ndarray]:
        """The buffered records as (fingerprints uint64, site numbers uint32); empties the buffer."""
        if not self._buf:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32)
        fp = np.concatenate(self._buf)
        site = np.repeat(np.asarray(self._buf_site, dtype=np.uint32), self._buf_rep)
        self._buf, self._buf_site, self._buf_rep, self._buf_len = [], [], [], 0
        return fp, site

    def _open_spill(self) -> int:
        """The spill file's descriptor (created on first use: one anonymous file, gone when
        closed, never left behind; a segment per bucket per flush). Every write appends
        (``O_APPEND`` where there is ``fcntl``), so segments that other processes append
        (:meth:`spill_path`) and this process's own never overlap."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryFile(prefix="dedupe-count-", suffix=".rec", dir=self._spill_dir)
            self._segs = []
            self._seg_maps = []
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX: no other writers (no /proc path)
                pass
            else:
                fd = self._tmp.fileno()
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
        return self._tmp.fileno()

    def _flush(self) -> None:
        if not self._buf:
            return
        fd = self._open_spill()
        self._add_seg(write_segment(fd, *self._take_buffer(), self.BUCKET_BITS))

    def _site_maps(self) -> "tuple[np.ndarray, np.ndarray] | None":
        """The segments' site maps laid end to end, and where each segment's starts (an identity
        map first, for the segments written with this store's numbers); None when no segment
        has a map."""
        if all(m is None for m in self._seg_maps):
            return None
        maps = [np.arange(len(self._site_no), dtype=np.uint32)]
        base = np.zeros(len(self._seg_maps), dtype=np.int64)
        at = len(maps[0])
        for j, m in enumerate(self._seg_maps):
            if m is not None:
                base[j] = at
                maps.append(m)
                at += len(m)
        return np.concatenate(maps), base

    def _add_seg(self, seg: "Segment", site_map: "np.ndarray | None" = None) -> None:
        if int(seg[2][-1]):
            self._segs.append(seg)
            self._seg_maps.append(site_map)
            self._spilled += int(seg[2][-1])

    # -- counting records that other processes wrote ----------------------------------------
    def spill_path(self) -> str | None:
        """A path another process (a corpus worker) can open to append segments of records
        (:func:`write_segment`) to this store's spill file (Linux ``/proc``), else None. Pages
        whose records went there are registered with :meth:`add_segment`."""
        if self._frozen:
            return None
        return fd_path(self._open_spill())

    def site_number(self, site: str) -> int:
        """The number of ``site`` in the records (:func:`write_segment`'s ``sites``)."""
        return self._site_no.setdefault(site, len(self._site_no))

    def add_segment(
        self, sites: "list[str]", doc_ids: "list[str]", seg: "Segment | None", site_map: "Sequence[int] | None" = None
    ) -> None:
        """Pages observed elsewhere: their records (each page's fingerprints sorted unique, with
        the :meth:`site_number` of its site) are the segment ``seg`` that another process
        appended to :meth:`spill_path` with :func:`write_segment` and this store's
        ``BUCKET_BITS`` (None, or a segment of no records: none of the pages has a fingerprint).
        ``site_map``: the segment was written with numbers of its own (a process that did not
        know this store's), ``site_map[k]`` being the :meth:`site_number` of its number ``k``.
        The same counts as :meth:`observe_chunk` of those pages."""
        from ..errors import IndexStoreError

        if self._frozen:
            raise IndexStoreError("CountIndex is frozen: no observe after freeze()")
        if len(sites) != len(doc_ids):
            raise IndexStoreError("add_segment: one site per page")
        if seg is not None and len(seg[2]) != (1 << self.BUCKET_BITS) + 1:
            raise IndexStoreError(f"add_segment: the segment is cut in {len(seg[2]) - 1} buckets, this store in {1 << self.BUCKET_BITS}")
        if self._npages is None:
            seen: set[str] = set()
            for doc_id in doc_ids:
                if doc_id in self._doc_site or doc_id in seen:
                    raise IndexStoreError(f"CountIndex is append-only: document {doc_id!r} observed twice")
                seen.add(doc_id)
        self._register(sites, doc_ids)
        if seg is not None:
            self._add_seg(seg, None if site_map is None else np.asarray(site_map, dtype=np.uint32))

    def _read_buckets(self, b0: int, b1: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The records of buckets ``b0 .. b1 - 1``, one (fingerprints, site numbers) pair per
        bucket, each bucket's records in segment order (:func:`read_bucket_runs`)."""
        if not self._segs:
            return [(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32)) for _ in range(b1 - b0)]
        offs = [(a, b) for a, b, _ in self._segs]
        cuts = np.stack([c[b0 : b1 + 1] for _, _, c in self._segs])
        table = None if self._map_table is None else (self._map_table[0], self._map_table[1])
        return read_bucket_runs(self._tmp.fileno(), offs, cuts, table)

    def _count(
        self, fp: np.ndarray, site: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], bucket: int | None = None,
        scratch: "dict[int, np.ndarray] | None" = None,
    ) -> None:
        """:func:`count_bucket` with this store's settings."""
        count_bucket(fp, site, parts, min_count=self.min_count, bucket_bits=self.BUCKET_BITS, n_sites=len(self._site_no),
                     bucket=bucket, scratch=scratch)

    def _count_buckets(self, b0: int, b1: int, scratch: "dict[int, np.ndarray]") -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`_count` of buckets ``b0 .. b1 - 1`` as read from the spill file, into a list of
        their own (runs on a counting thread)."""
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for k, (fp, site) in enumerate(self._read_buckets(b0, b1)):
            self._count(fp, site, out, bucket=b0 + k, scratch=scratch)
        return out

    def _group_buckets(self) -> int:
        """Buckets counted at a time by a thread or task (:data:`GROUP_BYTES`)."""
        n_buckets = 1 << self.BUCKET_BITS
        per_bucket = 12 * self._spilled // n_buckets + 1  # bytes of records of a bucket, on average
        return max(1, min(self.GROUP_BUCKETS, n_buckets, max(self.MIN_GROUP_BUCKETS, self.GROUP_BYTES // per_bucket)))

    def _count_tasks(self, path: str, keep_path: "str | None" = None) -> "Iterator[CountTask]":
        """:meth:`freeze`'s tasks for other processes, a group of buckets each. The segments'
        site maps (:meth:`_site_maps`) are appended to the spill file once, where each task's
        process reads them (not pickled into every task); a task carries its buckets' cuts of
        the segments that have records there."""
        fd = self._tmp.fileno()
        maps = self._site_maps()
        table_at: "tuple[int, int] | None" = None
        base = None
        if maps is not None:
            table, base = maps
            data = memoryview(np.ascontiguousarray(table, dtype=np.uint32)).cast("B")
            os.lseek(fd, 0, os.SEEK_END)
            n = os.write(fd, data)  # O_APPEND: after every segment
            if n != len(data):
                raise OSError(f"could not write the site map table ({n} of {len(data)} bytes)")
            table_at = (os.lseek(fd, 0, os.SEEK_CUR) - n, len(table))  # this descriptor's own write
        offs = np.array([(a, b) for a, b, _ in self._segs], dtype=np.int64).reshape(-1, 2)
        cuts = np.stack([c for _, _, c in self._segs]) if self._segs else np.zeros((0, (1 << self.BUCKET_BITS) + 1), dtype=np.int64)
        n_buckets, g = 1 << self.BUCKET_BITS, self._group_buckets()
        token = os.urandom(16)  # a path and an offset can recur (another run, a reused descriptor)
        for b0 in range(0, n_buckets, g):
            b1 = min(b0 + g, n_buckets)
            c = cuts[:, b0 : b1 + 1]
            has = np.flatnonzero(c[:, -1] > c[:, 0])
            yield CountTask(
                path, b0, offs[has], np.ascontiguousarray(c[has]), table_at, token, None if base is None else base[has],
                self.min_count, self.BUCKET_BITS, len(self._site_no), keep_path,
            )

    def _count_threads(self, parts: Parts) -> None:
        """:meth:`freeze`'s count in this process: the spilled buckets' kept pairs into ``parts``."""
        self._map_table = self._site_maps()
        # groups of GROUP_BUCKETS buckets are read and counted two at a time on threads (a
        # read per segment per group, whoever wrote the segment; reads, numpy's sorts and the
        # count kernel release the GIL; the corpus workers are idle meanwhile), their parts
        # kept in bucket order
        pending: deque[Future[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]] = deque()
        scratch: dict[int, np.ndarray] = {}  # the count kernel's table of each thread
        n_buckets = 1 << self.BUCKET_BITS
        g = self._group_buckets()
        with ThreadPoolExecutor(max_workers=self.COUNT_THREADS, thread_name_prefix="dedupe-count") as pool:
            for b0 in range(0, n_buckets, g):
                pending.append(pool.submit(self._count_buckets, b0, min(b0 + g, n_buckets), scratch))
                if len(pending) >= self.COUNT_THREADS:
                    parts.extend(pending.popleft().result())
                if (b0 + g) // 32 != b0 // 32:
                    release_memory()  # the buckets' work buffers, freed between kept parts
            while pending:
                parts.extend(pending.popleft().result())
        scratch.clear()  # before the kept pairs are placed (the peak of the count)

    def freeze(self, count_map: "Callable[[Callable[[CountTask], Parts], Iterable[CountTask]], Iterable[Parts]] | None" = None) -> "CountIndex":
        """Count the spilled records and keep fingerprints held by ``>= min_count`` pages.

        ``count_map``: an ordered ``map(fn, tasks)`` running :func:`count_task` in other
        processes that can open this store's :meth:`spill_path` (the corpus job's idle pool
        workers): each counts a group of buckets there, so this process holds only what is
        kept, not the groups read and the count's hash tables (the corpus driver's peak 84 -> 72
        MB at 100 MB of corpus, 146 -> 125 MB at 300 MB). Same counts; threads here
        (:meth:`_count_threads`) when ``count_map`` is None or the spill file has no such path."""
        if self._frozen:
            return self
        parts: Parts = []
        if self._tmp is None:  # everything still in memory
            self._count(*self._take_buffer(), parts)
        else:
            self._flush()
            path = None if count_map is None else fd_path(self._tmp.fileno())
            if count_map is not None and path is not None:
                for got in count_map(count_task, self._count_tasks(path)):
                    parts.extend(got)
            else:
                self._count_threads(parts)
        self._counted()
        if parts:
            # one flat array, a slice per site (:func:`_place_parts`). Each part is freed once
            # placed (peak: the parts + the flat arrays, not several copies)
            sizes = np.zeros(len(self._site_no), dtype=np.int64)
            for p in parts:
                sizes += np.bincount(p[0], minlength=len(sizes))
            parts.reverse()

            def popped() -> "Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]":
                while parts:
                    yield parts.pop()

            self._fps, self._counts = _by_site(*_place_parts(popped(), sizes), self._site_names())
        self._frozen = True
        return self

    def _counted(self) -> None:
        """Drop what counting read: the spill file (closed: it was anonymous), its segments, the
        buffer."""
        if self._tmp is not None:
            self._tmp.close()
            self._tmp = None
        self._segs, self._seg_maps, self._map_table = [], [], None
        self._buf, self._buf_site, self._buf_rep, self._buf_len = [], [], [], 0

    def _site_names(self) -> list[str]:
        names = [""] * len(self._site_no)
        for k, v in self._site_no.items():
            names[v] = k
        return names

    def freeze_shared(
        self, count_map: "Callable[[Callable[[CountTask], Any], Iterable[CountTask]], Iterable[Any]]",
        can_open: "Callable[[str], bool] | None" = None,
    ) -> "SharedCounts | None":
        """:meth:`freeze` for a store whose counts only other processes read (the corpus job's
        pool workers, which also count): each ``count_map`` task writes what it keeps to a file
        of kept pairs, and this process holds none of them (the corpus driver's peak at 1 GB of
        corpus: the kept pairs were ~130 MB, twice over while they were placed). Returns what
        those processes load (:meth:`SharedCounts.load`: the same counts as :meth:`frozen_counts`),
        open until its ``close``; the store is frozen and its ``doc_freq`` refuses (its counts
        are elsewhere). None when nothing was spilled or the files have no path another process
        can open (``can_open``: a check that one can append to the kept file), the store not
        frozen (its buffer flushed to the spill file): then :meth:`freeze` as usual."""
        if self._frozen or self._tmp is None:
            return None
        self._flush()
        path = fd_path(self._tmp.fileno())
        if path is None:
            return None
        keep = tempfile.TemporaryFile(prefix="dedupe-kept-", suffix=".rec", dir=self._spill_dir)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX (no /proc path either)
            keep.close()
            return None
        fcntl.fcntl(keep.fileno(), fcntl.F_SETFL, fcntl.fcntl(keep.fileno(), fcntl.F_GETFL) | os.O_APPEND)
        keep_path = fd_path(keep.fileno())
        if keep_path is None or (can_open is not None and not can_open(keep_path)):
            keep.close()
            return None
        try:
            where: list[tuple[int, int]] = []
            sizes = np.zeros(len(self._site_no), dtype=np.int64)
            for got in count_map(count_task, self._count_tasks(path, keep_path)):
                if got.n:
                    where.append((got.offset, got.n))
                    sizes[got.sites] += got.sizes
        except BaseException:
            keep.close()
            raise
        self._counted()
        self._frozen = self._shared = True
        return SharedCounts(keep_path, where, sizes, self._site_names(), self._page_counts(), keep)

    def _check_here(self) -> None:
        if self._shared:
            from ..errors import IndexStoreError

            raise IndexStoreError("CountIndex: its counts were handed to other processes (freeze_shared)")

    # -- reading --------------------------------------------------------------------------
    def site_pages(self, site: str) -> int:
        if self._npages is not None:
            return self._npages.get(site, 0)
        return len(self._pages.get(site, ()))

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        self.freeze()
        self._check_here()
        return _doc_freq(self._fps, self._counts, self._lookups, site, fingerprints)

    def frozen_counts(self) -> "FrozenCounts":
        """What cleaning reads from this store (:meth:`site_pages`, :meth:`doc_freq`), without
        its page ids (what the corpus job hands its pool workers: ~150 bytes a page less in
        each, and less to pickle and load). Freezes the store first."""
        self.freeze()
        self._check_here()
        # its own dicts (the arrays are shared): forgetting a site here leaves it alone
        return FrozenCounts(dict(self._fps), dict(self._counts), self._page_counts())

    def n_fingerprints(self) -> int:
        """Distinct (site, fingerprint) pairs kept (after :meth:`freeze`)."""
        self._check_here()
        return sum(len(f) for f in self._fps.values())

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

        self._ids_kept()
        if doc_id in self._doc_site:
            raise IndexStoreError("CountIndex is append-only: forget_doc is not supported")
        self._sig.forget_doc(doc_id)

    def forget_site(self, site: str) -> None:
        self._ids_kept()
        self.freeze()
        for doc_id in self._pages.pop(site, []):
            self._doc_site.pop(doc_id, None)
            self._sig.forget_doc(doc_id)
        self._fps.pop(site, None)
        self._counts.pop(site, None)
        self._lookups.pop(site, None)

    def doc_ids(self, site: str | None = None) -> list[str]:
        self._ids_kept()
        if site is None:
            return sorted(self._doc_site)
        return sorted(self._pages.get(site, ()))

    def __getstate__(self) -> dict:
        self.freeze()
        self._check_here()
        st = dict(self.__dict__)
        st["_pages"] = dict(st["_pages"])
        st.pop("_lookups", None)  # rebuilt where it is read
        return st

    def __setstate__(self, st: dict) -> None:
        st["_pages"] = defaultdict(list, st["_pages"])
        st.setdefault("_buf_rep", [])
        st.setdefault("_seg_maps", [])
        st.setdefault("_map_table", None)
        st.setdefault("_shared", False)
        st.setdefault("_npages", None)
        self.__dict__.update(st)
        self._lookups = {}

    __del__ = close_spill
