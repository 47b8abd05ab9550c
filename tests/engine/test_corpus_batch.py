"""The corpus job's batch paths equal the page-by-page ones: chunked signatures ==
``neardup.signature_of``, ``within_analysis_many`` with masks == ``within_analysis``, result and
document records round-trip, the spill file gives back what was written, and the output of
``run_corpus`` does not depend on how pages are cut into chunks."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dedupe import Config
from dedupe.core.tokenize import tokenize, tokenize_batch
from dedupe.engine import corpus as ec
from dedupe.engine import neardup
from dedupe.engine.within import within_analysis, within_analysis_many
from dedupe.models import Document


def _gen_docs(mb: float = 0.15, seed: int = 3) -> list[Document]:
    from test_corpus import _gen_docs as gen

    return gen(mb, seed, pages_per_site=8)


TEXTS = ["", "one", "one two three four five six seven", "東京タワーに行きました。東京タワーに行きました。",
         "a b c d e f g h i j k l m n o p\nq r s t u v w x y z\n" * 3, "Ünïcödé ÉTÉ été, été; " * 20]


def test_signatures_many_equal_signature_of() -> None:
    cfg = Config()
    texts = TEXTS + [d.text for d in _gen_docs(0.05)]
    toks = tokenize_batch(texts)
    rng = np.random.default_rng(0)
    keeps = [None if i % 3 == 0 else rng.random(len(t)) < 0.7 for i, t in enumerate(toks)]
    sigs, n_sh = ec._signatures_many(toks, keeps, cfg)
    assert sigs.shape == (len(texts), cfg.signature.num_perm)
    for i, (text, t, k) in enumerate(zip(texts, toks, keeps)):
        h, s = (t.hashes, t.single) if k is None else (t.hashes[k], t.single[k])
        want, want_n = neardup.signature_of(text, cfg, hashes=h, single=s)
        assert np.array_equal(sigs[i], want), i
        assert n_sh[i] == want_n, i
    assert (n_sh > 0).sum() >= len(texts) - 2  # the check saw non-empty sets
    empty_sigs, empty_n = ec._signatures_many([tokenize("")], [None], cfg)
    assert empty_n.tolist() == [0] and np.array_equal(empty_sigs[0], neardup.signature_of("", cfg)[0])


def test_kept_tokens_many_equal_page_by_page() -> None:
    # real results (spans removed and flagged, pages without any, empty pages), and a chunk with
    # no removed span at all
    from dedupe.engine.index import MemoryIndex

    cfg = Config()
    docs = [Document(f"t{i}", t, url=f"https://ex.com/{i}") for i, t in enumerate(TEXTS)] + _gen_docs(0.08)
    index = MemoryIndex()
    for d in docs:
        ec.observe_document(d, index, cfg)
    toks = tokenize_batch([d.text for d in docs])
    results = [ec.clean_document(d, index, cfg, toks=t) for d, t in zip(docs, toks)]
    assert sum(bool(r.removed_spans) for r in results) >= 5 and sum(not r.removed_spans for r in results) >= 3
    got = ec._kept_tokens_many(toks, results)
    for t, r, g in zip(toks, results, got):
        want = ec._kept_tokens(t, r)
        assert np.array_equal(want, np.ones(len(t), dtype=bool) if g is None else g)
        assert (g is None) == (not r.removed_spans)
    plain = [r for r in results if not r.removed_spans]
    assert ec._kept_tokens_many([t for t, r in zip(toks, results) if not r.removed_spans], plain) == [None] * len(plain)


def test_within_analysis_many_with_masks_equals_within_analysis() -> None:
    cfg = Config()
    texts = [d.text for d in _gen_docs(0.05)] + TEXTS
    toks = tokenize_batch(texts)
    rng = np.random.default_rng(1)
    masks = [None if i % 4 == 0 else rng.random(len(t)) < 0.2 for i, t in enumerate(toks)]
    got = within_analysis_many(texts, toks, cfg.within, masks)
    n_pieces = 0
    for text, t, m, g in zip(texts, toks, masks, got):
        want = within_analysis(text, t, cfg.within, excluded=m)
        assert g.pieces == want.pieces and g.flagged == want.flagged
        assert np.array_equal(g.removed, want.removed)
        n_pieces += len(want.pieces)
    assert n_pieces > 0
    with pytest.raises(ValueError):
        within_analysis_many(texts, toks, cfg.within, masks[:-1])


def test_records_round_trip() -> None:
    docs = _gen_docs(0.03)
    results = list(ec.run_corpus(docs, Config()))
    assert any(r.spans for r in results)
    for d, r in zip(docs, results):
        back = ec._decode_doc(ec._encode_doc(d))
        assert (back.id, back.text, back.url, back.site) == (d.id, d.text, d.url, d.site)
        r2 = ec._decode_result(ec._encode_result(r))
        assert (r2.doc_id, r2.original, r2.text, r2.spans, dict(r2.meta)) == (r.doc_id, r.original, r.text, r.spans, dict(r.meta))


def test_spill_gives_back_the_records() -> None:
    rng = random.Random(0)
    blobs = [bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 5000]))) for _ in range(60)]
    sp = ec._Spill()
    try:
        for b in blobs:
            sp.append(b)
        assert len(sp) == len(blobs)
        assert list(sp) == blobs
        for i in rng.sample(range(len(blobs)), 20):
            assert sp.get(i) == blobs[i]
        sp.append(b"tail")  # appending after reads
        assert sp.get(len(blobs)) == b"tail" and sp.get(0) == blobs[0]
    finally:
        sp.close()


def test_output_does_not_depend_on_the_chunk_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _gen_docs()
    cfg = Config()

    def run() -> list:
        return [(r.doc_id, r.text, r.spans, dict(r.meta)) for r in ec.run_corpus(iter(docs), cfg)]

    default = run()
    for n_docs, n_bytes in ((1, 1 << 30), (3, 1 << 30), (1000, 5000)):
        monkeypatch.setattr(ec, "CHUNK_DOCS", n_docs)
        monkeypatch.setattr(ec, "CHUNK_BYTES", n_bytes)
        assert run() == default
    assert any(m.get("cluster") for *_, m in default) and any(s for _, _, s, _ in default)


def test_chunks_cut_by_count_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ec, "CHUNK_DOCS", 3)
    monkeypatch.setattr(ec, "CHUNK_BYTES", 10)
    got = list(ec._chunks([4, 4, 4, 1, 1, 1, 1, 20, 2], lambda x: x))
    # a chunk never goes over 10 bytes unless one item does; at most 3 items
    assert got == [[4, 4], [4, 1, 1], [1, 1], [20], [2]]
    assert [x for c in got for x in c] == [4, 4, 4, 1, 1, 1, 1, 20, 2]


def test_page_features_many_equal_page_by_page() -> None:
    """Batch template features (digits, lines, k-grams, short lines) == each page on its own,
    also with digit masking off and with texts that hold "\\r", blank lines and no tokens."""
    from dataclasses import fields

    from dedupe.engine.templates import line_ids, line_units, masked_hashes, page_features_many, span_fingerprints

    texts = TEXTS + ["\n\n", "PUBLICITÉ\r\nPublié le 19/06/2024\n\n12 34\n", "x\n"] + [d.text for d in _gen_docs(0.05)]
    rng = random.Random(5)
    rng.shuffle(texts)
    toks = tokenize_batch(texts)
    for mask_digits in (True, False):
        tc = Config().templates
        tc = type(tc)(**{**{f.name: getattr(tc, f.name) for f in fields(tc)}, "mask_digits": mask_digits})
        feats = page_features_many(texts, toks, tc)
        assert len(feats) == len(texts)
        for text, t, f in zip(texts, toks, feats):
            masked = masked_hashes(t, tc)
            lf, le, lfp = line_units(text, t, masked, tc.span_tokens)
            assert np.array_equal(f.masked, masked)
            assert np.array_equal(f.lid, line_ids(text, t)[0])
            assert np.array_equal(f.kfp, span_fingerprints(masked, tc.span_tokens))
            assert np.array_equal(f.lf, lf) and np.array_equal(f.le, le) and np.array_equal(f.lfp, lfp)
