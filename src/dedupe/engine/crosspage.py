"""Cross-page duplicate blocks: paragraphs held by several documents, below the template level.

A *block* is a line of the text (inputs carry one block per line) holding at least
``corpus.crosspage_min_tokens`` tokens. Its fingerprint is a stable hash of its normalised
token sequence (case, Unicode form, whitespace and punctuation ignored), so the same paragraph
matches across pages and across sites.

The global evidence lives in the corpus driver's own :class:`BlockTable` (not in the index
store): block fingerprints of every observed document, resolved after the observe pass into,
per document, the blocks it shares with other documents and the canonical copy of each (by
``corpus.crosspage_policy``: first / longest / url, ties to the smallest id).

While cleaning, a block already removed (mostly) by another rule (a template, a within-page
repeat, off-main text) is skipped; the others are reported as flagged ``cross-page`` spans on
every page but the canonical one, or removed there when ``corpus.crosspage_remove`` is set.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
import tempfile
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

from ..config import CorpusConfig
from ..core.hashing import TOKEN_BASE, range_hashes
from ..core.spans import Piece
from ..core.tokenize import Tokens, codepoints
from ..models import KIND_CROSS_PAGE, Span
from .index import close_spill, release_memory

_NL = re.compile("\n")
_SALT = np.uint64(0x5EED_C0DE_B10C_0001)


class Hit(NamedTuple):
    """One block of a document that other documents hold too.

    ``kept_doc`` is ``None`` when this document holds the canonical copy. A named tuple: the rows
    the corpus driver sends its workers (:meth:`Hits.rows`, plain tuples) read the same way.
    """

    start: int
    end: int
    pages: int
    kept_doc: str | None
    kept: tuple[int, int] | None


def block_fingerprints(text: str, toks: Tokens, cfg: CorpusConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fingerprints and char offsets ``(fps, starts, ends)`` of the blocks of one text.

    >>> from dedupe.core.tokenize import tokenize
    >>> t = "short\\nOne two three four five six seven eight nine ten.\\n"
    >>> fps, s, e = block_fingerprints(t, tokenize(t), CorpusConfig())
    >>> t[s[0]:e[0]]
    'One two three four five six seven eight nine ten'
    """
    empty = (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    if not cfg.crosspage or len(toks) < cfg.crosspage_min_tokens:
        return empty
    nl = np.fromiter((m.start() for m in _NL.finditer(text)), dtype=np.int64)
    line = np.searchsorted(nl, toks.start, side="left")  # line index of each token
    brk = np.flatnonzero(np.diff(line)) + 1
    lo = np.concatenate(([0], brk))
    hi = np.concatenate((brk, [len(toks)]))
    keep = (hi - lo) >= cfg.crosspage_min_tokens
    lo, hi = lo[keep], hi[keep]
    if not len(lo):
        return empty
    fps = range_hashes(toks.hashes, lo, hi, base=TOKEN_BASE) ^ _SALT
    return fps, toks.start[lo].astype(np.int64), toks.end[hi - 1].astype(np.int64)


def block_fingerprints_many(
    texts: Sequence[str], toks_list: Sequence[Tokens], cfg: CorpusConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r""":func:`block_fingerprints` of many pages, concatenated: ``(fps, starts, ends, n_blocks)``
    with ``n_blocks[i]`` the number of blocks of page ``i`` (equal results; one newline, line and
    hashing pass over all pages joined by ``"\n"``, so no line crosses two pages).

    >>> from dedupe.core.tokenize import tokenize_batch
    >>> ts = ["a b c d e f g h i j k l", "", "x\none two three four five six seven eight nine ten"]
    >>> fps, s, e, nb = block_fingerprints_many(ts, tokenize_batch(ts), CorpusConfig())
    >>> nb.tolist(), ts[2][s[1]:e[1]]
    ([1, 0, 1], 'one two three four five six seven eight nine ten')
    """
    m = len(texts)
    n_tok = np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m)
    if not cfg.crosspage or not m or not n_tok.any():
        e = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.uint64), e, e.copy(), np.zeros(m, dtype=np.int64)
    char_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=m), out=char_off[1:])
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(n_tok, out=tok_off[1:])
    lstart = np.concatenate([t.start for t in toks_list]).astype(np.int64, copy=False)
    lend = np.concatenate([t.end for t in toks_list]).astype(np.int64, copy=False)
    hashes = np.concatenate([t.hashes for t in toks_list])
    gstart = lstart + np.repeat(char_off[:-1], n_tok)
    nl = np.flatnonzero(codepoints("\n".join(texts)) == 10)
    line = np.searchsorted(nl, gstart, side="left")  # line index of each token (pages never share one)
    brk = np.flatnonzero(line[1:] != line[:-1]) + 1
    lo = np.concatenate(([0], brk))
    hi = np.concatenate((brk, [len(line)]))
    keep = (hi - lo) >= cfg.crosspage_min_tokens
    lo, hi = lo[keep], hi[keep]
    fps = range_hashes(hashes, lo, hi, base=TOKEN_BASE) ^ _SALT if len(lo) else np.empty(0, dtype=np.uint64)
    n_blocks = np.diff(np.searchsorted(lo, tok_off)).astype(np.int64)
    return fps, lstart[lo], lend[hi - 1], n_blocks


