"""Within-page deduplication: repeated spans and near-repeated blocks inside one page.

Two passes over one text:

1. **Exact repeats.** Every run of ``k = min_repeat_tokens`` normalised tokens is hashed; a k-gram
   seen twice or more is repeated. For every repeated k-gram one occurrence is *kept* (the one in
   the best context, or the first); tokens covered only by non-kept occurrences are removed. Each
   removed token therefore has an identical kept copy, so no group ever loses every copy, and the
   repeats need not align with lines or sentences.
2. **Near repeats.** Sentences/lines of at least ``near_repeat_min_tokens`` tokens get MinHash
   signatures over token n-grams; LSH banding proposes pairs, rapidfuzz verifies them, and
   groups (union-find) keep one canonical block each. Blocks left with a few orphan tokens by the
   exact pass (a lead with one word changed) are completed here.

Before them, *periodic runs* (``"X X X"`` with a unit shorter than ``k`` tokens, whose k-grams
overlap their own copies) are reduced to one unit (:func:`periodic_runs`).

**Artefact evidence** (``WithinConfig.artefact_evidence``, default on). Repetition is not always an
extraction artefact: forum replies quote earlier posts, a table of contents reappears as the
section headings, list items and table rows repeat. So a repeat found by the passes above is
*removed* only with positive evidence that it is an artefact, else it is *flagged* (reported as
a span with ``removed=False``, text untouched). Evidence for an exact repeat (one removed run and
its kept copy):

* ``adjacent`` — the two copies are back to back (no token between them): a caption printed
  twice, an article printed twice in a row, ``X X X``;
* ``fragment`` — one copy starts with a lower-case letter right after a sentence end
  (``.!?…``) while the other copy starts mid-sentence:
  a piece of a sentence printed on its own, as in a teaser stitched from body text;
* ``truncated`` — one copy is followed by an ellipsis, the other is not (a teaser);
* ``joined`` — the run touches (no token between) another removed run that has evidence: the
  title and lead glued to the teaser fragments of the reference page.

A near repeat is removed when it is back to back with its canonical block, or touches or
completes text already removed; else it is flagged. Whole lines repeated far apart, long
quoted passages and repeated list items therefore survive (both copies), reported.

The *context* keep policy scores each copy: a copy that starts as a sentence fragment (a
lower-case word right after a sentence end or a line start) loses 2 points; a copy that ends in
an ellipsis loses 1; each side of a copy that touches another repeated region loses 1 (a teaser
made of repeats). The highest score is kept; ties go to the earliest copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from ..config import WithinConfig
from ..core import native
from ..core.hashing import kgram_hashes
from ..core.minhash import band_keys, candidate_pairs, candidate_pairs_many, signatures, to_hash32
from ..core.segment import TERMINAL, sentence_bounds
from ..core.spans import Piece
from ..core.tokenize import Tokens
from ..models import KIND_NEAR_REPEAT, KIND_REPEAT, Span


class _Fuzz:
    """``rapidfuzz.fuzz``, imported on first use: a corpus driver with a pool never compares
    blocks, and the import holds ~4 MB of its resident size (the pool's server imports it for its
    workers: :mod:`dedupe.core._warm`)."""

    def __getattr__(self, name: str) -> Any:
        from rapidfuzz import fuzz as real

        globals()["fuzz"] = real  # later lookups go straight to the module
        return getattr(real, name)


fuzz: Any = _Fuzz()

#: compiled twins of the exact pass of many pages, of near_repeats after its candidate pairs and of
#: _mark (None: the numpy code, which stays the reference; tests compare the two)
_K = native.load("within")

_NEIGHBOUR_GAP = 2  # tokens: a copy this close to another repeated region "touches" it
_JOIN_GAP = 0  # tokens: removed pieces this close join one cluster of evidence


def _coverage(n: int, starts: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of tokens covered by any window [p, p+k) for p in starts."""
    diff = np.bincount(starts, minlength=n + 1)[: n + 1] - np.bincount(np.minimum(starts + k, n), minlength=n + 1)[: n + 1]
    return np.cumsum(diff[:-1]) > 0


def repeat_coverage(hashes: np.ndarray, k: int) -> np.ndarray:
    """Mask of the tokens covered by some k-gram that occurs two or more times in ``hashes``.

    >>> repeat_coverage(np.array([1, 2, 3, 1, 2], dtype=np.uint64), 2).tolist()
    [True, True, False, True, True]
    """
    n = len(hashes)
    kg = kgram_hashes(hashes, k)
    if len(kg) < 2:
        return np.zeros(n, dtype=bool)
    _, inv, counts = np.unique(kg, return_inverse=True, return_counts=True)
    return _coverage(n, np.flatnonzero(counts[inv] >= 2), k)


