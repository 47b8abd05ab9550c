"""The compiled within-page kernel (``dedupe.core._native.within``) against its numpy twins:
``within_analysis`` / ``within_analysis_many`` with the kernel equal the numpy code (module
``_K`` set to None) on random pages with exact, periodic and near repeats, masks and settings;
``sentence_bounds`` on random text of all three string kinds (astral characters, lone
surrogates); ``_mark``; and bad arguments raise ValueError instead of crashing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import WithinConfig
from dedupe.core import segment
from dedupe.core.tokenize import tokenize, tokenize_batch
from dedupe.engine import within

K = within._K
pytestmark = pytest.mark.skipif(K is None, reason="the within kernel is not built (or DEDUPE_PURE is set)")

CONFIGS = [
    WithinConfig(),
    WithinConfig(min_repeat_tokens=2, min_repeat_chars=0, near_repeat_min_tokens=3),
    WithinConfig(min_repeat_tokens=3, keep_policy="first", artefact_evidence=False),
    WithinConfig(min_repeat_tokens=4, near_repeat_threshold=0.7, near_repeat_min_tokens=4),
    WithinConfig(min_repeat_tokens=5, near_repeat_threshold=0.8, near_repeat_shingle=1, near_repeat_bands=16),
    WithinConfig(min_repeat_tokens=4, near_repeat=False),
    WithinConfig(min_repeat_tokens=3, keep_policy="first"),
]
PHRASES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "The quick brown fox jumps over the lazy cat near the river bank.",
    "the quick brown fox jumps over the lazy cat near the river bend.",
    "A quick brown fox jumped over the lazy dog near the river bank…",
    "Read more...", "\n", ". ", "a b a b a b a b a b", "x y z x y z x y z",
    "東京タワーに行きました。東京タワーに行きました。", "one two three four five six seven eight nine ten",
    "word", "  ", "“Quoted text here, said the man on the hill.”", "(it was late at night when we left)",
    "élan vital Élan", "😀 emoji 😀 here and there 😀", "",
]
page = st.lists(st.sampled_from(PHRASES), max_size=24).map(" ".join)
batch = st.lists(page, max_size=6)


def _numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(within, "_K", None)
    monkeypatch.setattr(segment, "_K", None)


def _both(monkeypatch: pytest.MonkeyPatch, fn, *args):
    """``fn(*args)`` with the kernels, then with the numpy code: (got, want)."""
    got = fn(*args)
    with monkeypatch.context() as mp:
        _numpy(mp)
        return got, fn(*args)


def _same(a: within.WithinAnalysis, b: within.WithinAnalysis) -> None:
    assert a.pieces == b.pieces
    assert a.flagged == b.flagged
    assert a.removed.dtype == b.removed.dtype and np.array_equal(a.removed, b.removed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(batch, st.sampled_from(range(len(CONFIGS))), st.integers(0, 2**32), st.sampled_from([0.0, 0.05, 0.3]))
def test_kernel_equals_numpy(monkeypatch, texts, ci, seed, p_mask):
    cfg = CONFIGS[ci]
    toks = tokenize_batch(texts)
    rng = np.random.default_rng(seed)
    masks = [None if (i + seed) % 3 == 0 else rng.random(len(t)) < p_mask for i, t in enumerate(toks)]
    got_many = within.within_analysis_many(texts, toks, cfg, masks)
    got_one = [within.within_analysis(x, t, cfg, excluded=mk) for x, t, mk in zip(texts, toks, masks)]
    with monkeypatch.context() as mp:
        _numpy(mp)
        want_many = within.within_analysis_many(texts, toks, cfg, masks)
        want_one = [within.within_analysis(x, t, cfg, excluded=mk) for x, t, mk in zip(texts, toks, masks)]
    for g, w in zip(got_many, want_many):
        _same(g, w)
    for g, w in zip(got_one, want_one):
        _same(g, w)


def test_kernel_finds_near_and_exact_repeats(monkeypatch):
    # the test above is not vacuous: these pages give exact, periodic, near and flagged pieces
    texts = [
        " ".join([PHRASES[0], "Some body text goes here.", PHRASES[1], "More text.", PHRASES[0]]),
        "ab cd ef ab cd ef ab cd ef ab cd ef ab cd ef and then the end of it all",
        " ".join([PHRASES[0], PHRASES[0], "Other words entirely in this place.", PHRASES[2]]),
    ]
    cfg = WithinConfig(min_repeat_tokens=4)
    toks = tokenize_batch(texts)
    got = within.within_analysis_many(texts, toks, cfg)
    rules = {p.rule.split("/")[0] for g in got for p in g.pieces + g.flagged}
    assert {"near-block", "periodic-run", "exact-run>=4-tokens"} <= rules, rules
    with monkeypatch.context() as mp:
        _numpy(mp)
        want = within.within_analysis_many(texts, toks, cfg)
    for g, w in zip(got, want):
        _same(g, w)


def test_empty_and_one_page_batches(monkeypatch):
    cfg = WithinConfig()
    for texts in ([], [""], ["word"], ["", "", ""], [PHRASES[0] * 3]):
        toks = tokenize_batch(texts)
        got, want = _both(monkeypatch, within.within_analysis_many, texts, toks, cfg)
        assert len(got) == len(want) == len(texts)
        for g, w in zip(got, want):
            _same(g, w)


ALPHABET = " \n\t\r\u3000\u2028.!?…。！？\"'»”’)]ab Zé😀\ud800"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_sentence_bounds_kernel_equals_numpy(text):
    s, e = segment.sentence_bounds(text)
    ws, we = segment._sentence_bounds_numpy(text)
    assert s.dtype == ws.dtype == np.int64 and e.dtype == we.dtype == np.int64
    assert np.array_equal(s, ws) and np.array_equal(e, we)
    s[:0] = 0  # writable, as the numpy result is


@pytest.mark.parametrize("text", ["", " ", "a", "Hi. there", "x" * 3 + "。" * 5, "é. b", "😀. 😀", "\ud800. x", "a.\u00a0b"])
def test_sentence_bounds_edge_cases(text):
    s, e = segment.sentence_bounds(text)
    ws, we = segment._sentence_bounds_numpy(text)
    assert np.array_equal(s, ws) and np.array_equal(e, we)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 30), st.lists(st.tuples(st.integers(0, 40), st.integers(-3, 40)), max_size=6))
def test_mark_kernel_equals_numpy(monkeypatch, n, ranges):
    a = np.array([r[0] for r in ranges], dtype=np.int64)
    b = np.array([r[1] for r in ranges], dtype=np.int64)
    got, want = _both(monkeypatch, within._mark, n, a, b)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_bad_arguments_raise_value_error():
    z = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError):  # offsets that do not end at the token count
        K.exact_groups(np.zeros(2, np.uint64), np.array([0, 9], np.int64), 2, z, z.copy(), np.zeros(1, np.uint8))
    with pytest.raises(ValueError):  # k-gram hashes too short
        K.exact_groups(np.zeros(1, np.uint64), np.array([0, 4], np.int64), 2, z, z.copy(), np.zeros(1, np.uint8))
    with pytest.raises(ValueError):  # wrong item size
        K.exact_groups(np.zeros(3, np.uint32), np.array([0, 4], np.int64), 2, z, z.copy(), np.zeros(1, np.uint8))
    with pytest.raises(ValueError):  # a group number out of range
        K.exact_pieces(["abcd"], np.array([0, 4], np.int64), z, z, np.array([5, -1, -1, -1], np.int64), z, 1,
                       np.zeros(4, np.uint8), np.zeros(5, np.int64), 2, 0, True)
    with pytest.raises(ValueError):
        K.mark(np.zeros(3, np.uint8), np.array([-1], np.int64), np.array([1], np.int64))
    t = tokenize("alpha beta gamma delta")
    u8 = np.zeros(len(t), np.uint8)
    args = [t.start, t.end, t.nstart, t.nend]
    with pytest.raises(ValueError):  # a pair naming a block that does not exist
        K.near_page("alpha beta gamma delta", t.norm.text, lambda *a, **k: 0.0, *args, np.array([0, 2], np.int64),
                    np.array([2, 4], np.int64), np.array([0, 5], np.int64), np.zeros(0, np.int64), u8, u8, None, 0.9, True, True)
    with pytest.raises(ValueError):  # blocks past the tokens
        K.near_page("alpha beta gamma delta", t.norm.text, lambda *a, **k: 0.0, *args, np.array([0, 2], np.int64),
                    np.array([2, 9], np.int64), np.array([0, 1], np.int64), np.zeros(0, np.int64), u8, u8, None, 0.9, True, True)
    with pytest.raises(ValueError, match="token arrays differ"):  # one token array shorter than the others
        K.near_page("alpha beta gamma delta", t.norm.text, lambda *a, **k: 0.0, t.start, t.end[:-1], t.nstart, t.nend,
                    np.array([0, 2], np.int64), np.array([2, 4], np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                    u8, u8, None, 0.9, True, True)


PREFIX = ["", ". ", ".> ", ". \"", "\n", " (", ".\t> ", "! « ", "? ‘", "word ", "。", ". >> "]
SUFFIX = ["", " ...", "  ...", " …", "\t…", " . . .", "..", "   ...", " x", "...", "  …"]
UNIT = ["alpha beta gamma delta", "Alpha beta gamma delta", "éclair beta gamma delta"]
part = st.tuples(st.sampled_from(PREFIX), st.sampled_from(UNIT), st.sampled_from(SUFFIX)).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(part, min_size=2, max_size=6).map(" filler words here ".join), st.booleans())
def test_evidence_contexts_kernel_equals_numpy(monkeypatch, text, adjacent):
    # the contexts the artefact evidence reads: sentence ends, quotes and ">" before a copy,
    # ellipses (after blanks, within four characters) after it
    if adjacent:
        text = text.replace(" filler words here ", " ")
    cfg = WithinConfig(min_repeat_tokens=3, min_repeat_chars=0)
    toks = tokenize(text)
    got, want = _both(monkeypatch, within.within_analysis, text, toks, cfg)
    _same(got, want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(batch, st.sampled_from(range(len(CONFIGS))))
def test_near_pre_kernel_equals_numpy(monkeypatch, texts, ci):
    # the candidate blocks (lo[cand], hi[cand]) and LSH pairs of every page, as near_repeats reads them
    cfg = CONFIGS[ci]
    toks = tokenize_batch(texts)
    got, want = _both(monkeypatch, within._near_pre_many, texts, toks, cfg)
    assert len(got) == len(want) == len(texts)
    for (lo, hi, cand, pairs), (wlo, whi, wcand, wpairs) in zip(got, want):
        assert np.array_equal(lo[cand], wlo[wcand]) and np.array_equal(hi[cand], whi[wcand])
        assert pairs.dtype == wpairs.dtype and pairs.shape == wpairs.shape and np.array_equal(pairs, wpairs)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(batch, st.sampled_from(range(len(CONFIGS))), st.integers(0, 2**32))
def test_exact_many_kernel_equals_numpy(monkeypatch, texts, ci, seed):
    # periodic pieces, their mask and the exact pieces of every page (the kernel's rows as pieces)
    cfg = CONFIGS[ci]
    toks = tokenize_batch(texts)
    rng = np.random.default_rng(seed)
    masks = [None if (i + seed) % 2 else rng.random(len(t)) < 0.1 for i, t in enumerate(toks)]
    got, want = _both(monkeypatch, within._exact_many, texts, toks, cfg, masks)
    for (gp, gm, graw), (wp, wm, wraw) in zip(got, want):
        assert gp == wp and gm.dtype == wm.dtype and np.array_equal(gm, wm)
        assert (graw.pieces() if isinstance(graw, within._ExactRows) else graw) == wraw


def test_no_white_space_where_the_kernel_skips_the_lookup():
    # the kernel's sentence split takes U+0080..U+0084 and every code point above U+3000 as
    # non-space without asking the Unicode database: true of this Python's str.isspace
    assert not any(chr(c).isspace() for c in range(0x80, 0x85))
    assert not any(chr(c).isspace() for c in range(0x3001, 0x110000))
