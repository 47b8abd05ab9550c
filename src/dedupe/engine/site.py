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

Speed: the corpus job cleans a chunk of pages at once (:func:`site_pieces_many`); the template
masks and template runs of the chunk are one call each of the compiled kernel
``dedupe/core/_native/site.c`` when it is built (the numpy code here is the fallback and the
reference: ``DEDUPE_PURE=1`` runs it; tests/engine/test_site_kernel.py compares the two).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..config import Config
from ..core import native
from ..core.spans import Piece
from ..core.tokenize import Tokens
from ..models import KIND_TEMPLATE
from .index import IndexStore
from .maintext import main_text_chunk, main_text_pieces
from .templates import PageFeatures, page_features


#: the compiled kernel (``dedupe/core/_native/site.c``) or None: the numpy code below
_K = native.load("site")


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
    if feats is None:
        feats = page_features(text, toks, cfg.templates)
    _, tpl, tokdf, src, n_sites = template_masks_chunk([toks], [index], [site], cfg, [feats])
    return tpl, tokdf, src, n_sites[0]


def template_masks_chunk(
    toks_list: Sequence[Tokens], indexes: Sequence[IndexStore], sites: Sequence[str], cfg: Config,
    feats: Sequence[PageFeatures],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """:func:`template_mask` of many pages (page ``i`` read through ``indexes[i]`` under
    ``sites[i]``), equal results, concatenated: ``(tok_off, mask, page counts, source bits,
    site page counts)``; page ``i`` owns tokens ``tok_off[i]:tok_off[i + 1]``.

    The pages read through one store under one site are looked up in one ``doc_freq`` call; the
    masks come from the compiled kernel in one call (page by page in numpy without it)."""
    tc = cfg.templates
    m = len(toks_list)
    lens = [len(t) for t in toks_list]
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.asarray(lens, dtype=np.int64), out=tok_off[1:])
    N = int(tok_off[-1])
    tpl = np.zeros(N, dtype=bool)
    tokdf = np.zeros(N, dtype=np.int64)
    src = np.zeros(N, dtype=np.int8)
    n_sites = [ix.site_pages(st) for ix, st in zip(indexes, sites)]
    thr = [0] * m
    strong = [0] * m
    for i in range(m):
        if tc.enabled and lens[i] >= 1 and n_sites[i] >= tc.min_pages:
            thr[i] = template_threshold(n_sites[i], tc.min_pages, tc.min_fraction)
            strong[i] = max(thr[i], 3, math.ceil(0.5 * n_sites[i] - 1e-9))
    live = [i for i in range(m) if thr[i]]
    if not live:
        return tok_off, tpl, tokdf, src, n_sites
    # the page counts of every live page's span k-grams then short lines, concatenated
    nq = [0] * m
    parts: list[np.ndarray] = []
    for i in live:
        parts += (feats[i].kfp, feats[i].lfp)
        nq[i] = len(feats[i].kfp) + len(feats[i].lfp)
    q_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.asarray(nq, dtype=np.int64), out=q_off[1:])
    Q = np.concatenate(parts).astype(np.uint64, copy=False)
    df = np.zeros(len(Q), dtype=np.int64)
    groups: dict[tuple[int, str], list[int]] = {}
    for i in live:
        groups.setdefault((id(indexes[i]), sites[i]), []).append(i)
    qo = q_off.tolist()
    for pages in groups.values():
        total = sum(nq[i] for i in pages)
        if not total:
            continue
        ix, st = indexes[pages[0]], sites[pages[0]]
        lo, hi = qo[pages[0]], qo[pages[-1] + 1]
        if hi - lo == total:  # the group's queries are one stretch of Q
            df[lo:hi] = np.asarray(ix.doc_freq(st, Q[lo:hi]), dtype=np.int64)
        else:
            got = np.asarray(ix.doc_freq(st, np.concatenate([Q[qo[i] : qo[i + 1]] for i in pages])), dtype=np.int64)
            at = 0
            for i in pages:
                df[qo[i] : qo[i + 1]] = got[at : at + nq[i]]
                at += nq[i]
    k = tc.span_tokens
    if _K is not None:
        lf = np.concatenate([feats[i].lf for i in live]).astype(np.int64, copy=False)
        le = np.concatenate([feats[i].le for i in live]).astype(np.int64, copy=False)
        l_off = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.asarray([len(feats[i].lf) if thr[i] else 0 for i in range(m)], dtype=np.int64), out=l_off[1:])
        lid = np.concatenate([np.asarray(f.lid, dtype=np.int64) for f in feats]) if m > 1 else np.asarray(feats[0].lid, dtype=np.int64)
        _K.mask_many(
            k, tok_off, q_off, l_off, np.asarray(thr, dtype=np.int64), np.asarray(strong, dtype=np.int64), df, lf, le,
            lid, tokdf, src, tpl,
        )
        return tok_off, tpl, tokdf, src, n_sites
    to = tok_off.tolist()
    for i in live:
        nk = len(feats[i].kfp)
        a, b = to[i], to[i + 1]
        tpl[a:b], tokdf[a:b], src[a:b] = _mask_page(
            lens[i], k, df[qo[i] : qo[i] + nk], feats[i].lf, feats[i].le, df[qo[i] + nk : qo[i + 1]], feats[i].lid,
            thr[i], strong[i],
        )
    return tok_off, tpl, tokdf, src, n_sites


