"""The compiled site kernel (``dedupe/core/_native/site.c``) against the numpy code it replaces:
page features, template masks, template runs and main runs must be exactly equal (values and
dtypes) on hypothesis pages (digits of several scripts, astral characters, all three string
kinds, CR/LF, empty pages), on random page counts and masks, and bad arguments must raise
ValueError. The kernel is imported directly, so these tests also run under ``DEDUPE_PURE=1``."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import Config
from dedupe.config import TemplateConfig
from dedupe.core.tokenize import tokenize_batch
from dedupe.engine import maintext, site, templates
from dedupe.engine.corpus import ExcludingIndex
from dedupe.engine.index import MemoryIndex
from dedupe.engine.templates import doc_fingerprints

try:
    K = importlib.import_module("dedupe.core._native.site")
except ImportError:  # not built: nothing to compare
    K = None

pytestmark = pytest.mark.skipif(K is None, reason="the site kernel is not built")

LINES = [
    "Reply", "Share", "Posted by: Jane | September 13, 2012 at 05:15 AM", "Home | World | Politics | Sport",
    "This is a long paragraph of article text with many words in it that goes on.", "Another paragraph, shorter.",
    "東京タワーに行きました。", "ADVERTISEMENT", "a b", "", "x", "Published: 3/12/2024 - 0:57", "٣ أيام مضت ١٢",
    "ｐａｇｅ ３ ｏｆ ９", "𝟙𝟚 math digits 𝟘", "emoji 😀 line 😀", "café\r\ncrème 12h30", "Related: the other story here",
]
page = st.lists(st.sampled_from(LINES), max_size=18).map("\n".join)
free_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
pages = st.lists(st.one_of(page, page, free_text), max_size=7)
CFGS = [
    TemplateConfig(), TemplateConfig(mask_digits=False), TemplateConfig(span_tokens=2, list_min_repeats=2),
    TemplateConfig(span_tokens=3, restore_below=0.0, headline_window=0, template_unit_cap=0),
    TemplateConfig(restore_below=0.9, line_cost=2.0, min_fraction=0.4),
]


@pytest.fixture
def kernel(monkeypatch):
    """Set the modules' kernel: ``kernel(True)`` -> the compiled one, ``kernel(False)`` -> numpy."""

    def use(on: bool) -> None:
        for mod in (templates, site, maintext):
            monkeypatch.setattr(mod, "_K", K if on else None)

    return use


def _same(a, b) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def _same_feats(x, y) -> None:
    for f in ("masked", "lid", "kfp", "lf", "le", "lfp"):
        _same(getattr(x, f), getattr(y, f))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pages, st.sampled_from(range(len(CFGS))))
def test_page_features_kernel_equals_numpy(kernel, texts, ci):
    cfg = CFGS[ci]
    toks = tokenize_batch(texts)
    kernel(True)
    got = templates.page_features_many(texts, toks, cfg)
    one = [templates.page_features(t, tk, cfg) for t, tk in zip(texts, toks)]
    kernel(False)
    want = templates.page_features_many(texts, toks, cfg)
    assert len(got) == len(want) == len(texts)
    for g, o, w, t, tk in zip(got, one, want, texts, toks):
        _same_feats(g, w)
        _same_feats(o, w)
        _same(g.fingerprints(), doc_fingerprints(t, tk, cfg))


def _site_run(texts, cfg, n_sites, exclude_every):
    toks = tokenize_batch(texts)
    index = MemoryIndex()
    sites = [f"s{i % n_sites}" for i in range(len(texts))]
    fps = [doc_fingerprints(t, tk, cfg.templates) for t, tk in zip(texts, toks)]
    for i, f in enumerate(fps):
        index.observe(sites[i], f"d{i}", f)
    views = [
        ExcludingIndex(index, sites[i], fps[i - 1], np.ones(len(fps[i - 1]), dtype=np.int64), 1)
        if exclude_every and i % exclude_every == 1 else index
        for i in range(len(texts))
    ]
    feats = templates.page_features_many(texts, toks, cfg.templates)
    masks = site.template_masks_chunk(toks, views, sites, cfg, feats)
    got = site.site_pieces_many(texts, toks, views, sites, cfg, [f if i % 2 else None for i, f in enumerate(feats)])
    return masks, got


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(page, min_size=1, max_size=8), st.sampled_from(range(len(CFGS))), st.booleans(), st.integers(1, 3),
       st.sampled_from([0, 2, 3]))
