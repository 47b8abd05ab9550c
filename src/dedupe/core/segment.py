"""Split text into sentences / blocks (for near-repeat detection and context scoring)."""

from __future__ import annotations

import re

import numpy as np

TERMINAL = ".!?…。！？"
# a boundary: terminal punctuation (plus closing quotes/brackets) followed by whitespace,
# CJK terminal punctuation, or a line break
_BOUNDARY = re.compile(r'(?<=[.!?…])["\'»”’)\]]*\s+|(?<=[。！？])\s*|\s*\n\s*')


_SPACE_TABLE: np.ndarray | None = None


def _space_table() -> np.ndarray:
    """``chr(cp).isspace()`` for every BMP code point (no character above the BMP is a space)."""
    global _SPACE_TABLE
    if _SPACE_TABLE is None:
        _SPACE_TABLE = np.array([chr(c).isspace() for c in range(0x10000)], dtype=bool)
        _SPACE_TABLE[0xFFFF] = False  # code points above the BMP are clipped onto this entry
    return _SPACE_TABLE


def sentence_bounds(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Half-open (start, end) char offsets of the sentences/lines of ``text``, whitespace trimmed.

    >>> s, e = sentence_bounds("One two. Three four!\nFive")
    >>> [("One two. Three four!\nFive")[a:b] for a, b in zip(s, e)]
    ['One two.', 'Three four!', 'Five']
    """
    n = len(text)
    spans = [m.span() for m in _BOUNDARY.finditer(text)]
    if not n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    space = _space_table().take(cp, mode="clip")
    sp = np.flatnonzero(space)
    m = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    a, b = m[:, 0], m[:, 1]
    # closing quotes matched before the whitespace belong to the sentence: a sentence ends at
    # the first whitespace of its boundary match (or at the match end)
    nxt = np.searchsorted(sp, a)
    first_space = np.where(nxt < len(sp), sp[np.minimum(nxt, max(len(sp) - 1, 0))] if len(sp) else n, n)
    seg_end = np.minimum(first_space, b)
    starts = np.concatenate(([0], b))
    ends = np.concatenate((seg_end, [n]))
    # trim surrounding whitespace; drop segments that hold none but whitespace
    ns = np.flatnonzero(~space)
    lo = np.searchsorted(ns, starts)
    hi = np.searchsorted(ns, ends)
    keep = (ends > starts) & (hi > lo)
    lo, hi = lo[keep], hi[keep]
    return ns[lo].astype(np.int64), ns[hi - 1].astype(np.int64) + 1


def _sentence_bounds_reference(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The loop :func:`sentence_bounds` replaced (reference for tests)."""
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _BOUNDARY.finditer(text):
        a, b = m.start(), m.end()
        if a == b and a == pos:
            continue
        seg_end = a
        while seg_end < b and not text[seg_end].isspace():
            seg_end += 1
        if seg_end > pos:
            starts.append(pos)
            ends.append(seg_end)
        pos = b
    if pos < len(text):
        starts.append(pos)
        ends.append(len(text))
    s = np.asarray(starts, dtype=np.int64)
    e = np.asarray(ends, dtype=np.int64)
    keep = np.ones(len(s), dtype=bool)
    for i in range(len(s)):
        a, b = int(s[i]), int(e[i])
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        s[i], e[i] = a, b
        keep[i] = b > a
    return s[keep], e[keep]
