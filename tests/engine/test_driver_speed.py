"""The corpus driver's cheaper paths equal the ones they replace: CountIndex's one-sort bucket
count, the spill's position tracking, the JSONL encoder, the workers' environment."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe.engine.corpus as ec
from dedupe.config import Config
from dedupe.engine.index import CountIndex
from dedupe.io.jsonl import dumps, json_default


def _brute(records: list[tuple[str, np.ndarray]], min_count: int) -> dict[str, dict[int, int]]:
    want: dict[str, dict[int, int]] = {}
    for site, fps in records:
        for x in fps.tolist():
            want.setdefault(site, {})[x] = want.setdefault(site, {}).get(x, 0) + 1
    return {s: {k: c for k, c in d.items() if c >= min_count} for s, d in want.items()}


@pytest.mark.parametrize("n_sites", [1, 37, 256, 257, 600])
def test_count_index_bucket_sort_equals_counts(monkeypatch: pytest.MonkeyPatch, n_sites: int) -> None:
    """Spilled buckets counted with one key sort (<= 256 sites) or the two argsorts (more): both
    give each site's sorted fingerprints held by >= min_count pages with their counts. The
    fingerprints cover every bucket (top bits 0 and 255 included) and share low bits across
    sites, so a key that mixed up site and fingerprint bits would merge or split pairs."""
    rng = np.random.default_rng(n_sites)
    monkeypatch.setattr(CountIndex, "BUFFER_RECORDS", 900)
    ix = CountIndex(min_count=2)
    records = []
    for d in range(1500):
        site = f"s{int(rng.integers(0, n_sites))}"
        top = rng.integers(0, 256, 20).astype(np.uint64) << np.uint64(56)
        fps = np.unique(top | rng.integers(0, 6, 20).astype(np.uint64) | np.uint64(0xFF) << np.uint64(48))
        ix.observe(site, f"d{d}", fps)
        records.append((site, fps))
    assert len(ix._segs) > 3
    ix.freeze()
    want = _brute(records, 2)
    assert sum(len(v) for v in want.values()) > 100
    for site, counts in want.items():
        keep = sorted(counts)
        assert ix._fps.get(site, np.empty(0, np.uint64)).tolist() == keep
        assert ix._counts.get(site, np.empty(0, np.uint32)).tolist() == [counts[k] for k in keep]


def test_count_index_bucket_paths_agree() -> None:
    """_count of one bucket: the key-sort path (bucket given) equals the general path."""
    rng = np.random.default_rng(3)
    ix = CountIndex(min_count=1)
    for i in range(200):
        ix._site_no[f"s{i}"] = i
    for b in (0, 1, 128, 255):
        fp = (np.uint64(b) << np.uint64(56)) | rng.integers(0, 50, 5000).astype(np.uint64)
        site = rng.integers(0, 200, 5000).astype(np.uint32)
        fast: list = []
        slow: list = []
        ix._count(fp, site, fast, bucket=b)
        ix._count(fp, site, slow)
        for a, c in zip(fast[0], slow[0]):
            assert a.dtype == c.dtype and np.array_equal(a, c)


def test_spill_mixed_appends_and_reads() -> None:
    """Records read back equal whatever the mix of appends and reads (the file position is
    tracked instead of sought before every record)."""
    sp = ec._Spill()
    try:
        rng = np.random.default_rng(1)
        blobs: list[bytes] = []
        for _ in range(300):
            if blobs and rng.random() < 0.4:
                i = int(rng.integers(0, len(blobs)))
                assert sp.get(i) == blobs[i]
                if i + 1 < len(blobs):
                    assert sp.get(i + 1) == blobs[i + 1]  # the next record without a seek
            else:
                b = bytes(rng.integers(0, 256, int(rng.integers(0, 20000))).astype(np.uint8))
                sp.append(b)
                blobs.append(b)
        assert list(sp) == blobs
    finally:
        sp.close()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=6))
def test_dumps_equals_json_dumps(row: dict) -> None:
    assert dumps(row) == json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=json_default) + "\n"


def test_dumps_default_values() -> None:
    import datetime as dt
    import decimal

    row = {"d": dt.date(2024, 6, 19), "t": dt.timedelta(seconds=3), "x": decimal.Decimal("1.5"), "b": b"\x00\xff"}
    assert dumps(row) == json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=json_default) + "\n"
    with pytest.raises(TypeError):
        dumps({"o": object()})


def test_worker_environment_set_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with ec._Mapper(2, Config(), False):
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")  # a caller's own value is kept
    with ec._Mapper(2, Config(), False):
        assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