def _repeat_groups(kg: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``np.unique(kg, return_inverse=True, return_counts=True)[1:]``, or None when no value
    repeats (one stable sort; the common no-repeat page stops after it)."""
    order = np.argsort(kg, kind="stable")
    srt = kg[order]
    new = np.empty(len(kg), dtype=bool)
    new[0] = True
    np.not_equal(srt[1:], srt[:-1], out=new[1:])
    if new.all():
        return None
    rank = np.cumsum(new) - 1
    inv = np.empty(len(kg), dtype=np.int64)
    inv[order] = rank
    counts = np.diff(np.append(np.flatnonzero(new), len(kg)))
    return inv, counts


def context_score(text: str, start: int, end: int, touches_prev: bool, touches_next: bool) -> int:
    """Score of a copy ``text[start:end]`` by how coherent its surroundings are (higher is better)."""
    score = 0
    j = start - 1
    while j >= 0 and text[j] in " \t\"'«“‘(":
        j -= 1
    at_sentence_start = j < 0 or text[j] == "\n" or text[j] in TERMINAL
    first = text[start] if start < len(text) else ""
    if at_sentence_start and first.islower():
        score -= 2  # a fragment: starts mid-sentence where a sentence should start
    tail = text[end : end + 3]
    if tail.startswith("…") or tail.startswith("..."):
        score -= 1
    if touches_prev:
        score -= 1
    if touches_next:
        score -= 1
    return score


def exact_repeats(
    text: str, toks: Tokens, cfg: WithinConfig, excluded: np.ndarray | None = None, *, _groups: "tuple | None" = None
) -> tuple[list[Piece], np.ndarray, np.ndarray]:
    """Pass 1. Returns (pieces, removed token mask, mask of tokens that are kept copies of removed ones).

    Every repeat is returned as a removal piece here (no artefact evidence is applied; see
    :func:`within_analysis`). ``excluded`` marks tokens another level removes: an occurrence that
    touches one is never kept while a fully non-excluded occurrence exists, a k-gram whose every
    occurrence touches one is ignored, and excluded tokens are never part of a piece.
    """
    n = len(toks)
    k = cfg.min_repeat_tokens
    removed = np.zeros(n, dtype=bool)
    kept_ref = np.zeros(n, dtype=bool)
    if _groups is not None:  # (kgram hashes, their _repeat_groups), computed by within_analysis
        kg, grouped = _groups
    else:
        kg = kgram_hashes(toks.hashes, k)
        grouped = _repeat_groups(kg) if len(kg) >= 2 else None
    if grouped is None:
        return [], removed, kept_ref
    inv, counts = grouped
    rep_pos = np.flatnonzero(counts[inv] >= 2)
    # regions: maximal runs of consecutive repeated k-gram starts; tokens [first, last + k)
    brk = np.flatnonzero(np.diff(rep_pos) != 1) + 1
    r_first = rep_pos[np.concatenate(([0], brk))]
    r_last = rep_pos[np.concatenate((brk - 1, [len(rep_pos) - 1]))]
    r_end = r_last + k  # exclusive token end
    region_of = np.zeros(len(rep_pos), dtype=np.int64)
    region_of[brk] = 1
    region_of = np.cumsum(region_of)
    n_regions = len(r_first)
    if cfg.keep_policy == "context":
        gap_ok = (r_first[1:] - r_end[:-1] <= _NEIGHBOUR_GAP).tolist()  # region r+1 touches region r
        c_start, c_end = toks.start[r_first].tolist(), toks.end[r_end - 1].tolist()
        scores = np.array(
            [
                context_score(text, c_start[r], c_end[r], r > 0 and gap_ok[r - 1], r + 1 < n_regions and gap_ok[r])
                for r in range(n_regions)
            ],
            dtype=np.int64,
        )
        pos_score = scores[region_of]
    else:
        pos_score = np.zeros(len(rep_pos), dtype=np.int64)
    group = inv[rep_pos]
    if excluded is not None and excluded.any():
        ex_csum = np.concatenate(([0], np.cumsum(excluded, dtype=np.int64)))
        touch = (ex_csum[np.minimum(rep_pos + k, n)] - ex_csum[rep_pos]) > 0
        # a k-gram whose every occurrence touches an excluded token: the other level removes it
        free_in_group = np.bincount(group, weights=~touch, minlength=len(counts))
        live = free_in_group[group] > 0
        if not live.all():
            rep_pos, group, pos_score, touch = rep_pos[live], group[live], pos_score[live], touch[live]
            if not len(rep_pos):
                return [], removed, kept_ref
        order = np.lexsort((rep_pos, -pos_score, touch, group))
    else:
        excluded = None
        order = np.lexsort((rep_pos, -pos_score, group))
    kept_of, is_kept, nk_pos, removed = _choose_kept(rep_pos, group, order, n, k)
    if excluded is not None:
        removed &= ~excluded
    if not removed.any():
        return [], np.zeros(n, dtype=bool), kept_ref
    delta = np.zeros(n, dtype=np.int64)
    ridx = np.flatnonzero(removed)
    delta[ridx] = _partner_delta(n, nk_pos, kept_of[~is_kept], ridx)
    # pieces: runs of removed tokens with a constant delta
    brk2 = np.flatnonzero((np.diff(ridx) != 1) | (np.diff(delta[ridx]) != 0)) + 1
    p_first = ridx[np.concatenate(([0], brk2))]
    p_last = ridx[np.concatenate((brk2 - 1, [len(ridx) - 1]))]
    tok_chars = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(toks.nend - toks.nstart, out=tok_chars[1:])
    long_enough = tok_chars[p_last + 1] - tok_chars[p_first] >= cfg.min_repeat_chars
    p_first, p_last = p_first[long_enough], p_last[long_enough]
    p_delta = delta[p_first]
    final_removed = _mark(n, p_first, p_last)
    kept_ref = _mark(n, p_first + p_delta, p_last + p_delta)
    rule = f"exact-run>={k}-tokens" + ("/context" if cfg.keep_policy == "context" else "/first")
    pieces = [
        Piece(s0, e0, KIND_REPEAT, rule, 1.0, kept=(ks, ke), extra=(a, b, d))
        for s0, e0, ks, ke, a, b, d in zip(
            toks.start[p_first].tolist(), toks.end[p_last].tolist(),
            toks.start[p_first + p_delta].tolist(), toks.end[p_last + p_delta].tolist(),
            p_first.tolist(), p_last.tolist(), p_delta.tolist(),
        )
    ]
    return pieces, final_removed, kept_ref


def _choose_kept(
    rep_pos: np.ndarray, group: np.ndarray, order: np.ndarray, n: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kept occurrence of each repeat group: the first of the group in ``order``.

    Returns (kept position of each occurrence's group, mask of the kept occurrences, the
    positions of the others, mask of the ``n`` tokens covered by another occurrence only)."""
    g_sorted = group[order]
    head = np.concatenate(([True], g_sorted[1:] != g_sorted[:-1]))
    head_idx = np.cumsum(head) - 1
    kept_of = np.empty(len(rep_pos), dtype=np.int64)
    kept_of[order] = rep_pos[order][head][head_idx]
    is_kept = kept_of == rep_pos
    nk_pos = rep_pos[~is_kept]
    return kept_of, is_kept, nk_pos, _coverage(n, nk_pos, k) & ~_coverage(n, rep_pos[is_kept], k)


def _partner_delta(n: int, nk_pos: np.ndarray, nk_kept: np.ndarray, ridx: np.ndarray) -> np.ndarray:
    """For each removed token ``ridx``, the offset to its partner in the kept copy: through the
    last removed occurrence (``nk_pos``, whose kept one is ``nk_kept``) starting at or before it."""
    last = np.full(n, -1, dtype=np.int64)
    last[nk_pos] = np.arange(len(nk_pos))
    last = np.maximum.accumulate(last)
    occ = last[ridx]
    return nk_kept[occ] - nk_pos[occ]


def _runs(idx: np.ndarray) -> "list[tuple[int, int]]":
    """(first, last) of each run of consecutive integers in the sorted array ``idx``."""
    if not len(idx):
        return []
    brk = np.flatnonzero(np.diff(idx) != 1)
    firsts = [int(idx[0])] + idx[brk + 1].tolist()
    lasts = idx[brk].tolist() + [int(idx[-1])]
    return list(zip(firsts, lasts))


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def _near_band_keys(hashes: np.ndarray, g_lo: np.ndarray, g_hi: np.ndarray, cfg: WithinConfig) -> np.ndarray:
    """LSH band keys of the blocks of tokens ``[g_lo[i], g_hi[i])`` (MinHash over token n-grams)."""
    sh = cfg.near_repeat_shingle
    grams = kgram_hashes(hashes, sh)
    # shingle positions of each block: [lo, hi - sh + 1)
    g_cnt = np.maximum(g_hi - sh + 1 - g_lo, 0)
    offsets = np.zeros(len(g_lo) + 1, dtype=np.int64)
    np.cumsum(g_cnt, out=offsets[1:])
    pos = np.repeat(g_lo - offsets[:-1], g_cnt) + np.arange(offsets[-1])
    sigs = signatures(to_hash32(grams[pos]), offsets, cfg.near_repeat_num_perm, seed=7)
    return band_keys(sigs, cfg.near_repeat_bands)


def near_repeats(
    text: str,
    toks: Tokens,
    cfg: WithinConfig,
    removed: np.ndarray,
    kept_ref: np.ndarray,
    anchors: "list[tuple[int, int]] | None" = None,
    flagged: "list[Piece] | None" = None,
    excluded: np.ndarray | None = None,
    *,
    _pre: "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None" = None,
) -> list[Piece]:
    """Pass 2: near-repeated sentences/lines. Updates ``removed`` in place for what it removes.

    With ``flagged`` (a list) and ``cfg.artefact_evidence``, a near copy is removed only with
    evidence of an extraction artefact: it is back to back with its canonical block, or it
    touches (within a couple of tokens) text already removed, or part of it is already removed
    (an exact run the first pass removed, completed here). Otherwise it is appended to
    ``flagged`` (reported, not removed). Without ``flagged`` every near copy is removed.

    Candidate pairs come from MinHash LSH, plus *anchored* pairs: ``anchors`` holds
    ``(removed token, its kept copy's token)`` from the exact pass, and the block holding a
    removed run is always compared with the block holding its kept copy. A block with one word
    changed is thus completed deterministically, not only when LSH happens to propose it.
    """
    n = len(toks)
    if n < cfg.near_repeat_min_tokens * 2:
        return []
    if _pre is None:
        s_start, s_end = sentence_bounds(text)
        lo = np.searchsorted(toks.start, s_start, side="left")
        hi = np.searchsorted(toks.start, s_end, side="left")
        cand = np.flatnonzero(hi - lo >= cfg.near_repeat_min_tokens)
        if len(cand) < 2:
            return []
        keys = _near_band_keys(toks.hashes, lo[cand], hi[cand], cfg)
        pairs = candidate_pairs(keys)
    else:  # computed for many pages at once by within_analysis_many
        lo, hi, cand, pairs = _pre
        if len(cand) < 2:
            return []
    if _K is not None and removed.dtype == np.bool_ and removed.flags.c_contiguous:
        return _near_native(text, toks, cfg, removed, kept_ref, anchors, flagged, excluded, lo[cand], hi[cand], pairs)
    if anchors:
        # candidate index of the block holding each token (-1: none); blocks are disjoint and sorted
        c_lo, c_hi = lo[cand], hi[cand]
        anc = np.asarray(anchors, dtype=np.int64).reshape(-1)
        ci = np.searchsorted(c_lo, anc, side="right") - 1
        ci[(ci < 0) | (anc >= c_hi[np.maximum(ci, 0)])] = -1
        x, y = ci[0::2], ci[1::2]
        ok = (x >= 0) & (y >= 0) & (x != y)
        if ok.any():
            m = len(cand)
            code = np.concatenate((pairs[:, 0] * m + pairs[:, 1], np.minimum(x[ok], y[ok]) * m + np.maximum(x[ok], y[ok])))
            code = np.unique(code)
            pairs = np.stack([code // m, code % m], axis=1)
    if not len(pairs):
        return []
    blocked = removed | excluded if excluded is not None else removed  # removed here or by another level
    norm = toks.norm.text
    b_lo, b_hi = lo[cand], hi[cand]  # token range [b_lo, b_hi) of each candidate block
    n_s, n_e = toks.nstart[b_lo].tolist(), toks.nend[b_hi - 1].tolist()

    def seg_norm(i: int) -> str:
        return norm[n_s[i] : n_e[i]]

    uf = _UnionFind(len(cand))
    best: dict[tuple[int, int], float] = {}
    cutoff = cfg.near_repeat_threshold * 100
    for i, j in pairs.tolist():
        score = fuzz.ratio(seg_norm(i), seg_norm(j), score_cutoff=cutoff)
        if score >= cutoff:
            uf.union(i, j)
            best[(i, j)] = score / 100
    if not best:
        return []
    rem_csum = np.concatenate(([0], np.cumsum(blocked)))
    ref_csum = np.concatenate(([0], np.cumsum(kept_ref)))
    n_rem = (rem_csum[b_hi] - rem_csum[b_lo]).tolist()  # per block: tokens already removed
    is_pinned = (ref_csum[b_hi] - ref_csum[b_lo] > 0).tolist()  # holds a kept copy of removed text
    c_lo, c_hi = b_lo.tolist(), b_hi.tolist()
    o_s, o_e = toks.start[b_lo].tolist(), toks.end[b_hi - 1].tolist()
    groups: dict[int, list[int]] = {}
    for i in sorted({x for pair in best for x in pair}):
        groups.setdefault(uf.find(i), []).append(i)
    pieces: list[Piece] = []
    for members in groups.values():
        intact = [i for i in members if n_rem[i] == 0]
        if not intact:
            continue
        if cfg.keep_policy == "context":
            def key(i: int) -> tuple[int, int, int]:
                return (-int(is_pinned[i]), -context_score(text, o_s[i], o_e[i], False, False), i)
        else:
            def key(i: int) -> tuple[int, int, int]:
                return (-int(is_pinned[i]), 0, i)
        canon = min(intact, key=key)
        kept = (o_s[canon], o_e[canon])
        for i in members:
            if i == canon or is_pinned[i]:
                continue
            a, b = c_lo[i], c_hi[i]
            if blocked[a:b].all():
                continue
            score = max(best.get((min(i, canon), max(i, canon)), 0.0), cfg.near_repeat_threshold)
            if (min(i, canon), max(i, canon)) not in best:
                score = fuzz.ratio(seg_norm(i), seg_norm(canon)) / 100
                if score < cfg.near_repeat_threshold:
                    continue  # joined only transitively and too far from the canonical copy
            if flagged is not None and cfg.artefact_evidence:
                ca, cb = c_lo[canon], c_hi[canon]
                back_to_back = b == ca or cb == a  # no token between the blocks
                g = _NEIGHBOUR_GAP
                touches = bool(removed[max(0, a - g) : a].any() or removed[b : b + g].any() or removed[a:b].any())
                if not (back_to_back or touches):
                    idx = np.flatnonzero(~blocked[a:b]) + a
                    for t0, t1 in _runs(idx):
                        flagged.append(Piece(int(toks.start[t0]), int(toks.end[t1]), KIND_NEAR_REPEAT, "near-block/flagged", float(score), kept=kept))
                    continue
                rule = "near-block/adjacent" if back_to_back else "near-block/joined"
            else:
                rule = "near-block"
            # remove the parts of the block not already removed
            idx = np.flatnonzero(~blocked[a:b]) + a
            for t0, t1 in _runs(idx):
                pieces.append(Piece(int(toks.start[t0]), int(toks.end[t1]), KIND_NEAR_REPEAT, rule, float(score), kept=kept))
            removed[idx] = True
            blocked[idx] = True
    return pieces


_NEAR_RULES = ("near-block", "near-block/adjacent", "near-block/joined", "near-block/flagged")


def _i64(a: "np.ndarray | list") -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def _u8(mask: np.ndarray) -> np.ndarray:
    """A bool mask as a C-contiguous uint8 view (for the kernels' buffers)."""
    return np.ascontiguousarray(mask, dtype=np.bool_).view(np.uint8)


def _near_native(
    text: str, toks: Tokens, cfg: WithinConfig, removed: np.ndarray, kept_ref: np.ndarray,
    anchors: "list[tuple[int, int]] | None", flagged: "list[Piece] | None", excluded: np.ndarray | None,
    b_lo: np.ndarray, b_hi: np.ndarray, pairs: np.ndarray,
) -> list[Piece]:
    """:func:`near_repeats` from its candidate blocks ``[b_lo, b_hi)`` and LSH ``pairs`` on, in the
    compiled kernel (which calls rapidfuzz's ``fuzz.ratio`` as the numpy code does)."""
    anc = _i64(anchors).reshape(-1) if anchors else np.zeros(0, dtype=np.int64)
    got, flag = _K.near_page(  # type: ignore[union-attr]
        text, toks.norm.text, fuzz.ratio, _i64(toks.start), _i64(toks.end), _i64(toks.nstart), _i64(toks.nend),
        _i64(b_lo), _i64(b_hi), _i64(pairs).reshape(-1), anc, removed.view(np.uint8), _u8(kept_ref),
        None if excluded is None else _u8(excluded), float(cfg.near_repeat_threshold), cfg.keep_policy == "context",
        flagged is not None and cfg.artefact_evidence,
    )
    if flag:
        flagged.extend(  # type: ignore[union-attr]
            Piece(a, b, KIND_NEAR_REPEAT, _NEAR_RULES[r], sc, kept=(ks, ke)) for a, b, r, sc, ks, ke in flag
        )
    return [Piece(a, b, KIND_NEAR_REPEAT, _NEAR_RULES[r], sc, kept=(ks, ke)) for a, b, r, sc, ks, ke in got]


def periodic_runs(
    text: str, toks: Tokens, cfg: WithinConfig, excluded: np.ndarray | None = None, *, _kg: np.ndarray | None = None
) -> tuple[list[Piece], np.ndarray]:
    """Back-to-back repeats of a unit shorter than ``min_repeat_tokens`` (``"X X X"``).

    The exact pass cannot undo such a run: its k-grams overlap their own copies, so the copies
    it keeps cover more than one unit. Here, for each period ``d`` in ``2 .. k-1`` tokens (the
    smallest first), a run where token ``i`` equals token ``i + d`` for ``L >= k`` consecutive
    ``i`` is the unit (tokens ``[s, s + d)``) followed by ``L`` tokens that repeat it; those ``L``
    tokens are removed, one piece per copy of the unit, each with the first unit as its kept
    copy. Period 1 (one word repeated: "very very very") is never a unit. Runs that touch
    ``excluded`` tokens, or whose removed part is shorter than ``min_repeat_chars`` non-space
    characters, are left to the exact pass.

    Returns (pieces, mask of the removed tokens).
    """
    h = toks.hashes
    n = len(h)
    k = cfg.min_repeat_tokens
    mask = np.zeros(n, dtype=bool)
    pieces: list[Piece] = []
    if n < k + 2:
        return pieces, mask
    # A run of L >= k tokens equal at distance d makes the k-gram at its start equal to the one d
    # tokens later, so a period whose k-grams never match at distance d has no run: skipped.
    kg = kgram_hashes(h, k) if _kg is None else _kg
    periods = [d for d in range(1, k) if n >= d + k and bool((kg[:-d] == kg[d:]).any())]
    if not periods:
        return pieces, mask
    claimed = np.zeros(n + 1, dtype=bool)
    tok_chars = np.cumsum(np.concatenate(([0], toks.nend - toks.nstart)))
    ex_csum = np.concatenate(([0], np.cumsum(excluded, dtype=np.int64))) if excluded is not None else None
    for d in periods:
        eq = np.concatenate(([False], h[:-d] == h[d:], [False]))
        edges = np.flatnonzero(np.diff(eq.astype(np.int8)))
        starts, ends = edges[0::2], edges[1::2]  # eq[i] for i in [start, end)
        for s, e in zip(starts.tolist(), ends.tolist()):
            L = e - s
            if L < k:
                continue
            lo_t, hi_t = s, e + d  # tokens of the whole run
            if claimed[lo_t:hi_t].any():
                continue
            claimed[lo_t:hi_t] = True
            if d == 1:
                continue
            if ex_csum is not None and ex_csum[hi_t] - ex_csum[lo_t]:
                continue
            if tok_chars[hi_t] - tok_chars[s + d] < cfg.min_repeat_chars:
                continue
            mask[s + d : hi_t] = True
            for a in range(s + d, hi_t, d):
                b = min(a + d, hi_t) - 1
                m = b - a
                pieces.append(
                    Piece(int(toks.start[a]), int(toks.end[b]), KIND_REPEAT, f"periodic-run/{d}-tokens", 1.0,
                          kept=(int(toks.start[s]), int(toks.end[s + m])))
                )
    return pieces, mask


def _start_kind(text: str, pos: int) -> str:
    """``"sentence"`` when ``pos`` follows a sentence end (``.!?…``, skipping whitespace and opening
    quotes), else ``"mid"``. A line start alone is not a sentence end: hard-wrapped text breaks
    lines mid-sentence, and a lower-case word at a line start is often a user name or a list item."""
    j = pos - 1
    while j >= 0 and (text[j].isspace() or text[j] in "\"'«“‘(>"):
        j -= 1
    return "sentence" if j >= 0 and text[j] in TERMINAL else "mid"


def _ellipsis_after(text: str, pos: int) -> bool:
    tail = text[pos : pos + 4].lstrip(" \t")
    return tail.startswith("…") or tail.startswith("...")


def _artefact_evidence(text: str, toks: Tokens, a: int, b: int, ka: int, kb: int) -> str | None:
    """Why the copy at tokens ``[a, b]`` and its identical copy ``[ka, kb]`` (inclusive token
    ranges) look like an extraction artefact, or None.

    * ``adjacent`` — the copies are back to back (no token between them);
    * ``fragment`` — one copy starts with a lower-case letter where a sentence starts while the
      other copy starts mid-sentence (a piece of a sentence printed on its own);
    * ``truncated`` — one copy is followed by an ellipsis and the other is not (a teaser).
    """
    return _evidence_at(text, a, b, ka, kb, int(toks.start[a]), int(toks.start[ka]), int(toks.end[b]), int(toks.end[kb]))


def _evidence_at(text: str, a: int, b: int, ka: int, kb: int, sa: int, sk: int, ea: int, ek: int) -> str | None:
    """:func:`_artefact_evidence` given the char offsets: ``sa``/``sk`` the starts of tokens ``a``
    and ``ka``, ``ea``/``ek`` the ends of tokens ``b`` and ``kb``."""
    if b + 1 >= ka and kb + 1 >= a:  # touching or overlapping
        return "adjacent"
    ka_kind, a_kind = _start_kind(text, sk), _start_kind(text, sa)
    if (text[sa].islower() and a_kind == "sentence" and ka_kind == "mid") or (
        text[sk].islower() and ka_kind == "sentence" and a_kind == "mid"
    ):
        return "fragment"
    if _ellipsis_after(text, ea) != _ellipsis_after(text, ek):
        return "truncated"
    return None


def _tok_ranges(toks: Tokens, starts: "list[int]", ends: "list[int]") -> tuple[np.ndarray, np.ndarray]:
    """Inclusive token ranges ``[a, b]`` of char ranges: ``a`` the first token starting at or after
    each start, ``b`` the first token ending at or after each end (one searchsorted per side)."""
    return np.searchsorted(toks.start, starts), np.searchsorted(toks.end, ends)


def _mark(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of ``n`` tokens: the union of the slices ``[a[i] : b[i] + 1]`` (empty ones ignored)."""
    if _K is not None:
        out = np.zeros(n, dtype=bool)
        _K.mark(out.view(np.uint8), _i64(a), _i64(b))
        return out
    hi = np.minimum(np.asarray(b, dtype=np.int64) + 1, n)
    a = np.asarray(a, dtype=np.int64)
    ok = hi > a
    if not ok.all():
        a, hi = a[ok], hi[ok]
    diff = np.bincount(a, minlength=n + 1)[: n + 1] - np.bincount(hi, minlength=n + 1)[: n + 1]
    return np.cumsum(diff[:n]) > 0


def _any_in(csum: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each slice ``[a[i] : b[i] + 1]`` of a mask with prefix sums ``csum``: does it hold a True?"""
    lo = np.minimum(a, n)
    hi = np.maximum(np.minimum(b + 1, n), lo)
    return csum[hi] - csum[lo] > 0


@dataclass(frozen=True, slots=True)
class WithinAnalysis:
    """Result of :func:`within_analysis`.

    Attributes:
        pieces: raw removal pieces (to :func:`~dedupe.engine.assemble.assemble`).
        flagged: repeats reported but not removed (no evidence of an extraction artefact);
            turn them into spans with :func:`flagged_spans`.
        removed: token mask of what ``pieces`` remove.
    """

    pieces: list[Piece]
    flagged: list[Piece]
    removed: np.ndarray


def flagged_spans(text: str, flagged: "list[Piece]") -> list[Span]:
    """Report-only spans (``removed=False``) for flagged pieces."""
    return [Span(p.start, p.end, text[p.start : p.end], p.kind, p.rule, p.score, p.kept, None, False) for p in flagged]


def _clip_raw(pieces: list[Piece], toks: Tokens, keep: np.ndarray) -> list[Piece]:
    """Exact pieces minus the tokens in ``keep`` (each part keeps its own identical kept copy)."""
    out: list[Piece] = []
    for p in pieces:
        a, b, d = p.extra
        if not keep[a : b + 1].any():
            out.append(p)
            continue
        idx = np.flatnonzero(~keep[a : b + 1]) + a
        for x, y in _runs(idx):
            out.append(replace(p, start=int(toks.start[x]), end=int(toks.end[y]),
                               kept=(int(toks.start[x + d]), int(toks.end[y + d])), extra=(x, y, d)))
    return out


def _gate(text: str, toks: Tokens, pieces: list[Piece]) -> tuple[list[Piece], list[Piece]]:
    """Split exact-repeat pieces into (removed, flagged) by artefact evidence.

    A piece has evidence when its own copies do (:func:`_artefact_evidence`) or when it is glued
    to a piece that has: removed pieces within ``_NEIGHBOUR_GAP`` tokens of each other form one
    cluster (a teaser stitched from several repeats is one cluster), whose evidence all its
    pieces share. Only the removed side clusters: kept copies lie in the body, where unrelated
    repeats sit side by side (a summary and its detailed sections, forum posts and quotes).
    """
    if not pieces:
        return [], []
    m = len(pieces)
    why: list[str | None] = []
    ivs: list[tuple[int, int, int]] = []
    for i, p in enumerate(pieces):
        a, b, d = p.extra  # p spans tokens [a, b], its kept copy [a + d, b + d] (offsets in p)
        why.append(_evidence_at(text, a, b, a + d, b + d, p.start, p.kept[0], p.end, p.kept[1]))
        ivs.append((a, b, i))
    ivs.sort()
    uf = _UnionFind(m)
    end = -10**9
    last = -1
    for a, b, i in ivs:
        if last >= 0 and a - end - 1 <= _JOIN_GAP:
            uf.union(last, i)
        if b > end or last < 0:
            end, last = max(end, b), i
    cluster_why: dict[int, str] = {}
    for i in range(m):
        if why[i] is not None:
            cluster_why.setdefault(uf.find(i), why[i])  # type: ignore[arg-type]
    keep: list[Piece] = []
    flag: list[Piece] = []
    for i, p in enumerate(pieces):
        w = why[i] or cluster_why.get(uf.find(i))
        if w is None:
            flag.append(Piece(p.start, p.end, p.kind, p.rule + "/flagged", p.score, p.kept, p.kept_doc, p.site_pages))
        else:
            keep.append(Piece(p.start, p.end, p.kind, p.rule + "/" + (w if why[i] else "joined"), p.score, p.kept, p.kept_doc, p.site_pages))
    return keep, flag


def within_analysis(
    text: str,
    toks: Tokens,
    cfg: WithinConfig,
    excluded: np.ndarray | None = None,
    *,
    _near_pre: "tuple | None" = None,
    _kg: np.ndarray | None = None,
    _exact: "tuple | None" = None,
) -> WithinAnalysis:
    """All within-page passes: periodic runs, exact repeats, near repeats.

    Args:
        text, toks: the page and its tokens.
        cfg: settings. With ``cfg.artefact_evidence`` (default) a repeat is removed only with
            evidence that it is an extraction artefact (see :func:`_artefact_evidence`, the module
            docstring and the README), otherwise it is flagged.
        excluded: optional bool mask over tokens that another level removes (site templates,
            off-main text). Such tokens are never removed or flagged here, an occurrence touching
            one is never the kept copy while a fully non-excluded occurrence exists, and a repeat
            whose every occurrence touches one yields nothing.
    """
    n = len(toks)
    if not cfg.enabled:
        return WithinAnalysis([], [], np.zeros(n, dtype=bool))
    excl = np.zeros(n, dtype=bool) if excluded is None else np.asarray(excluded, dtype=bool)
    if len(excl) != n:
        raise ValueError(f"excluded has {len(excl)} entries for {n} tokens")
    if _exact is None and _K is not None:  # the kernel's exact pass and candidate blocks, for one page
        _exact = _exact_many([text], [toks], cfg, [excl])[0]
        if _near_pre is None and cfg.near_repeat:
            _near_pre = _near_pre_many([text], [toks], cfg)[0]
    if _exact is not None:  # (periodic pieces, their mask, exact pieces): by within_analysis_many
        per_pieces, per_mask, raw = _exact
        if isinstance(raw, _ExactRows) and not (_K is not None and not per_pieces):
            raw = raw.pieces()
    else:
        kg = kgram_hashes(toks.hashes, cfg.min_repeat_tokens) if _kg is None else _kg
        grouped = _repeat_groups(kg) if len(kg) >= 2 else None
        if grouped is None:  # no k-gram occurs twice: no periodic run (see periodic_runs), no exact repeat
            per_pieces, per_mask, raw = [], np.zeros(n, dtype=bool), []
        else:
            per_pieces, per_mask = periodic_runs(text, toks, cfg, excl, _kg=kg)
            raw, _, _ = exact_repeats(text, toks, cfg, excl | per_mask, _groups=(kg, grouped))
    if _K is not None and not per_pieces:
        return _within_native(text, toks, cfg, excl, raw, _near_pre)
    if per_pieces:  # the unit a periodic run keeps is the kept copy of its pieces: never removed
        ka, kb = _tok_ranges(toks, [p.kept[0] for p in per_pieces], [p.kept[1] for p in per_pieces])  # type: ignore[index]
        per_kept = _mark(n, ka, kb)
        raw = _clip_raw(raw, toks, per_kept)
    if cfg.artefact_evidence:
        kept_pieces, flagged = _gate(text, toks, raw)
    else:
        kept_pieces, flagged = [replace(p, extra=None) for p in raw], []
    removed = per_mask.copy()
    kept_ref = per_kept.copy() if per_pieces else np.zeros(n, dtype=bool)  # kept copies of removed text: the near pass never removes them
    if kept_pieces:
        a, b = _tok_ranges(toks, [p.start for p in kept_pieces], [p.end for p in kept_pieces])
        ka, kb = _tok_ranges(toks, [p.kept[0] for p in kept_pieces], [p.kept[1] for p in kept_pieces])  # type: ignore[index]
        removed |= _mark(n, a, b)
        kept_ref |= _mark(n, ka, kb)
    pieces = per_pieces + kept_pieces
    if cfg.near_repeat:
        anchors: list[tuple[int, int]] = []
        if kept_pieces:  # first and last token of each removed run, and of its kept copy
            ka0 = np.searchsorted(toks.start, [p.kept[0] for p in kept_pieces])  # type: ignore[index]
            for x, y, z, w in zip(a.tolist(), ka0.tolist(), b.tolist(), kb.tolist()):
                anchors.append((x, y))
                anchors.append((z, w))
        near_flag: list[Piece] = []
        pieces += near_repeats(text, toks, cfg, removed, kept_ref, anchors, flagged=near_flag, excluded=excl, _pre=_near_pre)
        if near_flag or flagged:
            # an exact-flagged run inside a block the near pass removed is removed, not flagged
            if flagged:
                fa = np.searchsorted(toks.start, [p.start for p in flagged])
                flagged = [p for p, r in zip(flagged, removed[fa].tolist()) if not r]
            # a near-flagged block already reported by the exact pass (it or its canonical copy
            # overlaps an exact-flagged run or that run's kept copy) is not reported twice
            if flagged and near_flag:
                fa, fb = _tok_ranges(toks, [p.start for p in flagged], [p.end for p in flagged])
                fka, fkb = _tok_ranges(toks, [p.kept[0] for p in flagged], [p.kept[1] for p in flagged])  # type: ignore[index]
                seen_cs = np.zeros(n + 1, dtype=np.int64)
                np.cumsum(_mark(n, fa, fb) | _mark(n, fka, fkb), out=seen_cs[1:])
                na, nb = _tok_ranges(toks, [p.start for p in near_flag], [p.end for p in near_flag])
                nka, nkb = _tok_ranges(toks, [p.kept[0] for p in near_flag], [p.kept[1] for p in near_flag])  # type: ignore[index]
                hit = (_any_in(seen_cs, n, na, nb) | _any_in(seen_cs, n, nka, nkb)).tolist()
                flagged.extend(p for p, h in zip(near_flag, hit) if not h)
            else:
                flagged.extend(near_flag)
            flagged.sort(key=lambda p: (p.start, p.end))
    return WithinAnalysis(pieces, flagged, removed)


_NO_I64 = np.zeros(0, dtype=np.int64)
_GATE_SUFFIX = ("/flagged", "/adjacent", "/fragment", "/truncated", "/joined", "")  # by the kernel's evidence code


def _within_native(
    text: str, toks: Tokens, cfg: WithinConfig, excl: np.ndarray, raw: "list[Piece]", pre: "tuple | None"
) -> WithinAnalysis:
    """:func:`within_analysis` of a page without periodic runs, from its exact pieces ``raw`` on,
    in one kernel call: :func:`_gate`, the removed and kept-copy masks, :func:`near_repeats` after
    its candidate pairs (``pre``: computed by :func:`_near_pre_many`, or here) and the merge of the
    flagged repeats. Equal results (tests compare it with the numpy code)."""
    n = len(toks)
    b_lo = b_hi = pairs = _NO_I64
    if cfg.near_repeat and n >= cfg.near_repeat_min_tokens * 2:
        if pre is None:
            pre = _near_pre_many([text], [toks], cfg)[0]
        if len(pre[2]) >= 2:
            lo, hi, cand, pairs = pre
            b_lo, b_hi = lo[cand], hi[cand]
    if isinstance(raw, _ExactRows):
        rows = raw.rows.reshape(-1)
    else:
        rows = np.array([(*p.extra, p.start, p.end, *p.kept) for p in raw], dtype=np.int64).reshape(-1) if raw else _NO_I64
    removed = np.zeros(n, dtype=bool)
    codes, near_p, order, near_f = _K.within_page(  # type: ignore[union-attr]
        text, toks.norm.text, fuzz.ratio, _i64(toks.start), _i64(toks.end), _i64(toks.nstart), _i64(toks.nend), rows, _u8(excl),
        removed.view(np.uint8), _i64(b_lo), _i64(b_hi), _i64(pairs).reshape(-1), cfg.near_repeat, float(cfg.near_repeat_threshold),
        cfg.keep_policy == "context", cfg.artefact_evidence,
    )
    if isinstance(raw, _ExactRows):  # the pieces raw.pieces() would give, with the rule's suffix
        vals, rule = raw.rows.tolist(), raw.rule
        pieces = [Piece(r[3], r[4], KIND_REPEAT, rule + _GATE_SUFFIX[c], 1.0, (r[5], r[6])) for r, c in zip(vals, codes) if c]
    else:
        pieces = [
            Piece(p.start, p.end, p.kind, p.rule + _GATE_SUFFIX[c], p.score, p.kept, p.kept_doc, p.site_pages)
            for p, c in zip(raw, codes) if c
        ]
    if near_p:
        pieces += [Piece(a, b, KIND_NEAR_REPEAT, _NEAR_RULES[r], sc, kept=(ks, ke)) for a, b, r, sc, ks, ke in near_p]
    flagged: list[Piece] = []
    for i in order:
        if i >= 0:
            if isinstance(raw, _ExactRows):
                r = vals[i]
                flagged.append(Piece(r[3], r[4], KIND_REPEAT, rule + "/flagged", 1.0, (r[5], r[6])))
                continue
            p = raw[i]
            flagged.append(Piece(p.start, p.end, p.kind, p.rule + "/flagged", p.score, p.kept, p.kept_doc, p.site_pages))
        else:
            a, b, r, sc, ks, ke = near_f[-1 - i]
            flagged.append(Piece(a, b, KIND_NEAR_REPEAT, _NEAR_RULES[r], sc, kept=(ks, ke)))
    return WithinAnalysis(pieces, flagged, removed)


def within_pieces(
    text: str, toks: Tokens, cfg: WithinConfig, excluded: np.ndarray | None = None
) -> tuple[list[Piece], np.ndarray]:
    """All passes; returns the raw removal pieces and the removed-token mask (flagged repeats are
    dropped: use :func:`within_analysis` to get them too)."""
    res = within_analysis(text, toks, cfg, excluded)
    return res.pieces, res.removed


_NO_BLOCKS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.int64))


def _near_pre_many(texts: "list[str]", toks_list: "list[Tokens]", cfg: WithinConfig) -> list:
    """For each page, what :func:`near_repeats` computes before verifying pairs — its blocks
    (token ranges of the sentences/lines), the candidate blocks and the LSH pairs — with the
    sentence split, MinHash and banding run once over all pages (texts joined by ``"\n"``, a
    sentence cut, so the blocks are each page's own)."""
    if _K is not None:
        return _near_pre_native(texts, toks_list, cfg)
    m = len(texts)
    min_tok = cfg.near_repeat_min_tokens
    char_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=m), out=char_off[1:])
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m), out=tok_off[1:])
    gstart = np.concatenate([t.start + char_off[i] for i, t in enumerate(toks_list)]) if m else np.zeros(0, np.int64)
    hashes = np.concatenate([t.hashes for t in toks_list]) if m else np.zeros(0, np.uint64)
    s_start, s_end = sentence_bounds("\n".join(texts))
    lo = np.searchsorted(gstart, s_start, side="left")
    hi = np.searchsorted(gstart, s_end, side="left")
    seg_page = np.searchsorted(char_off, s_start, side="right") - 1
    seg_off = np.searchsorted(seg_page, np.arange(m + 1))  # page i owns segments [seg_off[i], seg_off[i+1])
    live_page = (tok_off[1:] - tok_off[:-1]) >= 2 * min_tok
    cand = np.flatnonzero((hi - lo >= min_tok) & live_page[seg_page])
    c_page = seg_page[cand]
    c_off = np.searchsorted(c_page, np.arange(m + 1))
    n_cand = c_off[1:] - c_off[:-1]
    use = n_cand[c_page] >= 2  # pages with fewer than two candidate blocks stop before LSH
    # band keys of the candidate blocks of the pages that have two or more (rows in cand order)
    keys = _near_band_keys(hashes, lo[cand[use]], hi[cand[use]], cfg) if use.any() else None
    k_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.where(n_cand >= 2, n_cand, 0), out=k_off[1:])
    pairs_of = candidate_pairs_many(keys, k_off) if keys is not None else None
    seg_off_l, c_off_l, tok_off_l = seg_off.tolist(), c_off.tolist(), tok_off.tolist()
    out: list = []
    for i in range(m):
        if not live_page[i] or n_cand[i] < 2:
            out.append(_NO_BLOCKS)  # near_repeats stops before LSH
            continue
        s0, c0, c1 = seg_off_l[i], c_off_l[i], c_off_l[i + 1]
        page_cand = cand[c0:c1]
        pairs = pairs_of[i]  # type: ignore[index]  # candidate_pairs of the page's keys
        t0 = tok_off_l[i]
        out.append((lo[s0 : seg_off_l[i + 1]] - t0, hi[s0 : seg_off_l[i + 1]] - t0, page_cand - s0, pairs))
    return out


