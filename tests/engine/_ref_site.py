"""Reference copy of ``dedupe/engine/site.py`` as of commit ebbbffd (before the corpus speed work),
for tests that the rewritten per-page and batched code gives equal results. Not used by the package."""

from __future__ import annotations

import math

import numpy as np

from dedupe.config import Config
from dedupe.core.spans import Piece
from dedupe.core.tokenize import Tokens
from dedupe.models import KIND_TEMPLATE
from dedupe.engine.index import IndexStore
from _ref_maintext import main_text_pieces
from dedupe.engine.templates import PageFeatures, page_features


def template_threshold(site_pages: int, min_pages: int, min_fraction: float) -> int:
    """Pages (including the page being cleaned) a fingerprint needs to be template."""
    return max(min_pages, math.ceil(min_fraction * site_pages - 1e-9))


def template_mask(
    text: str, toks: Tokens, index: IndexStore, site: str, cfg: Config, feats: PageFeatures | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Template tokens of one page: (mask, per-token page count, per-token source bits, N).

    Source bits: 1 = covered by a span k-gram, 2 = part of a short whole line. ``feats``: the
    page's :func:`~dedupe.engine.templates.page_features` (computed when not given).
    """
    tc = cfg.templates
    n = len(toks)
    tpl = np.zeros(n, dtype=bool)
    tokdf = np.zeros(n, dtype=np.int64)
    src = np.zeros(n, dtype=np.int8)
    n_site = index.site_pages(site)
    if not tc.enabled or n < 1 or n_site < tc.min_pages:
        return tpl, tokdf, src, n_site
    thr = template_threshold(n_site, tc.min_pages, tc.min_fraction)
    if feats is None:
        feats = page_features(text, toks, tc)
    k = tc.span_tokens
    kfp, lf, le, lfp = feats.kfp, feats.lf, feats.le, feats.lfp
    df = index.doc_freq(site, np.concatenate((kfp, lfp))) if len(kfp) + len(lfp) else np.empty(0, dtype=np.int64)
    kdf, ldf = df[: len(kfp)], df[len(kfp) :]
    hits = np.flatnonzero(kdf >= thr)
    if len(hits):
        hdf = kdf[hits]
        for off in range(k):
            np.maximum.at(tokdf, hits + off, hdf)
        src[tokdf > 0] |= 1
    for a, b, d in zip(lf[ldf >= thr].tolist(), le[ldf >= thr].tolist(), ldf[ldf >= thr].tolist()):
        tokdf[a:b] = np.maximum(tokdf[a:b], d)
        src[a:b] |= 2
    tpl = tokdf > 0
    # edges of runs, then short k-gram-only runs inside a line (a common phrase such as "there is a lot of" on two
    # articles of the site) need stronger evidence: half the site's pages, and >= 3 pages
    idx = np.flatnonzero(tpl)
    if len(idx):
        lid = feats.lid
        brk = np.flatnonzero(np.diff(idx) != 1) + 1
        starts = idx[np.concatenate(([0], brk))]
        ends = idx[np.concatenate((brk - 1, [len(idx) - 1]))] + 1
        strong = max(thr, 3, math.ceil(0.5 * n_site - 1e-9))
        for a, b in zip(starts.tolist(), ends.tolist()):
            # k-gram bleed: up to k-1 edge tokens held by at most half as many pages as the
            # run's strongest part (a page-specific word next to the template) are not template
            # only when the weak stretch is shorter than k (a stronger token follows within it):
            # k or more weak tokens are text with evidence of their own (an article on two pages)
            top = int(tokdf[a:b].max())
            a0, b0 = a, b
            while a < min(b, a0 + k - 1) and src[a] == 1 and 2 * int(tokdf[a]) <= top:
                a += 1
            if a == a0 + k - 1 and a < b and src[a] == 1 and 2 * int(tokdf[a]) <= top:
                a = a0
            while b > max(a, b0 - k + 1) and src[b - 1] == 1 and 2 * int(tokdf[b - 1]) <= top:
                b -= 1
            if b == b0 - k + 1 and b > a and src[b - 1] == 1 and 2 * int(tokdf[b - 1]) <= top:
                b = b0
            for lo, hi in ((a0, a), (b, b0)):
                tpl[lo:hi] = False
                tokdf[lo:hi] = 0
                src[lo:hi] = 0
            if b <= a or b - a >= 2 * k or int(np.bitwise_or.reduce(src[a:b])) != 1:
                continue
            whole_line = (a == 0 or lid[a - 1] != lid[a]) and (b == n or lid[b] != lid[b - 1])
            if whole_line or int(tokdf[a:b].max()) >= strong:
                continue
            tpl[a:b] = False
            tokdf[a:b] = 0
            src[a:b] = 0
    return tpl, tokdf, src, n_site


_RULES = {1: "span-kgram", 2: "short-line", 3: "span-kgram+short-line"}


def site_pieces(
    text: str, toks: Tokens, index: IndexStore, site: str, cfg: Config, feats: PageFeatures | None = None
) -> tuple[list[Piece], np.ndarray]:
    """Template (and off-main) pieces of one page from its site's evidence.

    Args:
        text: the page text (original).
        toks: ``tokenize(text)``.
        index: the store every page of the site was observed into (this page included).
        site: the page's site key.
        cfg: the run's settings (``cfg.templates``).
        feats: the page's :func:`~dedupe.engine.templates.page_features` (computed when not
            given; the corpus job computes them for a chunk of pages at once).

    Returns:
        (pieces, removed-token mask): ``template`` pieces with ``site_pages`` and ``score`` set,
        then ``off-main`` pieces when ``cfg.templates.main_text`` is on.
    """
    tc = cfg.templates
    if feats is None:
        feats = page_features(text, toks, tc)
    tpl, tokdf, src, n_site = template_mask(text, toks, index, site, cfg, feats)
    off: list[Piece] = []
    off_mask = np.zeros(len(toks), dtype=bool)
    if tc.main_text:
        share = tokdf / n_site if n_site else np.zeros(len(toks))
        off, off_mask, restored = main_text_pieces(text, toks, tpl, tc, feats.masked, share, lid=feats.lid)
        if restored.any():
            tpl = tpl & ~restored
    pieces: list[Piece] = []
    idx = np.flatnonzero(tpl)
    if len(idx):
        brk = np.flatnonzero(np.diff(idx) != 1) + 1
        starts = idx[np.concatenate(([0], brk))]
        ends = idx[np.concatenate((brk - 1, [len(idx) - 1]))] + 1
        for a, b in zip(starts.tolist(), ends.tolist()):
            pages = int(tokdf[a:b].min())
            bits = int(np.bitwise_or.reduce(src[a:b]))
            pieces.append(
                Piece(
                    int(toks.start[a]), int(toks.end[b - 1]), KIND_TEMPLATE, _RULES.get(bits, "span-kgram"),
                    round(pages / n_site, 4) if n_site else 0.0, site_pages=pages,
                )
            )
    return pieces + off, tpl | off_mask
