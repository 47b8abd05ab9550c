"""Script-aware tokenisation with offsets into the original text.

A token is a maximal run of word characters (Unicode letters, marks and digits) in the
normalised text. Characters of scripts written without spaces (Han, Hiragana, Katakana, Thai,
Lao, Khmer, Myanmar) are one token each, so such text never collapses into one giant token.
Punctuation and whitespace separate tokens and are otherwise ignored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import native
from .hashing import range_hashes
from .normalize import NormalizedText, normalize

_K = native.load("text")  # C kernel of bounds + hashes (:func:`_bounds_and_hashes`), or None

SEP, WORD, SINGLE = 0, 1, 2

#: code point ranges (inclusive) of scripts written without spaces between words
SPACELESS_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B…
)


def _char_class(cp: int) -> int:
    for lo, hi in SPACELESS_RANGES:
        if lo <= cp <= hi:
            return SINGLE if unicodedata.category(chr(cp))[0] in "LNM" else SEP
    return WORD if unicodedata.category(chr(cp))[0] in "LNM" else SEP


def bmp_category_letters() -> np.ndarray:
    """The first letter of ``unicodedata.category`` of every BMP code point, as a uint8 array of
    ASCII codes (``b"L"``, ``b"N"``, …; ``b"C"`` for the surrogates): one ``map`` over a string of
    all of them, not a Python loop (a process builds its tables in ~5 ms instead of ~30)."""
    every = np.arange(0x10000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    cats = "".join(map(unicodedata.category, every)).encode("ascii")
    return np.frombuffer(cats, dtype=np.uint8)[::2].copy()  # every category is two letters


def _build_bmp_table() -> np.ndarray:
    """:func:`_char_class` of every BMP code point (0 = ``SEP`` for the surrogates), vectorised
    (tested equal to the per-code-point rule)."""
    first = bmp_category_letters()
    word = (first == ord("L")) | (first == ord("N")) | (first == ord("M"))
    table = np.where(word, np.uint8(WORD), np.uint8(SEP))
    for lo, hi in SPACELESS_RANGES:
        if lo <= 0xFFFF:
            seg = slice(lo, min(hi, 0xFFFF) + 1)
            table[seg] = np.where(word[seg], np.uint8(SINGLE), np.uint8(SEP))
    table[0xD800:0xE000] = SEP
    return np.ascontiguousarray(table, dtype=np.uint8)


def _build_bmp_table_reference() -> np.ndarray:
    """The definition of :func:`_build_bmp_table`, one code point at a time (for the tests)."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        table[cp] = _char_class(cp)
    return table


_BMP_TABLE: list[np.ndarray] = []


def _bmp_class() -> np.ndarray:
    """The constant lookup table of :func:`_build_bmp_table`, built on first use: building it reads
    the Unicode database of every BMP code point (~2 MB resident, ~5 ms), which a process that never
    tokenises (a corpus run's driver) should not pay. The workers' server builds it once
    (:mod:`dedupe.core._warm`) for every worker forked from it."""
    if not _BMP_TABLE:
        _BMP_TABLE.append(_build_bmp_table())
    return _BMP_TABLE[0]


def char_classes(codepoints: np.ndarray) -> np.ndarray:
    """SEP / WORD / SINGLE class of every code point (uint32 array)."""
    # take(mode="clip") maps every code point above the BMP to entry 0xFFFF (fixed below); it is
    # about 2x faster than fancy indexing with np.minimum
    cls = _bmp_class().take(codepoints, mode="clip")
    if len(codepoints) and int(codepoints.max()) > 0xFFFF:
        idx = np.flatnonzero(codepoints > 0xFFFF)
        uniq, inv = np.unique(codepoints[idx], return_inverse=True)
        cls[idx] = np.array([_char_class(int(c)) for c in uniq], dtype=np.uint8)[inv]
    return cls


@dataclass(frozen=True, slots=True)
class Tokens:
    """Tokens of one text.

    Attributes:
        start, end: int64 arrays, half-open offsets of each token in the ORIGINAL text.
        hashes: uint64 array, stable hash of each normalised token.
        single: bool array, True for one-character tokens of spaceless scripts.
        norm: the normalised text with its offset map.
        nstart, nend: offsets of each token in the normalised text.
    """

    start: np.ndarray
    end: np.ndarray
    hashes: np.ndarray
    single: np.ndarray
    norm: NormalizedText
    nstart: np.ndarray
    nend: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)


def codepoints(s: str) -> np.ndarray:
    """The code points of ``s`` as a uint32 array (one element per Python character)."""
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def tokenize(text: str, norm: NormalizedText | None = None) -> Tokens:
    """Split ``text`` into normalised tokens with original offsets and stable hashes.

    >>> t = tokenize("Hello, WORLD! 東京")
    >>> [("Hello, WORLD! 東京")[s:e] for s, e in zip(t.start, t.end)]
    ['Hello', 'WORLD', '東', '京']
    >>> bool(t.hashes[1] == tokenize("world").hashes[0])
    True
    """
    if norm is None:
        norm = normalize(text)
    nstart, nend, hashes, single = _bounds_and_hashes(norm.text)
    if len(nstart):
        ostart, oend = norm.to_original(nstart, nend)
    else:
        ostart, oend = nstart, nend
    return Tokens(
        start=np.asarray(ostart, dtype=np.int64),
        end=np.asarray(oend, dtype=np.int64),
        hashes=hashes,
        single=single,
        norm=norm,
        nstart=nstart,
        nend=nend,
    )


