"""The C text kernel (``dedupe.core._native.text``) against the numpy / Python code it replaces:
normalisation, token bounds + hashes, ``range_hashes`` and ``kgram_hashes`` give exactly equal
results (values and dtypes), and bad arguments raise instead of crashing."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import hashing, native, normalize, tokenize
from dedupe.core.hashing import CHAR_BASE, TOKEN_BASE

K = native.load("text")
pytestmark = pytest.mark.skipif(K is None, reason="the C text kernel is not built (or DEDUPE_PURE=1)")

PIECES = ["a", "Z", "É", "e\u0301", "\u0301", "\u0301\u0302", "…", "\u00a0", "ﬁ", "ﬃ", "İ", "Σ", "ß", "ẞ", "東",
          "ｶ", "ﾞ", "😀", "𝐀", "ǅ", "\u0345", "ΐ", "\u1100\u1161", "Ⅻ", "\u0bc6\u0bbe", "ไทย", "\u0e48", "𠀀",
          "\U0001d165", "a\U0001d165", "\U000101fd", "\ud800", "\udfff", "x\ud83d", " ", "\n", ".", "7", "_",
          "\u3000", "ǰ", "\ufdfa", "\u0130\u0307", "\x00"]
mixed = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
# every code point, surrogates included (st.characters leaves them out by default)
anything = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=50)
latin1 = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=50)
texts = st.one_of(mixed, anything, latin1)


def pure_result(fn, *args):
    """``fn(*args)`` with every text kernel switched off (the numpy / Python code)."""
    with pytest.MonkeyPatch.context() as m:
        for mod in (normalize, tokenize, hashing):
            m.setattr(mod, "_K", None)
        return fn(*args)


def same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.tolist() == b.tolist()


def norm_map(nt: normalize.NormalizedText) -> tuple[list[int], list[int]]:
    """The offset map of ``nt``, the identity (``None``) spelled out."""
    if nt.orig_start is None:
        assert nt.orig_end is None
        return list(range(len(nt.text))), list(range(1, len(nt.text) + 1))
    return nt.orig_start.tolist(), nt.orig_end.tolist()


def same_norm(a: normalize.NormalizedText, b: normalize.NormalizedText) -> None:
    """The same text and offset map (``None``, the identity, equals identity arrays: the kernel
    returns None for every one-to-one text, the reference arrays)."""
    assert a.text == b.text
    assert norm_map(a) == norm_map(b)
    for x, y in ((a.orig_start, b.orig_start), (a.orig_end, b.orig_end)):
        if x is not None and y is not None:
            assert x.dtype == y.dtype


# ---- normalisation ------------------------------------------------------------------------------


@settings(max_examples=400)
@given(texts)
def test_native_normalize_equals_reference_and_numpy(text):
    got = normalize._normalize_native(text)
    same_norm(got, normalize._normalize_slow_reference(text))
    same_norm(got, normalize._normalize_slow(text))


@settings(max_examples=200)
@given(texts)
def test_normalize_dispatch_equals_pure(text):
    same_norm(normalize.normalize(text), pure_result(normalize.normalize, text))


def test_native_normalize_every_bmp_character_and_kinds():
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    for text in ("x".join(chars), "".join(chars[:3000]), "", "ÀB", "ÀĀ\u0301", "À😀\u0301𝐀ß"):
        same_norm(normalize._normalize_native(text), normalize._normalize_slow_reference(text))
    # expansions past the first allocation (18 characters each): the outputs grow
    for text in ("\ufdfa" * 300, "a" + "\ufdfa" * 5 + "b" * 100, "ß" * 1000 + "e\u0301" * 50):
        same_norm(normalize._normalize_native(text), normalize._normalize_slow_reference(text))
    arr = normalize._normalize_native("ÄBC\ufdfa").orig_start
    arr[0] = 5  # writable, like the numpy path's arrays
    assert arr[0] == 5
    # one-to-one texts (a no-break space, full-width or capital letters) get the identity map
    for text in ("a\u00a0b", "ＡＢ：c", "ÄBC", "각"):
        assert normalize._normalize_native(text).orig_start is None
    assert normalize._normalize_native("a…").orig_start is not None


def test_native_normalize_bad_arguments_raise():
    comb, single = normalize._bmp_tables()
    exp_len, exp_start, pool = normalize._expansions()
    fold = normalize._fold
    with pytest.raises(ValueError):
        K.normalize("ß", comb[:-1], single, exp_len, exp_start, pool, fold, unicodedata.combining)
    with pytest.raises(ValueError):
        K.normalize("ß", comb, single.astype(np.uint64), exp_len, exp_start, pool, fold, unicodedata.combining)
    with pytest.raises(ValueError):
        K.normalize("ß", comb, single.astype(np.float32), exp_len, exp_start, pool, fold, unicodedata.combining)
    with pytest.raises(ValueError):
        K.normalize("ß", comb, single, exp_len.astype(np.uint64), exp_start, pool, fold, unicodedata.combining)
    bad_start = exp_start.copy()
    bad_start[ord("ß")] = len(pool)  # «ß» expands to 2 characters: past the end of the pool
    with pytest.raises(ValueError):
        K.normalize("ß", comb, single, exp_len, bad_start, pool, fold, unicodedata.combining)
    with pytest.raises(ValueError):
        K.normalize("e\u0301", comb, single, exp_len, exp_start, pool, lambda s: 1, unicodedata.combining)
    with pytest.raises(ZeroDivisionError):
        K.normalize("e\u0301", comb, single, exp_len, exp_start, pool, lambda s: 1 / 0, unicodedata.combining)
    with pytest.raises(TypeError):
        K.normalize(b"bytes", comb, single, exp_len, exp_start, pool, fold, unicodedata.combining)


# ---- tokenisation -------------------------------------------------------------------------------


@settings(max_examples=300)
@given(texts)
def test_native_bounds_and_hashes_equal_numpy(text):
    got = tokenize._bounds_and_hashes(text)
    want = pure_result(tokenize._bounds_and_hashes, text)
    for a, b in zip(got, want):
        same_array(a, b)


def same_tokens(a: tokenize.Tokens, b: tokenize.Tokens) -> None:
    for f in ("start", "end", "hashes", "single", "nstart", "nend"):
        same_array(getattr(a, f), getattr(b, f))
    same_norm(a.norm, b.norm)


@settings(max_examples=150)
@given(st.lists(texts, max_size=6))
def test_tokenize_functions_equal_pure(batch):
    for t in batch:
        same_tokens(tokenize.tokenize(t), pure_result(tokenize.tokenize, t))
    got = tokenize.tokenize_batch(batch)
    want = pure_result(tokenize.tokenize_batch, batch)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        same_tokens(a, b)
    ga, wa = tokenize.tokenize_many(batch), pure_result(tokenize.tokenize_many, batch)
    for f in ("hashes", "single", "offsets"):
        same_array(getattr(ga, f), getattr(wa, f))


def test_native_bounds_and_hashes_large_texts():
    # outputs of a few MB (mapped memory, cut to size after the pass); a token on every character
    for text in ("Hello, wörld 42 " * 100_000, "東京" * 300_000, "a😀b\ud800 " * 50_000):
        got = tokenize._bounds_and_hashes(text)
        want = pure_result(tokenize._bounds_and_hashes, text)
        for a, b in zip(got, want):
            same_array(a, b)


def test_tokens_bad_arguments_raise():
    with pytest.raises(ValueError):
        K.tokens("abc", tokenize._bmp_class()[:100], tokenize._char_class)
    with pytest.raises(TypeError):
        K.tokens("a😀", tokenize._bmp_class(), lambda cp: "x")
    with pytest.raises(ValueError):
        K.tokens("a😀", tokenize._bmp_class(), lambda cp: -1)
    with pytest.raises(ValueError):
        K.tokens("abc", tokenize._bmp_class(), None)


# ---- range / k-gram hashes ----------------------------------------------------------------------

u64 = st.integers(min_value=0, max_value=2**64 - 1)
odd_base = st.one_of(st.sampled_from([CHAR_BASE, TOKEN_BASE, 1, 2**64 - 1]), u64.map(lambda b: b | 1))


@st.composite
def ranges(draw):
    values = draw(st.lists(u64, max_size=40))
    n = len(values)
    m = draw(st.integers(0, 12))
    pairs = []
    for _ in range(m):
        a = draw(st.integers(0, n))
        pairs.append((a, draw(st.integers(a, n))))
    return values, pairs


@settings(max_examples=300)
@given(ranges(), odd_base, st.sampled_from([np.uint64, np.uint32, np.int64]))
def test_native_range_hashes_equal_numpy(vr, base, vdtype):
    values, pairs = vr
    v = np.array(values, dtype=np.uint64).astype(vdtype)
    s = np.array([a for a, _ in pairs], dtype=np.int64)
    e = np.array([b for _, b in pairs], dtype=np.int64)
    same_array(hashing.range_hashes(v, s, e, base), pure_result(hashing.range_hashes, v, s, e, base))


def test_range_hashes_both_kernel_strategies_and_index_dtypes():
    rng = np.random.default_rng(7)
    v = rng.integers(0, 2**63, size=500, dtype=np.uint64) * np.uint64(3)
    short_s = rng.integers(0, 490, size=50)
    long_s = rng.integers(0, 100, size=300)  # many long ranges: the prefix-sum strategy
    for s, ln in ((short_s, 5), (long_s, 300)):
        for dt in (np.int64, np.int32, np.uint64):
            s2 = s.astype(dt)
            e2 = (s + ln).astype(dt)
            for base in (CHAR_BASE, TOKEN_BASE):
                same_array(hashing.range_hashes(v, s2, e2, base), pure_result(hashing.range_hashes, v, s2, e2, base))
    # outside [0, n] (negative indices): the kernel refuses, the numpy code's indexing rules apply
    s, e = np.array([-3, 1]), np.array([-1, 2])
    same_array(hashing.range_hashes(v, s, e), pure_result(hashing.range_hashes, v, s, e))
    with pytest.raises(IndexError):
        hashing.range_hashes(v, np.array([0]), np.array([501]))


def test_range_hashes_kernel_bad_arguments_raise():
    v = np.arange(10, dtype=np.uint64)
    s, e, out = np.array([0, 2]), np.array([3, 9]), np.empty(2, dtype=np.uint64)
    for bad in (
        (v, s, np.array([3, 11]), out),  # past the end
        (v, np.array([4, 2]), e, out),  # start > end
        (v, s, e, np.empty(1, dtype=np.uint64)),  # out too short
        (v, s, np.array([3]), out),  # lengths differ
        (v.astype(np.uint32), s, e, out),  # 4-byte values
        (v.astype(np.float64), s, e, out),  # 8-byte floats
        (v, s.astype(np.uint64), e, out),  # unsigned ranges (the wrapper converts them)
        (v, s, e, np.empty(2, dtype=np.int64)),  # signed output
    ):
        with pytest.raises(ValueError):
            K.range_hashes(bad[0], bad[1], bad[2], CHAR_BASE, bad[3])
    ro = np.empty(2, dtype=np.uint64)
    ro.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        K.range_hashes(v, s, e, CHAR_BASE, ro)
    with pytest.raises(ValueError):
        K.range_hashes(v, s, e, CHAR_BASE, np.empty((1, 2), dtype=np.uint64))


@settings(max_examples=300)
@given(st.lists(u64, max_size=40), st.integers(1, 45), st.sampled_from([np.uint64, np.int64]))
def test_native_kgram_hashes_equal_numpy(values, k, vdtype):
    v = np.array(values, dtype=np.uint64).astype(vdtype)
    same_array(hashing.kgram_hashes(v, k), pure_result(hashing.kgram_hashes, v, k))


def test_kgram_kernel_bad_arguments_raise():
    v = np.arange(10, dtype=np.uint64)
    for k, out in ((0, np.empty(11, np.uint64)), (11, np.empty(0, np.uint64)), (3, np.empty(7, np.uint64))):
        with pytest.raises(ValueError):
            K.kgram_hashes(v, k, TOKEN_BASE, out)
    with pytest.raises(ValueError):
        K.kgram_hashes(np.arange(10, dtype=np.int32), 3, TOKEN_BASE, np.empty(8, np.uint64))
