"""Report lines formatted by the text kernel (``report_lines``) are byte for byte the JSON
encoder's (``dumps`` of ``report_rows``), and any value it does not format goes through the
encoder with the same outcome (bytes, or the same error)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import native
from dedupe.io import jsonl
from dedupe.models import CleanResult, Span

K = native.load("text")
pytestmark = pytest.mark.skipif(K is None, reason="the C text kernel is not built (or DEDUPE_PURE=1)")

any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=30)
tricky = st.sampled_from(["", "a", '"', "\\", "\b\f\n\r\t", "\x00\x01\x1f\x7f", "é東😀", "\u2028\u2029", "\ud800", "x\udfffy", "</script>"])
strs = st.one_of(any_text, tricky, st.text(max_size=20))
ints = st.one_of(st.integers(-5, 10**6), st.integers(-(2**70), 2**70))
scores = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.0, 0.0, -0.0, 0.12345, 0.99995, 1e-5, 2.5e15, 0.5]),
    st.integers(-3, 3), st.booleans(), st.sampled_from(["0.25", "nan"]),
)
kepts = st.one_of(st.none(), st.tuples(ints, ints), st.lists(ints, min_size=2, max_size=2), st.tuples(ints, ints, ints))
odd = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(0, 9))


@st.composite
def spans(draw):
    plain = draw(st.booleans())
    return Span(
        draw(ints) if plain else draw(st.one_of(ints, odd)),
        draw(ints) if plain else draw(st.one_of(ints, odd)),
        draw(strs),
        draw(strs) if plain else draw(st.one_of(strs, odd)),
        draw(st.one_of(st.none(), strs)) if plain else draw(st.one_of(strs, odd)),
        draw(scores),
        draw(kepts),
        draw(st.one_of(st.none(), strs)) if plain else draw(st.one_of(strs, odd)),
        draw(st.booleans()) if plain else draw(st.one_of(st.booleans(), odd)),
        draw(st.one_of(st.none(), ints)) if plain else draw(odd),
    )


def _generic(result):
    try:
        return "".join(jsonl._ENCODE(r) + "\n" for r in jsonl.report_rows(result)).encode("utf-8")
    except Exception as exc:  # noqa: BLE001 - the outcome compared
        return type(exc)


def _fast(result):
    try:
        return jsonl.report_bytes(result)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


@settings(max_examples=600, deadline=None)
@given(st.one_of(strs, st.integers(0, 99)), st.lists(spans(), max_size=6))
def test_report_bytes_equal_the_encoder(doc_id, sps):
    result = CleanResult(doc_id, "", "", tuple(sps), {})
    assert _fast(result) == _generic(result)


def _nan_as_str(x):
    """``x`` with every float NaN replaced by "nan" (two NaN objects never compare equal)."""
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, dict):
        return {k: _nan_as_str(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_nan_as_str(v) for v in x)
    return x


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=10), st.lists(spans(), max_size=4))
def test_encode_row_parts_same_with_and_without_kernel(doc_id, sps):
    result = CleanResult(doc_id, "abc", "abc", tuple(sps), {})
    meta = {"row": {"id": doc_id, "text": None, "url": "u"}, "text_field": "text", "id_field": "id"}
    got = jsonl.encode_row_parts(doc_id, meta, result)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(jsonl, "_TEXT", None)
        # the removed characters by kind can be NaN (offsets inf - inf): compared as "nan"
        assert _nan_as_str(jsonl.encode_row_parts(doc_id, meta, result)) == _nan_as_str(got)


def test_plain_spans_go_through_the_kernel():
    sp = Span(0, 3, 'a"\n', "repeat", "exact", 0.123456, (5, 8), None, True, None)
    sp2 = Span(4, 6, "é東", "cross-page", None, 1.0, (1, 3), "other", False, 3)
    line = K.report_lines("d\u00e9", (sp, sp2), round)
    assert line == _generic(CleanResult("d\u00e9", "", "", (sp, sp2), {}))
    assert line.startswith(b'{"doc_id":"d\xc3\xa9","start":0,"end":3,"kind":"repeat","removed":true,"text":"a\\"\\n"')
    assert b'"score":0.1235' in line and b'"kept":{"doc_id":"other","start":1,"end":3}' in line
    # what it leaves to the encoder
    for bad in (Span(0, 1, "x", "k", "r", math.nan), Span(0, 1, "\ud800", "k", "r", 1.0), Span(True, 1, "x", "k", "r", 1.0)):
        assert K.report_lines("d", (bad,), round) is None
    assert K.report_lines(7, (sp,), round) is None
    assert K.report_lines("d", (), round) == b""


def test_report_lines_bad_arguments_raise():
    with pytest.raises(TypeError):
        K.report_lines("d", 5, round)
    with pytest.raises(ValueError):
        K.report_lines("d", (), None)
    with pytest.raises(AttributeError):
        K.report_lines("d", (object(),), round)
    with pytest.raises(ZeroDivisionError):
        K.report_lines("d", (Span(0, 1, "x", "k", "r", 0.5),), lambda x, n: 1 / 0)


@settings(max_examples=400, deadline=None)
@given(st.one_of(any_text, tricky, st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=30)))
def test_json_str_is_the_encoders_utf8(s):
    want = jsonl._ENCODE(s)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        assert K.json_str(s) is None
    else:
        assert K.json_str(s) == want.encode("utf-8")


@pytest.mark.parametrize("wide", ["", "\u00e9", "\u20ac", "\U0001f600"])
def test_json_str_escapes_every_ascii_character_as_the_encoder(wide):
    # each ASCII character (the kernel's escape table), in a str of each kind
    for c in map(chr, range(128)):
        s = f"a{c}{wide}{c}"
        assert K.json_str(s) == jsonl._ENCODE(s).encode("utf-8"), (c, wide)


def test_json_str_bad_argument():
    with pytest.raises(TypeError):
        K.json_str(b"abc")
    assert K.json_str("x" * 100000) == b'"' + b"x" * 100000 + b'"'


def test_report_lines_survives_a_list_shrunk_while_formatting():
    """A score's __float__ runs Python code mid-loop: a list of spans it empties must not be read
    past its end (the kernel formats a tuple copy: the lines of the spans as they were)."""
    spans: list = []

    class Shrinking:
        def __float__(self) -> float:
            spans.clear()
            return 0.5

    spans.extend([Span(1, 2, "t", "k", "r", Shrinking())] + [Span(1, 2, "t", "k", "r", 0.5) for _ in range(3)])
    out = K.report_lines("d", spans, round)
    assert out is not None and out.count(b"\n") == 4
