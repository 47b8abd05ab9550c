"""Normalisation with a map back to original offsets.

Matching ignores case and Unicode form: text is NFKC-normalised and case-folded (``str.casefold``:
German «ß» matches «SS», Greek final «ς» matches «Σ»; plain lower-casing does neither). Offsets of
anything found in the normalised text are mapped back to the original with :class:`NormalizedText`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from . import native

_K = native.load("text")  # the C kernel of the slow path, or None (numpy code below)


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Normalised text plus the map back to the original.

    Attributes:
        text: NFKC + case-folded text.
        orig_start, orig_end: for each normalised character ``i``, the original characters it
            came from are ``original[orig_start[i]:orig_end[i]]``. ``None`` means the identity
            map (the common case: the text was already NFKC and case folding kept its length).
    """

    text: str
    orig_start: np.ndarray | None = None
    orig_end: np.ndarray | None = None

    def to_original(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map half-open normalised ranges ``[start, end)`` (non-empty) to original ranges."""
        if self.orig_start is None:
            return start, end
        assert self.orig_end is not None
        return self.orig_start[start], self.orig_end[end - 1]


def normalize(text: str) -> NormalizedText:
    """NFKC-normalise and case-fold ``text``, keeping a map back to original offsets.

    >>> normalize("Ｆｏｏ Ｂａｒ").text
    'foo bar'
    >>> normalize("plain").orig_start is None
    True
    >>> normalize("Straße").text == normalize("STRASSE").text
    True
    """
    if _K is not None:
        low = _K.fold(text, _fold_table())  # the same test and result in one pass (or None)
        if low:
            return NormalizedText(low)
        if low is False:  # a character folds to two or more: the test below cannot pass
            return _normalize_native(text)
        if not text:
            return NormalizedText(text)
    if unicodedata.is_normalized("NFKC", text):
        low = text.casefold()
        if len(low) == len(text):  # every character folded to exactly one character
            return NormalizedText(low)
    if _K is not None:
        return _normalize_native(text)
    return _normalize_one_to_one(text) or _normalize_slow(text)


def _fold(cluster: str) -> str:
    return unicodedata.normalize("NFKC", cluster).casefold()


_NATIVE_ARGS: tuple | None = None


def _normalize_native(text: str) -> NormalizedText:
    """:func:`_normalize_slow` (same result) by the C kernel: one pass over the text with the same
    tables; clusters other than one BMP character go through :func:`_fold` as in the reference."""
    global _NATIVE_ARGS
    if _NATIVE_ARGS is None:
        comb, single = _bmp_tables()
        exp_len, exp_start, pool = _expansions()
        _NATIVE_ARGS = (comb, single, exp_len, exp_start, pool, _fold, unicodedata.combining)
    assert _K is not None
    out, starts, ends = _K.normalize(text, *_NATIVE_ARGS)
    if starts is None:  # every character mapped to one: the identity map
        return NormalizedText(out)
    return NormalizedText(out, np.frombuffer(starts, dtype=np.int64), np.frombuffer(ends, dtype=np.int64))


def _normalize_slow_reference(text: str) -> NormalizedText:
    """The definition of the slow path, one cluster at a time (kept as the reference for tests)."""
    # Normalise cluster by cluster (a starter plus its combining marks) so that composition
    # inside a cluster still happens, and each output character maps to its cluster.
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        chunk = unicodedata.normalize("NFKC", text[i:j]).casefold()
        out.append(chunk)
        starts.extend([i] * len(chunk))
        ends.extend([j] * len(chunk))
        i = j
    return NormalizedText(
        "".join(out),
        np.asarray(starts, dtype=np.int64),
        np.asarray(ends, dtype=np.int64),
    )


_UNMAPPED = np.uint32(0xFFFFFFFF)
_BMP_TABLES: tuple[np.ndarray, np.ndarray] | None = None


def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """For every BMP code point: is it a combining mark, and ``NFKC(c).casefold()`` when that is one
    character (else ``_UNMAPPED``; the one-character entries of :func:`_expansions`). Pure derived
    constants, built on first use (~0.03 s with the expansions)."""
    global _BMP_TABLES
    if _BMP_TABLES is None:
        comb = np.array([unicodedata.combining(chr(cp)) != 0 for cp in range(0x10000)], dtype=bool)
        comb[0xD800:0xE000] = False  # lone surrogates: left to the per-cluster path
        length, start, pool = _expansions()
        one = length == 1  # False for the surrogates (length -1)
        single = np.full(0x10000, _UNMAPPED, dtype=np.uint32)
        single[one] = pool[start[one]]
        _BMP_TABLES = (comb, single)
    return _BMP_TABLES


def _normalize_one_to_one(text: str) -> NormalizedText | None:
    """:func:`_normalize_slow` for the common slow-path page: every character is a BMP
    character, no combining mark, and ``NFKC(c).casefold()`` is one character (a no-break space, a
    full-width letter, an upper-case letter next to them). Then every cluster is one character
    mapped through the table and the offset map is the identity; the result equals
    :func:`_normalize_slow`'s. Returns None when the text is not of that kind."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if not len(cp) or int(cp.max()) > 0xFFFF:
        return None
    mapped = _one_to_one_table().take(cp)
    if (mapped == _UNMAPPED).any():
        return None
    ident = np.arange(len(cp) + 1, dtype=np.int64)
    return NormalizedText(mapped.tobytes().decode("utf-32-le"), ident[:-1], ident[1:])


_ONE_TO_ONE: np.ndarray | None = None


def _one_to_one_table() -> np.ndarray:
    """``NFKC(c).casefold()`` of every BMP code point when it is one character and ``c`` is not a
    combining mark, else ``_UNMAPPED`` (derived from :func:`_bmp_tables`)."""
    global _ONE_TO_ONE
    if _ONE_TO_ONE is None:
        comb, single = _bmp_tables()
        _ONE_TO_ONE = np.where(comb, _UNMAPPED, single).astype(np.uint32)
    return _ONE_TO_ONE


_FOLD: np.ndarray | None = None
#: the fold table's mark of a character whose case folding has two or more characters («ß», «ﬁ»)
_EXPANDS = np.uint32(0xFFFFFFFE)

#: Hangul vowel and trailing jamo: they compose with the syllable or jamo before them (an
#: algorithmic composition, absent from the decomposition data)
_JAMO_V_T = (range(0x1161, 0x1176), range(0x11A8, 0x11C3))


def _fold_table() -> np.ndarray:
    """The table of the text kernel's ``fold`` (the fast path of :func:`normalize`): for a BMP
    code point ``c`` that is NFKC by itself (``NFKC(c) == c``), a starter (canonical combining
    class 0), never the second character of a canonical composition (decomposition data, and
    the Hangul vowel and trailing jamo) and whose case folding is one character: that character;
    ``_EXPANDS`` for a character whose case folding is longer (then no text holding it passes the
    test of the next path: ``fold`` returns False and :func:`normalize` goes straight to the slow
    path); else ``_UNMAPPED``. A text of mapped characters only has NFKC quick-check "yes"
    throughout, so it is NFKC as it stands and :func:`normalize` returns
    ``NormalizedText(text.casefold())`` for it (without offset maps): exactly what ``fold``
    returns (case folding has no context). Any other text makes ``fold`` return None and takes
    the paths below. Pure derived constants, built on first use (~0.05 s)."""
    global _FOLD
    if _FOLD is None:
        second: set[int] = {c for r in _JAMO_V_T for c in r}
        for cp in range(0x10000):
            d = unicodedata.decomposition(chr(cp))
            if d and not d.startswith("<"):
                parts = d.split()
                if len(parts) == 2:
                    second.add(int(parts[1], 16))
        table = np.full(0x10000, _UNMAPPED, dtype=np.uint32)
        for cp in range(0x10000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            c = chr(cp)
            f = c.casefold()
            if len(f) > 1:
                table[cp] = _EXPANDS  # the text's case folding is longer than the text
                continue
            if cp in second or unicodedata.combining(c) or unicodedata.normalize("NFKC", c) != c:
                continue
            table[cp] = ord(f)
        _FOLD = table
    return _FOLD


_EXPANSIONS: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _expansions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every BMP code point ``c`` but the surrogates: ``NFKC(c).casefold()`` as a slice of one
    pool of code points: (length, start in the pool, pool); surrogates get length -1 (left to
    the per-cluster path). Pure derived constants, built on first use."""
    global _EXPANSIONS
    if _EXPANSIONS is None:
        length = np.full(0x10000, -1, dtype=np.int64)
        start = np.zeros(0x10000, dtype=np.int64)
        pool: list[str] = []
        pos = 0
        for cp in range(0x10000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            m = unicodedata.normalize("NFKC", chr(cp)).casefold()
            length[cp] = len(m)
            start[cp] = pos
            pool.append(m)
            pos += len(m)
        _EXPANSIONS = (length, start, np.frombuffer("".join(pool).encode("utf-32-le"), dtype=np.uint32).copy())
    return _EXPANSIONS


def _normalize_slow(text: str) -> NormalizedText:
    """Same result as :func:`_normalize_slow_reference`, vectorised: clusters of one BMP
    character (nearly all) are mapped through lookup tables — one-character results directly,
    longer ones («ß» → «ss», «…» → «...», «ﬁ») copied from a pool of expansions; only the rest (a
    starter with combining marks, astral characters, lone surrogates) take the per-cluster
    Python path. 20-50x faster than the reference on web text."""
    comb_t, single_t = _bmp_tables()
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    n = len(cp)
    if n == 0:
        return NormalizedText("", np.zeros(0, np.int64), np.zeros(0, np.int64))
    bmp = cp <= 0xFFFF
    comb = comb_t.take(cp, mode="clip")
    if not bmp.all():
        idx = np.flatnonzero(~bmp)
        comb[idx] = [unicodedata.combining(chr(c)) != 0 for c in cp[idx].tolist()]
    is_start = ~comb
    is_start[0] = True
    c_start = np.flatnonzero(is_start)
    c_end = np.empty_like(c_start)
    c_end[:-1] = c_start[1:]
    c_end[-1] = n
    first = cp[c_start]
    mapped = single_t.take(first, mode="clip")
    one_char = (c_end - c_start == 1) & (first <= 0xFFFF)
    simple = one_char & (mapped != _UNMAPPED)
    out_len = np.ones(len(c_start), dtype=np.int64)
    hard = np.flatnonzero(~simple)
    multi = hard[:0]
    if len(hard):
        exp_len, exp_start, pool = _expansions()
        m_len = exp_len.take(first[hard], mode="clip")  # astral: masked by one_char
        is_multi = one_char[hard] & (m_len >= 0)  # one BMP character (not a lone surrogate)
        if is_multi.any():
            multi, m_len = hard[is_multi], m_len[is_multi]
            out_len[multi] = m_len
            hard = hard[~is_multi]
    chunks: list[str] = []
    for c in hard.tolist():
        chunk = unicodedata.normalize("NFKC", text[c_start[c] : c_end[c]]).casefold()
        chunks.append(chunk)
        out_len[c] = len(chunk)
    pos = np.zeros(len(c_start) + 1, dtype=np.int64)
    np.cumsum(out_len, out=pos[1:])
    out = np.empty(int(pos[-1]), dtype=np.uint32)
    s_idx = np.flatnonzero(simple)
    out[pos[s_idx]] = mapped[s_idx]
    if 0 < len(multi) <= 16:  # a few «…»: copied one by one
        for p, ln, st in zip(pos[multi].tolist(), m_len.tolist(), exp_start[first[multi]].tolist()):
            out[p : p + ln] = pool[st : st + ln]
    elif len(multi):  # many (German «ß»): one gather from the pool for all of them
        m_off = np.zeros(len(multi) + 1, dtype=np.int64)
        np.cumsum(m_len, out=m_off[1:])
        within = np.arange(int(m_off[-1]), dtype=np.int64) - np.repeat(m_off[:-1], m_len)
        out[np.repeat(pos[multi], m_len) + within] = pool[np.repeat(exp_start[first[multi]], m_len) + within]
    for c, chunk in zip(hard.tolist(), chunks):
        if chunk:
            out[pos[c] : pos[c + 1]] = np.frombuffer(chunk.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return NormalizedText(
        out.tobytes().decode("utf-32-le", "surrogatepass"),
        np.repeat(c_start.astype(np.int64), out_len),
        np.repeat(c_end.astype(np.int64), out_len),
    )
