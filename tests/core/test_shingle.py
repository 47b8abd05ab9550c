"""Shingles and batched tokenisation: vectorised paths against per-document / plain-Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.hashing import kgram_hashes
from dedupe.core.shingle import char_mode, shingle_hash64, shingle_hashes
from dedupe.core.tokenize import tokenize, tokenize_many

texts = st.lists(st.text(max_size=60), max_size=8)
mixed = st.lists(
    st.lists(st.sampled_from(["Straße", "ΟΔΟΣ", "Ｆｏｏ", "e\u0301t\u00e9", "東京", "語", "ﬁne", "İ", "x", " ", "\n", ", "]), max_size=30).map("".join),
    max_size=6,
)


@settings(max_examples=80)
@given(st.one_of(texts, mixed))
def test_tokenize_many_equals_tokenize(docs):
    b = tokenize_many(docs)
    assert len(b) == len(docs) and b.offsets[0] == 0 and b.offsets[-1] == len(b.hashes)
    for i, d in enumerate(docs):
        t = tokenize(d)
        lo, hi = b.offsets[i], b.offsets[i + 1]
        assert b.hashes[lo:hi].tolist() == t.hashes.tolist()
        assert b.single[lo:hi].tolist() == t.single.tolist()


def test_tokenize_many_slow_path_and_final_sigma():
    docs = ["ΟΔΟΣ", "ＦＯＯ bar", "ΟΔΟΣ ΟΔΟΣ"]  # second one is not NFKC: every doc normalised alone
    b = tokenize_many(docs)
    assert b.hashes[b.offsets[2] : b.offsets[3]].tolist() == tokenize(docs[2]).hashes.tolist()
    assert b.hashes[0] == tokenize("οδος").hashes[0]  # final sigma after lower-casing, as str.lower


@settings(max_examples=60)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=20), max_size=6), st.integers(1, 6))
def test_shingle_hashes_per_document(docs, k):
    flat = np.array([v for d in docs for v in d], dtype=np.uint64)
    offsets = np.concatenate(([0], np.cumsum([len(d) for d in docs]))).astype(np.int64)
    sh, off = shingle_hashes(flat, offsets, k)
    for i, d in enumerate(docs):
        got = sh[off[i] : off[i + 1]]
        h = np.array(d, dtype=np.uint64)
        if len(d) >= k:
            assert got.tolist() == kgram_hashes(h, k).tolist()
        elif d:
            assert got.tolist() == kgram_hashes(h, len(d)).tolist()  # one shingle of all tokens
        else:
            assert len(got) == 0


@settings(max_examples=60)
@given(st.text(alphabet=st.sampled_from("ab cd東京 ,."), max_size=40), st.integers(1, 4))
def test_shingle_hashes_match_python_reference(text, k):
    t = tokenize(text)
    words = [t.norm.text[s:e] for s, e in zip(t.nstart.tolist(), t.nend.tolist())]
    sh, _ = shingle_hashes(t.hashes, np.array([0, len(t)]), k)
    kk = min(k, len(words))
    expected = [shingle_hash64(words[i : i + kk]) for i in range(len(words) - kk + 1)] if words else []
    assert sh.tolist() == expected


def test_char_mode_per_document():
    b = tokenize_many(["東京都の天気は晴れ", "plain english words are here now", "東京 is big and old", ""])
    assert char_mode(b.single, b.offsets).tolist() == [True, False, False, False]
    sh, off = shingle_hashes(b.hashes, b.offsets, 5, single=b.single, char_k=2)
    n_tok = np.diff(b.offsets)
    assert np.diff(off).tolist() == [n_tok[0] - 1, n_tok[1] - 4, n_tok[2] - 4, 0]
