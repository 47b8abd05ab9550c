"""Main text by position: the second level of corpus mode.

Counting across pages cannot see boilerplate that appears on one page only (related headlines,
comment widgets, author bios, per-page menus). Once template text is marked, the article is
usually the largest contiguous stretch of text free of it. This module finds that stretch.

Contract (called by :func:`dedupe.engine.site.site_pieces`; keep stable)::

    main_text_pieces(text: str, toks: Tokens, template: np.ndarray, cfg: TemplateConfig,
                     masked: np.ndarray | None = None) -> tuple[list[Piece], np.ndarray]

returns ``off-main`` pieces and the boolean token mask they remove.

How:

1. **Units.** The page is cut into units: each line, further split wherever template tokens
   start or stop, so flattened text with navigation glued mid-line still yields separate units.
   A unit is *template* (all its tokens are template) or *free*.
2. **Weights.** A free unit weighs its token count minus ``line_cost`` (short link-like lines —
   menus, related headlines, counters — weigh little or less than nothing; paragraphs dominate).
   A template unit weighs ``-template_penalty`` per token, counting at most
   ``template_unit_cap`` tokens: a one-word «Advertisement», a share bar or an app promo line
   inside the article costs little and does not split it; a navigation block or footer (many
   template lines) costs a lot.
3. **Lists.** A marker is a template unit, or a free whole line shorter than
   ``_MARKER_TOKENS * span_tokens`` tokens, that stands alone between free units («Reply» under
   each comment, a comment's time stamp; the items of a share bar or menu have template
   neighbours and do not count); so is a short line with a digit next to free text, signed by
   its digit-masked tail (a comment header, «Posted by: Jane | September 13, 2012 at 05:15 AM»,
   whose name varies). Occurrences of one marker signature are chained while
   at most ``_LIST_BREAK`` free tokens apart; a chain of ``list_min_repeats`` markers whose
   median gap is at most ``_LIST_MAX_GAP`` free tokens is a list (one long comment does not
   break it; markers back to back, a table of figures, hold no items; a gap at either end of a
   chain ``_END_GAP`` times longer than the others is not an item): the free units between its
   markers, plus one item's worth (``_EDGE_ITEM`` median
   gaps) before the first marker and after the last, up to the nearest template unit. List
   units weigh ``list_penalty`` per token (negative), so a long comment section or related-story
   list neither outweighs nor extends a short article, while an article with three «Share» bars
   between long paragraphs is not a list.
4. **Run.** The maximum-weight contiguous run of units (Kadane; ties → the earliest) is the main
   text. The nearest free whole line of 3–40 tokens before it, across at most
   ``headline_window`` template units (byline, date line, share bar), joins it: the headline. Free units outside it are reported as ``off-main``. When no run has positive weight
   nothing is removed (there is no evidence of a main text).
5. **Uncertain template units.** A template unit of at least ``2 * span_tokens`` tokens held by
   fewer than ``restore_below`` of the site's pages is more likely an article's own paragraph
   that another page shows (as a teaser, or a second copy of the article under another URL)
   than a template: it weighs ``_UNCERTAIN_W`` times a free unit's weight, and inside the
   chosen run it is kept.

Everything here works on one page with the template mask the caller computed; with no template
evidence (a single-page site) only the line-cost and list cues act.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import TemplateConfig
from ..core import native
from ..core.hashing import TOKEN_BASE, fmix64, range_hashes
from ..core.spans import Piece
from ..core.tokenize import Tokens
from ..models import KIND_OFF_MAIN
from .templates import DIGIT_TOKEN, line_ids

_LIST_MAX_GAP = 120  # median free tokens between two markers of a list region, at most
_LIST_BREAK = 8 * _LIST_MAX_GAP  # free tokens between two markers that end a list region
_MARKER_TOKENS = 2  # a free whole line shorter than this many span_tokens can mark list items
_UNCERTAIN_W = 0.5  # weight of an uncertain template unit (long, on few pages), relative to a free one
_HEADER_TOKENS = 3  # a line shorter than this many span_tokens, with a digit, can be a comment header
_HEADER_TAIL = 3  # ... signed by its last this many digit-masked tokens
_HEADER_SALT = np.uint64(0x9E3779B97F4A7C15)
_END_GAP = 4  # a gap at a chain's end longer than this many median gaps of the rest ends the chain there
_EDGE_ITEM = 1.5  # the item before the first / after the last marker: at most this many median gaps

#: the compiled kernel (``dedupe/core/_native/site.c``: the main runs of a chunk) or None: numpy
_K = native.load("site")


def units(
    text: str, toks: Tokens, template: np.ndarray, lid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut the page into units: (first token, end token, is_template, is_whole_line).
    ``lid``: the line index of every token (:func:`~dedupe.engine.templates.line_ids`; computed
    when not given)."""
    n = len(toks)
    if not n:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty(0, dtype=bool), np.empty(0, dtype=bool)
    if lid is None:
        lid, _ = line_ids(text, toks)
    tpl = np.asarray(template, dtype=bool)
    brk = np.flatnonzero((lid[1:] != lid[:-1]) | (tpl[1:] != tpl[:-1])) + 1
    first = np.concatenate(([0], brk)).astype(np.int64)
    end = np.concatenate((brk, [n])).astype(np.int64)
    whole = np.ones(len(first), dtype=bool)
    line_break_before = np.concatenate(([True], lid[first[1:]] != lid[first[1:] - 1]))
    line_break_after = np.concatenate((lid[end[:-1]] != lid[end[:-1] - 1], [True]))
    whole = line_break_before & line_break_after
    return first, end, tpl[first], whole


