"""Batched site level equals the page-by-page one: ``main_text_pieces_many`` ==
``main_text_pieces`` and ``site_pieces_many`` == ``site_pieces`` on random batches of pages
(comment lists with «Reply» markers and dated headers, navigation glued mid-line, long
template paragraphs on few pages, empty pages, CJK), random template masks and page shares."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import Config
from dedupe.config import TemplateConfig
from dedupe.core.tokenize import tokenize_batch
from dedupe.engine.index import MemoryIndex
from dedupe.engine.maintext import main_text_pieces, main_text_pieces_many
from dedupe.engine.site import site_pieces, site_pieces_many
from dedupe.engine.templates import doc_fingerprints, page_features_many

LINES = [
    "Reply", "Share", "Posted by: Jane | September 13, 2012 at 05:15 AM", "Posted by: Bob | May 2, 2011 at 11:02 PM",
    "Home | World | Politics | Sport", "This is a long paragraph of article text with many words in it that goes on.",
    "Another paragraph, shorter.", "東京タワーに行きました。", "ADVERTISEMENT", "Comments", "a b", "", "x",
    "A comment that says something about the article in a few words.", "Related: the other story here",
    "© Site 2024. All rights reserved.", "Published: 3/12/2024 - 0:57",
]
page = st.lists(st.sampled_from(LINES), max_size=25).map("\n".join)
CFGS = [TemplateConfig(), TemplateConfig(list_min_repeats=2, headline_window=0, template_unit_cap=0),
        TemplateConfig(span_tokens=3, restore_below=0.0), TemplateConfig(restore_below=0.9, line_cost=2.0)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(page, max_size=7), st.sampled_from(range(len(CFGS))), st.integers(0, 2**32), st.sampled_from([0.0, 0.2, 0.6]))
def test_main_text_pieces_many_equals_page_by_page(texts, ci, seed, p_tpl):
    cfg = CFGS[ci]
    toks = tokenize_batch(texts)
    feats = page_features_many(texts, toks, cfg)
    rng = np.random.default_rng(seed)
    tpls, shares = [], []
    for t in toks:
        # template runs: a random walk over the tokens, so masks come in runs
        flips = rng.random(len(t)) < 0.15
        tpl = (np.cumsum(flips) % 2 == 1) if p_tpl else np.zeros(len(t), dtype=bool)
        tpl &= rng.random(len(t)) >= p_tpl / 4
        n_site = int(rng.integers(1, 12))
        tokdf = np.where(tpl, rng.integers(1, n_site + 1, len(t)), 0)
        tpls.append(tpl)
        shares.append(tokdf / n_site)
    got = main_text_pieces_many(toks, tpls, cfg, [f.masked for f in feats], shares, [f.lid for f in feats])
    assert len(got) == len(texts)
    for text, t, tpl, f, sh, (gp, gm, gr) in zip(texts, toks, tpls, feats, shares, got):
        wp, wm, wr = main_text_pieces(text, t, tpl, cfg, f.masked, sh, lid=f.lid)
        assert gp == wp
        assert gm.dtype == wm.dtype and np.array_equal(gm, wm)
        assert np.array_equal(gr, wr)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(page, min_size=1, max_size=8), st.sampled_from(range(len(CFGS))), st.booleans())
def test_site_pieces_many_equals_page_by_page(texts, ci, main_text):
    import dataclasses

    cfg = Config(templates=dataclasses.replace(CFGS[ci], main_text=main_text))
    toks = tokenize_batch(texts)
    index = MemoryIndex()
    sites = [f"s{i % 2}" for i in range(len(texts))]
    for i, (text, t) in enumerate(zip(texts, toks)):
        index.observe(sites[i], f"d{i}", doc_fingerprints(text, t, cfg.templates))
    feats = page_features_many(texts, toks, cfg.templates)
    got = site_pieces_many(texts, toks, [index] * len(texts), sites, cfg, [f if i % 3 else None for i, f in enumerate(feats)])
    for text, t, site, (gp, gm) in zip(texts, toks, sites, got):
        wp, wm = site_pieces(text, t, index, site, cfg)
        assert gp == wp
        assert np.array_equal(gm, wm)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(page.filter(bool), max_size=7), st.sampled_from(range(len(CFGS))), st.integers(0, 2**32))
def test_units_many_equal_units_and_markers_page_by_page(texts, ci, seed):
    # the batched units and list markers (comment headers included) page by page, before any
    # weighting: a marker or header that leaked across two pages would show here
    from dedupe.engine.maintext import _marker_spans, _units_many, units

    cfg = CFGS[ci]
    toks = [t for t in tokenize_batch(texts)]
    keep = [i for i, t in enumerate(toks) if len(t)]
    texts, toks = [texts[i] for i in keep], [toks[i] for i in keep]
    if not texts:
        return
    feats = page_features_many(texts, toks, cfg)
    rng = np.random.default_rng(seed)
    tpls = [np.cumsum(rng.random(len(t)) < 0.2) % 2 == 1 for t in toks]
    U = _units_many(toks, tpls, cfg, [f.masked for f in feats], [f.lid for f in feats])
    h_units = U["lstart"][U["hidx"]]
    for p, (text, t, tpl, f) in enumerate(zip(texts, toks, tpls, feats)):
        ua, ub, ta = int(U["u_off"][p]), int(U["u_off"][p + 1]), int(U["tok_off"][p])
        first, end, is_tpl, whole = units(text, t, tpl, f.lid)
        assert (U["first"][ua:ub] - ta).tolist() == first.tolist() and (U["end"][ua:ub] - ta).tolist() == end.tolist()
        assert U["is_tpl"][ua:ub].tolist() == is_tpl.tolist() and U["whole"][ua:ub].tolist() == whole.tolist()
        ms, me, sig = _marker_spans(first, end, is_tpl, whole, f.masked, f.lid[first], cfg)
        mk = (U["midx"] >= ua) & (U["midx"] < ub)
        hk = (h_units >= ua) & (h_units < ub)
        got_ms = np.concatenate((U["midx"][mk], h_units[hk])) - ua
        got_me = np.concatenate((U["midx"][mk], U["lend"][U["hidx"][hk]])) - ua
        got_sig = np.concatenate((U["sig"][mk], U["hsig"][hk]))
        assert got_ms.tolist() == ms.tolist() and got_me.tolist() == me.tolist() and got_sig.tolist() == sig.tolist()


# --- the rewritten per-page code against the former implementation (tests/engine/_ref_*.py) ---


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(page, max_size=6), st.sampled_from(range(len(CFGS))), st.integers(0, 2**32), st.sampled_from([0.2, 0.6]))
def test_main_text_pieces_equal_former_implementation(texts, ci, seed, p_tpl):
    import _ref_maintext

    cfg = CFGS[ci]
    toks = tokenize_batch(texts)
    feats = page_features_many(texts, toks, cfg)
    rng = np.random.default_rng(seed)
    for text, t, f in zip(texts, toks, feats):
        tpl = (np.cumsum(rng.random(len(t)) < 0.15) % 2 == 1) & (rng.random(len(t)) >= p_tpl / 4)
        n_site = int(rng.integers(1, 12))
        share = np.where(tpl, rng.integers(1, n_site + 1, len(t)), 0) / n_site
        got = main_text_pieces(text, t, tpl, cfg, f.masked, share, lid=f.lid)
        want = _ref_maintext.main_text_pieces(text, t, tpl, cfg, f.masked, share, lid=f.lid)
        assert got[0] == want[0]
        assert np.array_equal(got[1], want[1]) and np.array_equal(got[2], want[2])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(page, min_size=1, max_size=8), st.sampled_from(range(len(CFGS))), st.booleans(), st.integers(1, 3))
def test_site_pieces_equal_former_implementation(texts, ci, main_text, n_sites):
    import dataclasses

    import _ref_site

    cfg = Config(templates=dataclasses.replace(CFGS[ci], main_text=main_text, min_pages=2 + ci % 2))
    toks = tokenize_batch(texts)
    index = MemoryIndex()
    sites = [f"s{i % n_sites}" for i in range(len(texts))]
    for i, (text, t) in enumerate(zip(texts, toks)):
        index.observe(sites[i], f"d{i}", doc_fingerprints(text, t, cfg.templates))
    for text, t, site in zip(texts, toks, sites):
        gp, gm = site_pieces(text, t, index, site, cfg)
        wp, wm = _ref_site.site_pieces(text, t, index, site, cfg)
        assert gp == wp
        assert np.array_equal(gm, wm)
        g = _ref_site.template_mask(text, t, index, site, cfg)
        from dedupe.engine.site import template_mask

        for x, y in zip(template_mask(text, t, index, site, cfg), g):
            assert np.array_equal(x, y)


def test_template_edges_trimmed_as_before():
    # k-gram bleed: «alpha beta» after the navigation on two of eight pages is covered by
    # k-grams on 2 pages next to a run on 8: trimmed off the run (the former implementation too)
    import _ref_site

    from dedupe.engine.site import template_mask

    cfg = Config()
    nav = "Home | World | Politics | Sport"
    uniq = ["".join(chr(97 + (7 * i + 3 * j) % 26) * 2 + chr(97 + j) for j in range(6)) for i in range(8)]  # no digits
    bodies = [("Alpha beta " if i < 2 else "") + " ".join(f"{u}{c}" for c in "pqrstu") for i, u in enumerate(uniq)]
    texts = [f"{nav}\n{b}" for b in bodies]
    toks = tokenize_batch(texts)
    index = MemoryIndex()
    for i, (text, t) in enumerate(zip(texts, toks)):
        index.observe("s", f"d{i}", doc_fingerprints(text, t, cfg.templates))
    for text, t in zip(texts[:2], toks[:2]):
        got, want = template_mask(text, t, index, "s", cfg), _ref_site.template_mask(text, t, index, "s", cfg)
        for x, y in zip(got[:3], want[:3]):
            assert np.array_equal(x, y)
        assert got[0][:4].all() and not got[0][4:6].any()  # the navigation, not «alpha beta»
        assert site_pieces(text, t, index, "s", cfg) [0] == _ref_site.site_pieces(text, t, index, "s", cfg)[0]
