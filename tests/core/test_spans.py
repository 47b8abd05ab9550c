"""finish_pieces: tidy, disjoint cuts whose whitespace never doubles (issue 2, "What clean outputs")."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.spans import Piece, finish_pieces


def P(a: int, b: int) -> Piece:
    return Piece(a, b, "repeat", "test", 1.0)


def cut(text: str, pieces: list[Piece]) -> tuple[str, list[Piece]]:
    done = finish_pieces(text, pieces)
    out, pos = [], 0
    for p in done:
        out.append(text[pos : p.start])
        pos = p.end
    out.append(text[pos:])
    return "".join(out), done


def at(text: str, sub: str, nth: int = 0) -> Piece:
    i = -1
    for _ in range(nth + 1):
        i = text.index(sub, i + 1)
    return P(i, i + len(sub))


def test_docstring_example() -> None:
    t = "Keep this. DUP DUP. Keep that."
    assert cut(t, [at(t, "DUP DUP")])[0] == "Keep this. Keep that."


def test_cut_at_text_start_and_end() -> None:
    t = "DUP here.\n\nBody text.\n\nDUP tail."
    assert cut(t, [at(t, "DUP here")])[0] == "Body text.\n\nDUP tail."
    assert cut(t, [at(t, "DUP tail")])[0] == "DUP here.\n\nBody text."
    assert cut(t, [at(t, "DUP here"), at(t, "DUP tail")])[0] == "Body text."


def test_leading_and_trailing_whitespace_of_the_page_kept() -> None:
    t = "  \nDUP here. Body\n"
    assert cut(t, [at(t, "DUP here")])[0] == "  \nBody\n"


def test_two_cut_lines_do_not_leave_a_blank_line_run() -> None:
    # two separate pieces on consecutive lines: the kept break is the strongest one, only once
    t = "Intro.\n\nDUP one\nDUP two\n\nOutro."
    cleaned, done = cut(t, [at(t, "DUP one"), at(t, "DUP two")])
    assert cleaned == "Intro.\n\nOutro."


def test_crlf_and_tabs() -> None:
    t = "Intro.\r\n\r\nDUP one\r\nDUP two\r\n\r\nOutro.\tDUP three\tend"
    cleaned, _ = cut(t, [at(t, "DUP one"), at(t, "DUP two"), at(t, "DUP three")])
    assert cleaned == "Intro.\r\n\r\nOutro.\tend"
    # a lone \r counts as a line break
    t = "A a.\rDUP x\rB b."
    assert cut(t, [at(t, "DUP x")])[0] == "A a.\rB b."


def test_space_and_newline_keep_the_newline() -> None:
    t = "Line one DUP\nLine two"
    assert cut(t, [at(t, "DUP")])[0] == "Line one\nLine two"


def test_punctuation_attached_to_a_cut_goes_with_it() -> None:
    t = 'He said «DUP DUP», then left.'
    assert cut(t, [at(t, "DUP DUP")])[0] == "He said then left."
    t = "One. DUP a. DUP b. Two."
    assert cut(t, [at(t, "DUP a"), at(t, "DUP b")])[0] == "One. Two."


def test_whitespace_only_text_and_empty_pieces() -> None:
    assert finish_pieces("   \n\t ", []) == []
    assert finish_pieces("abc", [P(1, 1)]) == []
    t = " \n \n "
    cleaned, done = cut(t, [P(1, 3)])
    assert len(done) == 1 and done[0].start <= 1 and done[0].end >= 3


def test_overlapping_pieces_become_disjoint() -> None:
    t = "aaa bbb ccc ddd eee"
    _, done = cut(t, [P(4, 11), P(8, 15), P(5, 7)])
    assert all(a.end <= b.start for a, b in zip(done, done[1:]))
    assert done[0].start == 4 and done[-1].end >= 15


# ------------------------------------------------------------------ properties

WORDS = ["alpha", "Beta", "é", "東京", "x1"]
SEPS = [" ", "  ", "\n", "\n\n", "\r\n", "\r\n\r\n", "\t", ". ", ", ", " (", ") ", "«", "»", "…", " - "]


@st.composite
def text_and_pieces(draw):
    parts = draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPS)), min_size=1, max_size=25))
    lead = draw(st.sampled_from(["", " ", "\n", "\r\n\t"]))
    text = lead + "".join(w + s for w, s in parts)
    # word boundaries, as the engine's pieces are token-aligned
    words = [m.span() for m in re.finditer(r"\w+", text)]
    chosen = draw(st.lists(st.tuples(st.integers(0, len(words) - 1), st.integers(0, 3)), max_size=6))
    pieces = [P(words[i][0], words[min(i + j, len(words) - 1)][1]) for i, j in chosen]
    return text, pieces


def ws_run_at(s: str, pos: int) -> str:
    a = pos
    while a > 0 and s[a - 1].isspace():
        a -= 1
    b = pos
    while b < len(s) and s[b].isspace():
        b += 1
    return s[a:b]


def breaks(s: str) -> int:
    return len((s + "x").splitlines()) - 1


@settings(max_examples=400, deadline=None)
@given(text_and_pieces())
def test_finish_pieces_properties(tp) -> None:
    text, pieces = tp
    cleaned, done = cut(text, pieces)
    n = len(text)
    for a, b in zip(done, done[1:]):
        assert a.end <= b.start  # sorted, disjoint
    for p in done:
        assert 0 <= p.start < p.end <= n
    # every input piece is inside the output, and widening only took non-word characters
    covered = [False] * n
    for p in done:
        covered[p.start : p.end] = [True] * (p.end - p.start)
    asked = [False] * n
    for p in pieces:
        asked[p.start : p.end] = [True] * (p.end - p.start)
        assert all(covered[p.start : p.end])
    extra = "".join(ch for i, ch in enumerate(text) if covered[i] and not asked[i])
    assert not any(ch.isalnum() for ch in extra)
    # at each cut, the whitespace left in the cleaned text is no more than what was there:
    # no doubled spaces, no new blank-line runs
    pos_clean = 0
    pos_orig = 0
    for p in done:
        pos_clean += p.start - pos_orig
        pos_orig = p.end
        joined = ws_run_at(cleaned, pos_clean)
        lo, hi = p.start, p.end
        while lo > 0 and (text[lo - 1].isspace() or covered[lo - 1]):
            lo -= 1
        while hi < n and (text[hi].isspace() or covered[hi]):
            hi += 1
        region_runs = [m.group() for m in re.finditer(r"\s+", text[lo:hi])] or [""]
        assert breaks(joined) <= max(breaks(r) for r in region_runs)
        if breaks(joined) == 0:
            assert len(joined) <= max(len(r) for r in region_runs)
