"""``within_analysis_many`` (batched exact pass: repeat groups, regions, pieces over all pages
at once) equals ``within_analysis`` page by page: random batches of pages built from repeated
phrases (periodic runs, teasers, CJK, empty pages, pages with nothing repeated), random
exclusion masks, several settings."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import WithinConfig
from dedupe.core.tokenize import tokenize_batch
from dedupe.engine.within import within_analysis, within_analysis_many

CONFIGS = [
    WithinConfig(),
    WithinConfig(min_repeat_tokens=2, min_repeat_chars=0, near_repeat_min_tokens=3),
    WithinConfig(min_repeat_tokens=3, keep_policy="first", artefact_evidence=False),
    WithinConfig(min_repeat_tokens=4, near_repeat=False),
]
PHRASES = ["the cat sat on the mat", "The cat sat on the mat.", "a b a b a b a b a b", "x y z x y z x y z",
           "東京タワーに行きました。", "…", "\n", ". ", "one two three four five six seven eight nine ten",
           "word", "  ", "Read more...", "it was late", "ab ab ab ab", "élan vital Élan", ""]
page = st.lists(st.sampled_from(PHRASES), max_size=30).map(" ".join)
batch = st.lists(page, max_size=7)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch, st.sampled_from(range(len(CONFIGS))), st.integers(0, 2**32), st.sampled_from([0.0, 0.1, 0.5]))
def test_within_analysis_many_equals_page_by_page(texts, ci, seed, p_mask):
    cfg = CONFIGS[ci]
    toks = tokenize_batch(texts)
    rng = np.random.default_rng(seed)
    masks = [None if (i + seed) % 3 == 0 else rng.random(len(t)) < p_mask for i, t in enumerate(toks)]
    got = within_analysis_many(texts, toks, cfg, masks)
    assert len(got) == len(texts)
    for text, t, mk, g in zip(texts, toks, masks, got):
        want = within_analysis(text, t, cfg, excluded=mk)
        assert g.pieces == want.pieces
        assert g.flagged == want.flagged
        assert g.removed.dtype == want.removed.dtype and np.array_equal(g.removed, want.removed)


def _same_as_page_by_page(texts, toks, cfg):
    """within_analysis_many of ``texts``, checked equal to within_analysis page by page."""
    got = within_analysis_many(texts, toks, cfg)
    for text, t, g in zip(texts, toks, got):
        want = within_analysis(text, t, cfg)
        assert g.pieces == want.pieces and g.flagged == want.flagged and np.array_equal(g.removed, want.removed)
    return got


def test_within_analysis_many_pages_that_touch():
    # the same k-gram ends one page and starts the next: no group, region or piece crosses pages
    cfg = WithinConfig(min_repeat_tokens=2, min_repeat_chars=0)
    texts = ["p q r s t p q", "p q r s t p q", "", "p q", "p q p q p q r s r s"]
    toks = tokenize_batch(texts)
    got = _same_as_page_by_page(texts, toks, cfg)
    assert any(g.pieces for g in got)


def test_within_analysis_many_periodic_run_with_one_kgram_match():
    # "a b a b a": a period-2 run of exactly k = 3 equal tokens, so one k-gram match only: the
    # batched period test must still send the page to periodic_runs (pages around it differ)
    cfg = WithinConfig(min_repeat_tokens=3, min_repeat_chars=0)
    texts = ["p q r p q r s", "w a b a b a z", "", "m n o m n o m x y z", "a b a b a"]
    toks = tokenize_batch(texts)
    got = _same_as_page_by_page(texts, toks, cfg)
    assert any(p.rule.startswith("periodic-run") for p in got[1].pieces)