def _best_run(w: np.ndarray) -> tuple[int, int, float]:
    """Maximum-sum contiguous run [i, j] of ``w``; ties go to the earliest, then shortest."""
    best, bi, bj = -np.inf, 0, -1
    cur, ci = 0.0, 0
    for j, x in enumerate(w.tolist()):
        if cur <= 0:
            cur, ci = x, j
        else:
            cur += x
        if cur > best:
            best, bi, bj = cur, ci, j
    return bi, bj, float(best)


def _marker_spans(
    first: np.ndarray, end: np.ndarray, is_tpl: np.ndarray, whole: np.ndarray, masked: np.ndarray,
    ulid: np.ndarray | None, cfg: TemplateConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List markers: (first unit, last unit, signature) of each occurrence.

    * a template unit, or a free whole line shorter than ``_MARKER_TOKENS * span_tokens``
      tokens, standing alone between free units (signature: its digit-masked text);
    * a short line (< ``_HEADER_TOKENS * span_tokens`` tokens) holding a digit, next to a line
      with free text (signature: its last ``_HEADER_TAIL`` digit-masked tokens): the header of a
      comment, «Posted by: Jane | September 13, 2012 at 05:15 AM», whose name part varies.
    """
    ntok = end - first
    marker = is_tpl | (whole & (ntok < _MARKER_TOKENS * cfg.span_tokens))
    # a list marker stands alone between free units («Reply» between comments), unlike the
    # items of a share bar or a menu, whose neighbours are template too
    free_prev = np.concatenate(([True], ~is_tpl[:-1]))
    free_next = np.concatenate((~is_tpl[1:], [True]))
    marker &= free_prev & free_next
    midx = np.flatnonzero(marker)
    ms, me = midx.astype(np.int64), midx.astype(np.int64)
    if ulid is None or not len(first) or not _HEADER_TOKENS:
        sig = range_hashes(masked, first[midx], end[midx], base=TOKEN_BASE) if len(midx) else np.empty(0, dtype=np.uint64)
        return ms, me, sig
    lstart = np.flatnonzero(np.concatenate(([True], ulid[1:] != ulid[:-1])))
    lend = np.concatenate((lstart[1:], [len(first)])) - 1  # last unit of each line
    lfirst_tok, lend_tok = first[lstart], end[lend]
    lfree = np.add.reduceat(np.where(is_tpl, 0, ntok), lstart)
    dig = np.concatenate(([0], np.cumsum(masked == DIGIT_TOKEN)))
    ldig = dig[lend_tok] - dig[lfirst_tok]
    prev_free = np.concatenate(([False], lfree[:-1] > 0))
    next_free = np.concatenate((lfree[1:] > 0, [False]))
    hdr = ((lend_tok - lfirst_tok) < _HEADER_TOKENS * cfg.span_tokens) & (ldig > 0) & (prev_free | next_free)
    hidx = np.flatnonzero(hdr)
    if not len(hidx):
        sig = range_hashes(masked, first[midx], end[midx], base=TOKEN_BASE) if len(midx) else np.empty(0, dtype=np.uint64)
        return ms, me, sig
    # one hashing pass for the markers' texts and the headers' tails
    tail_start = np.maximum(lend_tok[hidx] - _HEADER_TAIL, lfirst_tok[hidx])
    h = range_hashes(masked, np.concatenate((first[midx], tail_start)), np.concatenate((end[midx], lend_tok[hidx])), base=TOKEN_BASE)
    sig, hsig = h[: len(midx)], fmix64(h[len(midx) :] ^ _HEADER_SALT)
    return (np.concatenate((ms, lstart[hidx])), np.concatenate((me, lend[hidx])), np.concatenate((sig, hsig)))


def unit_weights(
    first: np.ndarray, end: np.ndarray, is_tpl: np.ndarray, whole: np.ndarray, masked: np.ndarray, cfg: TemplateConfig,
    ulid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the units and the mask of free units that lie in a list region.

    ``ulid``: the line of each unit (enables comment-header markers, see :func:`_marker_spans`).
    """
    ntok = (end - first).astype(np.float64)
    cost = np.minimum(ntok, cfg.template_unit_cap) if cfg.template_unit_cap else ntok
    w = np.where(is_tpl, -cfg.template_penalty * cost, ntok - cfg.line_cost)
    ms, me, sig = _marker_spans(first, end, is_tpl, whole, masked, ulid, cfg)
    in_list = _list_units(is_tpl, ntok, ms, me, sig, cfg)
    if in_list.any():
        w = np.where(in_list, cfg.list_penalty * ntok, w)
    return w, in_list


def _list_units(
    is_tpl: np.ndarray, ntok: np.ndarray, ms: np.ndarray, me: np.ndarray, sig: np.ndarray, cfg: TemplateConfig
) -> np.ndarray:
    """Mask of the free units that lie in a list region, from the markers ``(ms, me, sig)`` of
    :func:`_marker_spans` (``ntok``: tokens per unit, float)."""
    n_units = len(is_tpl)
    in_list = np.zeros(n_units, dtype=bool)
    r = cfg.list_min_repeats
    if len(ms) >= r:
        srt = np.sort(sig)  # some signature occurs r times <=> equal sorted values r - 1 apart
        repeated = bool((srt[r - 1 :] == srt[: len(srt) - r + 1]).any())
    else:
        repeated = False
    if repeated:
        uniq, inv, counts = np.unique(sig, return_inverse=True, return_counts=True)
        free_cum = np.concatenate(([0.0], np.cumsum(np.where(is_tpl, 0.0, ntok))))
        for g in np.flatnonzero(counts >= cfg.list_min_repeats).tolist():
            sel = np.flatnonzero(inv == g)
            sel = sel[np.argsort(ms[sel], kind="stable")]
            occ_s, occ_e = ms[sel].tolist(), me[sel].tolist()
            gaps = [free_cum[b] - free_cum[a + 1] for a, b in zip(occ_e[:-1], occ_s[1:])]
            # chains: consecutive occurrences at most _LIST_BREAK free tokens apart; a chain of
            # list_min_repeats markers whose median gap is short is a list (one long comment
            # inside a comment section does not break it)
            chains, cur = [], [0]
            for t, gap in enumerate(gaps):
                if gap <= _LIST_BREAK:
                    cur.append(t + 1)
                else:
                    chains.append(cur)
                    cur = [t + 1]
            chains.append(cur)
            for ch in chains:
                # a gap at either end of a chain much longer than the others is not an item: the
                # article between a byline with a date above it and a list of dated links below
                while len(ch) > 2:
                    g_ = [gaps[t] for t in ch[:-1]]
                    if g_[0] > _END_GAP * float(np.median(g_[1:])):
                        ch = ch[1:]
                    elif g_[-1] > _END_GAP * float(np.median(g_[:-1])):
                        ch = ch[:-1]
                    else:
                        break
                # items are the non-empty gaps (markers back to back are a table, not a list)
                items = [gaps[t] for t in ch[:-1] if gaps[t] > 0]
                if len(ch) < cfg.list_min_repeats or len(items) < cfg.list_min_repeats - 1:
                    continue
                med = float(np.median(items))
                if med > _LIST_MAX_GAP:
                    continue
                for t in ch[:-1]:
                    a, b = occ_e[t], occ_s[t + 1]
                    in_list[a + 1 : b] |= ~is_tpl[a + 1 : b]
                # the first item before the first marker (markers that close an item, «Reply»),
                # the last one after the last marker (markers that open one, «X wrote:»): free
                # units up to the nearest template unit, as long as they add up to one item
                edge = _EDGE_ITEM * max(med, 1.0)
                u, acc = occ_s[ch[0]] - 1, 0.0
                while u >= 0 and not is_tpl[u] and acc + ntok[u] <= edge:
                    acc += ntok[u]
                    in_list[u] = True
                    u -= 1
                v, acc = occ_e[ch[-1]] + 1, 0.0
                while v < n_units and not is_tpl[v] and acc + ntok[v] <= edge:
                    acc += ntok[v]
                    in_list[v] = True
                    v += 1
    return in_list


def main_text_pieces(
    text: str,
    toks: Tokens,
    template: np.ndarray,
    cfg: TemplateConfig,
    masked: np.ndarray | None = None,
    share: np.ndarray | None = None,
    *,
    lid: np.ndarray | None = None,
) -> tuple[list[Piece], np.ndarray, np.ndarray]:
    """Off-main pieces of one page and the token mask they remove.

    Args:
        text: the page text.
        toks: ``tokenize(text)``.
        template: boolean token mask of template tokens (site evidence; all False when none).
        cfg: template settings (``line_cost``, ``template_penalty``, ``list_penalty``, ...).
        masked: digit-masked token hashes (computed when not given).
        share: per token, the fraction of the site's pages holding its template evidence
            (None: treat every template token as certain).
        lid: the line index of every token (computed when not given).

    Returns:
        (pieces of kind ``off-main``, boolean mask of the tokens they cover, boolean mask of
        template tokens *restored* because they lie inside the main run as a long unit held by
        under ``restore_below`` of the site's pages — an article's own headline or paragraph
        that other pages of the site show as a teaser).
    """
    n = len(toks)
    mask = np.zeros(n, dtype=bool)
    restored = np.zeros(n, dtype=bool)
    if not n:
        return [], mask, restored
    if masked is None:
        from .templates import masked_hashes

        masked = masked_hashes(toks, cfg)
    if lid is None:
        lid, _ = line_ids(text, toks)
    first, end, is_tpl, whole = units(text, toks, template, lid)
    ulid = lid[first] if len(first) else None
    w, in_list = unit_weights(first, end, is_tpl, whole, masked, cfg, ulid)
    ntok = end - first
    # uncertain template units: long, and on few of the site's pages (teasers of this article
    # on other pages). They neither help nor break a run; inside the chosen run they are kept.
    uncertain = np.zeros(len(first), dtype=bool)
    if share is not None and cfg.restore_below > 0:
        long_tpl = is_tpl & (ntok >= 2 * cfg.span_tokens)
        if long_tpl.any():
            # units partition the tokens (first[0] == 0, end[u] == first[u + 1]): one reduceat
            unit_max = np.maximum.reduceat(np.asarray(share, dtype=np.float64), first)
            uncertain = long_tpl & (unit_max < cfg.restore_below)
        w = np.where(uncertain, _UNCERTAIN_W * (ntok - cfg.line_cost), w)
    return _main_run(toks, first, end, is_tpl, whole, w, in_list, uncertain, cfg)


def _main_run(
    toks: Tokens, first: np.ndarray, end: np.ndarray, is_tpl: np.ndarray, whole: np.ndarray, w: np.ndarray,
    in_list: np.ndarray, uncertain: np.ndarray, cfg: TemplateConfig,
) -> tuple[list[Piece], np.ndarray, np.ndarray]:
    """Steps 4-5 of :func:`main_text_pieces` on one page's units and final weights ``w``: the
    main run, its headline, the restored uncertain units and the off-main pieces."""
    n = len(toks)
    mask = np.zeros(n, dtype=bool)
    restored = np.zeros(n, dtype=bool)
    ntok = end - first
    i, j, best = _best_run(w)
    if best <= 0 or j < i:
        return [], mask, restored
    # the headline: the nearest free whole line before the run, across a few template units
    # (byline, date line, share bar), is part of the main text
    if cfg.headline_window:
        u, skipped = i - 1, 0
        while u >= 0 and skipped < cfg.headline_window and (
            (is_tpl[u] and not uncertain[u]) or (not is_tpl[u] and not whole[u] and ntok[u] < cfg.span_tokens)
        ):
            # template units, and short free pieces of lines with template in them (a dateline)
            u, skipped = u - 1, skipped + 1
        if u >= 0 and (not is_tpl[u] or uncertain[u]) and whole[u] and 3 <= ntok[u] <= 40 and not in_list[u]:
            i = u
    for u in np.flatnonzero(uncertain).tolist():
        if i <= u <= j:
            restored[first[u] : end[u]] = True
    free = ~is_tpl
    total_free = float(ntok[free].sum())
    main_free = float(ntok[i : j + 1][free[i : j + 1]].sum())
    score = round(main_free / total_free, 4) if total_free else 0.0
    pieces: list[Piece] = []
    outside = free.copy()
    outside[i : j + 1] = False
    u = 0
    m = len(first)
    while u < m:
        if not outside[u]:
            u += 1
            continue
        v = u
        while v + 1 < m and outside[v + 1]:
            v += 1
        a, b = int(first[u]), int(end[v])
        mask[a:b] = True
        rule = "list-region" if in_list[u : v + 1].all() else "outside-main-run"
        pieces.append(Piece(int(toks.start[a]), int(toks.end[b - 1]), KIND_OFF_MAIN, rule, score))
        u = v + 1
    return pieces, mask, restored


def main_text_pieces_many(
    toks_list: "list[Tokens]",
    templates: "list[np.ndarray]",
    cfg: TemplateConfig,
    masked_list: "list[np.ndarray]",
    shares: "list[np.ndarray]",
    lids: "list[np.ndarray]",
) -> list[tuple[list[Piece], np.ndarray, np.ndarray]]:
    """:func:`main_text_pieces` of many pages (with ``masked``, ``share`` and ``lid`` given for
    each), equal results: units, list markers, weights and uncertain units are computed once
    over all pages concatenated (nothing crosses a page: every page starts a unit, a line and a
    run of neighbours of its own); the list regions (only on pages where a marker repeats) page
    by page; the main run and the pieces by the compiled kernel for all pages at once (page by
    page in numpy without it)."""
    m = len(toks_list)
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m), out=tok_off[1:])
    if not int(tok_off[-1]):
        return [([], np.zeros(len(t), dtype=bool), np.zeros(len(t), dtype=bool)) for t in toks_list]
    pieces, mask, restored = main_text_chunk(
        toks_list, tok_off, np.concatenate([np.asarray(x, dtype=bool) for x in templates]), cfg,
        np.concatenate([np.asarray(x, dtype=np.uint64) for x in masked_list]),
        np.concatenate([np.asarray(x, dtype=np.float64) for x in shares]),
        np.concatenate([np.asarray(x, dtype=np.int64) for x in lids]),
    )
    t = tok_off.tolist()
    return [(p, mask[a:b], restored[a:b]) for p, a, b in zip(pieces, t[:-1], t[1:])]


