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


def _observe_both(pages: list[tuple[str, str, np.ndarray]], chunk: int) -> tuple[CountIndex, CountIndex]:
    one, many = CountIndex(min_count=2), CountIndex(min_count=2)
    for site, doc_id, fps in pages:
        one.observe(site, doc_id, fps)
    for k in range(0, len(pages), chunk):
        part = pages[k : k + chunk]
        many.observe_chunk([p[0] for p in part], [p[1] for p in part],
                           np.concatenate([p[2] for p in part]), np.array([len(p[2]) for p in part]))
    return one.freeze(), many.freeze()


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_observe_chunk_equals_page_by_page(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Chunks of pages (sorted unique runs, empty pages, unsorted runs that fall back to
    observe's np.unique) count as page-by-page observe does, spilled or not."""
    rng = np.random.default_rng(chunk)
    monkeypatch.setattr(CountIndex, "BUFFER_RECORDS", 500)
    pages = []
    for d in range(400):
        raw = rng.integers(0, 60, int(rng.integers(0, 25))).astype(np.uint64) << np.uint64(57)
        fps = raw if d % 11 == 0 else np.unique(raw)  # some runs unsorted / with repeats
        pages.append((f"s{int(rng.integers(0, 9))}", f"d{d}", fps))
    one, many = _observe_both(pages, chunk)
    assert one._fps.keys() == many._fps.keys() and len(one._fps) > 3
    for site in one._fps:
        assert np.array_equal(one._fps[site], many._fps[site]) and np.array_equal(one._counts[site], many._counts[site])
    assert one.doc_ids() == many.doc_ids() and [one.site_pages(f"s{i}") for i in range(9)] == [many.site_pages(f"s{i}") for i in range(9)]


def test_observe_chunk_refuses_what_observe_refuses() -> None:
    from dedupe.errors import IndexStoreError

    ix = CountIndex()
    ix.observe_chunk(["s", "s"], ["a", "b"], np.array([1, 2, 1], dtype=np.uint64), np.array([2, 1]))
    with pytest.raises(IndexStoreError):
        ix.observe_chunk(["s"], ["a"], np.array([3], dtype=np.uint64), np.array([1]))  # id seen
    with pytest.raises(IndexStoreError):
        ix.observe_chunk(["s", "s"], ["c", "c"], np.array([3, 4], dtype=np.uint64), np.array([1, 1]))
    with pytest.raises(IndexStoreError):
        ix.observe_chunk(["s"], ["e"], np.array([3, 4], dtype=np.uint64), np.array([1]))  # counts != fps
    assert ix.freeze().doc_freq("s", np.array([1, 2, 3], dtype=np.uint64)).tolist() == [2, 1, 1]


def test_hits_rows_are_the_hits() -> None:
    """Hits.rows(d) (what the driver sends) rebuilds each Hit of Hits.get(d), kept or not."""
    from dedupe.engine.crosspage import Hit, Hits

    doc = np.array([0, 0, 2, 2, 2], dtype=np.int32)
    st, en = np.array([0, 10, 5, 30, 60], dtype=np.int32), np.array([8, 20, 25, 50, 90], dtype=np.int32)
    pages = np.array([2, 3, 2, 4, 2], dtype=np.int32)
    kdoc = np.array([-1, 2, 0, -1, 1], dtype=np.int32)
    kst, ken = np.array([0, 5, 0, 30, 7], dtype=np.int32), np.array([8, 15, 20, 50, 37], dtype=np.int32)
    h = Hits(doc, st, en, pages, kdoc, kst, ken, ["a", "b", "c"])
    for d in range(3):
        assert [Hit(*r) for r in h.rows(d)] == h.get(d, [])
    assert h.rows(1) == [] and h.rows(0)[1] == (10, 20, 3, "c", (5, 15)) and h.rows(2)[1] == (30, 50, 4, None, None)
    assert all(type(x) is int for r in h.rows(2) for x in r[:3])


def test_bmp_class_table_equals_the_per_code_point_rule() -> None:
    """The vectorised class table (built at import) == _char_class of every BMP code point."""
    from dedupe.core import tokenize as tk

    table = tk._build_bmp_table()
    assert table.dtype == np.uint8 and table.flags.c_contiguous and table.shape == (0x10000,)
    assert np.array_equal(table, tk._build_bmp_table_reference())
    assert np.array_equal(tk._BMP_CLASS, table)


def test_worker_result_records_leave_the_texts_out() -> None:
    """The workers' result records carry neither the original nor (when it is the original with
    the removed spans cut out) the cleaned text; decoded with the original they are the result."""
    from test_corpus import _gen_docs

    from dedupe.models import CleanResult, Span

    docs = _gen_docs(0.05, 11, pages_per_site=6)
    results = list(ec.run_corpus(docs))
    assert any(r.removed_spans for r in results)
    for d, r in zip(docs, results):
        blob = ec._encode_result(r, original=False)
        assert d.text not in blob.decode("latin-1") or not d.text
        back = ec._decode_result(blob, d.text)
        assert (back.doc_id, back.original, back.text, back.spans, dict(back.meta)) == (r.doc_id, r.original, r.text, r.spans, dict(r.meta))
        assert ec._decode_text(blob, d.text) == r.text
        full = ec._encode_result(r)  # with the original: decodes alone
        assert ec._decode_result(full).text == r.text
    with pytest.raises(ValueError):
        ec._decode_result(ec._encode_result(results[0], original=False))
    # a cleaned text that is not the cut (never made by the engine) is kept as it is
    odd = CleanResult("x", "abcdef", "zz", (Span(1, 3, "bc", "repeat", "r", 1.0),), {})
    blob = ec._encode_result(odd, original=False)
    assert ec._decode_result(blob, "abcdef").text == "zz" and ec._decode_text(blob, "abcdef") == "zz"
    cut = CleanResult("x", "abcdef", "adef", (Span(1, 3, "bc", "repeat", "r", 1.0), Span(0, 6, "abcdef", "near-duplicate-doc", "r", 1.0, removed=False)), {})
    back = ec._decode_result(ec._encode_result(cut, original=False), "abcdef")
    assert back == cut and back.text == "adef"