def test_site_pieces_many_kernel_equals_numpy(kernel, texts, ci, main_text, n_sites, exclude_every):
    cfg = Config(templates=dataclasses.replace(CFGS[ci], main_text=main_text))
    kernel(True)
    gm, gp = _site_run(texts, cfg, n_sites, exclude_every)
    kernel(False)
    wm, wp = _site_run(texts, cfg, n_sites, exclude_every)
    for a, b in zip(gm[:4], wm[:4]):
        _same(a, b)
    assert gm[4] == wm[4]
    assert len(gp) == len(wp)
    for (p1, m1), (p2, m2) in zip(gp, wp):
        assert p1 == p2
        _same(m1, m2)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(1, 40), st.integers(2, 6), st.integers(2, 9))
def test_mask_kernel_equals_numpy_on_random_counts(seed, n, k, thr):
    # random page counts (not only those real pages give): every trimming branch of the runs
    rng = np.random.default_rng(seed)
    nk = max(0, n - k + 1) if rng.random() < 0.9 else 0
    kdf = rng.integers(0, 2 * thr + 3, nk).astype(np.int64) * (rng.random(nk) < 0.7)
    lid = np.cumsum(rng.random(n) < 0.25).astype(np.int64)
    brk = np.flatnonzero(np.diff(lid)) + 1
    lf_all, le_all = np.concatenate(([0], brk)), np.concatenate((brk, [n]))
    short = (le_all - lf_all) < k
    lf, le = lf_all[short].astype(np.int64), le_all[short].astype(np.int64)
    ldf = rng.integers(0, 2 * thr + 3, len(lf)).astype(np.int64)
    strong = max(thr, 3, int(rng.integers(0, 3 * thr)))
    want = site._mask_page(n, k, kdf, lf, le, ldf, lid, thr, strong)
    tokdf, src, tpl = np.empty(n, np.int64), np.empty(n, np.int8), np.empty(n, bool)
    off = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    K.mask_many(k, off(0, n), off(0, nk + len(lf)), off(0, len(lf)), off(thr), off(strong),
                np.concatenate((kdf, ldf)), lf, le, lid, tokdf, src, tpl)
    _same(tpl, want[0])
    _same(tokdf, want[1])
    _same(src, want[2])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(page, free_text), max_size=7), st.sampled_from(range(len(CFGS))), st.integers(0, 2**32),
       st.sampled_from([0.0, 0.2, 0.6]))
def test_main_text_kernel_equals_numpy(kernel, texts, ci, seed, p_tpl):
    cfg = CFGS[ci]
    toks = tokenize_batch(texts)
    feats = templates.page_features_many(texts, toks, cfg)
    rng = np.random.default_rng(seed)
    tpls, shares = [], []
    for t in toks:
        tpl = (np.cumsum(rng.random(len(t)) < 0.15) % 2 == 1) if p_tpl else np.zeros(len(t), dtype=bool)
        tpl &= rng.random(len(t)) >= p_tpl / 4
        n_site = int(rng.integers(1, 12))
        tpls.append(tpl)
        shares.append(np.where(tpl, rng.integers(1, n_site + 1, len(t)), 0) / n_site)
    args = (toks, tpls, cfg, [f.masked for f in feats], shares, [f.lid for f in feats])
    kernel(True)
    got = maintext.main_text_pieces_many(*args)
    kernel(False)
    want = maintext.main_text_pieces_many(*args)
    for (gp, gm, gr), (wp, wm, wr), t, text, tpl, f, sh in zip(got, want, toks, texts, tpls, feats, shares):
        assert gp == wp
        _same(gm, wm)
        _same(gr, wr)
        # and the page-by-page function (numpy)
        pp, pm, pr = maintext.main_text_pieces(text, t, tpl, cfg, f.masked, sh, lid=f.lid)
        assert pp == gp
        _same(pm, gm)
        _same(pr, gr)


def test_empty_chunks_and_pages(kernel):
    cfg = Config()
    for on in (True, False):
        kernel(on)
        assert templates.page_features_many([], [], cfg.templates) == []
        assert site.site_pieces_many([], [], [], [], cfg, []) == []
        toks = tokenize_batch(["", "", ""])
        got = site.site_pieces_many(["", "", ""], toks, [MemoryIndex()] * 3, ["s"] * 3, cfg, [None] * 3)
        assert [(p, m.tolist()) for p, m in got] == [([], [])] * 3
        got = maintext.main_text_pieces_many(toks, [np.zeros(0, bool)] * 3, cfg.templates, [np.zeros(0, np.uint64)] * 3,
                                             [np.zeros(0)] * 3, [np.zeros(0, np.int64)] * 3)
        assert [(p, m.tolist(), r.tolist()) for p, m, r in got] == [([], [], [])] * 3
        # one token
        t1 = tokenize_batch(["word"])
        f1 = templates.page_features_many(["word"], t1, cfg.templates)
        assert (f1[0].lid.tolist(), len(f1[0].kfp), f1[0].lf.tolist(), f1[0].le.tolist()) == ([0], 0, [0], [1])