def _bounds_and_hashes(s: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(nstart, nend, hashes, single) of the tokens of the normalised text ``s``: by the C kernel in
    one pass over the str, else :func:`_token_bounds` and :func:`~dedupe.core.hashing.range_hashes`
    over its code points (the reference; the tests compare the two)."""
    if _K is not None:
        a, b, h, one = _K.tokens(s, _bmp_class(), _char_class)
        return (
            np.frombuffer(a, dtype=np.int64),
            np.frombuffer(b, dtype=np.int64),
            np.frombuffer(h, dtype=np.uint64),
            np.frombuffer(one, dtype=bool),
        )
    cp = codepoints(s)
    nstart, nend, single = _token_bounds(cp)
    return nstart, nend, range_hashes(cp, nstart, nend), single


def _token_bounds(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, single) of the tokens of a code point array: runs of WORD characters, and
    every SINGLE character on its own."""
    cls = char_classes(cp)
    word = cls == WORD
    single = cls == SINGLE
    prev_word = np.empty_like(word)
    prev_word[:1] = False
    prev_word[1:] = word[:-1]
    next_word = np.empty_like(word)
    next_word[-1:] = False
    next_word[:-1] = word[1:]
    is_start = single | (word & ~prev_word)
    is_end = single | (word & ~next_word)
    nstart = np.flatnonzero(is_start)
    nend = np.flatnonzero(is_end) + 1
    return nstart.astype(np.int64, copy=False), nend.astype(np.int64, copy=False), single[nstart]


@dataclass(frozen=True, slots=True)
class TokenBatch:
    """Token hashes of many texts at once (no offsets: what signatures need).

    Attributes:
        hashes: uint64, the tokens of all texts concatenated; equal to ``tokenize(text).hashes``
            of each text.
        single: bool, one-character tokens of spaceless scripts (as :attr:`Tokens.single`).
        offsets: int64 of length ``n_texts + 1``: text ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
    """

    hashes: np.ndarray
    single: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1


def _normalize_many(texts: Sequence[str]) -> tuple[str, np.ndarray]:
    """Normalised texts joined by ``"\n"`` and the start of each in the joined string.

    Joining first and normalising once is equivalent to normalising each text: a line break is a
    starter that composes with nothing (and case folding has no context rule). When any text needs
    the slow path (not NFKC, or case folding changes its length), every text is normalised on its
    own with :func:`normalize`.
    """
    joined = "\n".join(texts)
    lengths: list[int] | None = None
    if unicodedata.is_normalized("NFKC", joined):
        low = joined.casefold()
        if len(low) == len(joined):
            joined = low
            lengths = [len(t) for t in texts]
    if lengths is None:
        parts = [normalize(t).text for t in texts]
        joined = "\n".join(parts)
        lengths = [len(t) for t in parts]
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64) + 1, out=starts[1:])
    return joined, starts


def tokenize_many(texts: Sequence[str]) -> TokenBatch:
    """Token hashes of many texts in one vectorised pass (same hashes as :func:`tokenize`).

    One numpy pass over all texts removes the per-text overhead that dominates short texts.

    >>> b = tokenize_many(["Hello, WORLD!", "", "東京 world"])
    >>> b.offsets.tolist()
    [0, 2, 2, 5]
    >>> bool(b.hashes[1] == b.hashes[4] == tokenize("world").hashes[0])
    True
    """
    joined, char_starts = _normalize_many(texts)
    nstart, nend, hashes, single = _bounds_and_hashes(joined)
    offsets = np.searchsorted(nstart, char_starts).astype(np.int64)
    offsets[-1] = len(nstart)
    return TokenBatch(hashes=hashes, single=single, offsets=offsets)


def tokenize_batch(texts: Sequence[str]) -> list[Tokens]:
    """:func:`tokenize` of every text (equal results), with the code point, token boundary and
    hash passes run once over all texts joined by ``"\n"`` (a separator no token crosses; token
    hashes do not depend on position). Meant for batches of a few MB: the hashing tables grow
    with the joined length.

    >>> a, b = tokenize_batch(["Hello, WORLD!", "東京 world"])
    >>> b.start.tolist(), bool(a.hashes[1] == b.hashes[2])
    ([0, 1, 3], True)
    """
    norms = [normalize(t) for t in texts]
    joined = "\n".join(nt.text for nt in norms)
    nstart, nend, hashes, single = _bounds_and_hashes(joined)
    char_starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(nt.text) + 1 for nt in norms), dtype=np.int64, count=len(norms)), out=char_starts[1:])
    offs = np.searchsorted(nstart, char_starts).tolist()
    out: list[Tokens] = []
    for i, nt in enumerate(norms):
        a, b = offs[i], offs[i + 1]
        c = int(char_starts[i])
        ns = nstart[a:b] - c
        ne = nend[a:b] - c
        if len(ns) and nt.orig_start is not None:
            os_, oe = nt.to_original(ns, ne)
        else:
            os_, oe = ns, ne
        out.append(Tokens(start=os_, end=oe, hashes=hashes[a:b], single=single[a:b], norm=nt, nstart=ns, nend=ne))
    return out
