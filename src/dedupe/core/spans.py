"""Turn raw removal pieces into final, tidy, disjoint spans.

A *piece* is a half-open char range of the original text to remove plus what to report about
it. :func:`finish_pieces` widens pieces so the cleaned text reads well — opening punctuation
just before a piece, closing punctuation just after it, punctuation-only gaps between two
pieces, and the whitespace a cut would double — and returns disjoint sorted pieces. Everything
the tidy pass drops is inside a span, so the original is rebuilt exactly from cleaned text and
spans.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

OPENING = "\"'«“‘„‹([{¿¡"
CLOSING = "\"'»”’›)]}.,;:!?…。！？、，；："
_TRAILING_ATTACH = ".,;:!?…)]}»”’›"  # a cut followed directly by one of these should take the space before it


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    end: int
    kind: str
    rule: str
    score: float
    kept: tuple[int, int] | None = None
    kept_doc: str | None = None
    site_pages: int | None = None
    extra: Any = None


def _is_gap_junk(s: str) -> bool:
    """True when ``s`` holds no letter or digit and no line break."""
    return "\n" not in s and not any(ch.isalnum() for ch in s)


def finish_pieces(text: str, pieces: Iterable[Piece]) -> list[Piece]:
    """Widen, tidy and de-overlap ``pieces`` of ``text``; result sorted and disjoint.

    >>> t = "Keep this. DUP DUP. Keep that."
    >>> [t[p.start:p.end] for p in finish_pieces(t, [Piece(11, 18, "repeat", "r", 1.0)])]
    ['DUP DUP. ']
    """
    n = len(text)
    ps = sorted((p for p in pieces if p.end > p.start), key=lambda p: (p.start, p.end))
    if not ps:
        return []
    # 1. de-overlap (earlier piece wins the overlap)
    merged: list[Piece] = []
    for p in ps:
        if merged and p.start < merged[-1].end:
            if p.end <= merged[-1].end:
                continue
            p = replace(p, start=merged[-1].end)
        merged.append(p)
    # 2. punctuation attached to the piece
    out: list[Piece] = []
    for i, p in enumerate(merged):
        lo = out[-1].end if out else 0
        hi = merged[i + 1].start if i + 1 < len(merged) else n
        s, e = p.start, p.end
        while s > lo and text[s - 1] in OPENING:
            s -= 1
        while e < hi and text[e] in CLOSING:
            e += 1
        out.append(replace(p, start=s, end=e))
    # 3. punctuation-only gaps between neighbouring pieces go with the earlier piece
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.end < b.start and _is_gap_junk(text[a.end : b.start]):
            out[i] = replace(a, end=b.start)
    # 4. whitespace: never leave a doubled space or a run of blank lines at a cut. Pieces that
    #    touch form one cut; its left whitespace goes to its first piece, its right to its last.
    clusters: list[list[int]] = []
    for i, p in enumerate(out):
        if clusters and out[clusters[-1][-1]].end == p.start:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    for c, members in enumerate(clusters):
        first, last = members[0], members[-1]
        s, e = out[first].start, out[last].end
        lo = out[clusters[c - 1][-1]].end if c else 0
        hi = out[clusters[c + 1][0]].start if c + 1 < len(clusters) else n
        ls = s
        while ls > lo and text[ls - 1].isspace():
            ls -= 1
        re_ = e
        while re_ < hi and text[re_].isspace():
            re_ += 1
        left, right = text[ls:s], text[e:re_]
        if ls == 0:  # the cut starts the text: drop the whitespace after it
            e = re_
        elif re_ == n:  # the cut ends the text: drop the whitespace before it
            s = ls
        elif left and right:  # keep the stronger break (more line breaks), drop the other
            if right.count("\n") > left.count("\n"):
                s = ls
            else:
                e = re_
        elif left and not right and text[e] in _TRAILING_ATTACH:
            s = ls  # "word CUT, more" -> "word, more"
        out[first] = replace(out[first], start=s)
        out[last] = replace(out[last], end=e)
    return out