def _mask_page(
    n: int, k: int, kdf: np.ndarray, lf: np.ndarray, le: np.ndarray, ldf: np.ndarray, lid: np.ndarray, thr: int,
    strong: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The template mask of one page of ``n >= 1`` tokens (numpy; the kernel's reference) from the
    page counts of its span k-grams ``kdf`` and short lines ``(lf, le, ldf)``: (mask, per-token
    page count, source bits)."""
    tokdf = np.zeros(n, dtype=np.int64)
    src = np.zeros(n, dtype=np.int8)
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
        brk = np.flatnonzero(np.diff(idx) != 1) + 1
        starts = idx[np.concatenate(([0], brk))]
        ends = idx[np.concatenate((brk - 1, [len(idx) - 1]))] + 1
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
    return tpl, tokdf, src


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
    ``sites[i]``), equal results: the template masks (:func:`template_masks_chunk`), the
    main-text selection (:func:`~dedupe.engine.maintext.main_text_chunk`) and the template runs
    of all pages at once."""
    tc = cfg.templates
    m = len(texts)
    if not m:
        return []
    feats = [page_features(t, tk, tc) if f is None else f for t, tk, f in zip(texts, toks_list, feats_list)]
    tok_off, tpl, tokdf, src, n_sites = template_masks_chunk(toks_list, indexes, sites, cfg, feats)
    N = len(tpl)
    if tc.main_text and N:
        share = tokdf / np.repeat(np.asarray([n or 1 for n in n_sites], dtype=np.int64), np.diff(tok_off))
        offs, off_mask, restored = main_text_chunk(
            toks_list, tok_off, tpl, tc, np.concatenate([np.asarray(f.masked, dtype=np.uint64) for f in feats]), share,
            np.concatenate([np.asarray(f.lid, dtype=np.int64) for f in feats]),
        )
        tpl = tpl & ~restored
        removed = tpl | off_mask
    else:
        offs = [[] for _ in range(m)]
        removed = tpl.copy()
    tpieces = _template_pieces_chunk(toks_list, tok_off, tpl, tokdf, src, n_sites)
    t = tok_off.tolist()
    return [(tp + off, removed[a:b]) for tp, off, a, b in zip(tpieces, offs, t[:-1], t[1:])]


def _template_pieces_chunk(
    toks_list: Sequence[Tokens], tok_off: np.ndarray, tpl: np.ndarray, tokdf: np.ndarray, src: np.ndarray,
    n_sites: Sequence[int],
) -> list[list[Piece]]:
    """:func:`_template_pieces` of each page (tokens ``tok_off[i]:tok_off[i + 1]`` of the
    concatenated arrays): the compiled kernel finds the runs of all pages in one call."""
    m = len(toks_list)
    t = tok_off.tolist()
    if _K is None:
        return [
            _template_pieces(toks_list[i], tpl[t[i] : t[i + 1]], tokdf[t[i] : t[i + 1]], src[t[i] : t[i + 1]], n_sites[i])
            for i in range(m)
        ]
    out: list[list[Piece]] = [[] for _ in range(m)]
    N = len(tpl)
    if not N or not tpl.any():
        return out
    starts = np.concatenate([np.asarray(tk.start, dtype=np.int64) for tk in toks_list])
    ends = np.concatenate([np.asarray(tk.end, dtype=np.int64) for tk in toks_list])
    s0, e0, pages, bits = (np.empty(N, dtype=np.int64) for _ in range(4))
    roff = np.empty(m + 1, dtype=np.int64)
    nr = _K.runs_many(tok_off, tpl, tokdf, src, starts, ends, s0, e0, pages, bits, roff)
    ro = roff.tolist()
    s0_l, e0_l, pages_l, bits_l = s0[:nr].tolist(), e0[:nr].tolist(), pages[:nr].tolist(), bits[:nr].tolist()
    rules = _RULES
    for i in range(m):
        a, b = ro[i], ro[i + 1]
        if a == b:
            continue
        n_site = n_sites[i]
        out[i] = [
            Piece(
                s0_l[r], e0_l[r], KIND_TEMPLATE, rules.get(bits_l[r], "span-kgram"),
                round(pages_l[r] / n_site, 4) if n_site else 0.0, None, None, pages_l[r],
            )
            for r in range(a, b)
        ]
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
