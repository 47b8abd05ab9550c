"""The text kernel's ``fold`` (the fast path of ``normalize.normalize``): its table only maps
characters whose texts are NFKC as they stand, it returns ``text.casefold()`` or None, and
``normalize`` gives exactly the same results with and without it."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import native, normalize
from test_text_kernel import same_norm  # the same text and map (None: the identity)

K = native.load("text")
pytestmark = pytest.mark.skipif(K is None, reason="the C text kernel is not built (or DEDUPE_PURE=1)")

TABLE = normalize._fold_table()
MAPPED = [chr(c) for c in np.flatnonzero(TABLE < 0x110000).tolist()]
EXPANDING = [chr(c) for c in np.flatnonzero(TABLE == normalize._EXPANDS).tolist()]
PIECES = ["a", "Z", "É", "e\u0301", "\u0301", "…", "\u00a0", "ﬁ", "İ", "Σ", "ß", "ẞ", "ŉ", "ǰ", "東", "ｶ", "ﾞ", "😀", "ǅ",
          "\u0345", "\u1100\u1161", "\u1100", "\u1161", "\uac00\u11a8", "\u0bc6\u0bbe", "\u0b47\u0b3e", "\ud800", " ",
          "\n", "7", "Ω", "\u2126", "K", "\u212a", "µ", "ÿ", "\u0130\u0307", "\x00", "À", "Ā"]
mixed = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
anything = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=50)
latin1 = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=50)
mapped = st.text(alphabet=st.sampled_from(MAPPED), max_size=60)
texts = st.one_of(mixed, anything, latin1, mapped)


def test_table_maps_only_nfkc_starters_that_fold_to_one_character():
    for ch in MAPPED:
        assert unicodedata.is_normalized("NFKC", ch) and unicodedata.combining(ch) == 0
        assert ch.casefold() == chr(int(TABLE[ord(ch)]))
    # what the fast path must leave to the others
    for ch in ("\u00a0", "\u0301", "\u1161", "\u11a8", "\u0bbe", "\u0b3e", "\u212a", "µ", "\ud800"):
        assert TABLE[ord(ch)] == normalize._UNMAPPED, ch
    # characters whose case folding is longer are marked (a text holding one cannot keep its length)
    assert {"ß", "ﬁ", "İ", "ŉ"} <= set(EXPANDING)
    for ch in EXPANDING:
        assert len(ch.casefold()) > 1
    assert all(TABLE[c] in (normalize._UNMAPPED, normalize._EXPANDS) or TABLE[c] < 0x110000 for c in range(0x10000))


def test_no_canonical_composition_ends_in_a_mapped_character():
    """A mapped character never composes with the one before it (else a text of mapped
    characters might not be NFKC): checked over every code point, astral ones included (the
    table's own scan covers the BMP)."""
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                second = int(parts[1], 16)
                assert second >= 0x10000 or TABLE[second] >= 0x110000, hex(cp)


@settings(max_examples=300)
@given(mapped)
def test_texts_of_mapped_characters_are_nfkc(text):
    assert unicodedata.is_normalized("NFKC", text)
    assert K.fold(text, TABLE) == text.casefold()


@settings(max_examples=400)
@given(texts)
def test_fold_is_casefold_of_an_nfkc_text_or_none(text):
    got = K.fold(text, TABLE)
    if got is False:  # an expanding character before any unmapped one
        assert len(text.casefold()) > len(text)
        first = next(i for i, c in enumerate(text) if ord(c) > 0xFFFF or TABLE[ord(c)] >= 0x110000)
        assert TABLE[ord(text[first])] == normalize._EXPANDS
    elif got is not None:
        assert unicodedata.is_normalized("NFKC", text)
        assert got == text.casefold() and len(got) == len(text)


@settings(max_examples=400)
@given(texts)
def test_normalize_with_fold_equals_without(text):
    a = normalize.normalize(text)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(normalize, "_fold_table", lambda: np.full(0x10000, normalize._UNMAPPED, dtype=np.uint32))
        b = normalize.normalize(text)  # fold always None: the former path (kernel for the slow path)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(normalize, "_K", None)
        c = normalize.normalize(text)  # no kernel at all
    for other in (b, c):
        same_norm(a, other)


def test_fold_all_string_kinds_in_and_out():
    ident = np.arange(0x10000, dtype=np.uint32)
    ident[0xD800:0xE000] = normalize._UNMAPPED
    wide = ident.copy()
    wide[ord("a")] = 0x1F600  # a 1-byte input giving a 4-byte output
    wide[ord("Ā")] = ord("b")  # a 2-byte input giving a 1-byte output
    for text, table in (("abc", ident), ("ÀĀb", ident), ("abc", wide), ("Āx", wide), ("", ident), ("aĀ", wide)):
        assert K.fold(text, table) == "".join(chr(int(table[ord(c)])) for c in text)
    assert K.fold("a😀", ident) is None  # above the BMP
    assert K.fold("ab\ud800", ident) is None  # unmapped
    assert K.fold("ÀB", TABLE) == "àb" and K.fold("ΣΑ", TABLE) == "σα" and K.fold("Σ😀", TABLE) is None
    assert K.fold("Straße", TABLE) is False and K.fold("😀ß", TABLE) is None and K.fold("ß😀", TABLE) is False


def test_fold_bad_arguments_raise():
    with pytest.raises(ValueError):
        K.fold("abc", np.zeros(100, dtype=np.uint32))  # not one entry per BMP code point
    with pytest.raises(ValueError):
        K.fold("abc", np.zeros(0x10000, dtype=np.int64))  # wrong item type
    bad = np.arange(0x10000, dtype=np.uint32)
    bad[ord("b")] = 0x110000  # not a code point
    with pytest.raises(ValueError):
        K.fold("abc", bad)
    assert K.fold("ac", bad) == "ac"
    with pytest.raises(TypeError):
        K.fold(b"abc", TABLE)
