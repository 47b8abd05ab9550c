"""SQLite index store: one file, WAL mode, several writer processes on one host.

:class:`SQLiteIndex` implements :class:`~dedupe.engine.index.IndexStore` on a single SQLite file
(standard library, no server). It is the default persistent store behind
:func:`dedupe.open_index`.

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`, ``PRAGMA application_id`` =
:data:`APPLICATION_ID`)::

    meta(key, value)                     format, schema version, config fingerprint, config, version
    sites(site_id, name, pages, fps, gen, rgen)
                                         one row per site; pages = observed pages of the site,
                                         fps = distinct fingerprints on them, gen = the write
                                         transaction that last changed its evidence, rgen = the
                                         last one that removed some (or created the site)
    docs(did, doc_id, site_id, seq, url, chars, clean_chars, info, gen, ukey, tkey)
                                         one row per observed page; seq = first-observation
                                         order, gen = the transaction that wrote its evidence;
                                         ukey / tkey = its identity (neardup.page_id: URL key,
                                         title key; NULL when unknown), indexed per site
                                         (docs_ident: site_id, ukey, tkey)
    raws(did, sig)                       MinHash signature (uint32 blob) of the page's RAW text:
                                         with ukey / tkey, what finds its stored copies
                                         (copy_candidates)
    doc_fps(did, fps)                    the page's fingerprints (sorted uint64 blob): the evidence
    site_fp(site_id, fp, pages)          fingerprints held by >= 2 pages of their site, with the count
    sigs(did, sig, bands, n_shingles, bgen)
                                         MinHash signature (uint32 blob), band keys (uint64 blob),
                                         bgen = the signature write that stored it (meta ``bgen``)
    bands(bk, did)                       LSH buckets -> document; bk = :func:`bucket_keys` of
                                         (band position, band key): one 64-bit column
    texts(did, digest, text)             optional: Zstandard-compressed original text and its digest
                                         (first: read without the text's overflow pages)
    cleans(did, clean, cuts)             optional: the last cleaned text, as the offsets of the
                                         spans cut from the stored original (int64 pairs) when
                                         the original it was cleaned from is the stored one (by
                                         digest), else Zstandard-compressed (``clean``)

64-bit hashes are stored as signed ``int64`` (the same 8 bytes, viewed through numpy).

Fingerprints on one page only (most of them: article bodies) get no ``site_fp`` row: a
fingerprint of a site has count 1 when it is in one of the site's ``doc_fps`` blobs and not in
``site_fp``. A write needs, per touched site, the set of fingerprints seen on it (to tell a
fingerprint's second page from its first): each connection keeps that set in memory per site
(:class:`_FpSet`, one sorted uint64 array), rebuilt from the site's ``doc_fps`` blobs whenever
``sites.gen`` shows that another connection changed the site since: when that connection only
added pages (``sites.rgen`` older than the cached set), only the pages written since
(``docs.gen``) are read; after a removal, or an eviction (see ``cache_fps``), all of them. So a page costs one blob row plus a handful of ``site_fp`` upserts (its
template fingerprints) instead of one B-tree row per fingerprint (schema version 1).

Concurrency: every write runs in ``BEGIN IMMEDIATE`` (the write lock is taken up front, so a
read snapshot is never upgraded and SQLite's busy handler always applies), with a busy timeout
and an outer retry loop with backoff; callers never see "database is locked". Several calls can
share one write transaction (:meth:`SQLiteIndex.transaction`: ``Index.clean`` observes and stores
a page in one); :meth:`SQLiteIndex.preview_observe` reads, without writing, the evidence a site
will hold once a page is observed, so the page can be cleaned before the lock is taken
(:meth:`SQLiteIndex.site_gen` then tells whether that still holds). The WAL is kept
bounded by ``wal_autocheckpoint`` plus ``journal_size_limit``, and by an explicit
``wal_checkpoint(TRUNCATE)`` after any write that leaves it larger than ``wal_limit``.

Copies of one page (schema 4): an observed page may carry its identity (``info["page"]``, a
:class:`~dedupe.engine.neardup.PageId`) and the signature of its raw text (``info["raw_sig"]``);
:meth:`SQLiteIndex.copy_candidates` returns the stored pages of a site that a page could be a
copy of by identity alone (the pair rule of :func:`~dedupe.engine.neardup.page_groups`), with
their raw signatures; the engine keeps those similar enough
(:func:`~dedupe.engine.neardup.copies_of`). A page with a URL key is looked up through the
``docs_ident`` index (same URL key, or no URL key); a page without one may be a copy of any
page of its site: those are held in memory per connection (``cache_raws``) with LSH buckets
over their raw signatures (:class:`_RawSite`).

Opening is careful not to damage what is at ``path``: a file that is not a SQLite database, a
SQLite database that is not a dedupe index, a damaged file, or an index built with other hashing
settings raises :class:`~dedupe.errors.IndexStoreError` /
:class:`~dedupe.errors.IndexConfigMismatch` before anything is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import random
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import numpy as np
import zstandard

from .._version import __version__
from ..config import Config
from ..core.hashing import fmix64, sorted_unique
from ..core.minhash import band_keys as _band_keys
from ..engine.indexing import PREPARED_TEXT, text_digest
from ..errors import IndexConfigMismatch, IndexStoreError

SCHEMA_VERSION = 6
#: ``PRAGMA application_id`` of a dedupe index ("DDUP").
APPLICATION_ID = 0x44445550
FORMAT = "dedupe-index"

_SQLITE_HEADER = b"SQLite format 3\x00"
_CHUNK = 30_000  # host parameters per statement (SQLite >= 3.32 allows 32766)

T = TypeVar("T")
#: Zstandard level of stored texts (schema 6; Brotli quality 1 in schema 5, zlib level 1 before):
#: level 1 compresses web text as small as Brotli quality 1 (0.427 vs 0.447 of the size on
#: 2,442 pages of ../shared/data, 0.642 vs 0.641 on bench_index.py's pages) 2.1-2.3x faster
#: (252 vs 119 and 358 vs 155 MB/s), and decompresses faster
TEXT_LEVEL = 1
#: page size of a new index file (SQLite's default is 4 KiB): a stored text (~2-4 KB compressed)
#: or a page's fingerprint blob (~4 KB) fills a 4 KiB page alone, half of it left empty, so at
#: 16 KiB the same index is ~18% smaller and a batch's writes and checkpoints ~13% cheaper
#: (store CPU of ``bench_index.py``'s 10k batch: 1.55-1.66 s at 4 KiB, 1.37-1.39 s at 16 KiB).
#: An existing file keeps the page size it was created with.
PAGE_SIZE = 16384


_codecs = threading.local()  # one (de)compressor per thread: building one costs ~9 us


def _codec() -> tuple[Any, Any]:
    got = getattr(_codecs, "pair", None)
    if got is None:
        got = _codecs.pair = (zstandard.ZstdCompressor(level=TEXT_LEVEL), zstandard.ZstdDecompressor())
    return got


def pack_text(data: bytes) -> bytes:
    """A stored text's bytes (``texts.text``, ``cleans.clean``): a Zstandard frame (level
    :data:`TEXT_LEVEL`) that records its content size."""
    return _codec()[0].compress(data)


def unpack_text(blob: bytes) -> str:
    """The text a :func:`pack_text` blob holds."""
    return _codec()[1].decompress(blob).decode("utf-8", "surrogatepass")

#: A page of :meth:`SQLiteIndex.observe_many` prepared for the write (``_prep``), a plain tuple
#: ``(site, doc_id, fps, url, chars, clean_chars, info, ukey, tkey, raw, packed)``: sorted unique
#: uint64 fingerprints, ``info`` the item's other keys as JSON, ``raw`` the raw-text signature's
#: uint32 bytes, ``packed`` ``(compressed text, text_digest)`` when texts are kept. (Of strings,
#: numbers, bytes and arrays only, so the garbage collector stops tracking it: a batch holds
#: thousands, and a namedtuple stays tracked, promoted, and triggers full collections.)
_Observed = tuple

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sites (site_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, pages INTEGER NOT NULL DEFAULT 0,
                    fps INTEGER NOT NULL DEFAULT 0, gen INTEGER NOT NULL DEFAULT 0, rgen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE docs (
    did INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    site_id INTEGER,
    seq INTEGER NOT NULL,
    url TEXT,
    chars INTEGER,
    clean_chars INTEGER,
    info TEXT,
    gen INTEGER,
    ukey TEXT,
    tkey TEXT
);
CREATE INDEX docs_site ON docs(site_id, doc_id);
CREATE INDEX docs_gen ON docs(site_id, gen);
CREATE INDEX docs_ident ON docs(site_id, ukey, tkey);
CREATE TABLE raws (did INTEGER PRIMARY KEY, sig BLOB NOT NULL);
CREATE TABLE doc_fps (did INTEGER PRIMARY KEY, fps BLOB NOT NULL);
CREATE TABLE site_fp (site_id INTEGER NOT NULL, fp INTEGER NOT NULL, pages INTEGER NOT NULL,
                      PRIMARY KEY (site_id, fp)) WITHOUT ROWID;
CREATE TABLE sigs (did INTEGER PRIMARY KEY, sig BLOB NOT NULL, bands BLOB NOT NULL, n_shingles INTEGER, bgen INTEGER NOT NULL);
CREATE INDEX sigs_bgen ON sigs(bgen);
CREATE TABLE bands (bk INTEGER NOT NULL, did INTEGER NOT NULL, PRIMARY KEY (bk, did)) WITHOUT ROWID;
CREATE TABLE texts (did INTEGER PRIMARY KEY, digest BLOB, text BLOB);
CREATE TABLE cleans (did INTEGER PRIMARY KEY, clean BLOB, cuts BLOB);
"""