def _near_pre_native(texts: "list[str]", toks_list: "list[Tokens]", cfg: WithinConfig) -> list:
    """:func:`_near_pre_many` with the kernel: the candidate blocks of every page in one call (the
    sentence split page by page; a page's blocks as ``(lo, hi, arange, pairs)``, equal for
    :func:`near_repeats`, which reads ``lo[cand]``, ``hi[cand]``), then MinHash and LSH over them all."""
    m = len(texts)
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m), out=tok_off[1:])
    got = _K.near_blocks(  # type: ignore[union-attr]
        texts if isinstance(texts, list) else list(texts), [_i64(t.start) for t in toks_list], tok_off, cfg.near_repeat_min_tokens
    )
    lo, hi, glo, ghi, c_off = (np.frombuffer(x, dtype=np.int64) for x in got)
    if not len(lo):
        return [_NO_BLOCKS] * m
    keys = _near_band_keys(np.concatenate([t.hashes for t in toks_list]), glo, ghi, cfg)
    pairs_of = candidate_pairs_many(keys, c_off)
    cut = c_off.tolist()
    ar = np.arange(max(b - a for a, b in zip(cut[:-1], cut[1:])), dtype=np.int64)
    return [
        (lo[a:b], hi[a:b], ar[: b - a], pairs_of[i]) if b > a else _NO_BLOCKS
        for i, (a, b) in enumerate(zip(cut[:-1], cut[1:]))
    ]


