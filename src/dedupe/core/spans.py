"""Turn raw removal pieces into final, tidy, disjoint spans.

A *piece* is a half-open char range of the original text to remove plus what to report about
it. :func:`finish_pieces` widens pieces so the cleaned text reads well — opening punctuation
just before a piece, closing punctuation just after it, punctuation-only gaps between two
pieces, and the whitespace a cut would double — and returns disjoint sorted pieces. Everything
the tidy pass drops is inside a span, so the original is rebuilt exactly from cleaned text and
spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from . import native

_K = native.load("within")  # compiled twin of finish_pieces (None: the Python code below)

OPENING = "\"'«“‘„‹([{¿¡"
CLOSING = "\"'»”’›)]}.,;:!?…。！？、，；："
_TRAILING_ATTACH = ".,;:!?…)]}»”’›"  # a cut followed directly by one of these should take the space before it


@dataclass(slots=True)
class Piece:
    """A range of the original text to remove, with what to report about it (see the module
    docstring). Treated as immutable (moved pieces are new pieces, :func:`_moved`); not a frozen
    dataclass because a frozen one costs ~1.3 us to build against ~0.2, and the passes build a
    few hundred thousand per 100 MB of pages."""

    start: int
    end: int
    kind: str
    rule: str
    score: float
    kept: tuple[int, int] | None = None
    kept_doc: str | None = None
    site_pages: int | None = None
    extra: Any = None


def _moved(p: Piece, start: int, end: int) -> Piece:
    """``dataclasses.replace(p, start=start, end=end)``, without its per-call field lookup (and
    ``p`` itself when nothing moves)."""
    if start == p.start and end == p.end:
        return p
    return Piece(start, end, p.kind, p.rule, p.score, p.kept, p.kept_doc, p.site_pages, p.extra)


def _breaks(s: str) -> int:
    """Number of line breaks in ``s`` (``\\r\\n``, ``\\n``, ``\\r`` and the other Unicode ones)."""
    return len((s + "x").splitlines()) - 1


def _is_gap_junk(s: str) -> bool:
    """True when ``s`` holds no letter or digit and no line break."""
    # the letter test first: it stops at the first letter of a long gap of text
    return not any(ch.isalnum() for ch in s) and _breaks(s) == 0


def finish_pieces(text: str, pieces: Iterable[Piece]) -> list[Piece]:
    """Widen, tidy and de-overlap ``pieces`` of ``text``; result sorted and disjoint.

    >>> t = "Keep this. DUP DUP. Keep that."
    >>> [t[p.start:p.end] for p in finish_pieces(t, [Piece(11, 18, "repeat", "r", 1.0)])]
    ['DUP DUP. ']
    """
    if _K is not None:
        pieces = pieces if type(pieces) is list else list(pieces)
        got = _K.finish(text, pieces)
        if got is not None:  # (input piece, final start, final end) of each output piece
            return [
                p if s == p.start and e == p.end else Piece(s, e, p.kind, p.rule, p.score, p.kept, p.kept_doc, p.site_pages, p.extra)
                for p, s, e in got
            ]
    return _finish_pieces_py(text, pieces)


def _finish_pieces_py(text: str, pieces: Iterable[Piece]) -> list[Piece]:
    """:func:`finish_pieces` in Python (the reference of the compiled kernel, and its fallback)."""
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
            p = _moved(p, merged[-1].end, p.end)
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
        out.append(_moved(p, s, e))
    # 3. punctuation-only gaps between neighbouring pieces go with the earlier piece
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.end < b.start and _is_gap_junk(text[a.end : b.start]):
            out[i] = _moved(a, a.start, b.start)
    # 4. whitespace: never leave a doubled space or a run of blank lines at a cut. Pieces separated
    #    only by whitespace form one cut: removing them joins the whitespace before the cut, the
    #    gaps inside it and the whitespace after it. Exactly one of those runs is kept — the one
    #    with the most line breaks (ties: the earliest); the others go into the pieces.
    clusters: list[list[int]] = []
    for i, p in enumerate(out):
        gap = text[out[clusters[-1][-1]].end : p.start] if clusters else "x"
        if gap == "" or gap.isspace():
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
        # candidate runs: (start, end) in the original, in text order
        runs = [(ls, s)]
        runs += [(out[a].end, out[b].start) for a, b in zip(members, members[1:])]
        runs.append((e, re_))
        if ls == 0:  # the cut starts the text: keep what precedes it, drop all whitespace after
            keep = 0
        elif re_ == n:  # the cut ends the text: keep what follows it, drop the whitespace before
            keep = len(runs) - 1
        else:
            live = [i for i, (a, b) in enumerate(runs) if b > a]
            keep = max(live, key=lambda i: (_breaks(text[runs[i][0] : runs[i][1]]), -i)) if live else -1
            if keep >= 0 and e == re_ and text[e] in _TRAILING_ATTACH and _breaks(text[runs[keep][0] : runs[keep][1]]) == 0:
                keep = -1  # "word CUT, more" -> "word, more"
        # absorb every run but the kept one into the neighbouring piece
        if keep != 0:
            out[first] = _moved(out[first], ls, out[first].end)
        for g, (a, b) in enumerate(zip(members, members[1:]), start=1):
            if g != keep:
                out[a] = _moved(out[a], out[a].start, out[b].start)
        if keep != len(runs) - 1:
            out[last] = _moved(out[last], out[last].start, re_)
    return out