def block_fingerprints_lines(
    toks_list: Sequence[Tokens], tok_off: np.ndarray, lid: np.ndarray, cfg: CorpusConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`block_fingerprints_many` (equal results) from each token's line within its page
    (``lid``: the newlines of its page before it, all pages' tokens concatenated, page ``i`` owning
    ``tok_off[i]:tok_off[i + 1]``; as :attr:`dedupe.engine.templates.PageFeatures.lid`), without a
    newline pass of its own: a block ends where the line changes or a page ends."""
    m = len(toks_list)
    tok_off = np.asarray(tok_off, dtype=np.int64)
    n = int(tok_off[-1]) if len(tok_off) else 0
    if len(tok_off) != m + 1 or len(lid) != n:
        raise ValueError("tok_off / lid do not match the pages' tokens")
    if not cfg.crosspage or not m or not n:
        e = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.uint64), e, e.copy(), np.zeros(m, dtype=np.int64)
    lstart = np.concatenate([t.start for t in toks_list]).astype(np.int64, copy=False)
    lend = np.concatenate([t.end for t in toks_list]).astype(np.int64, copy=False)
    hashes = np.concatenate([t.hashes for t in toks_list])
    cut = lid[1:] != lid[:-1]
    inner = tok_off[1:-1]
    cut[inner[(inner > 0) & (inner < n)] - 1] = True  # pages never share a line
    brk = np.flatnonzero(cut) + 1
    lo = np.concatenate(([0], brk))
    hi = np.concatenate((brk, [n]))
    keep = (hi - lo) >= cfg.crosspage_min_tokens
    lo, hi = lo[keep], hi[keep]
    fps = range_hashes(hashes, lo, hi, base=TOKEN_BASE) ^ _SALT if len(lo) else np.empty(0, dtype=np.uint64)
    n_blocks = np.diff(np.searchsorted(lo, tok_off)).astype(np.int64)
    return fps, lstart[lo], lend[hi - 1], n_blocks


class BlockTable:
    """Block fingerprints of all observed documents (the driver's global cross-page evidence).

    Memory stays flat whatever the corpus size: added blocks are buffered (``BUFFER_BLOCKS``),
    then partitioned by the top ``BUCKET_BITS`` bits of their fingerprint and appended to one
    anonymous temporary file. :meth:`resolve` reads one bucket at a time (a block and all its
    copies share a bucket), keeps only the blocks held by two documents or more, and sorts
    those. Peak memory: one bucket plus the shared blocks.
    """

    #: blocks buffered in memory before they are written to the spill file (32 bytes each)
    BUFFER_BLOCKS = 1 << 16
    #: buckets (by the top bits of the fingerprint) resolved one at a time
    BUCKET_BITS = 6

    def __init__(self, spill_dir: str | None = None) -> None:
        self._spill_dir = spill_dir
        self._tmp: Any = None
        # per flush: byte offset of its four arrays (fps, doc, start, end) and its bucket cuts
        self._segs: list[tuple[int, np.ndarray]] = []
        self._fps: list[np.ndarray] = []
        self._doc: list[np.ndarray] = []
        self._start: list[np.ndarray] = []
        self._end: list[np.ndarray] = []
        self._buf_len = 0

    def add(self, doc: int, fps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        if not len(fps):
            return
        self.add_many(np.full(len(fps), doc, dtype=np.int64), fps, starts, ends)

    def add_many(self, docs: np.ndarray, fps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """:meth:`add` of the blocks of several documents at once (``docs``: the document of each
        block): a few flat arrays per call instead of four per document."""
        if not len(fps):
            return
        self._fps.append(np.asarray(fps, dtype=np.uint64))
        self._doc.append(np.asarray(docs, dtype=np.int64))
        self._start.append(np.asarray(starts, dtype=np.int64))
        self._end.append(np.asarray(ends, dtype=np.int64))
        self._buf_len += len(fps)
        if self._buf_len >= self.BUFFER_BLOCKS:
            self._flush()

    def _take_buffer(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self._fps:
            e = np.empty(0, dtype=np.int64)
            return np.empty(0, dtype=np.uint64), e, e, e
        out = tuple(np.concatenate(x) for x in (self._fps, self._doc, self._start, self._end))
        self._fps, self._doc, self._start, self._end = [], [], [], []
        self._buf_len = 0
        return out  # type: ignore[return-value]

    def _flush(self) -> None:
        if not self._fps:
            return
        if self._tmp is None:
            self._tmp = tempfile.TemporaryFile(prefix="dedupe-blocks-", suffix=".rec", dir=self._spill_dir)
        cols = self._take_buffer()
        bucket = (cols[0] >> np.uint64(64 - self.BUCKET_BITS)).astype(np.uint8)
        order = np.argsort(bucket, kind="stable")
        cuts = np.zeros((1 << self.BUCKET_BITS) + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=1 << self.BUCKET_BITS), out=cuts[1:])
        del bucket
        self._tmp.seek(0, os.SEEK_END)
        base = self._tmp.tell()
        for col in cols:
            self._tmp.write(memoryview(np.ascontiguousarray(col[order])))
        self._segs.append((base, cuts))

    def _read_bucket(self, b: int) -> tuple[np.ndarray, ...]:
        parts: list[list[np.ndarray]] = [[], [], [], []]
        for base, cuts in self._segs:
            lo, hi = int(cuts[b]), int(cuts[b + 1])
            if hi <= lo:
                continue
            total = int(cuts[-1])
            for k, dt in enumerate((np.uint64, np.int64, np.int64, np.int64)):
                self._tmp.seek(base + 8 * (k * total + lo))
                parts[k].append(np.frombuffer(self._tmp.read(8 * (hi - lo)), dtype=dt))
        return tuple(np.concatenate(p) if len(p) > 1 else p[0] for p in parts) if parts[0] else ()

    def resolve(
        self,
        cfg: CorpusConfig,
        *,
        ids: Sequence[str],
        urls: Sequence[str | None],
        lengths: Sequence[int],
        order: "Callable[[], np.ndarray] | None" = None,
    ) -> "Hits | SpilledHits | dict[int, list[Hit]]":
        """Per document index, its blocks shared with at least one other document (a
        :class:`Hits` mapping, a :class:`SpilledHits` one when the table was spilled, or ``{}``
        when there are none). Empties the table. ``order``: as :func:`policy_rank`'s."""
        if self._tmp is None and not self._fps:
            return {}
        rank = policy_rank(cfg.crosspage_policy, ids=ids, urls=urls, lengths=lengths, order=order)
        shared: list[list[Any]] = []
        if self._tmp is None:  # everything still in memory: one bucket
            got = _shared_blocks(*self._take_buffer(), rank)
            if got is not None:
                shared.append(got)
        else:
            # each bucket's shared blocks go to a file of hits by document range, read back a
            # range at a time by the clean pass: held here, the hits were ~12% of the corpus
            # size, twice over while sorted
            self._flush()
            out = SpilledHits(len(ids), ids, self._spill_dir)
            try:
                for b in range(1 << self.BUCKET_BITS):
                    cols = self._read_bucket(b)
                    got = _shared_blocks(*cols, rank) if cols else None
                    if got is not None:
                        out.add(got)
                    del cols, got
            except BaseException:
                out.close()
                raise
            self._tmp.close()
            self._tmp, self._segs = None, []
            release_memory()  # the buckets' work buffers
            if not out:
                out.close()
                return {}
            return out
        del rank
        if not shared:
            return {}
        # per document, its hits sorted by (start, end) (unique: a block's offsets fix its text):
        # kept as flat arrays, lists built on demand; one column at a time
        cols: list[np.ndarray] = []
        for k in range(7):
            cols.append(np.concatenate([part[k] for part in shared]))
            for part in shared:
                part[k] = None
        del shared
        o = np.lexsort((cols[2], cols[1], cols[0]))
        for k in range(7):
            cols[k] = cols[k][o]
        return Hits(*cols, ids)

    __del__ = close_spill


def _shared_blocks(
    fps: np.ndarray, doc: np.ndarray, st: np.ndarray, en: np.ndarray, rank: np.ndarray
) -> list[Any] | None:
    """The blocks (any order in, every copy of a fingerprint among them) held by at least two
    documents: ``(doc, start, end, pages, canonical doc or -1, canonical start, canonical end)``,
    one row per (fingerprint, document) — its first occurrence in the document — or ``None``."""
    if not len(fps):
        return None
    # one row per (fp, doc): the first occurrence in the document. The table hands a bucket's
    # blocks over in (doc, start) order (pages as observed, blocks in text order): then one
    # stable sort by fingerprint orders them by (fp, doc, start), a third of the lexsort's work
    if len(doc) < 2 or bool(np.all((doc[1:] > doc[:-1]) | ((doc[1:] == doc[:-1]) & (st[1:] >= st[:-1])))):
        order = np.argsort(fps, kind="stable")
    else:
        order = np.lexsort((st, doc, fps))
    fps, doc, st, en = fps[order], doc[order], st[order], en[order]
    del order
    first = np.concatenate(([True], (fps[1:] != fps[:-1]) | (doc[1:] != doc[:-1])))
    fps, doc, st, en = fps[first], doc[first], st[first], en[first]
    # group by fp
    new = np.concatenate(([True], fps[1:] != fps[:-1]))
    gid = np.cumsum(new) - 1
    size = np.bincount(gid)
    shared = size[gid] >= 2
    if not shared.any():
        return None
    doc, st, en, gid = doc[shared], st[shared], en[shared], gid[shared]
    # canonical member of each group: smallest policy rank
    o = np.lexsort((rank[doc], gid))
    doc, st, en, gid = doc[o], st[o], en[o], gid[o]
    head = np.concatenate(([True], gid[1:] != gid[:-1]))
    head_idx = np.flatnonzero(head)
    grp = np.cumsum(head) - 1
    canon = head_idx[grp]
    pages = np.diff(np.concatenate((head_idx, [len(gid)])))[grp]
    kdoc = np.where(canon == np.arange(len(doc)), -1, doc[canon])
    # compact offsets: int32 unless a text is longer (concatenated parts then become int64 alike)
    off = np.int32 if int(en.max()) < 2**31 else np.int64
    return [doc.astype(np.int32), st.astype(off), en.astype(off), pages.astype(np.int32), kdoc.astype(np.int32),
            st[canon].astype(off), en[canon].astype(off)]


class HitRows(NamedTuple):
    """The cross-page hits of a chunk of consecutive documents as flat arrays (see
    :meth:`Hits.rows_chunk`): document ``j`` of the chunk owns the next ``counts[j]`` hits;
    ``kept[k]`` indexes ``kept_ids`` (-1: the canonical copy itself)."""

    counts: np.ndarray
    st: np.ndarray
    en: np.ndarray
    pages: np.ndarray
    kept: np.ndarray
    kst: np.ndarray
    ken: np.ndarray
    kept_ids: list

    @staticmethod
    def empty(m: int) -> "HitRows":
        z = np.zeros(0, dtype=np.int32)
        return HitRows(np.zeros(m, dtype=np.int32), z, z, z, z, z, z, [])

    def rows(self) -> list[list[tuple[int, int, int, str | None, tuple[int, int] | None]]]:
        """Each document's hits as :meth:`Hits.rows` gives them (plain tuples, in order)."""
        counts = self.counts.tolist()
        out: list[list[tuple]] = [[] for _ in counts]
        if not len(self.st):
            return out
        ids = self.kept_ids
        doc = np.repeat(np.arange(len(counts)), self.counts).tolist()
        for d, s, e, p, c, ka, kb in zip(
            doc, self.st.tolist(), self.en.tolist(), self.pages.tolist(), self.kept.tolist(), self.kst.tolist(), self.ken.tolist()
        ):
            out[d].append((s, e, p, None, None) if c < 0 else (s, e, p, ids[c], (ka, kb)))
        return out


class _HitMapping:
    """The read-only ``dict[int, list[Hit]]`` methods of :class:`Hits` and :class:`SpilledHits`
    from their ``get`` and ``keys``."""

    def get(self, d: int, default: Any = None) -> Any:  # pragma: no cover - defined by each
        raise NotImplementedError

    def keys(self) -> list[int]:  # pragma: no cover - defined by each
        raise NotImplementedError

    def __getitem__(self, d: int) -> list[Hit]:
        got = self.get(d)
        if got is None:
            raise KeyError(d)
        return got

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys())

    def items(self) -> Iterator[tuple[int, list[Hit]]]:
        for d in self.keys():
            yield d, self[d]

    def values(self) -> Iterator[list[Hit]]:
        for _, v in self.items():
            yield v


class Hits(_HitMapping):
    """Cross-page hits of every document, as flat arrays sorted by (document, start, end).

    Behaves like a read-only ``dict[int, list[Hit]]`` for the driver (``get``, ``in``, ``[]``,
    ``len``): a document's :class:`Hit` list is built when asked for, so the driver holds ~48 bytes
    per hit instead of Python objects.
    """

    def __init__(self, doc: np.ndarray, st: np.ndarray, en: np.ndarray, pages: np.ndarray,
                 kept_doc: np.ndarray, kst: np.ndarray, ken: np.ndarray, ids: Sequence[str]) -> None:
        self._doc, self._st, self._en, self._pages = doc, st, en, pages
        self._kdoc, self._kst, self._ken = kept_doc, kst, ken
        self._ids = ids
        self._docs = np.unique(doc)

    def _range(self, d: int) -> tuple[int, int]:
        # the key in the array's own dtype: with a Python int, numpy casts the whole int32 array
        # to int64 first, a copy per call (quadratic over a corpus: 1.1 ms per page at 3M hits)
        info = np.iinfo(self._doc.dtype)
        if not info.min <= d <= info.max:  # no such document (a dict's "in" / get answers False / default)
            return 0, 0
        key = self._doc.dtype.type(d)
        return int(np.searchsorted(self._doc, key, side="left")), int(np.searchsorted(self._doc, key, side="right"))

    def get(self, d: int, default: Any = None) -> Any:
        lo, hi = self._range(d)
        if hi <= lo:
            return default
        out: list[Hit] = []
        for k in range(lo, hi):
            c = int(self._kdoc[k])
            if c < 0:
                out.append(Hit(int(self._st[k]), int(self._en[k]), int(self._pages[k]), None, None))
            else:
                out.append(Hit(int(self._st[k]), int(self._en[k]), int(self._pages[k]), self._ids[c], (int(self._kst[k]), int(self._ken[k]))))
        return out

    def rows(self, d: int) -> list[tuple[int, int, int, str | None, tuple[int, int] | None]]:
        """The hits of document ``d`` as plain tuples ``(start, end, pages, kept_doc, kept)``
        (``Hit(*row)`` is its :class:`Hit`): what the corpus driver sends to its workers (a
        plain tuple pickles smaller and faster than a named one; :func:`doc_pieces` reads both).
        ``[]`` when none."""
        lo, hi = self._range(d)
        if hi <= lo:
            return []
        st, en, pages = self._st[lo:hi].tolist(), self._en[lo:hi].tolist(), self._pages[lo:hi].tolist()
        kdoc, kst, ken = self._kdoc[lo:hi].tolist(), self._kst[lo:hi].tolist(), self._ken[lo:hi].tolist()
        ids = self._ids
        return [
            (a, b, p, None, None) if c < 0 else (a, b, p, ids[c], (ka, kb))
            for a, b, p, c, ka, kb in zip(st, en, pages, kdoc, kst, ken)
        ]

    def rows_range(self, lo: int, hi: int) -> list[list[tuple[int, int, int, str | None, tuple[int, int] | None]]]:
        """:meth:`rows` of the documents ``lo .. hi - 1`` (a chunk of consecutive documents),
        with two look-ups for them all instead of two per document."""
        if hi <= lo:
            return []
        t = self._doc.dtype.type
        a, b = int(np.searchsorted(self._doc, t(lo), side="left")), int(np.searchsorted(self._doc, t(hi - 1), side="right"))
        out: list[list[tuple]] = [[] for _ in range(hi - lo)]
        if b <= a:
            return out
        ids = self._ids
        for d, s, e, p, c, ka, kb in zip(
            self._doc[a:b].tolist(), self._st[a:b].tolist(), self._en[a:b].tolist(), self._pages[a:b].tolist(),
            self._kdoc[a:b].tolist(), self._kst[a:b].tolist(), self._ken[a:b].tolist(),
        ):
            out[d - lo].append((s, e, p, None, None) if c < 0 else (s, e, p, ids[c], (ka, kb)))
        return out

    def rows_chunk(self, lo: int, hi: int) -> "HitRows":
        """The hits of the documents ``lo .. hi - 1`` as a few flat arrays (:class:`HitRows`;
        its ``rows()`` equals :meth:`rows_range`): what the driver sends a worker for a clean
        chunk, instead of a tuple per hit (built and pickled in the driver, unpickled in the
        worker), so the rows are built in the worker."""
        m = max(hi - lo, 0)
        if not m:
            return HitRows.empty(0)
        t = self._doc.dtype.type
        a, b = int(np.searchsorted(self._doc, t(lo), side="left")), int(np.searchsorted(self._doc, t(hi - 1), side="right"))
        if b <= a:
            return HitRows.empty(m)
        kd = self._kdoc[a:b]
        has = kd >= 0
        kept, inv = np.unique(kd[has], return_inverse=True)
        kidx = np.full(b - a, -1, dtype=np.int32)
        kidx[has] = inv.reshape(-1)
        ids = self._ids
        return HitRows(
            np.bincount((self._doc[a:b] - t(lo)).astype(np.int64), minlength=m).astype(np.int32),
            self._st[a:b], self._en[a:b], self._pages[a:b], kidx, self._kst[a:b], self._ken[a:b],
            [ids[c] for c in kept.tolist()],
        )

    def __contains__(self, d: object) -> bool:
        return isinstance(d, (int, np.integer)) and self._range(int(d))[1] > self._range(int(d))[0]

    def __len__(self) -> int:
        return len(self._docs)

    def keys(self) -> list[int]:
        return self._docs.tolist()


class SpilledHits(_HitMapping):
    """:class:`Hits` kept in an anonymous temporary file, partitioned by document range
    (:data:`PARTS` ranges of consecutive documents); read one range at a time, as a
    :class:`Hits` of its own, when a document of it is asked for: the clean pass asks in document
    order, so each range is read once and memory holds one range's hits. Same answers as the
    :class:`Hits` of all the rows (the same read-only mapping, ``rows``, ``rows_range``,
    ``rows_chunk``). Rows are added a part at a time (:meth:`add`: :func:`_shared_blocks`' seven
    columns), each part written ordered by range, as rows of seven int64, one read per part and
    range."""

    #: ranges of documents (a range's hits are read at once)
    PARTS = 64

    def __init__(self, n_docs: int, ids: Sequence[str], spill_dir: str | None = None) -> None:
        self._span = max(1, -(-n_docs // self.PARTS))  # documents per range
        self._n_parts = max(1, -(-n_docs // self._span))
        self._ids = ids
        self._tmp: Any = tempfile.TemporaryFile(prefix="dedupe-hits-", suffix=".rec", dir=spill_dir)
        self._segs: list[tuple[int, np.ndarray]] = []  # per part: its byte offset, its ranges' cuts
        self._size = 0
        self._rows = 0
        self._cur: "tuple[int, Hits | None]" = (-1, None)

    def add(self, cols: "Sequence[np.ndarray]") -> None:
        """Rows ``(doc, start, end, pages, kept doc, kept start, kept end)`` (any order)."""
        m = len(cols[0])
        if not m:
            return
        part = np.asarray(cols[0], dtype=np.int64) // self._span
        order = np.argsort(part, kind="stable")
        cuts = np.zeros(self._n_parts + 1, dtype=np.int64)
        np.cumsum(np.bincount(part, minlength=self._n_parts), out=cuts[1:])
        rows = np.empty((m, 7), dtype=np.int64)
        for k, c in enumerate(cols):
            rows[:, k] = np.asarray(c)[order]
        data = memoryview(rows).cast("B")
        self._tmp.seek(self._size)
        if self._tmp.write(data) != len(data):
            raise OSError("could not write the cross-page hits")
        self._tmp.flush()  # read back with pread
        self._segs.append((self._size, cuts))
        self._size += len(data)
        self._rows += m

    def __bool__(self) -> bool:
        return self._rows > 0

    def _part(self, p: int) -> "Hits | None":
        """Range ``p``'s hits (None: no rows there), read when asked for another range."""
        if self._cur[0] == p:
            return self._cur[1]
        self._cur = (-1, None)  # the last range freed before this one is read
        got: list[np.ndarray] = []
        for offset, cuts in self._segs:
            lo, hi = int(cuts[p]), int(cuts[p + 1])
            if hi > lo:
                data = os.pread(self._tmp.fileno(), 56 * (hi - lo), offset + 56 * lo)
                if len(data) != 56 * (hi - lo):
                    raise OSError("the cross-page hits file ended early")
                got.append(np.frombuffer(data, dtype=np.int64).reshape(-1, 7))
        hits = None
        if got:
            rows = np.concatenate(got) if len(got) > 1 else got[0]
            del got
            o = np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))
            off = np.int32 if int(max(rows[:, 2].max(), rows[:, 6].max())) < 2**31 else np.int64
            cols = [rows[o, k].astype(t) for k, t in enumerate((np.int32, off, off, np.int32, np.int32, off, off))]
            del rows, o
            hits = Hits(*cols, self._ids)
        self._cur = (p, hits)
        return hits

    def _of(self, d: int) -> "Hits | None":
        if not 0 <= d < self._span * self._n_parts:
            return None
        return self._part(d // self._span)

    def get(self, d: int, default: Any = None) -> Any:
        h = self._of(int(d)) if isinstance(d, (int, np.integer)) else None
        return default if h is None else h.get(d, default)

    def rows(self, d: int) -> list[tuple[int, int, int, str | None, tuple[int, int] | None]]:
        h = self._of(d)
        return [] if h is None else h.rows(d)

    def _pieces(self, lo: int, hi: int) -> "Iterator[tuple[int, int, Hits | None]]":
        """``[lo, hi)`` cut at the ranges' bounds, with each piece's range."""
        while lo < hi:
            end = min(hi, (lo // self._span + 1) * self._span)
            yield lo, end, self._of(lo)
            lo = end

    def rows_range(self, lo: int, hi: int) -> list[list[tuple[int, int, int, str | None, tuple[int, int] | None]]]:
        out: list[list[tuple]] = []
        for a, b, h in self._pieces(lo, hi):
            out.extend(h.rows_range(a, b) if h is not None else [[] for _ in range(b - a)])
        return out

    def rows_chunk(self, lo: int, hi: int) -> "HitRows":
        got = [h.rows_chunk(a, b) if h is not None else HitRows.empty(b - a) for a, b, h in self._pieces(lo, hi)]
        if len(got) == 1:
            return got[0]
        if not got:
            return HitRows.empty(0)
        # kept indexes of each piece after the earlier pieces' kept ids
        base = np.cumsum([0] + [len(g.kept_ids) for g in got[:-1]])
        kept = [np.where(g.kept >= 0, g.kept + b, -1).astype(np.int32) for g, b in zip(got, base.tolist())]
        cat = lambda k: np.concatenate([getattr(g, k) for g in got])  # noqa: E731
        return HitRows(cat("counts"), cat("st"), cat("en"), cat("pages"), np.concatenate(kept), cat("kst"), cat("ken"),
                       [x for g in got for x in g.kept_ids])

    def keys(self) -> list[int]:
        out: list[int] = []
        for p in range(self._n_parts):
            h = self._part(p)
            if h is not None:
                out.extend(h.keys())
        return out

    def __contains__(self, d: object) -> bool:
        return isinstance(d, (int, np.integer)) and self.get(int(d)) is not None

    def __len__(self) -> int:
        return len(self.keys())

    def close(self) -> None:
        close_spill(self)
        self._tmp = None
        self._cur = (-1, None)

    __del__ = close_spill


def id_order(ids: Sequence[str]) -> np.ndarray:
    """The positions of ``ids`` in id order (an int64 array): what :func:`policy_rank` and
    :func:`~dedupe.engine.neardup.page_groups` take as ``by_id`` order, sorted once for them all."""
    return np.asarray(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64).reshape(-1)


class IdOrder:
    """:func:`id_order` of ``ids``, sorted on the first call only: a job hands one to everything
    that may need the order (:func:`policy_rank`, page_groups, the output order), and the ids are
    sorted once, or never when nothing needs them sorted."""

    def __init__(self, ids: Sequence[str]) -> None:
        self._ids = ids
        self._got: "np.ndarray | None" = None

    def __call__(self) -> np.ndarray:
        if self._got is None:
            self._got = id_order(self._ids)
        return self._got


def policy_rank(
    policy: str, *, ids: Sequence[str], urls: Sequence[str | None], lengths: Sequence[int],
    order: "Callable[[], np.ndarray] | None" = None,
) -> np.ndarray:
    """Rank of each document under a canonical policy (0 = preferred); ties by id. ``order``:
    gives :func:`id_order` of ``ids`` (an :class:`IdOrder`), when the caller has one (else sorted
    here)."""
    n = len(ids)
    if policy == "first":
        return np.arange(n, dtype=np.int64)
    if policy == "longest":
        # the order of (-length, id, index) by one sort of the ids and a lexsort (~4x faster than a
        # Python key per document: this runs twice per corpus, on the driver, between passes)
        by_id = np.empty(n, dtype=np.int64)
        by_id[id_order(ids) if order is None else order()] = np.arange(n)
        rank = np.empty(n, dtype=np.int64)
        rank[np.lexsort((by_id, -np.asarray(lengths, dtype=np.int64)))] = np.arange(n)
        return rank
    if policy == "url":
        key = lambda i: (urls[i] is None, urls[i] or "", ids[i])  # noqa: E731
    else:
        raise ValueError(f"unknown policy {policy!r}")
    rank = np.empty(n, dtype=np.int64)
    rank[sorted(range(n), key=key)] = np.arange(n)
    return rank


def doc_pieces(
    doc_id: str,
    text: str,
    toks: Tokens,
    pieces: Sequence[Piece],
    hits: "Sequence[Hit] | Sequence[tuple]",
    cfg: CorpusConfig,
) -> tuple[list[Piece], list[Span]]:
    """Cross-page pieces (``crosspage_remove``) or flagged spans for one document's ``hits``.

    Blocks at least half covered by ``pieces`` (other rules) are skipped; so is the canonical copy.
    """
    if not hits:
        return [], []
    # the union of the piece ranges: disjoint sorted ranges [gs[j], ge[j]) (a few per page:
    # plain Python), and cum[j] = their characters before range j
    gs: list[int] = []
    ge: list[int] = []
    for s0, e0 in sorted((p.start, p.end) for p in pieces):
        if gs and s0 <= ge[-1]:
            if e0 > ge[-1]:
                ge[-1] = e0
        else:
            gs.append(s0)
            ge.append(e0)
    cum = [0]
    for s0, e0 in zip(gs, ge):
        cum.append(cum[-1] + e0 - s0)

    def cover(x: int) -> int:
        """Characters of the union before ``x``."""
        j = bisect_right(gs, x) - 1
        return cum[j] + min(x, ge[j]) - gs[j] if j >= 0 else 0

    out_p: list[Piece] = []
    out_s: list[Span] = []
    for start, end, pages, kept_doc, kept in hits:  # a Hit, or a plain row of Hits.rows
        if kept_doc is None:
            continue
        covered = cover(max(end, start)) - cover(start) if gs else 0
        if covered * 2 >= end - start:
            continue
        rule = f"block-on-{pages}-pages"
        if cfg.crosspage_remove:
            out_p.append(Piece(start, end, KIND_CROSS_PAGE, rule, 1.0, kept=kept, kept_doc=kept_doc, site_pages=pages))
        else:
            out_s.append(Span(start, end, text[start:end], KIND_CROSS_PAGE, rule, 1.0, kept, kept_doc, False, pages))
    return out_p, out_s