def within_analysis_many(
    texts: "list[str]", toks_list: "list[Tokens]", cfg: WithinConfig, excluded: "Sequence[np.ndarray | None] | None" = None
) -> list[WithinAnalysis]:
    """:func:`within_analysis` of many pages; equal results, with the near pass's sentence split,
    MinHash signatures and LSH banding computed for all pages at once (they do not depend on
    ``excluded``). ``excluded``: one mask (or None) per page, as :func:`within_analysis` takes."""
    if excluded is None:
        excluded = [None] * len(texts)
    elif len(excluded) != len(texts):
        raise ValueError(f"excluded has {len(excluded)} masks for {len(texts)} pages")
    if not cfg.enabled:
        return [within_analysis(t, tk, cfg) for t, tk in zip(texts, toks_list)]
    pre = _near_pre_many(texts, toks_list, cfg) if cfg.near_repeat else [None] * len(texts)
    exact = _exact_many(texts, toks_list, cfg, excluded)
    return [
        within_analysis(t, tk, cfg, ex, _near_pre=p, _exact=e)
        for t, tk, p, ex, e in zip(texts, toks_list, pre, excluded, exact)
    ]


def _exact_many(
    texts: "list[str]", toks_list: "list[Tokens]", cfg: WithinConfig, excluded: "Sequence[np.ndarray | None]"
) -> list[tuple[list[Piece], np.ndarray, list[Piece]]]:
    """For each page, what :func:`within_analysis` computes first: ``(periodic pieces, their token
    mask, exact-repeat pieces)`` — :func:`periodic_runs` of the pages with a repeated k-gram, then
    :func:`exact_repeats` of every page as one pass over all pages (pages concatenated; k-grams,
    repeat groups, regions and pieces never cross a page; equal results)."""
    m = len(texts)
    k = cfg.min_repeat_tokens
    lens = [len(t) for t in toks_list]
    excl: list[np.ndarray] = []
    for ex, n in zip(excluded, lens):
        e = np.zeros(n, dtype=bool) if ex is None else np.asarray(ex, dtype=bool)
        if len(e) != n:
            raise ValueError(f"excluded has {len(e)} entries for {n} tokens")
        excl.append(e)
    out: list[tuple[list[Piece], np.ndarray, list[Piece]]] = [([], np.zeros(n, dtype=bool), []) for n in lens]
    if not m:
        return out
    if _K is not None:
        return _exact_many_native(texts, toks_list, cfg, excl, out)
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.asarray(lens, dtype=np.int64), out=tok_off[1:])
    N = int(tok_off[-1])
    hashes = np.concatenate([t.hashes for t in toks_list])
    all_kg = kgram_hashes(hashes, k)
    # the k-gram positions of each page (not those that cross into the next page)
    n_kg = np.maximum(np.asarray(lens, dtype=np.int64) - k + 1, 0)
    pos_page = np.repeat(np.arange(m, dtype=np.int64), n_kg)
    kpos = np.arange(len(pos_page), dtype=np.int64) - np.repeat(np.cumsum(n_kg) - n_kg, n_kg) + tok_off[:-1][pos_page]
    if len(kpos) < 2:
        return out
    kg = all_kg[kpos]
    # repeat groups: equal (page, k-gram) — _repeat_groups of each page, numbered globally
    # (sorted page by page: cheaper than one sort of all pages, or a lexsort)
    kg_off_l = np.concatenate(([0], np.cumsum(n_kg))).tolist()
    order = np.concatenate([np.argsort(kg[a:b], kind="stable") + a for a, b in zip(kg_off_l[:-1], kg_off_l[1:])])
    srt, sp = kg[order], pos_page[order]
    new = np.empty(len(kg), dtype=bool)
    new[0] = True
    np.not_equal(srt[1:], srt[:-1], out=new[1:])
    new[1:] |= sp[1:] != sp[:-1]
    if new.all():
        return out
    rank = np.cumsum(new) - 1
    inv = np.empty(len(kg), dtype=np.int64)
    inv[order] = rank
    starts = np.flatnonzero(new)
    counts = np.empty(len(starts), dtype=np.int64)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = len(kg) - starts[-1]
    repeated = counts[inv] >= 2
    has_rep = np.bincount(pos_page[repeated], minlength=m) > 0
    # periodic runs first (their removed tokens are excluded from the exact pass)
    kg_off = kg_off_l
    ex_all = np.concatenate(excl) if N else np.zeros(0, dtype=bool)
    # pages where some k-gram equals the one d < k tokens later (periodic_runs' own test, for
    # all pages at once): the others have no periodic run
    has_period = np.zeros(m, dtype=bool)
    kg_lo = np.asarray(kg_off_l[:-1], dtype=np.int64)
    for d in range(1, k):
        if len(kg) <= d:
            break
        eq = np.zeros(len(kg) - d + 1, dtype=np.int64)
        np.cumsum(kg[:-d] == kg[d:], out=eq[1:])
        # page i's pairs (j, j + d): j in [kg_lo[i], kg_lo[i] + n_kg[i] - d), when n_kg[i] > d
        ok = n_kg > d
        lo = np.minimum(kg_lo, len(kg) - d)
        hi = np.minimum(np.maximum(kg_lo + n_kg - d, kg_lo), len(kg) - d)
        has_period |= ok & (eq[hi] > eq[lo])
    for i in np.flatnonzero(has_rep & has_period).tolist():
        per_pieces, per_mask = periodic_runs(texts[i], toks_list[i], cfg, excl[i], _kg=kg[kg_off[i] : kg_off[i + 1]])
        out[i] = (per_pieces, per_mask, [])
        if per_pieces:
            ex_all[tok_off[i] : tok_off[i + 1]] |= per_mask
    # exact repeats (exact_repeats with _groups), all pages at once
    sel = np.flatnonzero(repeated)
    rep_pos = kpos[sel]
    rpage = pos_page[sel]
    group = inv[sel]
    brk = np.flatnonzero((np.diff(rep_pos) != 1) | (rpage[1:] != rpage[:-1])) + 1
    r_first = rep_pos[np.concatenate(([0], brk))]
    r_last = rep_pos[np.concatenate((brk - 1, [len(rep_pos) - 1]))]
    r_end = r_last + k
    r_page = rpage[np.concatenate(([0], brk))]
    region_of = np.zeros(len(rep_pos), dtype=np.int64)
    region_of[brk] = 1
    region_of = np.cumsum(region_of)
    n_regions = len(r_first)
    gstart = np.concatenate([t.start for t in toks_list]).astype(np.int64, copy=False)
    gend = np.concatenate([t.end for t in toks_list]).astype(np.int64, copy=False)
    if cfg.keep_policy == "context":
        # region r+1 touches region r (same page only)
        gap_ok = ((r_first[1:] - r_end[:-1] <= _NEIGHBOUR_GAP) & (r_page[1:] == r_page[:-1])).tolist()
        c_start, c_end, pg = gstart[r_first].tolist(), gend[r_end - 1].tolist(), r_page.tolist()
        scores = np.array(
            [
                context_score(texts[pg[r]], c_start[r], c_end[r], r > 0 and gap_ok[r - 1], r + 1 < n_regions and gap_ok[r])
                for r in range(n_regions)
            ],
            dtype=np.int64,
        )
        pos_score = scores[region_of]
    else:
        pos_score = np.zeros(len(rep_pos), dtype=np.int64)
    ex_csum = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(ex_all, out=ex_csum[1:])
    touch = (ex_csum[rep_pos + k] - ex_csum[rep_pos]) > 0
    # a k-gram whose every occurrence touches an excluded token: the other level removes it
    free_in_group = np.bincount(group, weights=~touch, minlength=len(counts))
    live = free_in_group[group] > 0
    if not live.all():
        rep_pos, group, pos_score, touch, rpage = rep_pos[live], group[live], pos_score[live], touch[live], rpage[live]
        if not len(rep_pos):
            return out
    order = np.lexsort((rep_pos, -pos_score, touch, group))
    kept_of, is_kept, nk_pos, removed = _choose_kept(rep_pos, group, order, N, k)
    removed &= ~ex_all
    ridx = np.flatnonzero(removed)
    if not len(ridx):
        return out
    # partner of each removed token in its kept copy (the occurrence that removes it lies on its page)
    d_r = _partner_delta(N, nk_pos, kept_of[~is_kept], ridx)
    t_page = np.searchsorted(tok_off, ridx, side="right") - 1
    # pieces: runs of removed tokens with a constant delta, within one page
    brk2 = np.flatnonzero((np.diff(ridx) != 1) | (np.diff(d_r) != 0) | (t_page[1:] != t_page[:-1])) + 1
    heads = np.concatenate(([0], brk2))
    p_first = ridx[heads]
    p_last = ridx[np.concatenate((brk2 - 1, [len(ridx) - 1]))]
    tok_chars = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(np.concatenate([t.nend - t.nstart for t in toks_list]), out=tok_chars[1:])
    long_enough = tok_chars[p_last + 1] - tok_chars[p_first] >= cfg.min_repeat_chars
    p_first, p_last = p_first[long_enough], p_last[long_enough]
    p_delta, p_page = d_r[heads][long_enough], t_page[heads][long_enough]
    return _exact_out(out, cfg, tok_off, gstart, gend, p_first, p_last, p_delta, p_page)


