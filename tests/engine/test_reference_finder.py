"""A slow, obviously correct reference of the repeated-span finder (issue 2, acceptance 3).

The reference works on plain Python lists of words, with tuples as k-grams and no hashing.
It is compared with the vectorised finder (:func:`dedupe.engine.within.exact_repeats` and
:func:`~dedupe.engine.within.repeat_coverage`) on random word sequences from small alphabets,
so repeats are frequent.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import WithinConfig
from dedupe.core.tokenize import tokenize
from dedupe.engine.within import exact_repeats, repeat_coverage

# ---------------------------------------------------------------- the reference (plain Python)


def ref_covered(words: list[str], k: int) -> list[bool]:
    """Token i is covered when some k-gram containing it occurs at least twice."""
    n = len(words)
    grams = [tuple(words[i : i + k]) for i in range(n - k + 1)]
    covered = [False] * n
    for i, g in enumerate(grams):
        if sum(1 for h in grams if h == g) >= 2:
            for t in range(i, i + k):
                covered[t] = True
    return covered


def ref_removed_first(words: list[str], k: int) -> list[bool]:
    """Policy `first`: the first occurrence of every repeated k-gram is kept; a token is removed
    when a later occurrence covers it and no kept occurrence does."""
    n = len(words)
    grams = [tuple(words[i : i + k]) for i in range(n - k + 1)]
    first_at: dict[tuple[str, ...], int] = {}
    for i, g in enumerate(grams):
        first_at.setdefault(g, i)
    kept_cover = [False] * n
    later_cover = [False] * n
    for i, g in enumerate(grams):
        if grams.count(g) < 2:
            continue
        target = kept_cover if first_at[g] == i else later_cover
        for t in range(i, i + k):
            target[t] = True
    return [later_cover[t] and not kept_cover[t] for t in range(n)]


# ---------------------------------------------------------------- helpers


def as_text(words: list[str], seps: list[str]) -> str:
    return "".join(w + seps[i % len(seps)] for i, w in enumerate(words))


def token_index(toks, char_start: int, char_end: int) -> tuple[int, int]:
    a = int(np.searchsorted(toks.start, char_start))
    b = int(np.searchsorted(toks.end, char_end))
    assert toks.start[a] == char_start and toks.end[b] == char_end
    return a, b


def words_strategy(alphabet_size: int):
    return st.lists(st.sampled_from([f"w{c}" for c in "abcdefgh"[:alphabet_size]]), max_size=70)


seps_strategy = st.lists(st.sampled_from([" ", "\n", ", ", ". ", "  ", "\t", "\r\n"]), min_size=1, max_size=4)


# ---------------------------------------------------------------- the comparisons


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 4), words_strategy(3), st.integers(2, 6))
def test_coverage_matches_reference(alpha: int, words: list[str], k: int) -> None:
    words = [w for w in words if w[1] in "abcd"[:alpha]] or words
    toks = tokenize(" ".join(words))
    assert len(toks) == len(words)
    assert repeat_coverage(toks.hashes, k).tolist() == ref_covered(words, k)


@settings(max_examples=300, deadline=None)
@given(words_strategy(3), st.integers(2, 6), seps_strategy)
def test_first_policy_matches_reference(words: list[str], k: int, seps: list[str]) -> None:
    text = as_text(words, seps)
    toks = tokenize(text)
    cfg = WithinConfig(min_repeat_tokens=k, min_repeat_chars=0, keep_policy="first", near_repeat=False)
    pieces, removed, kept_ref = exact_repeats(text, toks, cfg)
    assert removed.tolist() == ref_removed_first(words, k)
    # the pieces cover exactly the removed tokens
    from_pieces = [False] * len(words)
    for p in pieces:
        a, b = token_index(toks, p.start, p.end)
        for t in range(a, b + 1):
            from_pieces[t] = True
    assert from_pieces == removed.tolist()


@settings(max_examples=300, deadline=None)
@given(words_strategy(4), st.integers(2, 6), seps_strategy, st.sampled_from(["first", "context"]), st.integers(0, 12))
def test_every_removed_token_has_an_identical_kept_copy(words, k, seps, policy, min_chars) -> None:
    text = as_text(words, seps)
    toks = tokenize(text)
    cfg = WithinConfig(min_repeat_tokens=k, min_repeat_chars=min_chars, keep_policy=policy, near_repeat=False)
    pieces, removed, kept_ref = exact_repeats(text, toks, cfg)
    covered = ref_covered(words, k)
    for p in pieces:
        a, b = token_index(toks, p.start, p.end)
        ka, kb = token_index(toks, *p.kept)
        assert words[a : b + 1] == words[ka : kb + 1]  # identical kept copy
        assert not removed[ka : kb + 1].any()  # which is not itself removed
        assert all(covered[a : b + 1])  # only repeated material is removed
        assert sum(len(w) for w in words[a : b + 1]) >= min_chars
    # no repeated k-gram loses all its occurrences
    n = len(words)
    occurrences: dict[tuple[str, ...], list[int]] = {}
    for i in range(n - k + 1):
        occurrences.setdefault(tuple(words[i : i + k]), []).append(i)
    for g, starts in occurrences.items():
        if len(starts) < 2:
            continue
        assert any(not removed[s : s + k].any() for s in starts), g


def test_reference_on_a_worked_example() -> None:
    # a b c a b c d a b: 2-grams ab (x3), bc (x2); first occurrences at 0 and 1 are kept
    words = "a b c a b c d a b".split()
    assert ref_covered(words, 2) == [True, True, True, True, True, True, False, True, True]
    assert ref_removed_first(words, 2) == [False, False, False, True, True, True, False, True, True]
    assert ref_covered(words, 3) == [True, True, True, True, True, True, False, False, False]
