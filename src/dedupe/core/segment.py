"""Split text into sentences / blocks (for near-repeat detection and context scoring)."""

from __future__ import annotations

import re

import numpy as np

TERMINAL = ".!?…。！？"
# a boundary: terminal punctuation (plus closing quotes/brackets) followed by whitespace,
# CJK terminal punctuation, or a line break
_BOUNDARY = re.compile(r'(?<=[.!?…])["\'»”’)\]]*\s+|(?<=[。！？])\s*|\s*\n\s*')


def sentence_bounds(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Half-open (start, end) char offsets of the sentences/lines of ``text``, whitespace trimmed.

    >>> s, e = sentence_bounds("One two. Three four!\\nFive")
    >>> [("One two. Three four!\\nFive")[a:b] for a, b in zip(s, e)]
    ['One two.', 'Three four!', 'Five']
    """
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _BOUNDARY.finditer(text):
        a, b = m.start(), m.end()
        if a == b and a == pos:
            continue
        # closing quotes matched before the whitespace belong to the sentence
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
    # trim surrounding whitespace
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
