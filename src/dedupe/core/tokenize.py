"""Script-aware tokenisation with offsets into the original text.

A token is a maximal run of word characters (Unicode letters, marks and digits) in the
normalised text. Characters of scripts written without spaces (Han, Hiragana, Katakana, Thai,
Lao, Khmer, Myanmar) are one token each, so such text never collapses into one giant token.
Punctuation and whitespace separate tokens and are otherwise ignored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from .hashing import range_hashes
from .normalize import NormalizedText, normalize

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


def _build_bmp_table() -> np.ndarray:
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        table[cp] = _char_class(cp)
    return table


_BMP_CLASS = _build_bmp_table()  # constant lookup table, built once at import


def char_classes(codepoints: np.ndarray) -> np.ndarray:
    """SEP / WORD / SINGLE class of every code point (uint32 array)."""
    cls = _BMP_CLASS[np.minimum(codepoints, 0xFFFF)]
    astral = codepoints > 0xFFFF
    if astral.any():
        idx = np.flatnonzero(astral)
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
    cp = codepoints(norm.text)
    cls = char_classes(cp)
    word = cls == WORD
    single = cls == SINGLE
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    is_start = single | (word & ~prev_word)
    is_end = single | (word & ~next_word)
    nstart = np.flatnonzero(is_start).astype(np.int64)
    nend = np.flatnonzero(is_end).astype(np.int64) + 1
    hashes = range_hashes(cp, nstart, nend)
    if len(nstart):
        ostart, oend = norm.to_original(nstart, nend)
    else:
        ostart, oend = nstart, nend
    return Tokens(
        start=np.asarray(ostart, dtype=np.int64),
        end=np.asarray(oend, dtype=np.int64),
        hashes=hashes,
        single=single[nstart],
        norm=norm,
        nstart=nstart,
        nend=nend,
    )