class _FpSet:
    """A set of uint64 fingerprints as two sorted arrays: ``main`` and a small ``recent`` one.

    :meth:`contains_add` answers membership and inserts the missing keys into ``recent`` (one
    binary search per array; the insert positions are the search's); ``recent`` is merged into
    ``main`` once it reaches 1/16 of it. So a page written page by page costs a copy of the small
    array, not of the site's whole set (a site of 10,000 pages holds millions of fingerprints),
    and the merges cost ~1/16 of a copy of ``main`` per key added, amortised."""

    __slots__ = ("arr", "recent")

    def __init__(self, values: np.ndarray | None = None) -> None:
        self.arr: np.ndarray = np.empty(0, dtype=np.uint64) if values is None or not len(values) else values
        self.recent: np.ndarray = np.empty(0, dtype=np.uint64)

    @property
    def size(self) -> int:
        return len(self.arr) + len(self.recent)

    @staticmethod
    def _member(a: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(insert positions of ``keys`` in sorted ``a``, whether each is in ``a``)."""
        pos = np.searchsorted(a, keys)
        if not len(a):
            return pos, np.zeros(len(keys), dtype=bool)
        return pos, a[np.minimum(pos, len(a) - 1)] == keys

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Membership of ``keys`` (uint64), as a bool array."""
        seen = self._member(self.arr, keys)[1]
        if len(self.recent):
            seen |= self._member(self.recent, keys)[1]
        return seen

    def contains_add(self, keys: np.ndarray) -> np.ndarray:
        """Membership of sorted unique ``keys`` before this call; the missing ones are added."""
        if len(keys) * self.MERGE_AT >= self.size:
            return self._merge_add(keys)
        seen = self._member(self.arr, keys)[1]
        pos, in_recent = self._member(self.recent, keys)
        seen = seen | in_recent
        new = ~seen
        m = int(np.count_nonzero(new))
        if m:
            a = self.recent
            out = np.empty(len(a) + m, dtype=np.uint64)
            at = pos[new] + np.arange(m)  # each new key lands after the new keys before it
            keep = np.ones(len(out), dtype=bool)
            keep[at] = False
            out[at] = keys[new]
            out[keep] = a
            self.recent = out
            if len(out) * 16 > len(self.arr):
                self._merge()
        return seen

    #: keys of at least 1/MERGE_AT of the set are merged into it (:meth:`_merge_add`) rather
    #: than looked up one by one
    MERGE_AT = 16

    def _merge_add(self, keys: np.ndarray) -> np.ndarray:
        """:meth:`contains_add` of many keys at once: one merge of the sorted runs (the set and
        ``keys``) instead of a binary search of each key. ~3x faster once the keys are more than
        ~1/16 of the set, as in a batch's write of several pages of a site."""
        merged = np.concatenate((self.arr, self.recent, keys))
        merged.sort(kind="stable")  # sorted runs: merged, not re-sorted
        dup = merged[1:] == merged[:-1]  # a key already in the set, next to its copy
        seen = np.zeros(len(keys), dtype=bool)
        again = merged[1:][dup]
        if len(again):
            seen[np.searchsorted(keys, again)] = True
            merged = merged[np.concatenate(([True], ~dup))]
        self.arr, self.recent = merged, np.empty(0, dtype=np.uint64)
        return seen

    def _merge(self) -> None:
        if len(self.recent):
            merged = np.concatenate((self.arr, self.recent))
            merged.sort(kind="stable")  # two sorted runs, disjoint: a linear merge
            self.arr, self.recent = merged, np.empty(0, dtype=np.uint64)

    def add(self, keys: np.ndarray) -> None:
        """Add sorted unique ``keys`` that are not in the set."""
        if len(keys):
            self.contains_add(keys)

    def remove(self, keys: np.ndarray) -> None:
        """Remove ``keys`` (sorted unique, all in the set)."""
        if len(keys):
            self._merge()
            keep = np.ones(len(self.arr), dtype=bool)
            keep[np.searchsorted(self.arr, keys)] = False
            self.arr = self.arr[keep]

    def array(self) -> np.ndarray:
        """All members, sorted."""
        self._merge()
        return self.arr


class _RawSite:
    """A site's stored pages with a raw-text signature, for look-ups of pages without a URL key
    (any page of the site may be their copy): ids, URL / title keys as int codes (-1: none) and
    the signatures as one matrix (grown by doubling, so adding a page does not copy the site's
    rows). A look-up takes as candidates the rows sharing an LSH bucket with it (``bands``
    bands, as :func:`~dedupe.engine.neardup.page_groups`: a sorted array of the rows' band keys,
    rebuilt once the rows added since reach 1/16 of it) plus every row added since, then keeps
    those whose signature estimate reaches the threshold."""

    __slots__ = ("ids", "ukeys", "tkeys", "ucode", "tcode", "sigs", "n", "codes", "bands", "bk", "bk_rows", "n_main")

    #: rows added since the last LSH build that are compared one by one at most (beyond it, and
    #: beyond 1/16 of the built rows, the buckets are rebuilt)
    RECENT_MIN = 256

    def __init__(self, num_perm: int, bands: int = 32) -> None:
        self.bands = int(bands)
        self.bk = np.empty(0, dtype=np.uint64)
        self.bk_rows = np.empty(0, dtype=np.int32)
        self.n_main = 0
        self.ids: list[str] = []
        self.ukeys: list[str | None] = []
        self.tkeys: list[str | None] = []
        self.ucode = np.empty(16, dtype=np.int64)
        self.tcode = np.empty(16, dtype=np.int64)
        self.sigs = np.empty((16, num_perm), dtype=np.uint32)
        self.n = 0
        self.codes: dict[str, int] = {}

    def add(self, rows: list[tuple[str, str | None, str | None, bytes]]) -> None:
        m = len(rows)
        if not m:
            return
        need = self.n + m
        if need > len(self.sigs):
            cap = max(need, 2 * len(self.sigs))
            for name in ("ucode", "tcode", "sigs"):
                old = getattr(self, name)
                new = np.empty((cap, *old.shape[1:]), dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        for k, (doc_id, u, t, sig) in enumerate(rows, start=self.n):
            self.ids.append(doc_id)
            self.ukeys.append(u)
            self.tkeys.append(t)
            self.ucode[k] = -1 if u is None else self.codes.setdefault(u, len(self.codes))
            self.tcode[k] = -1 if t is None else self.codes.setdefault(t, len(self.codes))
            self.sigs[k] = np.frombuffer(sig, dtype=np.uint32)
        self.n = need

    def _build(self) -> None:
        keys = _band_keys(self.sigs[: self.n], self.bands).reshape(-1)
        order = np.argsort(keys, kind="stable")
        self.bk, self.bk_rows = keys[order], (order // self.bands).astype(np.int32)
        self.n_main = self.n

    def candidates(self, title_key: str | None, raw_sig: np.ndarray | None, threshold: float, keys: np.ndarray | None = None) -> np.ndarray:
        """Rows whose title key is missing on either side or equal (and, with ``raw_sig``,
        whose signature estimate reaches ``threshold``: among the rows LSH proposes), sorted.
        ``keys``: the band keys of ``raw_sig`` when already computed."""
        if raw_sig is None or self.bands <= 0:
            rows = np.arange(self.n)
        else:
            if self.n - self.n_main > max(self.RECENT_MIN, self.n_main // 16):
                self._build()
            q = _band_keys(np.asarray(raw_sig, dtype=np.uint32)[None, :], self.bands)[0] if keys is None else keys
            lo, hi = np.searchsorted(self.bk, q, "left"), np.searchsorted(self.bk, q, "right")
            parts = [self.bk_rows[a:b] for a, b in zip(lo.tolist(), hi.tolist()) if b > a]
            parts.append(np.arange(self.n_main, self.n))
            rows = np.unique(np.concatenate(parts))
        if title_key is not None:
            code = self.codes.get(title_key, -2)
            tc = self.tcode[: self.n]
            rows = rows[(tc[rows] == -1) | (tc[rows] == code)]
        if raw_sig is not None and len(rows):
            est = (self.sigs[rows] == raw_sig[None, :]).mean(axis=1)
            rows = rows[est >= threshold]
        return rows


def _merge_counts(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of sorted uint64 arrays and how many arrays hold each (each array
    sorted unique), as ``np.unique(..., return_counts=True)`` but merging the sorted runs."""
    if len(arrays) == 1:
        return arrays[0], np.ones(len(arrays[0]), dtype=np.int64)
    merged = np.sort(np.concatenate(arrays), kind="stable")
    if not len(merged):
        return merged, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], merged[1:] != merged[:-1])))
    return merged[starts], np.diff(np.append(starts, len(merged)))


def hash_settings(config: Config) -> dict[str, Any]:
    """The settings an index's stored hashes depend on; an index refuses other values.

    ``Config.fingerprint()`` (signature + tokeniser) plus the LSH band count, which changes the
    stored band keys.
    """
    return {"fingerprint": config.fingerprint(), "bands": config.neardup.bands}


def _lenient_config(data: Any) -> Config:
    """The stored config, ignoring settings this version does not know (an index written by
    another version); only :func:`hash_settings` must match, and that is checked separately."""
    if not isinstance(data, dict):
        return Config()
    known = {f.name: f for f in dataclasses.fields(Config)}
    clean: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            continue
        sub = known[name].default_factory() if known[name].default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            names = {f.name for f in dataclasses.fields(sub)}
            value = {k: v for k, v in value.items() if k in names}
        clean[name] = value
    try:
        return Config.from_dict(clean)
    except Exception:  # noqa: BLE001 - fall back to the defaults; hash settings still checked
        return Config()


def bucket_keys(band_keys: np.ndarray) -> np.ndarray:
    """LSH bucket ids, signed int64, of band keys ``(..., bands)`` uint64: each (band position,
    key) pair mixed into one 64-bit value (``fmix64(key ^ fmix64(position + 1))``), so a bucket
    is one indexed column. Distinct pairs colliding (about 2**-64 per pair) only add a candidate,
    which near-duplicate verification then rejects."""
    keys = np.asarray(band_keys, dtype=np.uint64)
    pos = fmix64(np.arange(1, keys.shape[-1] + 1, dtype=np.uint64))
    return fmix64(keys ^ pos).view(np.int64)


def _band_rows(dids: list[int], keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``bands`` rows of documents ``dids`` with band keys ``keys`` (one uint64 array each):
    bucket ids and document numbers (int64), in the table's order (sequential B-tree writes)."""
    lens = [len(k) for k in keys]
    if not any(lens):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if len(set(lens)) == 1:  # the usual case: every signature has the configured band count
        bk = bucket_keys(np.stack(keys)).reshape(-1)
    else:
        bk = np.concatenate([bucket_keys(k) for k in keys if len(k)])
    did = np.repeat(np.asarray(dids, dtype=np.int64), lens)
    o = np.lexsort((did, bk))
    return bk[o], did[o]


#: rows per multi-row ``VALUES`` statement of :func:`_insert_pairs` (2 parameters each: well
#: under SQLite's 32766 host parameters)
_PAIRS_PER_STATEMENT = 2048


def _insert_pairs(conn: sqlite3.Connection, prefix: str, a: np.ndarray, b: np.ndarray) -> None:
    """Insert int64 rows ``(a[i], b[i])`` with ``prefix`` (``"INSERT ... VALUES "``), in order,
    :data:`_PAIRS_PER_STATEMENT` rows per statement: the bucket rows of a signature write (32 per
    page) cost ~2.5x less CPU than one ``executemany`` step per row."""
    flat = np.empty(2 * len(a), dtype=np.int64)
    flat[0::2] = a
    flat[1::2] = b
    values = flat.tolist()
    step = 2 * _PAIRS_PER_STATEMENT
    full = prefix + ",".join(["(?,?)"] * _PAIRS_PER_STATEMENT)
    for lo in range(0, len(values), step):
        part = values[lo : lo + step]
        conn.execute(full if len(part) == step else prefix + ",".join(["(?,?)"] * (len(part) // 2)), part)


def cut_text(original: str, cuts: np.ndarray) -> str:
    """``original`` without the half-open ``[start, end)`` spans in ``cuts`` (flat int64 pairs,
    sorted, disjoint)."""
    parts: list[str] = []
    pos = 0
    flat = np.asarray(cuts, dtype=np.int64).tolist()
    for start, end in zip(flat[0::2], flat[1::2]):
        parts.append(original[pos:start])
        pos = end
    parts.append(original[pos:])
    return "".join(parts)


def to_i64(a: np.ndarray) -> list[int]:
    """uint64 array -> Python ints of the same 8 bytes read as signed int64 (SQLite INTEGER)."""
    return np.ascontiguousarray(a, dtype=np.uint64).view(np.int64).tolist()


def from_i64(values: Iterable[int]) -> np.ndarray:
    """Signed int64 values read back from SQLite -> uint64 array."""
    return np.fromiter(values, dtype=np.int64).view(np.uint64)


def _ident(page: Any) -> tuple[str | None, str | None]:
    """``(url key, title key)`` of an observed page's ``info["page"]``: a
    :class:`~dedupe.engine.neardup.PageId` or any pair ``(url key, title key)``; ``(None, None)``
    when absent."""
    if page is None:
        return None, None
    url, title = page
    return (url if isinstance(url, str) else None), (title if isinstance(title, str) else None)


def _is_busy(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


class SQLiteIndex:
    """A persistent :class:`~dedupe.engine.index.IndexStore` in one SQLite file.

    Args:
        path: the index file; created (with its schema) when missing or empty.
        config: the settings in use. A new index records them; an existing index refuses to
            open when its hashing settings (:func:`hash_settings`) differ. ``None``: use the
            config stored in the index (or the defaults for a new index).
        store_text: keep each observed page's original text (Zstandard-compressed) so pages can be
            re-cleaned from the index alone. Only used when the index is created; an existing
            index keeps its setting.
        busy_timeout: seconds to wait for another process's write lock before giving up with
            :class:`~dedupe.errors.IndexStoreError`.
        readonly: open for reading only (stats); nothing is ever written.
        cache_fps: how many fingerprints this connection keeps in memory (8 bytes each) as the
            per-site sets of seen fingerprints that writes need; beyond it, least recently
            written sites are dropped and rebuilt from their pages' blobs when next written.
        cache_buckets: how many LSH bucket ids (8 bytes each) this connection keeps in memory
            to answer batch look-ups of empty buckets without a query (``0``: none).
        cache_raws: how many stored pages' raw-text signatures this connection keeps in memory,
            per site, for the copy look-ups of pages without a URL key (~0.9 KB each at 128
            permutations and 32 bands, with their LSH buckets; least recently used sites
            dropped beyond it).
        wal_limit: after a write, a WAL file larger than this many bytes is checkpointed and
            truncated (``PRAGMA wal_checkpoint(TRUNCATE)``). 32 MiB: with 16 KiB pages a page
            written by :meth:`~dedupe.engine.indexing.Index.clean` adds ~0.5 MiB of WAL (its LSH
            bucket rows touch ~32 pages), and a limit of 8 MiB meant a checkpoint every ~16 pages:
            2.4-2.9 ms CPU per streamed page against 2.0-2.2 at 32 MiB (4 KiB pages, 8 MiB:
            1.95-2.1).

    Raises:
        IndexStoreError: ``path`` is not a dedupe index, is damaged, or cannot be opened.
        IndexConfigMismatch: the index was built with other hashing settings.

    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d, SQLiteIndex(d + "/i.db") as ix:
    ...     ix.observe("s", "a", np.array([1, 2], dtype=np.uint64))
    ...     ix.observe("s", "b", np.array([2], dtype=np.uint64))
    ...     ix.doc_freq("s", np.array([1, 2, 3], dtype=np.uint64)).tolist()
    [1, 2, 0]
    """

    #: observe_many takes an info's ``PREPARED_TEXT`` (the text's UTF-8 bytes and digest, with or
    #: without the text itself) instead of encoding and digesting the text again
    takes_prepared_text = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        config: Config | None = None,
        store_text: bool = True,
        busy_timeout: float = 60.0,
        readonly: bool = False,
        wal_limit: int = 32 * 2**20,
        cache_fps: int = 64_000_000,
        cache_buckets: int = 64_000_000,
        cache_raws: int = 100_000,
    ) -> None:
        self.path = Path(path)
        self.cache_fps = int(cache_fps)
        # site_id -> (gen, fingerprints seen on the site); see _site_set
        self._fpsets: "OrderedDict[int, tuple[int, _FpSet]]" = OrderedDict()
        self._fp_sizes: dict[int, int] = {}  # sizes as last recorded, for the running total
        self._fp_total = 0
        self._tx_sites: set[int] = set()
        self._in_tx = False  # inside transaction(): writes and reads join it
        self._on_commit: list[Callable[[], None]] = []
        # (meta bgen, sorted int64 bucket ids): a superset of the bucket ids in `bands` as of that
        # signature write; see band_candidates_many
        self._bk_cache: tuple[int, np.ndarray, np.ndarray] | None = None  # (bgen, main, recent)
        # site_id -> (gen, the site's pages with raw signatures); see _raw_site
        self._raw_sites: "OrderedDict[int, tuple[int, _RawSite]]" = OrderedDict()
        self._raw_total = 0
        self.cache_raws = int(cache_raws)
        self.cache_buckets = int(cache_buckets)
        self._wal_path = self.path.with_name(self.path.name + "-wal")
        self.wal_limit = int(wal_limit)
        self.busy_timeout = float(busy_timeout)
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._check_file()
        conn = self._connect()
        try:
            meta = self._read_meta(conn)
            if meta is None:
                if readonly:
                    raise IndexStoreError(f"{self.path}: no dedupe index here")
                meta = self._create(conn, config or Config(), store_text)
            stored_cfg = self._check_meta(meta, config)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.config: Config = config if config is not None else stored_cfg
        self.meta = meta
        self.store_text = meta.get("store_text") == "1"
        if not readonly:
            try:
                self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
                conn.execute("PRAGMA wal_autocheckpoint=1000")
                conn.execute("PRAGMA journal_size_limit=67108864")
            except sqlite3.DatabaseError as exc:
                self.close()
                raise IndexStoreError(f"{self.path}: cannot open index: {exc}") from None

    # -- opening ---------------------------------------------------------------------------
    def _check_file(self) -> None:
        p = self.path
        if p.is_dir():
            raise IndexStoreError(f"{p}: is a directory, not an index file")
        if not p.exists():
            if self.readonly:
                raise IndexStoreError(f"{p}: index not found")
            if not p.parent.exists():
                raise IndexStoreError(f"{p}: directory {p.parent} does not exist")
            return
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise IndexStoreError(f"{p}: cannot read: {exc.strerror}") from None
        if head and head != _SQLITE_HEADER:
            raise IndexStoreError(f"{p}: not a dedupe index (not an SQLite file); refusing to touch it")

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                uri = "file:" + self.path.resolve().as_posix() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, isolation_level=None)
            else:
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise IndexStoreError(f"{self.path}: cannot open index: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
            conn.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise IndexStoreError(f"{self.path}: not a readable dedupe index ({exc}); refusing to touch it") from None
        return conn

    def _read_meta(self, conn: sqlite3.Connection) -> dict[str, str] | None:
        """The meta table of an existing index; None for an empty database. Reads only."""
        try:
            app_id = self._retry(lambda: conn.execute("PRAGMA application_id").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables and app_id == 0:
                return None
            if app_id != APPLICATION_ID or "meta" not in tables:
                raise IndexStoreError(f"{self.path}: an SQLite database, but not a dedupe index; refusing to touch it")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(f"{self.path}: not a readable dedupe index ({exc}); refusing to touch it") from None
        if meta.get("format") != FORMAT:
            raise IndexStoreError(f"{self.path}: not a dedupe index (no format marker); refusing to touch it")
        return meta

    def _create(self, conn: sqlite3.Connection, config: Config, store_text: bool) -> dict[str, str]:
        meta = {
            "format": FORMAT,
            "schema_version": str(SCHEMA_VERSION),
            "config_fingerprint": config.fingerprint(),
            "hash_settings": json.dumps(hash_settings(config), sort_keys=True),
            "config": json.dumps(config.to_dict(), sort_keys=True),
            "dedupe_version": __version__,
            "store_text": "1" if store_text else "0",
            "seq": "0",
            "gen": "0",
            "bgen": "0",
        }

        def create() -> dict[str, str]:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a no-op once the file has a page
            conn.execute("BEGIN IMMEDIATE")
            try:
                existing = self._read_meta(conn)  # another process may have created it meanwhile
                if existing is not None:
                    conn.execute("ROLLBACK")
                    return existing
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", sorted(meta.items()))
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return meta

        try:
            return self._retry(create)
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(f"{self.path}: cannot create index: {exc}") from None

    def _check_meta(self, meta: dict[str, str], config: Config | None) -> Config:
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise IndexStoreError(
                f"{self.path}: index schema version {version}, this dedupe ({__version__}) reads version {SCHEMA_VERSION}; "
                "build a new index file (observe the pages again)"
            )
        try:
            stored_hash = json.loads(meta["hash_settings"])
            stored_dict = json.loads(meta["config"])
        except Exception as exc:  # noqa: BLE001 - damaged meta row
            raise IndexStoreError(f"{self.path}: index metadata is damaged ({exc})") from None
        stored = _lenient_config(stored_dict)
        if hash_settings(stored) != stored_hash:
            # the index's own settings hash otherwise here: the hashing itself changed between
            # versions (tokeniser, fingerprint scheme); no config can make this dedupe read it
            raise IndexConfigMismatch(
                f"{self.path}: index was built by a dedupe whose hashing differs from this one ({__version__}: "
                "tokeniser or fingerprint scheme changed); build a new index file (observe the pages again)"
            )
        if config is not None:
            wanted = hash_settings(config)
            if wanted != stored_hash:
                diff = ", ".join(f"{k}: index {stored_hash.get(k)!r} vs config {v!r}" for k, v in wanted.items() if stored_hash.get(k) != v)
                raise IndexConfigMismatch(
                    f"{self.path}: index was built with other hashing settings ({diff}); use the config "
                    f"it was built with (dedupe index stats shows it) or a new index file"
                )
        return stored

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise IndexStoreError(f"{self.path}: index is closed")
        if os.getpid() != self._pid:  # forked: never share a connection across processes
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying with backoff while another process holds a lock."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise IndexStoreError(
                        f"{self.path}: index busy: another process kept it locked for more than {self.busy_timeout:.0f} s"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction (all or nothing), with retries;
        inside :meth:`transaction`, as part of that transaction."""
        if self.readonly:
            raise IndexStoreError(f"{self.path}: index opened read-only")
        conn = self.conn
        if self._in_tx:
            return fn(conn)

        def attempt() -> T:
            self._tx_sites = set()
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(conn)
                conn.execute("COMMIT")
                return out
            except BaseException:
                # the cached sets of the sites this attempt touched may hold its changes
                for sid in self._tx_sites:
                    self._cache_drop(sid)
                    self._raw_drop(sid)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            out = self._retry(attempt)
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(f"{self.path}: index write failed: {exc}") from None
        self._bound_wal()
        self._evict()
        return out

    @contextlib.contextmanager
    def transaction(self) -> Iterator["SQLiteIndex"]:
        """One write transaction around several store calls: writes and reads inside the block
        run in it (reads see its own writes), and it commits at the end, all or nothing (an
        exception rolls everything back). The write lock is taken up front (``BEGIN IMMEDIATE``,
        with the busy timeout and retries of every write) and held until the block ends. A
        nested block joins the outer one.

        :meth:`dedupe.engine.indexing.Index.clean` observes, cleans and stores a page in one
        such block: one commit per page instead of two."""
        if self.readonly:
            raise IndexStoreError(f"{self.path}: index opened read-only")
        if self._in_tx:
            yield self
            return
        conn = self.conn
        try:
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(f"{self.path}: index write failed: {exc}") from None
        self._in_tx = True
        self._tx_sites = set()
        self._on_commit = []
        try:
            yield self
            self._retry(lambda: conn.execute("COMMIT"))
        except BaseException as exc:
            for sid in self._tx_sites:  # the cached sets of touched sites may hold its changes
                self._cache_drop(sid)
                self._raw_drop(sid)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise IndexStoreError(f"{self.path}: index write failed: {exc}") from None
            raise
        finally:
            self._in_tx = False
            done, self._on_commit = self._on_commit, []
        for fn in done:
            fn()
        self._bound_wal()
        self._evict()

    def _after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the current write is committed (at once outside :meth:`transaction`)."""
        if self._in_tx:
            self._on_commit.append(fn)
        else:
            fn()

    def _cache_put(self, sid: int, gen: int, fpset: _FpSet) -> None:
        old = self._fpsets.pop(sid, None)
        self._fp_total += fpset.size - (self._fp_sizes.get(sid, 0) if old is not None else 0)
        self._fp_sizes[sid] = fpset.size
        self._fpsets[sid] = (gen, fpset)

    def _cache_drop(self, sid: int) -> None:
        if self._fpsets.pop(sid, None) is not None:
            self._fp_total -= self._fp_sizes.pop(sid, 0)

    def _evict(self) -> None:
        """Drop the least recently written sites' sets while over ``cache_fps``."""
        while self._fp_total > self.cache_fps and self._fpsets:
            self._cache_drop(next(iter(self._fpsets)))

    def _site_set(self, conn: sqlite3.Connection, sid: int, gen: int, rgen: int | None = None) -> _FpSet:
        """The fingerprints seen on site ``sid`` whose ``sites.gen`` is ``gen``: the cached set
        if it is of that generation; brought up to date with the pages written since when the
        site lost nothing since (``rgen``, the last removal, is not newer than the cached set);
        else rebuilt from the site's page blobs. Call before this transaction changes them."""
        got = self._fpsets.get(sid)
        if got is not None and got[0] == gen:
            self._fpsets.move_to_end(sid)
            return got[1]
        if got is not None and rgen is not None and rgen <= got[0] < gen:
            fpset = got[1]
            blobs = [np.frombuffer(b, dtype=np.uint64) for (b,) in conn.execute(
                "SELECT f.fps FROM docs d JOIN doc_fps f ON f.did = d.did WHERE d.site_id = ? AND d.gen > ?", (sid, got[0]))]
            if blobs:
                new = _merge_counts(blobs)[0]
                fpset.contains_add(new)
            self._cache_put(sid, gen, fpset)
            return fpset
        blobs = [np.frombuffer(b, dtype=np.uint64) for (b,) in conn.execute(
            "SELECT f.fps FROM docs d JOIN doc_fps f ON f.did = d.did WHERE d.site_id = ?", (sid,))]
        fpset = _FpSet(_merge_counts(blobs)[0] if blobs else None)
        self._cache_put(sid, gen, fpset)
        return fpset

    def _bound_wal(self) -> None:
        """Truncate the WAL once it outgrows ``wal_limit`` (automatic checkpoints cannot reset it
        while other processes keep reading and writing)."""
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return
        if size > self.wal_limit:
            try:
                self.checkpoint()
            except IndexStoreError:  # pragma: no cover - best effort; the next write tries again
                pass

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.conn
        try:
            return self._retry(lambda: fn(conn))
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(f"{self.path}: index read failed: {exc}") from None

    @staticmethod
    def _site_id(conn: sqlite3.Connection, site: str, create: bool) -> int | None:
        row = conn.execute("SELECT site_id FROM sites WHERE name = ?", (site,)).fetchone()
        if row is not None:
            return row[0]
        if not create:
            return None
        return conn.execute("INSERT INTO sites(name, pages) VALUES (?, 0)", (site,)).lastrowid

    # -- template evidence ---------------------------------------------------------------------
    def observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> None:
        """Record ``doc_id``'s fingerprints for ``site``, replacing its earlier contribution."""
        self.observe_many([(site, doc_id, fingerprints)])

    def observe_many(self, items: Iterable[tuple[str, str, np.ndarray]] | Iterable[tuple[str, str, np.ndarray, dict]]) -> int:
        """Observe many pages in ONE transaction (all or nothing). Items are
        ``(site, doc_id, fingerprints)`` or ``(site, doc_id, fingerprints, info)`` where ``info``
        may hold ``url``, ``chars``, ``clean_chars``, ``text`` (stored if the index keeps texts),
        ``page`` (its :class:`~dedupe.engine.neardup.PageId`: URL key and title key),
        ``raw_sig`` (the MinHash signature of its raw text, uint32) and anything else
        JSON-serialisable. Re-observing a page replaces its identity and raw signature (a page
        observed without them has none). Returns the number of pages observed."""
        batch = [self._prep(it, self.store_text) for it in items]
        if not batch:
            return 0
        self._write(lambda conn: self._observe_tx(conn, batch))
        return len(batch)

    @staticmethod
    def _prep(item: tuple, store_text: bool) -> "_Observed":
        """An item of :meth:`observe_many` as the write needs it, built before the write lock
        is taken (and once, however often the write is retried): fingerprints sorted unique,
        the text compressed (if kept), the info's known keys in their columns."""
        site, doc_id, fps = item[0], item[1], item[2]
        if not isinstance(doc_id, str) or not isinstance(site, str):
            raise TypeError("site and doc_id must be str")
        fps = np.ascontiguousarray(fps, dtype=np.uint64)  # (stored through the buffer protocol)
        # already sorted unique: as is (the array's own .all(): np.all's Python wrapper costs
        # ~8 us per page, 1 s of a 100k-page batch)
        if len(fps) > 1 and not (fps[1:] > fps[:-1]).all():
            fps = sorted_unique(fps)
        src = item[3] if len(item) > 3 and item[3] else None
        if not src:
            return (site, doc_id, fps, None, None, None, None, None, None, None, None)
        info = dict(src)  # never mutate the caller's items
        text = info.pop("text", None)
        prepared = info.pop(PREPARED_TEXT, None)  # (bytes, digest) the engine took already
        packed = None
        if store_text and (text is not None or prepared is not None):
            data, digest = prepared if prepared is not None else (text.encode("utf-8", "surrogatepass"), None)
            packed = (pack_text(data), digest if digest is not None else text_digest(data))
        raw = info.pop("raw_sig", None)
        ukey, tkey = _ident(info.pop("page", None))
        url, chars, clean_chars = info.pop("url", None), info.pop("chars", None), info.pop("clean_chars", None)
        return (
            site, doc_id, fps, url, chars, clean_chars, json.dumps(info, sort_keys=True) if info else None, ukey, tkey,
            None if raw is None else np.ascontiguousarray(raw, dtype=np.uint32).tobytes(), packed,
        )

    def _observe_tx(self, conn: sqlite3.Connection, batch: "list[_Observed]") -> int:
        # Later items for the same doc_id replace earlier ones (as observing them in order would).
        last: dict[str, int] = {}
        for i, ob in enumerate(batch):
            last[ob[1]] = i
        batch = [batch[i] for i in sorted(last.values())]
        seq = int(conn.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
        known: dict[str, tuple[int, int | None]] = {}
        ids = sorted({it[1] for it in batch})
        for lo in range(0, len(ids), _CHUNK):
            part = ids[lo : lo + _CHUNK]
            for doc_id, did, old_sid in conn.execute(
                f"SELECT doc_id, did, site_id FROM docs WHERE doc_id IN ({','.join('?' * len(part))})", part
            ):
                known[doc_id] = (did, old_sid)
        names = list(dict.fromkeys(it[0] for it in batch))
        site_ids: dict[str, int | None] = dict.fromkeys(names)
        for lo in range(0, len(names), _CHUNK):  # one query per chunk of sites, not one per site
            part = names[lo : lo + _CHUNK]
            site_ids.update(conn.execute(f"SELECT name, site_id FROM sites WHERE name IN ({','.join('?' * len(part))})", part).fetchall())
        removed = set()  # sites created here count as "changed beyond additions" (rgen)
        for site in names:
            if site_ids[site] is None:
                site_ids[site] = self._site_id(conn, site, create=True)
                removed.add(site_ids[site])
        gen = self._next_gen(conn)
        # every touched site's set of seen fingerprints, as it is before this transaction
        sets = self._load_sets(conn, set(site_ids.values()) | {old for _, old in known.values() if old is not None})
        dec: dict[int, list[np.ndarray]] = {}
        add: dict[int, list[np.ndarray]] = {}
        site_delta: dict[int, int] = {}
        doc_fps_rows: list[tuple[int, np.ndarray]] = []
        raw_rows: list[tuple[int, bytes]] = []
        text_rows: list[tuple[int, bytes]] = []
        new_docs: list[tuple] = []
        next_did = int(conn.execute("SELECT coalesce(max(did), 0) FROM docs").fetchone()[0])
        for site, doc_id, fps, url, chars, clean_chars, info, ukey, tkey, raw, packed in batch:
            sid = site_ids[site]
            cols = (sid, url, chars, clean_chars, info, ukey, tkey)
            row = known.get(doc_id)
            if row is None:
                seq += 1
                next_did += 1  # what SQLite would pick (max + 1); the write lock is ours
                did = next_did
                new_docs.append((did, *cols, doc_id, seq, gen))
            else:  # re-observed: undo its earlier contribution, keep its first-seen order (seq)
                did, old_sid = row
                fb = conn.execute("SELECT fps FROM doc_fps WHERE did = ?", (did,)).fetchone()
                if old_sid is not None:
                    site_delta[old_sid] = site_delta.get(old_sid, 0) - 1
                    if fb is not None:
                        dec.setdefault(old_sid, []).append(np.frombuffer(fb[0], dtype=np.uint64))
                conn.execute(
                    "UPDATE docs SET site_id = ?, url = ?, chars = ?, clean_chars = ?, info = ?, ukey = ?, tkey = ?, gen = ? WHERE did = ?",
                    (*cols, gen, did),
                )
                conn.execute("DELETE FROM doc_fps WHERE did = ?", (did,))
                conn.execute("DELETE FROM raws WHERE did = ?", (did,))  # its identity went with the UPDATE
                conn.execute("DELETE FROM texts WHERE did = ?", (did,))
                conn.execute("DELETE FROM cleans WHERE did = ?", (did,))  # its cleaned text is stale too
            doc_fps_rows.append((did, fps))
            if raw is not None:
                raw_rows.append((did, raw))
            if packed is not None:
                text_rows.append((did, *packed))
            site_delta[sid] = site_delta.get(sid, 0) + 1
            add.setdefault(sid, []).append(fps)
        conn.executemany(
            "INSERT INTO docs(did, site_id, url, chars, clean_chars, info, ukey, tkey, doc_id, seq, gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            new_docs,
        )
        # each blob bound as a memoryview (no copy; never through an ndarray adapter), made as
        # its row is written (a memoryview is tracked by the garbage collector: see _Observed)
        conn.executemany("INSERT INTO doc_fps(did, fps) VALUES (?, ?)", ((did, memoryview(fps)) for did, fps in doc_fps_rows))
        conn.executemany("INSERT INTO raws(did, sig) VALUES (?, ?)", raw_rows)
        conn.executemany("INSERT INTO texts(did, text, digest) VALUES (?, ?, ?)", text_rows)
        touched = 0
        for sid, arrays in dec.items():  # undo first, then add (as observing in order would)
            touched += self._sub_site_fps(conn, sid, arrays, sets[sid])
        touched += self._add_site_fps(conn, add, sets)
        self._finish_sites(conn, sets, site_delta, removed | set(dec))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (str(seq),))
        return touched

    def _load_sets(self, conn: sqlite3.Connection, sids: set[int]) -> dict[int, _FpSet]:
        """In a write transaction, before it changes any page: the seen-fingerprint sets of
        ``sids`` (cached or rebuilt); they are dropped from the cache if the transaction fails."""
        sids = set(sids)
        self._tx_sites |= sids
        gens: dict[int, tuple[int, int]] = {}
        ordered = sorted(sids)
        for lo in range(0, len(ordered), _CHUNK):
            part = ordered[lo : lo + _CHUNK]
            for sid, gen, rgen in conn.execute(f"SELECT site_id, gen, rgen FROM sites WHERE site_id IN ({','.join('?' * len(part))})", part):
                gens[sid] = (gen, rgen)
        return {sid: self._site_set(conn, sid, *gens.get(sid, (0, None))) for sid in ordered}

    @staticmethod
    def _next_gen(conn: sqlite3.Connection) -> int:
        """The generation of the running write transaction."""
        return int(conn.execute("SELECT value FROM meta WHERE key='gen'").fetchone()[0]) + 1

    def _finish_sites(
        self, conn: sqlite3.Connection, sets: dict[int, _FpSet], site_delta: dict[int, int], removed: set[int] = frozenset()  # type: ignore[assignment]
    ) -> None:
        """Record the touched sites' page counts, distinct fingerprints and a new generation
        (``removed``: sites that lost evidence in this transaction, or were created by it)."""
        if not sets:
            return
        gen = self._next_gen(conn)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'gen'", (str(gen),))
        conn.executemany(
            "UPDATE sites SET pages = pages + ?, fps = ?, gen = ?, rgen = CASE WHEN ? THEN ? ELSE rgen END WHERE site_id = ?",
            [(site_delta.get(sid, 0), fpset.size, gen, sid in removed, gen, sid) for sid, fpset in sets.items()],
        )
        for sid, fpset in sets.items():
            self._cache_put(sid, gen, fpset)  # most recently used last

    @staticmethod
    def _shared_pages(conn: sqlite3.Connection, sid: int, keys: np.ndarray) -> np.ndarray:
        """``site_fp`` pages of sorted unique uint64 ``keys`` on site ``sid`` (0: no row)."""
        out = np.zeros(len(keys), dtype=np.int64)
        signed = keys.view(np.int64).tolist()
        got: list[tuple[int, int]] = []
        for lo in range(0, len(signed), _CHUNK):
            part = signed[lo : lo + _CHUNK]
            got.extend(conn.execute(
                f"SELECT fp, pages FROM site_fp WHERE site_id = ? AND fp IN ({','.join('?' * len(part))})", [sid, *part]
            ).fetchall())
        if got:
            arr = np.array(got, dtype=np.int64)
            pos = np.searchsorted(keys, arr[:, 0].view(np.uint64))
            out[pos] = arr[:, 1]
        return out

    @staticmethod
    def _add_site_fps(conn: sqlite3.Connection, add: dict[int, list[np.ndarray]], sets: dict[int, _FpSet]) -> int:
        """Add pages' fingerprints (``{site: [arrays, each sorted unique]}``) to their sites. Only
        fingerprints that reach 2 pages get (or update) a ``site_fp`` row; the rest join the
        site's seen set. All sites' rows go in one statement, in the table's order."""
        sids: list[np.ndarray] = []
        fps: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        incs: list[np.ndarray] = []
        for sid, arrays in add.items():
            if len(arrays) == 1:  # one page of the site in this transaction: every count is 1
                keys = arrays[0]
                if not len(keys):
                    continue
                write = sets[sid].contains_add(keys)  # a seen fingerprint reaches its 2nd page
                n = int(np.count_nonzero(write))
                if n:
                    fps.append(keys[write])
                    starts.append(np.full(n, 2, dtype=np.int64))
                    incs.append(np.ones(n, dtype=np.int64))
                    sids.append(np.full(n, sid, dtype=np.int64))
                continue
            keys, k = _merge_counts(arrays)
            if not len(keys):
                continue
            seen = sets[sid].contains_add(keys)
            write = seen | (k >= 2)
            n = int(np.count_nonzero(write))
            if n:
                kk = np.asarray(k[write], dtype=np.int64)
                fps.append(keys[write])
                starts.append(seen[write].astype(np.int64) + kk)  # a seen fingerprint without a row was on 1 page
                incs.append(kk)
                sids.append(np.full(n, sid, dtype=np.int64))
        if not fps:
            return 0
        sid_a = np.concatenate(sids)
        fp_a = np.concatenate(fps).view(np.int64)
        order = np.lexsort((fp_a, sid_a))  # the table's order: sequential B-tree writes
        conn.executemany(
            "INSERT INTO site_fp(site_id, fp, pages) VALUES (?, ?, ?) ON CONFLICT(site_id, fp) DO UPDATE SET pages = pages + ?",
            zip(sid_a[order].tolist(), fp_a[order].tolist(), np.concatenate(starts)[order].tolist(), np.concatenate(incs)[order].tolist()),
        )
        return len(order)

    def _sub_site_fps(self, conn: sqlite3.Connection, sid: int, arrays: list[np.ndarray], seen_set: _FpSet) -> int:
        """Undo pages' fingerprints on site ``sid``: counts drop; a row left with one page is
        deleted (the fingerprint stays seen), a fingerprint left on no page leaves ``seen_set``."""
        keys, c = _merge_counts(arrays)
        if not len(keys):
            return 0
        shared = self._shared_pages(conn, sid, keys)
        has_row = shared > 0
        new = np.where(has_row, shared, 1) - c
        upd = has_row & (new >= 2)
        if upd.any():
            conn.executemany("UPDATE site_fp SET pages = ? WHERE site_id = ? AND fp = ?",
                             zip(new[upd].tolist(), itertools.repeat(sid), keys[upd].view(np.int64).tolist()))
        drop = has_row & (new < 2)
        if drop.any():
            conn.executemany("DELETE FROM site_fp WHERE site_id = ? AND fp = ?",
                             zip(itertools.repeat(sid), keys[drop].view(np.int64).tolist()))
        seen_set.remove(keys[new <= 0])
        return len(keys)

    def site_pages(self, site: str) -> int:
        row = self._read(lambda c: c.execute("SELECT pages FROM sites WHERE name = ?", (site,)).fetchone())
        return int(row[0]) if row else 0

    def _snapshot(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the reads of ``fn(conn)`` in one read transaction (one consistent snapshot)."""

        def run(conn: sqlite3.Connection) -> T:
            if self._in_tx:  # already one snapshot: the running write transaction
                return fn(conn)
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

        return self._read(run)

    def doc_freq(self, site: str, fingerprints: np.ndarray) -> np.ndarray:
        """How many observed pages of ``site`` hold each fingerprint (int64 array)."""
        fps = np.asarray(fingerprints, dtype=np.uint64)
        if not len(fps):
            return np.zeros(0, dtype=np.int64)
        keys = sorted_unique(fps)

        def q(conn: sqlite3.Connection) -> np.ndarray:
            row = conn.execute("SELECT site_id, gen FROM sites WHERE name = ?", (site,)).fetchone()
            if row is None:
                return np.zeros(len(keys), dtype=np.int64)
            shared = self._shared_pages(conn, row[0], keys)
            seen = self._site_set(conn, row[0], row[1]).contains(keys)
            return np.where(shared > 0, shared, seen.astype(np.int64))

        vals = self._snapshot(q)
        self._evict()
        return vals[np.searchsorted(keys, fps)]

    def site_gen(self, site: str) -> int | None:
        """The write generation of ``site``'s evidence (``sites.gen``; None: no such site). It
        changes with every write that touches the site's pages."""
        row = self._read(lambda c: c.execute("SELECT gen FROM sites WHERE name = ?", (site,)).fetchone())
        return None if row is None else int(row[0])

    def preview_observe(self, site: str, doc_id: str, fingerprints: np.ndarray) -> tuple[int | None, np.ndarray, np.ndarray, int] | None:
        """What :meth:`site_doc_freqs` ``(site, 2)`` and :meth:`site_pages` would return once a
        NEW page ``doc_id`` with sorted unique ``fingerprints`` is observed on ``site``, read in
        one snapshot without writing: ``(site_gen, fingerprints, pages, site_pages)``.
        ``site_gen`` (:meth:`site_gen` at the snapshot) tells whether the preview still holds;
        None when ``doc_id`` is already in the index (observing it again replaces its earlier
        contribution: no preview)."""
        fps = np.asarray(fingerprints, dtype=np.uint64)

        def q(conn: sqlite3.Connection) -> tuple[int | None, np.ndarray, np.ndarray, int] | None:
            if conn.execute("SELECT 1 FROM docs WHERE doc_id = ?", (doc_id,)).fetchone() is not None:
                return None
            row = conn.execute("SELECT site_id, gen, pages FROM sites WHERE name = ?", (site,)).fetchone()
            if row is None:  # a new site: every fingerprint on this page only
                return None, np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64), 1
            sid, gen, pages = row
            rows = conn.execute("SELECT fp, pages FROM site_fp WHERE site_id = ? AND pages >= 2", (sid,)).fetchall()
            arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
            keys = arr[:, 0].copy().view(np.uint64)
            order = np.argsort(keys)
            keys, counts = keys[order], arr[order, 1].copy()
            if len(fps):
                # this page adds one page to each of its fingerprints: rows +1, a fingerprint seen
                # on one page so far reaches 2 (a row), one never seen stays below 2
                pos = np.minimum(np.searchsorted(keys, fps), max(len(keys) - 1, 0))
                in_rows = (keys[pos] == fps) if len(keys) else np.zeros(len(fps), dtype=bool)
                counts[pos[in_rows]] += 1
                new = fps[~in_rows]
                new = new[self._site_set(conn, sid, gen).contains(new)] if len(new) else new
                if len(new):
                    keys = np.concatenate((keys, new))
                    counts = np.concatenate((counts, np.full(len(new), 2, dtype=np.int64)))
                    order = np.argsort(keys, kind="stable")
                    keys, counts = keys[order], counts[order]
            return int(gen), keys, counts, int(pages) + 1

        out = self._snapshot(q)
        self._evict()
        return out

    def site_doc_freqs(self, site: str, min_pages: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Fingerprints of ``site`` held by ``>= min_pages`` pages, with their page counts
        (uint64, int64), sorted by fingerprint. ``min_pages=2`` reads only the ``site_fp`` rows
        (the fingerprints on one page are left out, as :class:`~dedupe.engine.index.CountIndex`
        does); ``min_pages=1`` adds every fingerprint seen on the site."""

        def q(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray]:
            row = conn.execute("SELECT site_id, gen FROM sites WHERE name = ?", (site,)).fetchone()
            if row is None:
                return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
            sid = row[0]
            rows = conn.execute("SELECT fp, pages FROM site_fp WHERE site_id = ? AND pages >= ?", (sid, max(2, int(min_pages)))).fetchall()
            arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
            fps = arr[:, 0].copy().view(np.uint64)
            if min_pages > 1:
                order = np.argsort(fps)
                return fps[order], arr[order, 1].copy()
            keys = self._site_set(conn, sid, row[1]).array()
            pages = np.ones(len(keys), dtype=np.int64)
            pages[np.searchsorted(keys, fps)] = arr[:, 1]
            return keys.copy(), pages

        out = self._snapshot(q)
        self._evict()
        return out

    # -- copies of one page ----------------------------------------------------------------------
    def copy_candidates(
        self,
        site: str,
        url_key: str | None,
        title_key: str | None,
        exclude: Iterable[str] = (),
        raw_sig: np.ndarray | None = None,
        threshold: float = 0.0,
    ) -> list[tuple[str, str | None, str | None, np.ndarray]]:
        """Stored pages of ``site`` that a page with this identity could be a copy of, judged by
        identity alone, pair by pair (the rule of :func:`~dedupe.engine.neardup.page_groups`):
        ``[(doc_id, url_key, title_key, raw_signature)]``, by doc id; ``exclude``: ids left out;
        with ``raw_sig``, only pages whose raw-signature estimate reaches ``threshold``. Only
        pages stored with a raw signature are returned. See :meth:`copy_candidates_many`."""
        return self.copy_candidates_many([(site, url_key, title_key, raw_sig)], exclude, threshold)[0]

    def copy_candidates_many(
        self, queries: Iterable[tuple], exclude: Iterable[str] = (), threshold: float = 0.0
    ) -> list[list[tuple[str, str | None, str | None, np.ndarray]]]:
        """:meth:`copy_candidates` of many ``(site, url_key, title_key[, raw_sig])`` queries, in
        one read snapshot. Which stored pages:

        * with a URL key: the site's pages with the same URL key (one URL is one page, whatever
          the titles), and its pages without URL key whose title key is missing on either side
          or equal (two index ranges of ``docs_ident``, rows read from the file);
        * without URL key: every page of the site whose title key is missing on either side or
          equal, looked up in memory: this connection keeps, per site so looked up, its pages'
          keys and raw signatures (``cache_raws``), brought up to date from ``sites.gen`` as the
          seen-fingerprint sets are (additions read alone, a removal rebuilds). With
          ``raw_sig``, candidates are the pages sharing an LSH bucket with it
          (``neardup.bands`` bands, as :func:`~dedupe.engine.neardup.page_groups`) plus those
          added since the site's buckets were last built (:class:`_RawSite`); without it, all.
        """
        qs = [tuple(q) + (None,) * (4 - len(q)) for q in queries]
        skip = exclude if isinstance(exclude, (set, frozenset, dict)) else set(exclude)
        head = "SELECT d.doc_id, d.ukey, d.tkey, r.sig FROM docs d JOIN raws r ON r.did = d.did WHERE d.site_id = ?"
        thr = float(threshold)

        def similar(rows: list[tuple], raw: np.ndarray | None) -> list[tuple[str, str | None, str | None, np.ndarray]]:
            got = [(doc_id, u, t, np.frombuffer(sig, dtype=np.uint32)) for doc_id, u, t, sig in rows if doc_id not in skip]
            if raw is not None:
                got = [g for g in got if float((g[3] == raw).mean()) >= thr]
            return got

        # band keys of the look-ups without URL key, in one pass
        broad = [k for k, q in enumerate(qs) if q[1] is None and q[3] is not None]
        bkeys: dict[int, np.ndarray] = {}
        if broad and self.config.neardup.bands > 0:
            got_keys = _band_keys(np.stack([np.asarray(qs[k][3], dtype=np.uint32) for k in broad]), self.config.neardup.bands)
            bkeys = dict(zip(broad, got_keys))

        def q(conn: sqlite3.Connection) -> list[list[tuple[str, str | None, str | None, np.ndarray]]]:
            sids: dict[str, tuple[int, int, int] | None] = {}
            out: list[list[tuple[str, str | None, str | None, np.ndarray]]] = []
            for qi, (site, url_key, title_key, raw) in enumerate(qs):
                raw = None if raw is None else np.asarray(raw, dtype=np.uint32)
                if site not in sids:
                    sids[site] = conn.execute("SELECT site_id, gen, rgen FROM sites WHERE name = ?", (site,)).fetchone()
                row = sids[site]
                if row is None:
                    out.append([])
                    continue
                sid = row[0]
                if url_key is not None:
                    rows = conn.execute(head + " AND d.ukey = ?", (sid, url_key)).fetchall()
                    if title_key is None:
                        rows += conn.execute(head + " AND d.ukey IS NULL", (sid,)).fetchall()
                    else:
                        rows += conn.execute(head + " AND d.ukey IS NULL AND (d.tkey IS NULL OR d.tkey = ?)", (sid, title_key)).fetchall()
                    got = similar(rows, raw)
                else:
                    cache = self._raw_site(conn, *row)
                    got = [
                        (cache.ids[k], cache.ukeys[k], cache.tkeys[k], cache.sigs[k].copy())
                        for k in cache.candidates(title_key, raw, thr, bkeys.get(qi)).tolist() if cache.ids[k] not in skip
                    ]
                got.sort(key=lambda r: r[0])
                out.append(got)
            return out

        return self._snapshot(q)

    def _raw_site(self, conn: sqlite3.Connection, sid: int, gen: int, rgen: int) -> _RawSite:
        """Site ``sid``'s pages with raw signatures as of ``sites.gen`` = ``gen`` (cached; see
        :meth:`copy_candidates_many`). Inside a write transaction the site is marked touched, so
        a rollback drops what was read from it."""
        if self._in_tx:
            self._tx_sites.add(sid)
        got = self._raw_sites.get(sid)
        if got is not None and got[0] == gen:
            self._raw_sites.move_to_end(sid)
            return got[1]
        head = "SELECT d.doc_id, d.ukey, d.tkey, r.sig FROM docs d JOIN raws r ON r.did = d.did WHERE d.site_id = ?"
        self._raw_drop(sid)  # (its size as counted so far)
        if got is not None and rgen <= got[0] < gen:  # only pages added since: read just those
            site = got[1]
            site.add(conn.execute(head + " AND d.gen > ? ORDER BY d.did", (sid, got[0])).fetchall())
        else:
            site = _RawSite(self.config.signature.num_perm, self.config.neardup.bands)
            site.add(conn.execute(head + " ORDER BY d.did", (sid,)).fetchall())
        self._raw_sites[sid] = (gen, site)
        self._raw_total += site.n
        while self._raw_total > self.cache_raws and len(self._raw_sites) > 1:  # least recently used first
            self._raw_drop(next(iter(self._raw_sites)))
        return site

    def _raw_drop(self, sid: int) -> None:
        got = self._raw_sites.pop(sid, None)
        if got is not None:
            self._raw_total -= got[1].n

    def doc_fingerprints(self, doc_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored template fingerprints (sorted unique uint64) of observed pages, by id."""
        return self._snapshot(self._blobs_by_id(doc_ids, "doc_fps", "fps", np.uint64))

    @staticmethod
    def _blobs_by_id(doc_ids: Iterable[str], table: str, column: str, dtype: Any) -> Callable[[sqlite3.Connection], dict[str, np.ndarray]]:
        """A query (for ``_read`` / ``_snapshot``) of the array in ``table.column`` of each stored
        document of ``doc_ids`` (missing ones are left out), as read-only arrays."""
        ids = sorted(set(doc_ids))

        def q(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
            out: dict[str, np.ndarray] = {}
            for lo in range(0, len(ids), _CHUNK):
                part = ids[lo : lo + _CHUNK]
                sql = f"SELECT d.doc_id, t.{column} FROM {table} t JOIN docs d ON d.did = t.did WHERE d.doc_id IN ({','.join('?' * len(part))})"
                for doc_id, blob in conn.execute(sql, part):
                    out[doc_id] = np.frombuffer(blob, dtype=dtype)
            return out

        return q

    # -- near-duplicate documents ------------------------------------------------------------
    def put_signature(self, doc_id: str, signature: np.ndarray, band_keys: np.ndarray) -> None:
        self.put_signatures([(doc_id, signature, band_keys)])

    def put_signatures(self, items: Iterable[tuple]) -> None:
        """Store (or replace) many signatures in one transaction. Items are ``(doc_id, signature,
        band_keys)`` or ``(doc_id, signature, band_keys, extra)`` with ``extra`` holding
        ``n_shingles``, ``clean_chars`` and ``clean_text`` (kept if the index stores texts), and
        optionally ``original`` (the text it was cleaned from; or its ``original_digest``, see
        :func:`~dedupe.engine.indexing.text_digest`) with ``cuts`` (flat ``[start, end)`` int64
        pairs of the spans cut from it): when that is the stored text of the document, only the
        cuts are stored.
        A signature of a document that was never observed registers the document (no site)."""
        # each item as a flat tuple (doc_id, signature, band keys, n_shingles, clean_chars,
        # cleaned text), and, prepared before the write lock is taken, (digest, cuts, clean): the
        # cuts and the digest of the text they apply to, or else the compressed cleaned text.
        # (Flat tuples of strings, numbers, bytes and arrays: untracked by the garbage collector,
        # where thousands of tuples holding dicts trigger full collections. Items are prepared
        # as they come, so a malformed item raises even when a later one replaces it.)
        batch = []
        cleans: list[tuple[bytes | None, bytes | None, bytes | None]] = []
        for it in items:
            extra = it[3] if len(it) > 3 and it[3] else {}
            clean = extra.get("clean_text")
            batch.append((
                it[0], np.asarray(it[1], dtype=np.uint32).copy(), np.asarray(it[2], dtype=np.uint64).copy(),
                extra.get("n_shingles"), extra.get("clean_chars"), clean,
            ))
            if not self.store_text or clean is None:
                cleans.append((None, None, None))
            elif extra.get("cuts") is not None and (extra.get("original") is not None or extra.get("original_digest") is not None):
                cuts = np.asarray(extra["cuts"], dtype=np.int64)
                digest = extra.get("original_digest") or text_digest(extra["original"].encode("utf-8", "surrogatepass"))
                cleans.append((digest, cuts.tobytes(), None))
            else:
                cleans.append((None, None, pack_text(clean.encode("utf-8", "surrogatepass"))))
        if not batch:
            return

        last = {it[0]: k for k, it in enumerate(batch)}  # a later item for the same id wins
        keep = sorted(last.values())
        batch, cleans = [batch[k] for k in keep], [cleans[k] for k in keep]

        written: list[tuple[int, np.ndarray]] = []

        def tx(conn: sqlite3.Connection) -> None:
            written.clear()  # a retried attempt starts again
            dids = self._dids(conn, [it[0] for it in batch])
            for doc_id, *_ in batch:
                if doc_id not in dids:
                    dids[doc_id] = self._did(conn, doc_id, create=True)
            order = [dids[it[0]] for it in batch]
            self._drop_sigs_tx(conn, order)
            bgen = int(conn.execute("SELECT value FROM meta WHERE key='bgen'").fetchone()[0]) + 1
            conn.execute("UPDATE meta SET value = ? WHERE key = 'bgen'", (str(bgen),))
            conn.executemany(
                "INSERT INTO sigs(did, sig, bands, n_shingles, bgen) VALUES (?, ?, ?, ?, ?)",
                [(did, sig.tobytes(), keys.tobytes(), n_sh, bgen) for did, (_, sig, keys, n_sh, _, _) in zip(order, batch)],
            )
            bks, bdids = _band_rows(order, [it[2] for it in batch])
            if len(bks):
                _insert_pairs(conn, "INSERT OR IGNORE INTO bands(bk, did) VALUES ", bks, bdids)
            written.append((bgen, bks))
            conn.executemany(
                "UPDATE docs SET clean_chars = ? WHERE did = ?",
                [(int(cc), did) for did, (_, _, _, _, cc, _) in zip(order, batch) if cc is not None],
            )
            stored: dict[int, bytes] = {}
            with_cuts = sorted({did for did, c in zip(order, cleans) if c[1] is not None})
            for lo in range(0, len(with_cuts), _CHUNK):
                part = with_cuts[lo : lo + _CHUNK]
                stored.update(conn.execute(f"SELECT did, digest FROM texts WHERE did IN ({','.join('?' * len(part))})", part).fetchall())
            rows = []
            for did, (digest, cuts, blob), (_, _, _, _, _, clean) in zip(order, cleans, batch):
                if cuts is not None and stored.get(did) != digest:  # not cleaned from the stored text
                    cuts, blob = None, pack_text(clean.encode("utf-8", "surrogatepass"))
                if cuts is not None or blob is not None:
                    rows.append((did, blob, cuts))
            conn.executemany("INSERT OR REPLACE INTO cleans(did, clean, cuts) VALUES (?, ?, ?)", rows)

        self._write(tx)

        def merge() -> None:  # committed: a bucket cache current just before this write stays current
            bgen, bks = written[-1]
            cache = self._bk_cache
            if cache is not None and cache[0] == bgen - 1:
                self._bk_cache = self._bk_merge(bgen, cache, bks)

        self._after_commit(merge)

    @staticmethod
    def _dids(conn: sqlite3.Connection, doc_ids: list[str]) -> dict[str, int]:
        """``{doc_id: did}`` of the ids already in ``docs``."""
        out: dict[str, int] = {}
        ids = sorted(set(doc_ids))
        for lo in range(0, len(ids), _CHUNK):
            part = ids[lo : lo + _CHUNK]
            out.update(conn.execute(f"SELECT doc_id, did FROM docs WHERE doc_id IN ({','.join('?' * len(part))})", part).fetchall())
        return out

    @staticmethod
    def _drop_sigs_tx(conn: sqlite3.Connection, dids: list[int]) -> None:
        """Remove the stored signatures (and LSH bucket entries) of these documents."""
        ds = sorted(set(dids))
        rows: list[tuple[int, int]] = []
        for lo in range(0, len(ds), _CHUNK):
            part = ds[lo : lo + _CHUNK]
            for did, blob in conn.execute(f"SELECT did, bands FROM sigs WHERE did IN ({','.join('?' * len(part))})", part):
                rows.extend((bk, did) for bk in bucket_keys(np.frombuffer(blob, dtype=np.uint64)).tolist())
            conn.execute(f"DELETE FROM sigs WHERE did IN ({','.join('?' * len(part))})", part)
        if rows:
            rows.sort()
            conn.executemany("DELETE FROM bands WHERE bk = ? AND did = ?", rows)

    def _did(self, conn: sqlite3.Connection, doc_id: str, create: bool) -> int | None:
        row = conn.execute("SELECT did FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None:
            return row[0]
        if not create:
            return None
        seq = int(conn.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0]) + 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (str(seq),))
        return conn.execute("INSERT INTO docs(doc_id, site_id, seq) VALUES (?, NULL, ?)", (doc_id, seq)).lastrowid

    @staticmethod
    def _drop_sig_tx(conn: sqlite3.Connection, did: int) -> None:
        row = conn.execute("SELECT bands FROM sigs WHERE did = ?", (did,)).fetchone()
        if row is None:
            return
        conn.executemany("DELETE FROM bands WHERE bk = ? AND did = ?", [(bk, did) for bk in bucket_keys(np.frombuffer(row[0], dtype=np.uint64)).tolist()])
        conn.execute("DELETE FROM sigs WHERE did = ?", (did,))

    def get_signature(self, doc_id: str) -> np.ndarray | None:
        row = self._read(
            lambda c: c.execute("SELECT s.sig FROM sigs s JOIN docs d ON d.did = s.did WHERE d.doc_id = ?", (doc_id,)).fetchone()
        )
        return None if row is None else np.frombuffer(row[0], dtype=np.uint32).copy()

    def get_signatures(self, doc_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored signatures of many documents (missing ones are left out)."""
        return {k: v.copy() for k, v in self._read(self._blobs_by_id(doc_ids, "sigs", "sig", np.uint32)).items()}

    def signature_table(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """All stored signatures: ``(doc_ids, signatures (n, num_perm) uint32, n_shingles)``, by id."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT d.doc_id, s.sig, s.n_shingles FROM sigs s JOIN docs d ON d.did = s.did ORDER BY d.doc_id"
            ).fetchall()
        )
        num_perm = self.config.signature.num_perm
        sigs = np.empty((len(rows), num_perm), dtype=np.uint32)
        for i, r in enumerate(rows):
            sigs[i] = np.frombuffer(r[1], dtype=np.uint32)
        n_sh = np.array([r[2] if r[2] is not None else num_perm for r in rows], dtype=np.int64)
        return [r[0] for r in rows], sigs, n_sh

    def band_candidates(self, band_keys: np.ndarray) -> list[str]:
        """Sorted ids of the documents sharing an LSH bucket with ``band_keys`` (one signature's)."""
        keys = np.asarray(band_keys, dtype=np.uint64)
        if not keys.size:
            return []
        return self.band_candidates_many(keys.reshape(1, -1))[0]

    def band_candidates_many(self, band_keys: np.ndarray) -> list[list[str]]:
        """:meth:`band_candidates` for many signatures at once: ``band_keys`` is ``(n, bands)``
        uint64; returns, per row, the sorted ids sharing a bucket with it."""
        keys = np.asarray(band_keys, dtype=np.uint64)
        out: list[list[str]] = [[] for _ in range(len(keys))]
        if keys.ndim != 2 or not keys.size:
            return out
        bks = bucket_keys(keys)  # (n, bands)
        wanted_a = sorted_unique(bks.reshape(-1))

        def q(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            got: list[tuple[int, str]] = []
            wanted = self._bk_filter(conn, wanted_a).tolist()
            for lo in range(0, len(wanted), _CHUNK):
                part = wanted[lo : lo + _CHUNK]
                got.extend(conn.execute(
                    f"SELECT b.bk, d.doc_id FROM bands b JOIN docs d ON d.did = b.did WHERE b.bk IN ({','.join('?' * len(part))})", part
                ).fetchall())
            return got

        found: dict[int, list[str]] = {}
        for bk, doc_id in self._snapshot(q):
            found.setdefault(bk, []).append(doc_id)
        if not found:
            return out
        for r, row in enumerate(bks.tolist()):
            hits = {d for bk in row if bk in found for d in found[bk]}
            out[r] = sorted(hits)
        return out

    #: a batch look-up of at least this many buckets builds the bucket cache when there is none
    bk_cache_min = 4096

    @staticmethod
    def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Sorted distinct values of two sorted int64 arrays: the stable sort (timsort) merges
        the two runs in linear time, where np.unique (a hash table in numpy >= 2.3) costs ~0.5 s
        per million ids."""
        merged = np.concatenate((a, b))
        merged.sort(kind="stable")
        if len(merged) > 1:
            merged = merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
        return merged

    def _bk_merge(
        self, bgen: int, cache: tuple[int, np.ndarray, np.ndarray], new: np.ndarray
    ) -> tuple[int, np.ndarray, np.ndarray] | None:
        """The bucket cache with ``new`` ids added, as of signature write ``bgen``. New ids go to
        a small sorted ``recent`` array, merged into ``main`` once it reaches 1/16 of it (a
        page-by-page writer does not copy the whole cache per page)."""
        _, main, recent = cache
        if len(new):
            recent = self._merge_sorted(recent, np.sort(new))
            if len(recent) * 16 > len(main):
                main, recent = self._merge_sorted(main, recent), np.empty(0, dtype=np.int64)
        if len(main) + len(recent) > self.cache_buckets:
            return None
        return bgen, main, recent

    def _bk_filter(self, conn: sqlite3.Connection, wanted: np.ndarray) -> np.ndarray:
        """The bucket ids among sorted int64 ``wanted`` that may be in ``bands`` (in a read
        snapshot). The connection's cache holds a superset of the table's bucket ids as of
        signature write ``bgen`` (removals are never taken out: a stale id only costs a look-up);
        when other connections wrote signatures since, the bucket ids of the signatures written
        since (``sigs.bgen``) are added. Without a cache (a small look-up, or ``cache_buckets``
        exceeded) every id is looked up."""
        if not self.cache_buckets or not len(wanted):
            return wanted
        bgen = int(conn.execute("SELECT value FROM meta WHERE key='bgen'").fetchone()[0])
        cache = self._bk_cache
        if cache is None:
            if len(wanted) < self.bk_cache_min:
                return wanted
            ids = np.fromiter((r[0] for r in conn.execute("SELECT DISTINCT bk FROM bands")), dtype=np.int64)
            cache = self._bk_cache = (bgen, ids, np.empty(0, dtype=np.int64)) if len(ids) <= self.cache_buckets else None
        elif cache[0] != bgen:
            new = [bucket_keys(np.frombuffer(b, dtype=np.uint64)) for (b,) in conn.execute("SELECT bands FROM sigs WHERE bgen > ?", (cache[0],))]
            cache = self._bk_cache = self._bk_merge(bgen, cache, np.concatenate(new) if new else np.empty(0, dtype=np.int64))
        if cache is None:
            return wanted
        keep = np.zeros(len(wanted), dtype=bool)
        for ids in cache[1:]:
            if len(ids):
                pos = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
                keep |= ids[pos] == wanted
        return wanted[keep]

    def band_groups(self) -> Iterator[list[str]]:
        """Every LSH bucket holding two or more documents, as sorted lists of doc ids."""
        sql = (
            "SELECT b.bk, d.doc_id FROM bands b JOIN docs d ON d.did = b.did "
            "WHERE b.bk IN (SELECT bk FROM bands GROUP BY bk HAVING count(*) > 1) "
            "ORDER BY b.bk, d.doc_id"
        )
        rows = self._read(lambda c: c.execute(sql).fetchall())
        group: list[str] = []
        prev: int | None = None
        for bk, doc_id in rows:
            if bk != prev:
                if len(group) > 1:
                    yield group
                group, prev = [], bk
            group.append(doc_id)
        if len(group) > 1:
            yield group

    # -- per-document facts ----------------------------------------------------------------------
    def doc_info(self, doc_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """``{doc_id: {"site", "seq", "url", "chars", "clean_chars", "url_key", "title_key", ...}}``
        of observed pages (``url_key`` / ``title_key``: its stored identity, or None)."""
        ids = None if doc_ids is None else sorted(set(doc_ids))
        base = (
            "SELECT d.doc_id, s.name, d.seq, d.url, d.chars, d.clean_chars, d.info, d.ukey, d.tkey "
            "FROM docs d LEFT JOIN sites s ON s.site_id = d.site_id"
        )

        def q(conn: sqlite3.Connection) -> list[tuple]:
            if ids is None:
                return conn.execute(base).fetchall()
            rows: list[tuple] = []
            for lo in range(0, len(ids), _CHUNK):
                part = ids[lo : lo + _CHUNK]
                rows.extend(conn.execute(f"{base} WHERE d.doc_id IN ({','.join('?' * len(part))})", part).fetchall())
            return rows

        out: dict[str, dict[str, Any]] = {}
        for doc_id, site, seq, url, chars, clean_chars, info, ukey, tkey in self._read(q):
            d = json.loads(info) if info else {}
            d.update(site=site, seq=seq, url=url, chars=chars, clean_chars=clean_chars, url_key=ukey, title_key=tkey)
            out[doc_id] = d
        return out

    def set_clean_chars(self, items: Iterable[tuple[str, int]]) -> None:
        """Record the cleaned length of pages (used by the ``longest`` canonical policy)."""
        rows = [(int(n), d) for d, n in items]
        if rows:
            self._write(lambda c: c.executemany("UPDATE docs SET clean_chars = ? WHERE doc_id = ?", rows))

    def get_text(self, doc_id: str, *, clean: bool = False) -> str | None:
        """The stored original (or, with ``clean``, last cleaned) text of ``doc_id``; None when
        not stored."""
        if not clean:
            row = self._read(
                lambda c: c.execute("SELECT t.text FROM texts t JOIN docs d ON d.did = t.did WHERE d.doc_id = ?", (doc_id,)).fetchone()
            )
            return None if row is None or row[0] is None else unpack_text(row[0])
        row = self._read(
            lambda c: c.execute(
                "SELECT c.clean, c.cuts, t.text FROM cleans c JOIN docs d ON d.did = c.did LEFT JOIN texts t ON t.did = c.did "
                "WHERE d.doc_id = ?", (doc_id,),
            ).fetchone()
        )
        if row is None:
            return None
        if row[0] is not None:
            return unpack_text(row[0])
        if row[1] is not None and row[2] is not None:
            return cut_text(unpack_text(row[2]), np.frombuffer(row[1], dtype=np.int64))
        return None

    # -- housekeeping ----------------------------------------------------------------------------
    def forget_doc(self, doc_id: str) -> None:
        self.forget_docs([doc_id])

    def forget_docs(self, doc_ids: Iterable[str]) -> int:
        """Remove everything these documents contributed, in one transaction; returns how many existed."""
        ids = list(dict.fromkeys(doc_ids))

        def tx(conn: sqlite3.Connection) -> int:
            found: list[tuple[int, int | None]] = []
            for doc_id in ids:
                row = conn.execute("SELECT did, site_id FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
                if row is not None:
                    found.append(row)
            sets = self._load_sets(conn, {sid for _, sid in found if sid is not None})
            dec: dict[int, list[np.ndarray]] = {}
            delta: dict[int, int] = {}
            for did, sid in found:
                if sid is not None:
                    delta[sid] = delta.get(sid, 0) - 1
                    fb = conn.execute("SELECT fps FROM doc_fps WHERE did = ?", (did,)).fetchone()
                    if fb is not None:
                        dec.setdefault(sid, []).append(np.frombuffer(fb[0], dtype=np.uint64))
                self._drop_sig_tx(conn, did)
                for table in ("doc_fps", "raws", "texts", "cleans", "docs"):
                    conn.execute(f"DELETE FROM {table} WHERE did = ?", (did,))
            for sid, arrays in dec.items():
                self._sub_site_fps(conn, sid, arrays, sets[sid])
            self._finish_sites(conn, sets, delta, set(sets))
            conn.execute("DELETE FROM sites WHERE pages <= 0 AND site_id NOT IN (SELECT site_id FROM docs WHERE site_id IS NOT NULL)")
            return len(found)

        return self._write(tx)

    def forget_site(self, site: str) -> None:
        self.forget_docs(self.doc_ids(site))

        def tx(conn: sqlite3.Connection) -> None:  # a site with no pages left leaves no trace
            sid = self._site_id(conn, site, create=False)
            if sid is not None:
                conn.execute("DELETE FROM site_fp WHERE site_id = ?", (sid,))
                conn.execute("DELETE FROM sites WHERE site_id = ? AND pages <= 0", (sid,))

        self._write(tx)

    def doc_ids(self, site: str | None = None) -> list[str]:
        """Observed document ids (of one site, or all), sorted. As :class:`MemoryIndex`, a
        document known only by its signature (never observed) is not listed."""
        if site is None:
            rows = self._read(lambda c: c.execute("SELECT doc_id FROM docs WHERE site_id IS NOT NULL ORDER BY doc_id").fetchall())
        else:
            rows = self._read(
                lambda c: c.execute(
                    "SELECT d.doc_id FROM docs d JOIN sites s ON s.site_id = d.site_id WHERE s.name = ? ORDER BY d.doc_id",
                    (site,),
                ).fetchall()
            )
        return [r[0] for r in rows]

    def sites(self) -> dict[str, int]:
        """``{site: pages}`` of every site with observed pages."""
        return dict(self._read(lambda c: c.execute("SELECT name, pages FROM sites WHERE pages > 0 ORDER BY name").fetchall()))

    def stats(self) -> dict[str, Any]:
        """Counts and sizes: sites, pages, fingerprints, signatures, file bytes, settings."""

        def q(conn: sqlite3.Connection) -> dict[str, Any]:
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            return {
                "sites": one("SELECT count(*) FROM sites WHERE pages > 0"),
                "pages": one("SELECT count(*) FROM docs WHERE site_id IS NOT NULL"),
                "documents": one("SELECT count(*) FROM docs"),
                "fingerprints": one("SELECT coalesce(sum(fps), 0) FROM sites"),  # distinct (site, fp)
                "shared_fingerprints": one("SELECT count(*) FROM site_fp"),  # on >= 2 pages of a site
                "signatures": one("SELECT count(*) FROM sigs"),
                "stored_texts": one("SELECT count(*) FROM texts WHERE text IS NOT NULL"),
                "raw_signatures": one("SELECT count(*) FROM raws"),  # pages whose stored copies can be found
            }

        out = self._read(q)
        files = {s: self.path.with_name(self.path.name + s) for s in ("", "-wal", "-shm")}
        out["file_bytes"] = files[""].stat().st_size if files[""].exists() else 0
        out["wal_bytes"] = files["-wal"].stat().st_size if files["-wal"].exists() else 0
        out["schema_version"] = SCHEMA_VERSION
        out["config_fingerprint"] = self.meta.get("config_fingerprint")
        out["dedupe_version"] = self.meta.get("dedupe_version")
        out["store_text"] = self.store_text
        return out

    def template_counts(self, min_pages: int, min_fraction: float) -> dict[str, int]:
        """Per site: how many fingerprints meet the template threshold (``pages >= max(min_pages,
        ceil(min_fraction * site_pages))``)."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT s.name, s.pages, f.pages, count(*) FROM site_fp f JOIN sites s ON s.site_id = f.site_id "
                "WHERE f.pages >= ? GROUP BY s.site_id, f.pages",
                (min_pages,),
            ).fetchall()
        )
        out: dict[str, int] = {}
        for site, site_pages, pages, n in rows:
            if pages >= min_fraction * site_pages:
                out[site] = out.get(site, 0) + n
        if min_pages <= 1:  # fingerprints on one page have no site_fp row
            singles = self._read(lambda c: c.execute(
                "SELECT s.name, s.pages, s.fps - (SELECT count(*) FROM site_fp f WHERE f.site_id = s.site_id) FROM sites s WHERE s.pages > 0"
            ).fetchall())
            for site, site_pages, n in singles:
                if n > 0 and 1 >= min_fraction * site_pages:
                    out[site] = out.get(site, 0) + n
        return out

    def checkpoint(self, *, patience: float = 5.0) -> bool:
        """Copy the WAL into the database file and truncate it. Another process's checkpoint
        makes SQLite answer "busy" at once (its busy handler is not used for that lock), so
        this retries with backoff for up to ``patience`` seconds. Returns True when done."""
        if self.readonly:
            return False
        deadline = time.monotonic() + patience
        delay = 0.002
        while True:
            busy = self._read(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())[0]
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)

    def compact(self) -> dict[str, int]:
        """VACUUM the file and truncate the WAL; returns sizes before and after (bytes)."""
        before = self.path.stat().st_size
        self.checkpoint()
        self._read(lambda c: c.execute("VACUUM"))
        self.checkpoint()
        return {"before": before, "after": self.path.stat().st_size}

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` when the file is sound."""
        return [r[0] for r in self._read(lambda c: c.execute("PRAGMA integrity_check").fetchall())]

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if self._pid == os.getpid():
                conn.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickling (worker processes) carries the path and settings; the copy reopens the file."""
        return {"path": str(self.path), "config": self.config.to_dict(), "busy_timeout": self.busy_timeout, "readonly": self.readonly}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"], config=Config.from_dict(state["config"]), busy_timeout=state["busy_timeout"], readonly=state["readonly"]
        )

    def __enter__(self) -> "SQLiteIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
