"""Vectorised normalise / sentence split equal the plain loops they replaced (kept as references)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.normalize import _normalize_one_to_one, _normalize_slow, _normalize_slow_reference, normalize
from dedupe.core.segment import _sentence_bounds_reference, sentence_bounds

PIECES = ["a", "É", "e\u0301", "\u0301", "…", "\u00a0", "ﬁ", "İ", "Σ", "ß", "東", "😀", "𝐀", "ǅ", "\u0345",
          "ΐ", "\u1100\u1161", "Ⅻ", "\u0bc6\u0bbe", "\u0300\u0301", " ", "\n", ".", "!", "?", "。", "！", "\t",
          "\"", "»", ")", "”", "\u3000", "\r\n", "x"]
mixed = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300)
@given(st.one_of(mixed, any_text))
def test_normalize_slow_equals_reference(text):
    a, b = _normalize_slow(text), _normalize_slow_reference(text)
    assert a.text == b.text
    assert a.orig_start.tolist() == b.orig_start.tolist()
    assert a.orig_end.tolist() == b.orig_end.tolist()


@settings(max_examples=300)
@given(st.one_of(mixed, any_text))
def test_normalize_one_to_one_equals_slow_path(text):
    fast = _normalize_one_to_one(text)
    slow = _normalize_slow(text)
    if fast is not None:
        assert fast.text == slow.text
        assert fast.orig_start.tolist() == slow.orig_start.tolist()
        assert fast.orig_end.tolist() == slow.orig_end.tolist()
    elif normalize(text).orig_start is not None:  # not the identity path: the general slow path ran
        assert normalize(text).text == slow.text


def test_normalize_one_to_one_taken_for_nbsp_and_capitals():
    text = "Prix\u00a0: 10\u00a0€ — Ｆｕｌｌ width"
    fast = _normalize_one_to_one(text)
    assert fast is not None and fast.text == _normalize_slow(text).text
    assert _normalize_one_to_one("wait…") is None  # … becomes three characters: not one-to-one


@settings(max_examples=300)
@given(st.one_of(mixed, any_text))
def test_sentence_bounds_equal_reference(text):
    s, e = sentence_bounds(text)
    rs, re_ = _sentence_bounds_reference(text)
    assert s.tolist() == rs.tolist() and e.tolist() == re_.tolist()
