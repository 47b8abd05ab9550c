"""Cross-page block fingerprints from the template level's token lines
(``crosspage.block_fingerprints_lines``, what the corpus observe pass uses with the compiled
kernel) equal ``block_fingerprints_many`` (its own newline pass); ``templates.fingerprints_and_lines``
gives ``fingerprints_many``'s fingerprints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.config import CorpusConfig, TemplateConfig
from dedupe.core.tokenize import tokenize_batch
from dedupe.engine import crosspage, templates

PIECES = ["one", "two", "Three", "4", "东京", "\n", "\n\n", "\r\n", "\u2028", " ", ". ", "x\ny", "e\u0301", "😀", "ß", "\u00a0"]
page = st.lists(st.sampled_from(PIECES), max_size=80).map(" ".join)
pages = st.lists(page, max_size=7)
CFGS = [CorpusConfig(), CorpusConfig(crosspage_min_tokens=1), CorpusConfig(crosspage_min_tokens=3), CorpusConfig(crosspage=False)]


def _lines_numpy(texts, toks):
    feats = [templates.page_features(t, tk, TemplateConfig()) for t, tk in zip(texts, toks)]
    tok_off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(tk) for tk in toks], out=tok_off[1:])
    lid = np.concatenate([f.lid for f in feats]).astype(np.int64) if feats else np.zeros(0, np.int64)
    return tok_off, lid


def _same(a, b):
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.tolist() == y.tolist()


@settings(max_examples=200, deadline=None)
@given(pages)
def test_block_lines_equal_block_many(texts):
    toks = tokenize_batch(texts)
    fps, lines = templates.fingerprints_and_lines(texts, toks, TemplateConfig())
    want_fps = templates.fingerprints_many(texts, toks, TemplateConfig())
    assert [f.tolist() for f in fps] == [f.tolist() for f in want_fps]
    sources = [_lines_numpy(texts, toks)] + ([lines] if lines is not None else [])
    for cfg in CFGS:
        want = crosspage.block_fingerprints_many(texts, toks, cfg)
        for tok_off, lid in sources:
            _same(crosspage.block_fingerprints_lines(toks, tok_off, lid, cfg), want)


def test_block_lines_kernel_used_and_bad_arguments():
    texts = ["a b c d e f g h i j k l\nm", "", "x\none two three four five six seven eight nine ten"]
    toks = tokenize_batch(texts)
    _, lines = templates.fingerprints_and_lines(texts, toks, TemplateConfig())
    if templates._K is not None:
        assert lines is not None
    tok_off, lid = _lines_numpy(texts, toks)
    got = crosspage.block_fingerprints_lines(toks, tok_off, lid, CorpusConfig())
    _same(got, crosspage.block_fingerprints_many(texts, toks, CorpusConfig()))
    assert got[3].tolist() == [1, 0, 1]
    with pytest.raises(ValueError):
        crosspage.block_fingerprints_lines(toks, tok_off[:-1], lid, CorpusConfig())
    with pytest.raises(ValueError):
        crosspage.block_fingerprints_lines(toks, tok_off, lid[:-1], CorpusConfig())