def main_text_chunk(
    toks_list: "Sequence[Tokens]", tok_off: np.ndarray, tpl: np.ndarray, cfg: TemplateConfig, masked: np.ndarray,
    share: np.ndarray, lid: np.ndarray,
) -> tuple[list[list[Piece]], np.ndarray, np.ndarray]:
    """:func:`main_text_pieces_many` on the pages' arrays concatenated (page ``i`` owns tokens
    ``tok_off[i]:tok_off[i + 1]`` of ``tpl``, ``masked``, ``share`` (float64) and ``lid``):
    (the pieces of each page, the off-main token mask and the restored token mask, concatenated)."""
    m = len(toks_list)
    N = int(tok_off[-1])
    out_p: list[list[Piece]] = [[] for _ in range(m)]
    mask = np.zeros(N, dtype=bool)
    restored = np.zeros(N, dtype=bool)
    lens = np.diff(tok_off)
    live = np.flatnonzero(lens).tolist()
    if not live:
        return out_p, mask, restored
    k = cfg.span_tokens
    live_off = np.append(tok_off[live], N)
    U = _units_cat(live_off, lid, tpl, masked, cfg)
    first, end, is_tpl, whole, u_off = U["first"], U["end"], U["is_tpl"], U["whole"], U["u_off"]
    midx, sig, lstart, lend, hidx, hsig = U["midx"], U["sig"], U["lstart"], U["lend"], U["hidx"], U["hsig"]
    nu, ntok_i = len(first), end - first
    # weights (as unit_weights) and uncertain units (as main_text_pieces)
    ntok = ntok_i.astype(np.float64)
    cost = np.minimum(ntok, cfg.template_unit_cap) if cfg.template_unit_cap else ntok
    w = np.where(is_tpl, -cfg.template_penalty * cost, ntok - cfg.line_cost)
    in_list = np.zeros(nu, dtype=bool)
    # markers of each page: its marker units, then its header lines (the order _marker_spans gives)
    m_cut = np.searchsorted(midx, u_off).tolist()
    h_units = lstart[hidx]
    h_cut = np.searchsorted(h_units, u_off).tolist()
    u_off_l = u_off.tolist()
    r = cfg.list_min_repeats
    for p in range(len(live)):
        ma, mb, ha, hb = m_cut[p], m_cut[p + 1], h_cut[p], h_cut[p + 1]
        if (mb - ma) + (hb - ha) < r:
            continue
        ua, ub = u_off_l[p], u_off_l[p + 1]
        ms = np.concatenate((midx[ma:mb], h_units[ha:hb])) - ua
        me = np.concatenate((midx[ma:mb], lend[hidx[ha:hb]])) - ua
        in_list[ua:ub] = _list_units(is_tpl[ua:ub], ntok[ua:ub], ms, me, np.concatenate((sig[ma:mb], hsig[ha:hb])), cfg)
    if in_list.any():
        w = np.where(in_list, cfg.list_penalty * ntok, w)
    uncertain = np.zeros(nu, dtype=bool)
    if cfg.restore_below > 0:
        long_tpl = is_tpl & (ntok_i >= 2 * k)
        if long_tpl.any():
            uncertain = long_tpl & (np.maximum.reduceat(share, first) < cfg.restore_below)
        w = np.where(uncertain, _UNCERTAIN_W * (ntok_i - cfg.line_cost), w)
    if _K is not None:
        starts = np.concatenate([np.asarray(toks_list[i].start, dtype=np.int64) for i in live])
        ends = np.concatenate([np.asarray(toks_list[i].end, dtype=np.int64) for i in live])
        n_live = len(live)
        free = np.empty(2 * n_live, dtype=np.int64)
        ps0, pe0, plist = np.empty(nu, dtype=np.int64), np.empty(nu, dtype=np.int64), np.empty(nu, dtype=np.int64)
        poff = np.empty(n_live + 1, dtype=np.int64)
        npc = _K.main_runs(
            u_off, first, end, w, is_tpl, whole, uncertain, in_list, cfg.headline_window, k, starts, ends,
            mask, restored, free, ps0, pe0, plist, poff,
        )
        po, fr = poff.tolist(), free.tolist()
        s0, e0, lst = ps0[:npc].tolist(), pe0[:npc].tolist(), plist[:npc].tolist()
        for p, i in enumerate(live):
            a, b = po[p], po[p + 1]
            if a == b:
                continue
            main_free, total_free = float(fr[2 * p]), float(fr[2 * p + 1])
            score = round(main_free / total_free, 4) if total_free else 0.0
            out_p[i] = [
                Piece(s0[q], e0[q], KIND_OFF_MAIN, "list-region" if lst[q] else "outside-main-run", score)
                for q in range(a, b)
            ]
        return out_p, mask, restored
    t_off_l = live_off.tolist()
    for p, i in enumerate(live):
        ua, ub, ta, tb = u_off_l[p], u_off_l[p + 1], t_off_l[p], t_off_l[p + 1]
        out_p[i], mask[ta:tb], restored[ta:tb] = _main_run(
            toks_list[i], first[ua:ub] - ta, end[ua:ub] - ta, is_tpl[ua:ub], whole[ua:ub], w[ua:ub],
            in_list[ua:ub], uncertain[ua:ub], cfg,
        )
    return out_p, mask, restored