class _ExactRows:
    """The exact pieces of a page as int64 rows ``(a, b, d, start, end, kept start, kept end)``
    (token range ``[a, b]``, kept copy ``d`` tokens away, their char offsets) and their rule:
    what the kernel reads, without building the :class:`Piece` objects (:meth:`pieces` does)."""

    __slots__ = ("rows", "rule")

    def __init__(self, rows: np.ndarray, rule: str) -> None:
        self.rows, self.rule = rows, rule

    def __len__(self) -> int:
        return len(self.rows)

    def pieces(self) -> list[Piece]:
        rule = self.rule
        return [
            Piece(s0, e0, KIND_REPEAT, rule, 1.0, kept=(ks, ke), extra=(a, b, d)) for a, b, d, s0, e0, ks, ke in self.rows.tolist()
        ]


def _exact_out(
    out: list, cfg: WithinConfig, tok_off: np.ndarray, gstart: np.ndarray, gend: np.ndarray,
    p_first: np.ndarray, p_last: np.ndarray, p_delta: np.ndarray, p_page: np.ndarray, as_rows: bool = False,
) -> list:
    """:func:`_exact_many`'s result: its pieces (global token ranges ``[p_first, p_last]``, kept copy
    ``p_delta`` tokens away, on page ``p_page``; sorted) added to ``out``; ``as_rows``: each page's
    as :class:`_ExactRows` (for the kernel) instead of a list of pieces."""
    if not len(p_first):
        return out
    k = cfg.min_repeat_tokens
    base = tok_off[p_page]
    rule = f"exact-run>={k}-tokens" + ("/context" if cfg.keep_policy == "context" else "/first")
    if as_rows:
        rows = np.stack(
            [p_first - base, p_last - base, p_delta, gstart[p_first], gend[p_last], gstart[p_first + p_delta], gend[p_last + p_delta]],
            axis=1,
        )
        cut = np.searchsorted(p_page, np.arange(len(out) + 1)).tolist()
        for i in np.unique(p_page).tolist():
            per_pieces, per_mask, _ = out[i]
            out[i] = (per_pieces, per_mask, _ExactRows(rows[cut[i] : cut[i + 1]], rule))
        return out
    pieces = [
        Piece(s0, e0, KIND_REPEAT, rule, 1.0, kept=(ks, ke), extra=(a, b, d))
        for s0, e0, ks, ke, a, b, d in zip(
            gstart[p_first].tolist(), gend[p_last].tolist(),
            gstart[p_first + p_delta].tolist(), gend[p_last + p_delta].tolist(),
            (p_first - base).tolist(), (p_last - base).tolist(), p_delta.tolist(),
        )
    ]
    cut = np.searchsorted(p_page, np.arange(len(out) + 1)).tolist()
    for i in np.unique(p_page).tolist():
        per_pieces, per_mask, _ = out[i]
        out[i] = (per_pieces, per_mask, pieces[cut[i] : cut[i + 1]])
    return out


