"""Caller-supplied boilerplate phrases (``templates.phrases``).

Users know some of their sites' boilerplate before any page is counted («PUBLICITÉ», «Advertisement»,
a cookie banner, an app promo). Each phrase is tokenised like page text (normalised and
case-folded, punctuation and spacing ignored) and its occurrences are removed from every page as
``template`` spans with rule ``phrase`` (score 1.0), in single-page and corpus mode alike, with or
without learned templates:

* a phrase of at least ``templates.span_tokens`` tokens is removed wherever its token sequence
  occurs (glued mid-line into flattened text too), as learned span templates are;
* a shorter phrase only where it is a whole line on its own (the line's tokens are exactly the
  phrase's), as learned short-line templates are: «Commentaires» as a line goes, «les
  commentaires» inside a sentence stays.

Digits are matched literally (a phrase is the user's exact words). Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.hashing import kgram_hashes
from ..core.spans import Piece
from ..core.tokenize import Tokens, tokenize
from ..models import KIND_TEMPLATE

if TYPE_CHECKING:
    from ..config import TemplateConfig

RULE = "phrase"


@dataclass(frozen=True)
class _Group:
    """The phrases of one token length."""

    length: int
    keys: np.ndarray  # sorted k-gram hashes of the phrases (uint64)
    rows: np.ndarray  # (len(keys), length) token hashes, in the order of ``keys``
    anywhere: bool  # False: only as a whole line


@dataclass(frozen=True)
class Phrases:
    """Compiled phrases: one :class:`_Group` per token length (see :func:`compile_phrases`)."""

    groups: tuple[_Group, ...]

    def __bool__(self) -> bool:
        return bool(self.groups)


@lru_cache(maxsize=32)
def compile_phrases(phrases: tuple[str, ...], span_tokens: int) -> Phrases:
    """Tokenise ``phrases`` once; phrases of ``span_tokens`` tokens or more match anywhere,
    shorter ones only as whole lines. Phrases without a token (only punctuation) are ignored
    (the config refuses them).

    >>> p = compile_phrases(("PUBLICITÉ", "Téléchargez l'application France 24 maintenant"), 5)
    >>> [(g.length, g.anywhere) for g in p.groups]
    [(1, False), (6, True)]
    """
    by_len: dict[int, dict[int, np.ndarray]] = {}
    for text in phrases:
        h = tokenize(text).hashes
        if not len(h):
            continue
        key = int(kgram_hashes(h, len(h))[0])
        by_len.setdefault(len(h), {})[key] = h
    groups = []
    for length in sorted(by_len):
        items = sorted(by_len[length].items())
        keys = np.array([k for k, _ in items], dtype=np.uint64)
        rows = np.stack([r for _, r in items]).astype(np.uint64)
        groups.append(_Group(length, keys, rows, length >= span_tokens))
    return Phrases(tuple(groups))


def phrase_mask(text: str, toks: Tokens, phrases: Phrases) -> np.ndarray:
    """Mask of the tokens of ``toks`` (``tokenize(text)``) inside an occurrence of a phrase."""
    n = len(toks)
    mask = np.zeros(n, dtype=bool)
    if not phrases or not n:
        return mask
    lid: np.ndarray | None = None
    for g in phrases.groups:
        L = g.length
        if n < L:
            continue
        kg = kgram_hashes(toks.hashes, L)
        pos = np.searchsorted(g.keys, kg)
        pos[pos == len(g.keys)] = 0
        hit = np.flatnonzero(g.keys[pos] == kg)
        if not len(hit):
            continue
        # exact check of the tokens (a k-gram hash collision is not a match)
        win = sliding_window_view(toks.hashes, L)[hit]
        hit = hit[(win == g.rows[pos[hit]]).all(axis=1)]
        if not g.anywhere and len(hit):
            if lid is None:
                lid = _line_ids(text, toks)
            first = lid[hit]
            last = lid[hit + L - 1]
            before = np.where(hit > 0, lid[np.maximum(hit - 1, 0)], -1)
            after = np.where(hit + L < n, lid[np.minimum(hit + L, n - 1)], -2)
            hit = hit[(first == last) & (before != first) & (after != last)]
        if len(hit):
            # mark [a, a + L) for every hit: +1 at a, -1 at a + L, running sum > 0
            d = np.zeros(n + 1, dtype=np.int64)
            np.add.at(d, hit, 1)
            np.add.at(d, hit + L, -1)
            mask |= np.cumsum(d[:-1]) > 0
    return mask


def phrase_pieces(text: str, toks: Tokens, phrases: Phrases) -> tuple[list[Piece], np.ndarray]:
    """(``template`` pieces with rule ``phrase``, their token mask) of one page."""
    mask = phrase_mask(text, toks, phrases)
    return mask_pieces(toks, mask), mask


def mask_pieces(toks: Tokens, mask: np.ndarray) -> list[Piece]:
    """One ``phrase`` piece per run of consecutive masked tokens (from the first token's start to
    the last one's end; the text between them goes too)."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    brk = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.concatenate(([0], brk))]
    ends = idx[np.concatenate((brk - 1, [len(idx) - 1]))]
    return [
        Piece(int(toks.start[a]), int(toks.end[b]), KIND_TEMPLATE, RULE, 1.0)
        for a, b in zip(starts.tolist(), ends.tolist())
    ]


def _line_ids(text: str, toks: Tokens) -> np.ndarray:
    """Line index (lines end at ``\\n``) of every token."""
    nl = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 10
    line_starts = np.concatenate(([0], np.flatnonzero(nl) + 1)).astype(np.int64)
    return np.searchsorted(line_starts, toks.start, side="right") - 1


def for_config(tc: "TemplateConfig") -> Phrases:
    """:func:`compile_phrases` of a config's ``templates.phrases`` (cached)."""
    return compile_phrases(tuple(tc.phrases), tc.span_tokens)
