"""The signature path: datasketch compatibility, LeanMinHash round trip, batching, determinism."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

from dedupe.config import SignatureConfig
from dedupe.core.shingle import shingle_hash32
from dedupe.core.tokenize import tokenize
from dedupe.engine.signatures import from_lean_minhash, iter_signatures, signatures_for_texts, to_lean_minhash

DOCS = [
    "The quick brown fox jumps over the lazy dog, then naps under the old oak tree.",
    "THE QUICK BROWN FOX jumps over the lazy dog; then naps under the old oak tree!",
    "Ｆｕｌｌ-width text, Straße and café: normalised before shingling, all of it.",
    "东京是日本的首都，也是世界上人口最多的城市之一。",
    "short text",
    "",
    "...!!! ---",
]


def shingles(text: str, cfg: SignatureConfig) -> list[tuple[str, ...]]:
    t = tokenize(text)
    words = [t.norm.text[s:e] for s, e in zip(t.nstart.tolist(), t.nend.tolist())]
    k = cfg.char_shingle_size if 2 * int(t.single.sum()) > len(words) else cfg.shingle_size
    k = min(k, len(words))
    return [tuple(words[i : i + k]) for i in range(len(words) - k + 1)] if words else []


@pytest.mark.parametrize("cfg", [SignatureConfig(), SignatureConfig(shingle_size=3, char_shingle_size=2, num_perm=64, seed=42)])
def test_equals_datasketch_fed_the_same_shingles(cfg):
    sigs = signatures_for_texts(DOCS, cfg)
    assert sigs.shape == (len(DOCS), cfg.num_perm) and sigs.dtype == np.uint32
    for text, sig in zip(DOCS, sigs):
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, scheme="affine32", hashfunc=shingle_hash32)
        for sh in shingles(text, cfg):
            m.update(sh)
        assert (m.hashvalues == sig).all(), text


def test_chinese_uses_character_ngrams():
    cfg = SignatureConfig()
    assert len(shingles(DOCS[3], cfg)) == len(tokenize(DOCS[3])) - cfg.char_shingle_size + 1
    other = "东京是日本的首都，也是世界上人口第二多的城市之一。"
    s = signatures_for_texts([DOCS[3], other])
    assert 0.3 < (s[0] == s[1]).mean() < 1.0  # near-duplicate, not identical, not unrelated


def test_case_and_punctuation_insensitive():
    s = signatures_for_texts(DOCS[:2])
    assert (s[0] == s[1]).all()


def test_lean_minhash_round_trip_and_lsh():
    sigs = signatures_for_texts(DOCS)
    for sig in sigs:
        lm = to_lean_minhash(sig)
        assert isinstance(lm, LeanMinHash) and lm.scheme == "affine32" and lm.seed == 1
        back = from_lean_minhash(lm)
        assert back.dtype == np.uint32 and (back == sig).all()
        # survives datasketch's own serialisation
        buf = bytearray(lm.bytesize())
        lm.serialize(buf)
        assert (from_lean_minhash(LeanMinHash.deserialize(buf)) == sig).all()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, sig in enumerate(sigs[:4]):
        lsh.insert(i, to_lean_minhash(sig))
    assert set(lsh.query(to_lean_minhash(sigs[0]))) == {0, 1}
    assert to_lean_minhash(sigs[0]).jaccard(to_lean_minhash(sigs[1])) == 1.0


def test_conversion_errors():
    with pytest.raises(ValueError):
        to_lean_minhash(np.zeros((2, 128), np.uint32))
    with pytest.raises(ValueError):
        from_lean_minhash(MinHash(num_perm=8, scheme="legacy"))


@pytest.mark.parametrize("batch_size", [1, 2, 3, 100])
def test_batching_does_not_change_signatures(batch_size):
    whole = np.stack([signatures_for_texts([d])[0] for d in DOCS])
    assert (signatures_for_texts(DOCS, batch_size=batch_size) == whole).all()
    parts = list(iter_signatures(iter(DOCS), batch_size=batch_size))
    assert all(len(p) <= batch_size for p in parts)
    assert (np.concatenate(parts) == whole).all()


def test_empty_inputs():
    assert signatures_for_texts([]).shape == (0, 128)
    s = signatures_for_texts(["", "  ,, "])
    assert (s == 0xFFFFFFFF).all()


def test_same_across_processes():
    code = (
        "from dedupe.engine.signatures import signatures_for_texts;"
        f"print(signatures_for_texts({DOCS!r})[:, :8].tolist())"
    )
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(outs) == 1
    assert outs.pop().strip() == str(signatures_for_texts(DOCS)[:, :8].tolist())