def _exact_many_native(
    texts: "list[str]", toks_list: "list[Tokens]", cfg: WithinConfig, excl: "list[np.ndarray]", out: list
) -> list:
    """:func:`_exact_many` with the compiled kernel: repeat groups and the periodic-run test of
    every page in one call, :func:`periodic_runs` of the pages that need it, then regions, context
    scores, kept copies and pieces of every page in a second call."""
    m = len(texts)
    k = cfg.min_repeat_tokens
    lens = np.fromiter((len(t) for t in toks_list), dtype=np.int64, count=m)
    tok_off = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(lens, out=tok_off[1:])
    N = int(tok_off[-1])
    all_kg = np.ascontiguousarray(kgram_hashes(np.concatenate([t.hashes for t in toks_list]), k), dtype=np.uint64)
    grp = np.empty(N, dtype=np.int64)
    cnt = np.empty(N, dtype=np.int64)
    flags = np.zeros(m, dtype=np.uint8)
    ng = _K.exact_groups(all_kg, tok_off, k, grp, cnt, flags)  # type: ignore[union-attr]
    if not (flags & 1).any():
        return out
    ex_all = np.concatenate(excl) if N else np.zeros(0, dtype=bool)
    for i in np.flatnonzero(flags == 3).tolist():  # a repeated k-gram and one equal to its neighbour d < k later
        a = int(tok_off[i])
        per_pieces, per_mask = periodic_runs(texts[i], toks_list[i], cfg, excl[i], _kg=all_kg[a : a + max(int(lens[i]) - k + 1, 0)])
        out[i] = (per_pieces, per_mask, [])
        if per_pieces:
            ex_all[a : int(tok_off[i + 1])] |= per_mask
    gstart = _i64(np.concatenate([t.start for t in toks_list]))
    gend = _i64(np.concatenate([t.end for t in toks_list]))
    tok_chars = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(np.concatenate([t.nend - t.nstart for t in toks_list]), out=tok_chars[1:])
    got = _K.exact_pieces(  # type: ignore[union-attr]
        texts if isinstance(texts, list) else list(texts), tok_off, gstart, gend, grp, cnt, ng, _u8(ex_all), tok_chars, k,
        cfg.min_repeat_chars, cfg.keep_policy == "context",
    )
    p_first, p_last, p_delta, p_page = (np.frombuffer(x, dtype=np.int64) for x in got)
    return _exact_out(out, cfg, tok_off, gstart, gend, p_first, p_last, p_delta, p_page, as_rows=True)