def _i(*v):
    return np.array(v, dtype=np.int64)


def test_bad_arguments_raise_value_error():
    n = 4
    i64, u64 = np.zeros(n, np.int64), np.zeros(n, np.uint64)
    ok_feat = (["a b c d"], ["a b c d"], _i(0, n), _i(0, 2, 4, 6), _i(0, 2, 4, 6), _i(1, 3, 5, 7), u64,
               templates._DIGIT, 5, 1, np.empty(n, np.uint64), np.empty(n, np.int64), np.empty(n, np.uint64),
               np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.uint64), np.empty(2, np.int64))
    assert K.features(*ok_feat) == 1  # one short line (4 tokens < k = 5)
    bad = [
        (2, _i(0, 5)),  # tok_off past the arrays
        (2, _i(3, 1)),  # decreasing offsets
        (3, _i(0, 2, 4, 99)),  # start outside the text
        (5, _i(1, 3, 5, 99)),  # token outside the normalised text
        (6, i64),  # int64 where uint64 is expected
        (7, np.zeros(10, bool)),  # short digit table
        (8, 0),  # k
        (10, np.empty(n, np.uint64)[::-1].copy()[:3]),  # short output
        (10, np.empty(2 * n, np.uint64)[::2]),  # not contiguous
        (12, np.empty(n, np.int64).astype(np.float64)),  # wrong kind
    ]
    for pos, val in bad:
        args = list(ok_feat)
        args[pos] = val
        with pytest.raises(ValueError):
            K.features(*args)
    ro = np.zeros(n, np.int64)
    ro.flags.writeable = False
    args = list(ok_feat)
    args[11] = ro  # read-only output
    with pytest.raises(ValueError):
        K.features(*args)
    # mask_many: a line outside its page, more counts than k-grams
    out = (np.empty(n, np.int64), np.empty(n, np.int8), np.empty(n, bool))
    with pytest.raises(ValueError):
        K.mask_many(2, _i(0, n), _i(0, 1), _i(0, 1), _i(2), _i(3), _i(5), _i(0), _i(9), i64, *out)
    with pytest.raises(ValueError):
        K.mask_many(2, _i(0, n), _i(0, 9), _i(0, 0), _i(2), _i(3), np.zeros(9, np.int64), _i(), _i(), i64, *out)
    with pytest.raises(ValueError):
        K.mask_many(2, _i(0, n), _i(0, 0), _i(0, 0), _i(2, 2), _i(3), _i(), _i(), _i(), i64, *out)
    # runs_many: lengths
    with pytest.raises(ValueError):
        K.runs_many(_i(0, n), np.zeros(n, bool), i64, np.zeros(n, np.int8), i64, i64, i64, i64, i64, i64, _i(0))
    # main_runs: an empty unit, a unit past the tokens
    for first, end in ((_i(0), _i(0)), (_i(0), _i(n + 1))):
        with pytest.raises(ValueError):
            K.main_runs(_i(0, 1), first, end, np.ones(1), np.zeros(1, bool), np.ones(1, bool), np.zeros(1, bool),
                        np.zeros(1, bool), 8, 5, i64, i64, np.zeros(n, bool), np.zeros(n, bool), np.zeros(2, np.int64),
                        _i(0), _i(0), _i(0), _i(0, 0))


class _Toks:
    def __init__(self, n: int) -> None:
        self.start = np.arange(n, dtype=np.int64) * 3
        self.end = self.start + 2

    def __len__(self) -> int:
        return len(self.start)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(1, 30), st.sampled_from(range(len(CFGS))))
