"""``crosspage.block_fingerprints_many`` equals ``block_fingerprints`` page by page (random
pages of short and long lines, CJK, empty pages, pages without a block, \\r\\n line ends)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.config import CorpusConfig
from dedupe.core.tokenize import tokenize_batch
from dedupe.engine.crosspage import block_fingerprints, block_fingerprints_many

LINES = ["one two three four five six seven eight nine ten eleven", "short line", "東京タワーに行きました東京タワーに行きました",
         "", "  ", "a b c d e f g h", "Ünïcödé ÉTÉ été, été; été été été été", "\r", "x"]
page = st.lists(st.sampled_from(LINES), max_size=12).map("\n".join)
CFGS = [CorpusConfig(), CorpusConfig(crosspage_min_tokens=3), CorpusConfig(crosspage=False)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(page, st.text(max_size=80)), max_size=8), st.sampled_from(range(len(CFGS))))
def test_block_fingerprints_many_equals_page_by_page(texts, ci):
    cfg = CFGS[ci]
    toks = tokenize_batch(texts)
    fps, s, e, nb = block_fingerprints_many(texts, toks, cfg)
    assert nb.dtype == np.int64 and len(nb) == len(texts) and int(nb.sum()) == len(fps) == len(s) == len(e)
    assert fps.dtype == np.uint64 and s.dtype == np.int64 and e.dtype == np.int64
    off = 0
    for text, t, k in zip(texts, toks, nb.tolist()):
        wf, ws, we = block_fingerprints(text, t, cfg)
        assert fps[off : off + k].tolist() == wf.tolist()
        assert s[off : off + k].tolist() == ws.tolist() and e[off : off + k].tolist() == we.tolist()
        off += k


def _doc_pieces_reference(doc_id, text, toks, pieces, hits, cfg):
    """The per-hit loop ``doc_pieces`` had (kept here as the reference)."""
    from dedupe.core.spans import Piece
    from dedupe.models import KIND_CROSS_PAGE, Span

    if not hits:
        return [], []
    if pieces:
        ps = np.array(sorted((p.start, p.end) for p in pieces), dtype=np.int64)
        ends = np.maximum.accumulate(ps[:, 1])
        new = np.concatenate(([True], ps[1:, 0] > ends[:-1]))
        gs = ps[new, 0]
        ge = np.maximum.reduceat(ps[:, 1], np.flatnonzero(new))
    else:
        gs = ge = np.empty(0, dtype=np.int64)
    out_p, out_s = [], []
    for h in hits:
        if h.kept_doc is None:
            continue
        covered = int(np.clip(np.minimum(ge, h.end) - np.maximum(gs, h.start), 0, None).sum()) if len(gs) else 0
        if covered * 2 >= h.end - h.start:
            continue
        rule = f"block-on-{h.pages}-pages"
        if cfg.crosspage_remove:
            out_p.append(Piece(h.start, h.end, KIND_CROSS_PAGE, rule, 1.0, kept=h.kept, kept_doc=h.kept_doc, site_pages=h.pages))
        else:
            out_s.append(Span(h.start, h.end, text[h.start : h.end], KIND_CROSS_PAGE, rule, 1.0, h.kept, h.kept_doc, False, h.pages))
    return out_p, out_s


ranges = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(ranges, ranges, st.booleans())
def test_doc_pieces_equals_per_hit_reference(pieces, hits, remove):
    from dedupe.core.spans import Piece
    from dedupe.engine.crosspage import Hit, doc_pieces

    text = "".join(chr(97 + i % 26) for i in range(100))
    ps = [Piece(a, a + n, "repeat", "r", 1.0) for a, n in pieces]
    hs = [Hit(a, a + n, 2 + i, None if i % 4 == 3 else "other", (0, 3)) for i, (a, n) in enumerate(hits)]
    cfg = CorpusConfig(crosspage_remove=remove)
    want = _doc_pieces_reference("d", text, None, ps, hs, cfg)
    assert doc_pieces("d", text, None, ps, hs, cfg) == want
    # the plain rows the corpus workers get from the driver (Hits.rows) read the same
    assert doc_pieces("d", text, None, ps, [tuple(h) for h in hs], cfg) == want