def _units_many(
    toks_list: "list[Tokens]", templates: "list[np.ndarray]", cfg: TemplateConfig, masked_list: "list[np.ndarray]",
    lids: "list[np.ndarray]",
) -> dict[str, np.ndarray]:
    """:func:`_units_cat` of non-empty pages given as lists of per-page arrays."""
    n_l = np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=len(toks_list))
    tok_off = np.zeros(len(toks_list) + 1, dtype=np.int64)
    np.cumsum(n_l, out=tok_off[1:])
    lid = np.concatenate([np.asarray(x, dtype=np.int64) for x in lids])
    tpl = np.concatenate([np.asarray(x, dtype=bool) for x in templates])
    masked = np.concatenate([np.asarray(x, dtype=np.uint64) for x in masked_list])
    return _units_cat(tok_off, lid, tpl, masked, cfg)


def _units_cat(tok_off: np.ndarray, lid: np.ndarray, tpl: np.ndarray, masked: np.ndarray, cfg: TemplateConfig) -> dict[str, np.ndarray]:
    """:func:`units` and :func:`_marker_spans` of non-empty pages, concatenated (page ``p`` owns
    tokens ``tok_off[p]:tok_off[p + 1]`` of ``lid``, ``tpl``, ``masked``): units (``first``,
    ``end`` in tokens of the concatenation, ``is_tpl``, ``whole``; page ``p`` owns units
    ``u_off[p]:u_off[p + 1]``), marker units ``midx``
    with their ``sig``, line starts / ends ``lstart`` / ``lend`` (in units), header lines
    ``hidx`` with their ``hsig``. Every page starts a unit and a line of its own and has no
    neighbour unit or line on another page."""
    k = cfg.span_tokens
    N = int(tok_off[-1])
    if _K is not None:
        return _units_kernel(tok_off, lid, tpl, masked, k)
    page_start = np.zeros(N, dtype=bool)
    page_start[tok_off[:-1]] = True
    # units (as units()), cut at every page start too
    cut = np.empty(N, dtype=bool)
    cut[0] = True
    cut[1:] = (lid[1:] != lid[:-1]) | (tpl[1:] != tpl[:-1])
    cut |= page_start
    first = np.flatnonzero(cut).astype(np.int64)
    end = np.empty_like(first)
    end[:-1] = first[1:]
    end[-1] = N
    nu = len(first)
    u_off = np.searchsorted(first, tok_off)  # page p owns units [u_off[p], u_off[p + 1])
    u_first = np.zeros(nu, dtype=bool)  # first unit of its page
    u_first[u_off[:-1]] = True
    u_last = np.zeros(nu, dtype=bool)  # last unit of its page
    u_last[u_off[1:] - 1] = True
    prev_tok = np.maximum(first - 1, 0)
    whole = (u_first | (lid[first] != lid[prev_tok])) & (u_last | (lid[np.minimum(end, N - 1)] != lid[end - 1]))
    is_tpl = tpl[first]
    ntok_i = end - first
    # list markers (as _marker_spans)
    marker = is_tpl | (whole & (ntok_i < _MARKER_TOKENS * k))
    free_prev = u_first.copy()
    free_prev[1:] |= ~is_tpl[:-1]
    free_next = u_last.copy()
    free_next[:-1] |= ~is_tpl[1:]
    marker &= free_prev & free_next
    midx = np.flatnonzero(marker)
    ulid = lid[first]
    lcut = u_first.copy()
    lcut[1:] |= ulid[1:] != ulid[:-1]
    lstart = np.flatnonzero(lcut)
    lend = np.empty_like(lstart)
    lend[:-1] = lstart[1:] - 1
    lend[-1] = nu - 1
    lfirst_tok, lend_tok = first[lstart], end[lend]
    lfree = np.add.reduceat(np.where(is_tpl, 0, ntok_i), lstart)
    dig = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(masked == DIGIT_TOKEN, out=dig[1:])
    ldig = dig[lend_tok] - dig[lfirst_tok]
    l_first, l_last = u_first[lstart], u_last[lend]  # first / last line of its page
    prev_free = np.zeros(len(lstart), dtype=bool)
    prev_free[1:] = lfree[:-1] > 0
    prev_free &= ~l_first
    next_free = np.zeros(len(lstart), dtype=bool)
    next_free[:-1] = lfree[1:] > 0
    next_free &= ~l_last
    hdr = ((lend_tok - lfirst_tok) < _HEADER_TOKENS * k) & (ldig > 0) & (prev_free | next_free)
    hidx = np.flatnonzero(hdr)
    tail_start = np.maximum(lend_tok[hidx] - _HEADER_TAIL, lfirst_tok[hidx])
    h = range_hashes(masked, np.concatenate((first[midx], tail_start)), np.concatenate((end[midx], lend_tok[hidx])), base=TOKEN_BASE)
    sig, hsig = h[: len(midx)], fmix64(h[len(midx) :] ^ _HEADER_SALT)
    return {"first": first, "end": end, "is_tpl": is_tpl, "whole": whole, "u_off": u_off, "tok_off": tok_off,
            "midx": midx, "sig": sig, "lstart": lstart, "lend": lend, "hidx": hidx, "hsig": hsig}


