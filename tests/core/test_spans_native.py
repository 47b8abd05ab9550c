"""The compiled ``finish_pieces`` (``dedupe.core._native.within.finish``) equals the Python code
on random texts (punctuation, every kind of line break and space, all three string kinds) and
random pieces (overlapping, empty, touching, outside the text)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import spans
from dedupe.core.spans import Piece

K = spans._K
pytestmark = pytest.mark.skipif(K is None, reason="the within kernel is not built (or DEDUPE_PURE is set)")

ALPHABET = "ab Z9é東😀 \t\n\r\x0b\x0c\x1c\x85\u2028\u3000\xa0" + spans.OPENING + spans.CLOSING + "-—"
piece = st.tuples(st.integers(-2, 42), st.integers(-2, 42), st.sampled_from(["repeat", "near"]), st.integers(0, 3))


def _pieces(raw):
    return [Piece(a, b, kind, f"r{r}", 1.0, kept=(r, r + 1) if r else None, extra=r or None) for a, b, kind, r in raw]


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40), st.lists(piece, max_size=8))
def test_finish_kernel_equals_python(text, raw):
    ps = _pieces(raw)
    try:
        want = spans._finish_pieces_py(text, ps)
    except IndexError:  # a piece outside the text: the kernel leaves it to the Python code
        with pytest.raises(IndexError):
            spans.finish_pieces(text, ps)
        return
    got = spans.finish_pieces(text, ps)
    assert got == want
    assert [type(p) for p in got] == [Piece] * len(want)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=40), st.data())
def test_finish_kernel_equals_python_inside_text(text, data):
    # pieces inside the text (the kernel's own path, never the fallback)
    n = len(text)
    raw = data.draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n)), max_size=8))
    ps = [Piece(a, b, "repeat", "r", 1.0) for a, b in raw]
    assert K.finish(text, ps) is not None
    assert spans.finish_pieces(text, ps) == spans._finish_pieces_py(text, ps)


def test_finish_generator_and_fallback():
    t = "Keep this. DUP DUP. Keep that."
    gen = (p for p in [Piece(11, 18, "repeat", "r", 1.0)])
    assert [t[p.start : p.end] for p in spans.finish_pieces(t, gen)] == ["DUP DUP. "]
    far = [Piece(11, 99, "repeat", "r", 1.0)]  # past the text: the Python code runs
    assert K.finish(t, far) is None
    with pytest.raises(IndexError):  # as the Python code does
        spans.finish_pieces(t, far)
    assert K.finish(t, [Piece(11.0, 18, "repeat", "r", 1.0)]) is None  # offsets that are not ints: the Python code too
    assert spans.finish_pieces(t, []) == [] and spans.finish_pieces("", [Piece(0, 0, "r", "r", 1.0)]) == []


SEGMENTS = ["word", "Cut", " ", "  ", "\n", "\r\n", "\n\n", " \r\n ", "\r", ", ", ".", "…", "(", ")", "“", "”", "\u2028", "東京", "9"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=14), st.data())
def test_finish_kernel_equals_python_on_segment_cuts(segs, data):
    # cuts on segment boundaries: whitespace runs with CRLF, line breaks before a cut followed by
    # punctuation, clusters of cuts separated by blanks
    bounds = [0]
    for s in segs:
        bounds.append(bounds[-1] + len(s))
    text = "".join(segs)
    idx = st.integers(0, len(segs))
    raw = data.draw(st.lists(st.tuples(idx, idx), max_size=5))
    ps = [Piece(bounds[a], bounds[b], "repeat", "r", 1.0) for a, b in raw]
    assert spans.finish_pieces(text, ps) == spans._finish_pieces_py(text, ps)


@pytest.mark.parametrize(
    "text, sub",
    [("word\nCut\r\nword", "Cut"), ("word\r\nCut\nword", "Cut"), ("a\r\n\r\nCut\n\n\nb", "Cut"), ("x\u2028Cut\x85y", "Cut"),
     ("word\nCut, more", "Cut"), ("word Cut Cut  more", "Cut Cut"), ("(Cut) word", "Cut"), ("“Cut” and Cut.", "Cut")],
)
def test_finish_kernel_equals_python_cases(text, sub):
    a = text.index(sub)
    ps = [Piece(a, a + len(sub), "repeat", "r", 1.0)]
    assert spans.finish_pieces(text, ps) == spans._finish_pieces_py(text, ps)
