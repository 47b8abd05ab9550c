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

The *context* keep policy scores each copy: a copy that starts as a sentence fragment (a
lower-case word right after a sentence end or a line start) loses 2 points; a copy that ends in
an ellipsis loses 1; each side of a copy that touches another repeated region loses 1 (a teaser
made of repeats). The highest score is kept; ties go to the earliest copy.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz

from ..config import WithinConfig
from ..core.hashing import kgram_hashes
from ..core.minhash import band_keys, candidate_pairs, signatures, to_hash32
from ..core.segment import TERMINAL, sentence_bounds
from ..core.spans import Piece
from ..core.tokenize import Tokens
from ..models import KIND_NEAR_REPEAT, KIND_REPEAT

_NEIGHBOUR_GAP = 2  # tokens: a copy this close to another repeated region "touches" it


def _coverage(n: int, starts: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of tokens covered by any window [p, p+k) for p in starts."""
    diff = np.zeros(n + 1, dtype=np.int32)
    np.add.at(diff, starts, 1)
    np.add.at(diff, np.minimum(starts + k, n), -1)
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


def exact_repeats(text: str, toks: Tokens, cfg: WithinConfig) -> tuple[list[Piece], np.ndarray, np.ndarray]:
    """Pass 1. Returns (pieces, removed token mask, mask of tokens that are kept copies of removed ones)."""
    n = len(toks)
    k = cfg.min_repeat_tokens
    removed = np.zeros(n, dtype=bool)
    kept_ref = np.zeros(n, dtype=bool)
    kg = kgram_hashes(toks.hashes, k)
    if len(kg) < 2:
        return [], removed, kept_ref
    _, inv, counts = np.unique(kg, return_inverse=True, return_counts=True)
    rep_pos = np.flatnonzero(counts[inv] >= 2)
    if not len(rep_pos):
        return [], removed, kept_ref
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
        scores = np.empty(n_regions, dtype=np.int64)
        for r in range(n_regions):
            touches_prev = r > 0 and r_first[r] - r_end[r - 1] <= _NEIGHBOUR_GAP
            touches_next = r + 1 < n_regions and r_first[r + 1] - r_end[r] <= _NEIGHBOUR_GAP
            scores[r] = context_score(
                text, int(toks.start[r_first[r]]), int(toks.end[r_end[r] - 1]), bool(touches_prev), bool(touches_next)
            )
        pos_score = scores[region_of]
    else:
        pos_score = np.zeros(len(rep_pos), dtype=np.int64)
    group = inv[rep_pos]
    order = np.lexsort((rep_pos, -pos_score, group))
    g_sorted = group[order]
    head = np.concatenate(([True], g_sorted[1:] != g_sorted[:-1]))
    head_idx = np.cumsum(head) - 1
    kept_sorted = rep_pos[order][head][head_idx]
    kept_of = np.empty(len(rep_pos), dtype=np.int64)
    kept_of[order] = kept_sorted
    is_kept = kept_of == rep_pos
    kept_cov = _coverage(n, rep_pos[is_kept], k)
    nk_pos = rep_pos[~is_kept]
    rem_cov = _coverage(n, nk_pos, k)
    removed = rem_cov & ~kept_cov
    if not removed.any():
        return [], np.zeros(n, dtype=bool), kept_ref
    # partner of each removed token: via the last non-kept occurrence starting at or before it
    last = np.full(n, -1, dtype=np.int64)
    last[nk_pos] = np.arange(len(nk_pos))
    last = np.maximum.accumulate(last)
    delta = np.zeros(n, dtype=np.int64)
    ridx = np.flatnonzero(removed)
    occ = last[ridx]
    delta[ridx] = kept_of[~is_kept][occ] - nk_pos[occ]
    # pieces: runs of removed tokens with a constant delta
    brk2 = np.flatnonzero((np.diff(ridx) != 1) | (np.diff(delta[ridx]) != 0)) + 1
    p_first = ridx[np.concatenate(([0], brk2))]
    p_last = ridx[np.concatenate((brk2 - 1, [len(ridx) - 1]))]
    tok_chars = np.cumsum(np.concatenate(([0], toks.nend - toks.nstart)))
    pieces: list[Piece] = []
    final_removed = np.zeros(n, dtype=bool)
    for a, b in zip(p_first.tolist(), p_last.tolist()):
        if tok_chars[b + 1] - tok_chars[a] < cfg.min_repeat_chars:
            continue
        d = int(delta[a])
        final_removed[a : b + 1] = True
        kept_ref[a + d : b + d + 1] = True
        rule = f"exact-run>={k}-tokens" + ("/context" if cfg.keep_policy == "context" else "/first")
        pieces.append(
            Piece(
                int(toks.start[a]), int(toks.end[b]), KIND_REPEAT, rule, 1.0,
                kept=(int(toks.start[a + d]), int(toks.end[b + d])),
            )
        )
    return pieces, final_removed, kept_ref


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


def near_repeats(
    text: str,
    toks: Tokens,
    cfg: WithinConfig,
    removed: np.ndarray,
    kept_ref: np.ndarray,
    anchors: "list[tuple[int, int]] | None" = None,
) -> list[Piece]:
    """Pass 2: near-repeated sentences/lines. Updates ``removed`` in place for what it removes.

    Candidate pairs come from MinHash LSH, plus *anchored* pairs: ``anchors`` holds
    ``(removed token, its kept copy's token)`` from the exact pass, and the block holding a
    removed run is always compared with the block holding its kept copy. A block with one word
    changed is thus completed deterministically, not only when LSH happens to propose it.
    """
    n = len(toks)
    if n < cfg.near_repeat_min_tokens * 2:
        return []
    s_start, s_end = sentence_bounds(text)
    lo = np.searchsorted(toks.start, s_start, side="left")
    hi = np.searchsorted(toks.start, s_end, side="left")
    ntok = hi - lo
    cand = np.flatnonzero(ntok >= cfg.near_repeat_min_tokens)
    if len(cand) < 2:
        return []
    sh = cfg.near_repeat_shingle
    grams = kgram_hashes(toks.hashes, sh)
    # shingle positions of each candidate segment: [lo, hi - sh + 1)
    g_lo = lo[cand]
    g_cnt = np.maximum(hi[cand] - sh + 1 - g_lo, 0)
    offsets = np.concatenate(([0], np.cumsum(g_cnt)))
    pos = np.repeat(g_lo - offsets[:-1], g_cnt) + np.arange(offsets[-1])
    sigs = signatures(to_hash32(grams[pos]), offsets, cfg.near_repeat_num_perm, seed=7)
    pairs = candidate_pairs(band_keys(sigs, cfg.near_repeat_bands))
    if anchors:
        # candidate index of the block holding each token (-1: none)
        cand_of = np.full(n + 1, -1, dtype=np.int64)
        for ci, si in enumerate(cand.tolist()):
            cand_of[lo[si] : hi[si]] = ci
        extra = [(int(cand_of[r]), int(cand_of[k])) for r, k in anchors]
        extra = [(min(x, y), max(x, y)) for x, y in extra if x >= 0 and y >= 0 and x != y]
        if extra:
            pairs = np.unique(np.concatenate([pairs.reshape(-1, 2), np.asarray(extra, dtype=np.int64)]), axis=0)
    if not len(pairs):
        return []
    rem_csum = np.concatenate(([0], np.cumsum(removed)))
    ref_csum = np.concatenate(([0], np.cumsum(kept_ref)))
    norm = toks.norm.text

    def seg_norm(i: int) -> str:
        a, b = lo[cand[i]], hi[cand[i]]
        return norm[toks.nstart[a] : toks.nend[b - 1]]

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
    groups: dict[int, list[int]] = {}
    for i in sorted({x for pair in best for x in pair}):
        groups.setdefault(uf.find(i), []).append(i)
    pieces: list[Piece] = []
    for members in groups.values():
        def n_removed(i: int) -> int:
            s = cand[i]
            return int(rem_csum[hi[s]] - rem_csum[lo[s]])

        def pinned(i: int) -> bool:
            s = cand[i]
            return bool(ref_csum[hi[s]] - ref_csum[lo[s]])

        intact = [i for i in members if n_removed(i) == 0]
        if not intact:
            continue
        if cfg.keep_policy == "context":
            def key(i: int) -> tuple[int, int, int]:
                s = cand[i]
                sc = context_score(text, int(toks.start[lo[s]]), int(toks.end[hi[s] - 1]), False, False)
                return (-int(pinned(i)), -sc, i)
        else:
            def key(i: int) -> tuple[int, int, int]:
                return (-int(pinned(i)), 0, i)
        canon = min(intact, key=key)
        cs = cand[canon]
        kept = (int(toks.start[lo[cs]]), int(toks.end[hi[cs] - 1]))
        for i in members:
            if i == canon or pinned(i):
                continue
            s = cand[i]
            a, b = int(lo[s]), int(hi[s])
            if removed[a:b].all():
                continue
            score = max(best.get((min(i, canon), max(i, canon)), 0.0), cfg.near_repeat_threshold)
            if (min(i, canon), max(i, canon)) not in best:
                score = fuzz.ratio(seg_norm(i), seg_norm(canon)) / 100
                if score < cfg.near_repeat_threshold:
                    continue  # joined only transitively and too far from the canonical copy
            # remove the parts of the block not already removed
            idx = np.flatnonzero(~removed[a:b]) + a
            brk = np.flatnonzero(np.diff(idx) != 1) + 1
            for run in np.split(idx, brk):
                t0, t1 = int(run[0]), int(run[-1])
                pieces.append(Piece(int(toks.start[t0]), int(toks.end[t1]), KIND_NEAR_REPEAT, "near-block", float(score), kept=kept))
            removed[a:b] = True
    return pieces


def within_pieces(text: str, toks: Tokens, cfg: WithinConfig) -> tuple[list[Piece], np.ndarray]:
    """Both passes; returns the raw pieces and the removed-token mask."""
    pieces, removed, kept_ref = exact_repeats(text, toks, cfg)
    if cfg.near_repeat:
        anchors: list[tuple[int, int]] = []
        for p in pieces:  # first and last token of each removed run, and of its kept copy
            if p.kept is not None:
                anchors.append((int(np.searchsorted(toks.start, p.start)), int(np.searchsorted(toks.start, p.kept[0]))))
                anchors.append((int(np.searchsorted(toks.end, p.end)), int(np.searchsorted(toks.end, p.kept[1]))))
        pieces += near_repeats(text, toks, cfg, removed, kept_ref, anchors)
    return pieces, removed
