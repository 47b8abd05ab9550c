"""Site templates and main text of one page, from the site's index evidence.

Contract (called by the corpus driver; keep stable)::

    site_pieces(text: str, toks: Tokens, index: IndexStore, site: str, cfg: Config)
        -> tuple[list[Piece], np.ndarray]

returns the page's ``template`` pieces (and, when ``cfg.templates.main_text`` is on, its
``off-main`` pieces) plus the boolean token mask of every token those pieces remove.

Protocol: first every page of the corpus is observed
(``index.observe(site, doc_id, doc_fingerprints(text, toks, cfg.templates))``), then each page
is cleaned with :func:`site_pieces`. Only ``index.site_pages`` and ``index.doc_freq`` are read,
so any :class:`~dedupe.engine.index.IndexStore` (in memory, SQLite) gives identical results.
The page's own contribution is included in ``doc_freq`` (it was observed first), so a
fingerprint is template when it is held by ``T = max(min_pages, ceil(min_fraction * N))``
pages of the site **including this one**, ``N = site_pages(site)``. Defaults: ``min_pages=2``,
``min_fraction=0`` — a fingerprint on two pages of the site is template (measured: the lowest
threshold is the best one; 50% is far too cautious).

Template tokens: tokens covered by a span k-gram with enough pages, and every token of a short
whole line with enough pages. Each maximal run of template tokens becomes one ``template`` piece
(``rule`` ``span-kgram`` / ``short-line`` / ``span-kgram+short-line``, ``site_pages`` = the
smallest page count of the evidence covering its tokens, ``score`` = ``site_pages / N``).

Small sites:

* **one page** (``N < min_pages``): there is no template evidence, nothing is removed as
  template. Main-text selection still runs when ``main_text`` is on, on the line-cost and
  within-page list cues alone (see the README's "Boilerplate benchmark" for the measurement that
  justifies it: it lifts F1 on every development set when sites are reduced to single pages).
* **few pages** (2, 3…): the threshold is absolute (2 pages), so two pages of a site already
  share their navigation and footer; with ``min_fraction`` set, ``T`` grows with the site.
  Caveat: two copies of the same article on one site look like template to each other; the
  near-duplicate and cross-page levels are the place to catch that, before or after.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..config import Config
from ..core.spans import Piece
from ..core.tokenize import Tokens
from ..models import KIND_TEMPLATE
from .index import IndexStore
from .maintext import main_text_pieces, main_text_pieces_many
from .templates import PageFeatures, page_features


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
    hit = kdf >= thr
    if hit.any():
        # every token takes the largest count of the k-grams with enough pages that cover it
        kd = np.where(hit, kdf, 0).astype(np.int64, copy=False)
        L = len(kd)
        for off in range(k):
            np.maximum(tokdf[off : off + L], kd, out=tokdf[off : off + L])
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
        # each run's largest count, before any run is trimmed (runs are disjoint: one reduceat
        # over their [start, end) bounds, every other result)
        cuts = np.stack((starts, ends), axis=1).ravel()
        tops = np.maximum.reduceat(tokdf, cuts[cuts < n])[0::2].tolist()
        for a, b, top in zip(starts.tolist(), ends.tolist(), tops):
            # k-gram bleed: up to k-1 edge tokens held by at most half as many pages as the
            # run's strongest part (a page-specific word next to the template) are not template
            # only when the weak stretch is shorter than k (a stronger token follows within it):
            # k or more weak tokens are text with evidence of their own (an article on two pages)
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
                if hi > lo:
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
    return _template_pieces(toks, tpl, tokdf, src, n_site) + off, tpl | off_mask


def site_pieces_many(
    texts: Sequence[str],
    toks_list: Sequence[Tokens],
    indexes: Sequence[IndexStore],
    sites: Sequence[str],
    cfg: Config,
    feats_list: Sequence[PageFeatures | None],
) -> list[tuple[list[Piece], np.ndarray]]:
    """:func:`site_pieces` of many pages (page ``i`` read through ``indexes[i]``, under
    ``sites[i]``), equal results: the template mask page by page, the main-text selection of all
    pages at once (:func:`~dedupe.engine.maintext.main_text_pieces_many`)."""
    tc = cfg.templates
    feats = [page_features(t, tk, tc) if f is None else f for t, tk, f in zip(texts, toks_list, feats_list)]
    masks = [template_mask(t, tk, ix, st, cfg, f) for t, tk, ix, st, f in zip(texts, toks_list, indexes, sites, feats)]
    if tc.main_text:
        shares = [tokdf / n_site if n_site else np.zeros(len(tk)) for (_, tokdf, _, n_site), tk in zip(masks, toks_list)]
        mains = main_text_pieces_many(
            list(toks_list), [mk[0] for mk in masks], tc, [f.masked for f in feats], shares, [f.lid for f in feats]
        )
    else:
        mains = [([], np.zeros(len(tk), dtype=bool), None) for tk in toks_list]
    out: list[tuple[list[Piece], np.ndarray]] = []
    for tk, (tpl, tokdf, src, n_site), (off, off_mask, restored) in zip(toks_list, masks, mains):
        if restored is not None and restored.any():
            tpl = tpl & ~restored
        out.append((_template_pieces(tk, tpl, tokdf, src, n_site) + off, tpl | off_mask))
    return out


def _template_pieces(toks: Tokens, tpl: np.ndarray, tokdf: np.ndarray, src: np.ndarray, n_site: int) -> list[Piece]:
    """One ``template`` piece per maximal run of template tokens (see the module doc)."""
    pieces: list[Piece] = []
    idx = np.flatnonzero(tpl)
    if len(idx):
        brk = np.flatnonzero(np.diff(idx) != 1) + 1
        starts = idx[np.concatenate(([0], brk))]
        ends = idx[np.concatenate((brk - 1, [len(idx) - 1]))] + 1
        # per run: the smallest page count and the union of the source bits (runs are
        # disjoint and sorted: reduceat over their [start, end) bounds, every other result)
        cuts = np.stack((starts, ends), axis=1).ravel()
        inner = cuts < len(tpl)
        pages_l = np.minimum.reduceat(tokdf, cuts[inner])[0::2].tolist()
        bits_l = np.bitwise_or.reduceat(src, cuts[inner])[0::2].tolist()
        t_start, t_end = toks.start[starts].tolist(), toks.end[ends - 1].tolist()
        for pages, bits, s0, e0 in zip(pages_l, bits_l, t_start, t_end):
            pieces.append(
                Piece(
                    s0, e0, KIND_TEMPLATE, _RULES.get(bits, "span-kgram"),
                    round(pages / n_site, 4) if n_site else 0.0, site_pages=pages,
                )
            )
    return pieces