def test_main_runs_kernel_equals_numpy_on_random_units(seed, nu, ci):
    # random units (1-50 tokens), weights and flags: every branch of the run, headline and pieces
    cfg = CFGS[ci]
    rng = np.random.default_rng(seed)
    # unit sizes around every bound the run and the headline test (span_tokens, 3 and 40 tokens)
    ntok = rng.choice(np.array([1, 2, 3, 4, 5, 6, 10, 39, 40, 41, 50]), nu)
    end = np.cumsum(ntok).astype(np.int64)
    first = end - ntok
    n = int(end[-1])
    w = np.round(rng.normal(0, 20, nu), 1) if rng.random() < 0.8 else rng.integers(-3, 3, nu).astype(np.float64)
    is_tpl, whole, unc, in_list = (rng.random(nu) < p for p in (0.4, 0.6, 0.2, 0.3))
    unc &= is_tpl
    in_list &= ~is_tpl
    want_p, want_m, want_r = maintext._main_run(_Toks(n), first, end, is_tpl, whole, w, in_list, unc, cfg)
    toks = _Toks(n)
    mask, restored = np.zeros(n, bool), np.zeros(n, bool)
    free, ps0, pe0, plist, poff = np.empty(2, np.int64), *(np.empty(nu, np.int64) for _ in range(3)), np.empty(2, np.int64)
    got = K.main_runs(_i(0, nu), first, end, w, is_tpl, whole, unc, in_list, cfg.headline_window, cfg.span_tokens,
                      toks.start, toks.end, mask, restored, free, ps0, pe0, plist, poff)
    _same(mask, want_m)
    _same(restored, want_r)
    assert got == len(want_p) == int(poff[1])
    assert [(p.start, p.end, p.rule) for p in want_p] == [
        (int(a), int(b), "list-region" if c else "outside-main-run") for a, b, c in zip(ps0[:got], pe0[:got], plist[:got])]
    if want_p:
        assert want_p[0].score == (round(float(free[0]) / float(free[1]), 4) if free[1] else 0.0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pages, st.sampled_from(range(len(CFGS))), st.integers(0, 2**32))
def test_fingerprints_many_equals_doc_fingerprints(kernel, texts, ci, seed):
    # the kernel's per-page sort (insertion sort when short, radix sort else) and the numpy code
    cfg = CFGS[ci]
    rng = np.random.default_rng(seed)
    texts = texts + [" ".join(f"w{x}" for x in rng.integers(0, 40, int(rng.integers(40, 400))))]  # long pages, repeats
    toks = tokenize_batch(texts)
    kernel(True)
    got = templates.fingerprints_many(texts, toks, cfg)
    kernel(False)
    want = templates.fingerprints_many(texts, toks, cfg)
    assert len(got) == len(want) == len(texts)
    for g, w, t, tk in zip(got, want, texts, toks):
        _same(g, w)
        _same(g, doc_fingerprints(t, tk, cfg))


def test_fingerprint_sort_on_crafted_values():
    # values sharing bytes (skipped radix passes), duplicates, extremes; 1 page short, 1 long
    rng = np.random.default_rng(7)
    long = np.concatenate((rng.integers(0, 2**63, 300, dtype=np.uint64) | np.uint64(2**63),
                           np.full(5, 2**64 - 1, np.uint64), np.zeros(3, np.uint64), np.arange(100, dtype=np.uint64) << np.uint64(40)))
    rng.shuffle(long)
    short = np.array([5, 3, 5, 2**64 - 1, 0, 3], dtype=np.uint64)
    kfp = np.concatenate((short, long))
    assert kfp.dtype == np.uint64
    tok_off = _i(0, len(short) + 1, len(kfp) + 2)  # k = 2: n - 1 k-grams per page
    out, off = np.empty(len(kfp) + 2, np.uint64), np.empty(3, np.int64)
    z = np.zeros(2, np.uint64)
    kfp2 = np.concatenate((short, z[:1], long, z))
    total = K.fingerprints(2, tok_off, kfp2, _i(0, 1, 2), np.array([9, 9], np.uint64), out, off)
    assert off.tolist() == [0, len(np.unique(np.append(short, np.uint64(9)))), total]
    _same(out[: off[1]], np.unique(np.append(short, np.uint64(9))))
    _same(out[off[1] : off[2]], np.unique(np.append(long, np.uint64(9))))
    with pytest.raises(ValueError):  # out too short
        K.fingerprints(2, tok_off, kfp2, _i(0, 1, 2), np.array([9, 9], np.uint64), out[:10].copy(), off)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(page, free_text).filter(bool), max_size=7), st.sampled_from(range(len(CFGS))), st.integers(0, 2**32))
def test_units_kernel_equals_numpy(kernel, texts, ci, seed):
    # units, markers, lines and comment headers of a chunk, before any weighting
    cfg = CFGS[ci]
    toks = [t for t in tokenize_batch(texts) if len(t)]
    if not toks:
        return
    rng = np.random.default_rng(seed)
    tpls = [np.cumsum(rng.random(len(t)) < 0.2) % 2 == 1 for t in toks]
    lids = [np.cumsum(rng.random(len(t)) < 0.3).astype(np.int64) for t in toks]  # any line layout
    masked = [np.where(rng.random(len(t)) < 0.2, templates.DIGIT_TOKEN, t.hashes).astype(np.uint64) for t in toks]
    kernel(True)
    got = maintext._units_many(toks, tpls, cfg, masked, lids)
    kernel(False)
    want = maintext._units_many(toks, tpls, cfg, masked, lids)
    assert sorted(got) == sorted(want)
    for key in want:
        _same(got[key], want[key])