def _units_kernel(tok_off: np.ndarray, lid: np.ndarray, tpl: np.ndarray, masked: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """:func:`_units_cat` through the compiled kernel (one call for the chunk)."""
    N = int(tok_off[-1])
    first, end, lstart, lend = (np.empty(N, dtype=np.int64) for _ in range(4))
    midx, hidx = np.empty(N, dtype=np.int64), np.empty(N, dtype=np.int64)
    sig, hsig = np.empty(N, dtype=np.uint64), np.empty(N, dtype=np.uint64)
    is_tpl, whole = np.empty(N, dtype=bool), np.empty(N, dtype=bool)
    u_off = np.empty(len(tok_off), dtype=np.int64)
    nu, nm, nl, nh = _K.units_many(
        np.asarray(tok_off, dtype=np.int64), np.asarray(lid, dtype=np.int64), np.asarray(tpl, dtype=bool),
        np.asarray(masked, dtype=np.uint64), _MARKER_TOKENS * k, _HEADER_TOKENS * k, _HEADER_TAIL, int(_HEADER_SALT),
        first, end, is_tpl, whole, u_off, midx, sig, lstart, lend, hidx, hsig,
    )
    return {"first": first[:nu], "end": end[:nu], "is_tpl": is_tpl[:nu], "whole": whole[:nu], "u_off": u_off,
            "tok_off": tok_off, "midx": midx[:nm], "sig": sig[:nm], "lstart": lstart[:nl], "lend": lend[:nl],
            "hidx": hidx[:nh], "hsig": hsig[:nh]}
