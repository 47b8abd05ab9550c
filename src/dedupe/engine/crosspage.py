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

import re
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ..config import CorpusConfig
from ..core.hashing import TOKEN_BASE, range_hashes
from ..core.spans import Piece
from ..core.tokenize import Tokens
from ..models import KIND_CROSS_PAGE, Span

_NL = re.compile("\n")
_SALT = np.uint64(0x5EED_C0DE_B10C_0001)


@dataclass(frozen=True, slots=True)
class Hit:
    """One block of a document that other documents hold too.

    ``kept_doc`` is ``None`` when this document holds the canonical copy.
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


class BlockTable:
    """Block fingerprints of all observed documents (the driver's global cross-page evidence)."""

    def __init__(self) -> None:
        self._fps: list[np.ndarray] = []
        self._doc: list[np.ndarray] = []
        self._start: list[np.ndarray] = []
        self._end: list[np.ndarray] = []

    def add(self, doc: int, fps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        if not len(fps):
            return
        self._fps.append(np.asarray(fps, dtype=np.uint64))
        self._doc.append(np.full(len(fps), doc, dtype=np.int64))
        self._start.append(np.asarray(starts, dtype=np.int64))
        self._end.append(np.asarray(ends, dtype=np.int64))

    def add_many(self, docs: np.ndarray, fps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """:meth:`add` of the blocks of several documents at once (``docs``: the document of each
        block): a few flat arrays per call instead of four per document."""
        if not len(fps):
            return
        self._fps.append(np.asarray(fps, dtype=np.uint64))
        self._doc.append(np.asarray(docs, dtype=np.int64))
        self._start.append(np.asarray(starts, dtype=np.int64))
        self._end.append(np.asarray(ends, dtype=np.int64))

    def resolve(
        self,
        cfg: CorpusConfig,
        *,
        ids: Sequence[str],
        urls: Sequence[str | None],
        lengths: Sequence[int],
    ) -> "Hits | dict[int, list[Hit]]":
        """Per document index, its blocks shared with at least one other document (a
        :class:`Hits` mapping, or ``{}`` when there are none)."""
        if not self._fps:
            return {}
        fps = np.concatenate(self._fps)
        doc = np.concatenate(self._doc)
        st = np.concatenate(self._start)
        en = np.concatenate(self._end)
        self._fps, self._doc, self._start, self._end = [], [], [], []
        rank = policy_rank(cfg.crosspage_policy, ids=ids, urls=urls, lengths=lengths)
        # one row per (fp, doc): the first occurrence in the document
        order = np.lexsort((st, doc, fps))
        fps, doc, st, en = fps[order], doc[order], st[order], en[order]
        first = np.concatenate(([True], (fps[1:] != fps[:-1]) | (doc[1:] != doc[:-1])))
        fps, doc, st, en = fps[first], doc[first], st[first], en[first]
        # group by fp
        new = np.concatenate(([True], fps[1:] != fps[:-1]))
        gid = np.cumsum(new) - 1
        size = np.bincount(gid)
        shared = size[gid] >= 2
        if not shared.any():
            return {}
        fps, doc, st, en, gid = fps[shared], doc[shared], st[shared], en[shared], gid[shared]
        # canonical member of each group: smallest policy rank
        r = rank[doc]
        o = np.lexsort((r, gid))
        fps, doc, st, en, gid = fps[o], doc[o], st[o], en[o], gid[o]
        head = np.concatenate(([True], gid[1:] != gid[:-1]))
        head_idx = np.flatnonzero(head)
        grp = np.cumsum(head) - 1
        canon = head_idx[grp]
        pages = np.diff(np.concatenate((head_idx, [len(gid)])))[grp]
        # per document, its hits sorted by (start, end): kept as flat arrays, lists built on demand
        o = np.lexsort((en, st, doc))
        off = np.int32 if len(en) == 0 or int(en.max()) < 2**31 else np.int64  # compact offsets
        return Hits(
            doc[o].astype(np.int32), st[o].astype(off), en[o].astype(off), pages[o].astype(np.int32),
            np.where(canon == np.arange(len(doc)), -1, doc[canon])[o].astype(np.int32),
            st[canon][o].astype(off), en[canon][o].astype(off), ids,
        )


class Hits:
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
        return int(np.searchsorted(self._doc, d, side="left")), int(np.searchsorted(self._doc, d, side="right"))

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

    def __getitem__(self, d: int) -> list[Hit]:
        got = self.get(d)
        if got is None:
            raise KeyError(d)
        return got

    def __contains__(self, d: object) -> bool:
        return isinstance(d, (int, np.integer)) and self._range(int(d))[1] > self._range(int(d))[0]

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[int]:
        return iter(self._docs.tolist())

    def keys(self) -> list[int]:
        return self._docs.tolist()

    def items(self) -> Iterator[tuple[int, list[Hit]]]:
        for d in self._docs.tolist():
            yield d, self[d]

    def values(self) -> Iterator[list[Hit]]:
        for _, v in self.items():
            yield v


def policy_rank(policy: str, *, ids: Sequence[str], urls: Sequence[str | None], lengths: Sequence[int]) -> np.ndarray:
    """Rank of each document under a canonical policy (0 = preferred); ties by id."""
    n = len(ids)
    if policy == "first":
        key = lambda i: (i,)  # noqa: E731
    elif policy == "longest":
        key = lambda i: (-lengths[i], ids[i])  # noqa: E731
    elif policy == "url":
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
    hits: Sequence[Hit],
    cfg: CorpusConfig,
) -> tuple[list[Piece], list[Span]]:
    """Cross-page pieces (``crosspage_remove``) or flagged spans for one document's ``hits``.

    Blocks at least half covered by ``pieces`` (other rules) are skipped; so is the canonical copy.
    """
    if not hits:
        return [], []
    if pieces:
        ps = np.array(sorted((p.start, p.end) for p in pieces), dtype=np.int64)
        # union of the piece ranges
        ends = np.maximum.accumulate(ps[:, 1])
        new = np.concatenate(([True], ps[1:, 0] > ends[:-1]))
        gs = ps[new, 0]
        ge = np.maximum.reduceat(ps[:, 1], np.flatnonzero(new))
    else:
        gs = ge = np.empty(0, dtype=np.int64)
    out_p: list[Piece] = []
    out_s: list[Span] = []
    for h in hits:
        if h.kept_doc is None:
            continue
        covered = int(np.clip(np.minimum(ge, h.end) - np.maximum(gs, h.start), 0, None).sum()) if len(gs) else 0
        if covered * 2 >= h.end - h.start:
            continue
        rule = f"block-on-{h.pages}-pages"
        if cfg.crosspage_remove:
            out_p.append(Piece(h.start, h.end, KIND_CROSS_PAGE, rule, 1.0, kept=h.kept, kept_doc=h.kept_doc, site_pages=h.pages))
        else:
            out_s.append(Span(h.start, h.end, text[h.start : h.end], KIND_CROSS_PAGE, rule, 1.0, h.kept, h.kept_doc, False, h.pages))
    return out_p, out_s
