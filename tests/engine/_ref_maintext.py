"""Reference copy of ``dedupe/engine/maintext.py`` as of commit ebbbffd (before the corpus speed work),
for tests that the rewritten per-page and batched code gives equal results. Not used by the package."""

from __future__ import annotations

import numpy as np

from dedupe.config import TemplateConfig
from dedupe.core.hashing import TOKEN_BASE, fmix64, range_hashes
from dedupe.core.spans import Piece
from dedupe.core.tokenize import Tokens
from dedupe.models import KIND_OFF_MAIN
from dedupe.engine.templates import DIGIT_TOKEN, line_ids

_LIST_MAX_GAP = 120  # median free tokens between two markers of a list region, at most
_LIST_BREAK = 8 * _LIST_MAX_GAP  # free tokens between two markers that end a list region
_MARKER_TOKENS = 2  # a free whole line shorter than this many span_tokens can mark list items
_UNCERTAIN_W = 0.5  # weight of an uncertain template unit (long, on few pages), relative to a free one
_HEADER_TOKENS = 3  # a line shorter than this many span_tokens, with a digit, can be a comment header
_HEADER_TAIL = 3  # ... signed by its last this many digit-masked tokens
_HEADER_SALT = np.uint64(0x9E3779B97F4A7C15)
_END_GAP = 4  # a gap at a chain's end longer than this many median gaps of the rest ends the chain there
_EDGE_ITEM = 1.5  # the item before the first / after the last marker: at most this many median gaps


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
    brk = np.flatnonzero((np.diff(lid) != 0) | (np.diff(tpl.astype(np.int8)) != 0)) + 1
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
    sig = range_hashes(masked, first[midx], end[midx], base=TOKEN_BASE) if len(midx) else np.empty(0, dtype=np.uint64)
    if ulid is None or not len(first) or not _HEADER_TOKENS:
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
        return ms, me, sig
    tail_start = np.maximum(lend_tok[hidx] - _HEADER_TAIL, lfirst_tok[hidx])
    hsig = fmix64(range_hashes(masked, tail_start, lend_tok[hidx], base=TOKEN_BASE) ^ _HEADER_SALT)
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
    in_list = np.zeros(len(first), dtype=bool)
    ms, me, sig = _marker_spans(first, end, is_tpl, whole, masked, ulid, cfg)
    if len(ms) >= cfg.list_min_repeats:
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
                while v < len(first) and not is_tpl[v] and acc + ntok[v] <= edge:
                    acc += ntok[v]
                    in_list[v] = True
                    v += 1
    if in_list.any():
        w = np.where(in_list, cfg.list_penalty * ntok, w)
    return w, in_list


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
        from dedupe.engine.templates import masked_hashes

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
        for u in np.flatnonzero(is_tpl & (ntok >= 2 * cfg.span_tokens)).tolist():
            if float(share[first[u] : end[u]].max()) < cfg.restore_below:
                uncertain[u] = True
        w = np.where(uncertain, _UNCERTAIN_W * (ntok - cfg.line_cost), w)
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
