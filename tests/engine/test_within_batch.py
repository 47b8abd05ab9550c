"""Batch paths equal the single-page ones: ``tokenize_batch`` == ``tokenize`` per text,
``within_analysis_many`` == ``within_analysis`` per page, ``dedupe.clean_many`` == ``dedupe.clean``
per text (byte-identical reports), on arbitrary Unicode text and on pages of repeated paragraphs."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dedupe
from dedupe import Config, WithinConfig
from dedupe.api import report
from dedupe.core.tokenize import tokenize, tokenize_batch
from dedupe.errors import InputError

CONFIGS = [
    Config(),
    Config(within=WithinConfig(min_repeat_tokens=2, min_repeat_chars=0, near_repeat_min_tokens=3)),
    Config(within=WithinConfig(keep_policy="first", artefact_evidence=False)),
]
PIECES = ["Breaking news today here now.", "Le train blindé arrive à Moscou…", "東京タワーに行きました。", "½ ½ ½",
          "ΣΑΣ σας", "e\u0301te\u0301", "\u00a0", " ", "\n", "\n\n", "\r\n", ". ", "« ", " »", "x", "A caption (Photo AFP)"]
pages = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
any_text = st.text(max_size=200)
batch = st.lists(st.one_of(pages, any_text), max_size=8)


def _same_tokens(a, b) -> None:
    for f in ("start", "end", "hashes", "single", "nstart", "nend"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.tolist() == y.tolist(), f
    assert a.norm.text == b.norm.text


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(batch)
def test_tokenize_batch_equals_tokenize(texts):
    got = tokenize_batch(texts)
    assert len(got) == len(texts)
    for text, toks in zip(texts, got):
        _same_tokens(toks, tokenize(text))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch, st.sampled_from(range(len(CONFIGS))))
def test_clean_many_equals_clean(texts, ci):
    cfg = CONFIGS[ci]
    many = dedupe.clean_many(texts, config=cfg)
    assert len(many) == len(texts)
    for text, got in zip(texts, many):
        want = dedupe.clean(text, config=cfg)
        assert got.text == want.text
        assert json.dumps(report(got, cfg)) == json.dumps(report(want, cfg))


def test_clean_many_on_pages_with_planted_repeats():
    rng = random.Random(3)
    paras = [" ".join(rng.choice(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]) for _ in range(rng.randint(5, 30))) + "."
             for _ in range(30)]
    texts = []
    for _ in range(150):  # more than one batch of 64 pages
        body = [rng.choice(paras) for _ in range(rng.randint(0, 12))]
        if body and rng.random() < 0.5:
            body.insert(0, body[-1][: len(body[-1]) // 2] + "…")  # a teaser
        texts.append("\n".join(body))
    many = dedupe.clean_many(texts)
    assert any(r.removed_spans for r in many)  # the planted repeats are found
    for text, got in zip(texts, many):
        want = dedupe.clean(text)
        assert got.text == want.text and got.spans == want.spans


def test_clean_many_rejects_bad_input_before_cleaning():
    with pytest.raises(InputError, match="text 1"):
        dedupe.clean_many(["fine", b"bytes"])  # type: ignore[list-item]
    with pytest.raises(InputError, match="max_doc_chars"):
        dedupe.clean_many(["x" * 50], config=Config(max_doc_chars=10))
    assert dedupe.clean_many([]) == []
