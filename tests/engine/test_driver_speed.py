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
import dedupe.engine.index as index_mod
from dedupe.engine.index import CountIndex
from dedupe.io.jsonl import dumps, json_default


def _brute(records: list[tuple[str, np.ndarray]], min_count: int) -> dict[str, dict[int, int]]:
    want: dict[str, dict[int, int]] = {}
    for site, fps in records:
        for x in fps.tolist():
            want.setdefault(site, {})[x] = want.setdefault(site, {}).get(x, 0) + 1
    return {s: {k: c for k, c in d.items() if c >= min_count} for s, d in want.items()}


_HAS_COUNT_KERNEL = index_mod._SITE_K is not None


@pytest.mark.parametrize("kernel", [False, True])
@pytest.mark.parametrize("n_sites", [1, 37, 256, 257, 600])
def test_count_index_bucket_sort_equals_counts(monkeypatch: pytest.MonkeyPatch, n_sites: int, kernel: bool) -> None:
    """Spilled buckets counted with one key sort (<= 256 sites), the two argsorts (more) or the C
    kernel's hash table: each gives each site's sorted fingerprints held by >= min_count pages
    with their counts. The fingerprints cover every bucket (top bits 0 and 255 included) and
    share low bits across sites, so a key that mixed up site and fingerprint bits would merge or
    split pairs."""
    if kernel and not _HAS_COUNT_KERNEL:
        pytest.skip("the site kernel is not built")
    if not kernel:
        monkeypatch.setattr(index_mod, "_SITE_K", None)
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


@pytest.mark.parametrize("min_count", [1, 2, 3])
def test_count_index_bucket_paths_agree(monkeypatch: pytest.MonkeyPatch, min_count: int) -> None:
    """_count of one bucket: the key-sort path (bucket given), the general path and the C
    kernel give the same arrays."""
    rng = np.random.default_rng(3)
    ix = CountIndex(min_count=min_count)
    for i in range(200):
        ix._site_no[f"s{i}"] = i
    for b in (0, 1, 128, 255):
        fp = (np.uint64(b) << np.uint64(56)) | rng.integers(0, 50, 5000).astype(np.uint64)
        site = rng.integers(0, 200, 5000).astype(np.uint32)
        got = []
        for k in ([index_mod._SITE_K] if _HAS_COUNT_KERNEL else []) + [None]:
            monkeypatch.setattr(index_mod, "_SITE_K", k)
            for bucket in (b, None):
                out: list = []
                ix._count(fp, site, out, bucket=bucket)
                got.append(out)
        assert len(got[0]) == 1 and len(got[0][0][0]) > 100
        for other in got[1:]:
            for a, c in zip(got[0][0], other[0]):
                assert a.dtype == c.dtype and np.array_equal(a, c)


@pytest.mark.skipif(not _HAS_COUNT_KERNEL, reason="the site kernel is not built")
def test_count_kernel_refuses_bad_arguments() -> None:
    k = index_mod._SITE_K
    fp, site = np.arange(4, dtype=np.uint64), np.zeros(4, dtype=np.uint32)
    out = (np.empty(4, np.uint32), np.empty(4, np.uint64), np.empty(4, np.uint32))
    table = np.full(32, 7, dtype=np.uint64)  # 16 slots of 16 bytes, not zeroed: the kernel zeroes it
    assert k.count_pairs(fp, site, 1, *out, table) == 4 and out[1].tolist() == [0, 1, 2, 3]
    assert k.count_pairs(np.array([5, 5, 5, 6], dtype=np.uint64), site, 2, out[0][:2], out[1][:2], out[2][:2], table) == 1
    assert (out[1][0], out[2][0]) == (5, 3)  # outputs of len // min_count are enough
    assert k.count_pairs(fp[:0], site[:0], 2, *out, table) == 0
    with pytest.raises(ValueError):
        k.count_pairs(fp, site[:3], 1, *out, table)  # one site per fingerprint
    with pytest.raises(ValueError):
        k.count_pairs(fp, site, 1, out[0][:3], out[1], out[2], table)  # outputs too short
    with pytest.raises(ValueError):
        k.count_pairs(fp, site.astype(np.int64), 1, *out, table)  # wrong type
    with pytest.raises(ValueError):
        k.count_pairs(fp, site, 1, *out, table[:31])  # table too small


def test_count_reuses_one_table_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """freeze hands the kernel one scratch table per counting thread, reused bucket after bucket
    (grown when a bucket needs more), never one per bucket."""
    if not _HAS_COUNT_KERNEL:
        pytest.skip("the site kernel is not built")
    made = []
    real = index_mod._SITE_K

    class Spy:
        def count_pairs(self, *a):
            made.append(a[-1])  # kept alive: a table made per call would show as another object
            return real.count_pairs(*a)

    monkeypatch.setattr(index_mod, "_SITE_K", Spy())
    monkeypatch.setattr(CountIndex, "BUFFER_RECORDS", 500)
    ix = CountIndex(min_count=2)
    rng = np.random.default_rng(5)
    for d in range(300):
        ix.observe(f"s{d % 3}", f"d{d}", np.unique(rng.integers(0, 1 << 62, 40).astype(np.uint64) << np.uint64(2)))
    ix.freeze()
    assert len(made) > 100 and len({id(t) for t in made}) <= 2 * CountIndex.COUNT_THREADS


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
    assert np.array_equal(tk._bmp_class(), table)


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
        assert ec._encode_result(r, original=False, is_cut=True) == blob  # the engine's texts are the cut
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


def _pages_for_count(seed: int, n: int = 300, n_sites: int = 7) -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pages = []
    for d in range(n):
        top = rng.integers(0, 256, 12).astype(np.uint64) << np.uint64(56)
        fps = np.unique(top | rng.integers(0, 40, 12).astype(np.uint64))
        pages.append((f"s{int(rng.integers(0, n_sites))}", f"d{d}", fps if d % 13 else fps[:0]))  # some pages hold none
    return pages


@pytest.mark.parametrize("tasks", [False, True, "shared"])
@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("group,preadv", [(1, True), (2, True), (8, True), (256, True), (3, False)])
def test_segments_from_other_writers_count_as_observe(monkeypatch: pytest.MonkeyPatch, group: int, preadv: bool, local: bool, tasks: bool) -> None:
    """Pages whose records another process appended to the spill file (write_segment through the
    file's /proc path, as pool workers do), interleaved with the store's own flushes, count
    exactly as page-by-page observe and as a plain count of the pages: whatever the order the
    segments land in, however many buckets freeze reads at a time, with or without preadv,
    (``local``) when each segment numbers its sites itself and is registered with its map, and
    (``tasks``) when freeze hands the groups of buckets out as :class:`CountTask` (read through
    the /proc path, the site maps from the file), and (``"shared"``) when those tasks also
    write what they keep to a file that another process loads (freeze_shared)."""
    import pickle

    from dedupe.errors import IndexStoreError
    from dedupe.engine.index import write_segment

    monkeypatch.setattr(CountIndex, "BUFFER_RECORDS", 200)
    monkeypatch.setattr(CountIndex, "GROUP_BUCKETS", group)
    if not preadv:
        monkeypatch.delattr(os, "preadv", raising=False)
    pages = _pages_for_count(group)
    one, mixed = CountIndex(min_count=2), CountIndex(min_count=2)
    for site, doc_id, fps in pages:
        one.observe(site, doc_id, fps)
    path = mixed.spill_path()
    if path is None:
        pytest.skip("no /proc path for the spill file here")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)  # another writer's own descriptor
    try:
        segs = []
        for k in range(0, len(pages), 9):
            part = pages[k : k + 9]
            if k % 27 == 0:  # the store's own buffered pages in between
                mixed.observe_chunk([p[0] for p in part], [p[1] for p in part],
                                    np.concatenate([p[2] for p in part]), np.array([len(p[2]) for p in part]))
                continue
            site_map = None
            if local:  # the segment's own numbers: its sites in reverse order of first appearance
                own = list(dict.fromkeys(p[0] for p in reversed(part)))
                nos = np.array([own.index(p[0]) for p in part], dtype=np.uint32)
                site_map = [mixed.site_number(x) for x in own]
            else:
                nos = np.array([mixed.site_number(p[0]) for p in part], dtype=np.uint32)
            counts = np.array([len(p[2]) for p in part])
            seg = write_segment(fd, np.concatenate([p[2] for p in part]), np.repeat(nos, counts), CountIndex.BUCKET_BITS)
            segs.append(([p[0] for p in part], [p[1] for p in part], seg, site_map))
        for sites, ids, seg, site_map in reversed(segs):  # registered in another order than written
            mixed.add_segment(sites, ids, seg, site_map)
    finally:
        os.close(fd)
    handed: list = []

    def count_map(fn, items):  # as a pool's ordered map, in this process
        items = list(items)
        handed.extend(items)
        return map(fn, items)

    one.freeze()
    if tasks == "shared":
        got = mixed.freeze_shared(count_map)
        assert got is not None and all(t.keep_path == got.path for t in handed)
        with pytest.raises(IndexStoreError):
            mixed.doc_freq("s0", np.array([1], dtype=np.uint64))  # nothing held here
        loaded = pickle.loads(pickle.dumps(got)).load()  # as a worker loads it
        got.close()
        mixed = loaded  # type: ignore[assignment]
    else:
        mixed.freeze(count_map=count_map if tasks else None)
    assert bool(handed) == bool(tasks)
    if tasks:  # a group of buckets per task, in order, each with only the segments holding records there
        assert [t.b0 for t in handed] == sorted({t.b0 for t in handed}) and handed[0].b0 == 0
        assert all(len(t.offs) == len(t.cuts) and (t.cuts[:, -1] > t.cuts[:, 0]).all() for t in handed)
        assert (handed[0].table_at is not None) == local
    want = _brute([(site, fps) for site, _, fps in pages], 2)
    assert {site: dict(zip(mixed._fps[site].tolist(), mixed._counts[site].tolist())) for site in mixed._fps} == want
    assert one._fps.keys() == mixed._fps.keys() and len(one._fps) == 7
    for site in one._fps:
        assert np.array_equal(one._fps[site], mixed._fps[site]) and np.array_equal(one._counts[site], mixed._counts[site])
    assert all(one.site_pages(f"s{i}") == mixed.site_pages(f"s{i}") for i in range(7))
    if tasks != "shared":
        assert one.doc_ids() == mixed.doc_ids()


@pytest.mark.parametrize("group_bytes,cap,want", [(None, 16, None), (1, 16, 2), (None, 3, 3), (1 << 40, 16, 16), (1, 1, 1)])
def test_freeze_reads_groups_of_about_group_bytes(monkeypatch: pytest.MonkeyPatch, group_bytes: int | None, cap: int, want: int | None) -> None:
    """freeze reads as many buckets at a time as hold about GROUP_BYTES of records (12 bytes
    each), at least MIN_GROUP_BUCKETS and at most GROUP_BUCKETS; the counts are the same
    whatever the group."""
    monkeypatch.setattr(CountIndex, "BUFFER_RECORDS", 200)
    pages = _pages_for_count(5)
    plain = CountIndex(min_count=2)
    for site, doc_id, fps in pages:
        plain.observe(site, doc_id, fps)
    plain.freeze()
    ix = CountIndex(min_count=2)
    for site, doc_id, fps in pages:
        ix.observe(site, doc_id, fps)
    ix._flush()
    n_buckets = 1 << CountIndex.BUCKET_BITS
    per_bucket = 12 * ix._spilled // n_buckets + 1
    if group_bytes is None:  # three buckets' worth
        group_bytes = 3 * per_bucket
        want = min(3, cap)
    monkeypatch.setattr(CountIndex, "GROUP_BYTES", group_bytes)
    monkeypatch.setattr(CountIndex, "GROUP_BUCKETS", cap)
    calls: list[tuple[int, int]] = []
    real = CountIndex._count_buckets

    def spy(self: CountIndex, b0: int, b1: int, scratch: dict) -> list:
        calls.append((b0, b1))
        return real(self, b0, b1, scratch)

    monkeypatch.setattr(CountIndex, "_count_buckets", spy)
    ix.freeze()
    calls.sort()  # the counting threads record them in any order
    assert want is not None and calls and all(b1 - b0 == want for b0, b1 in calls[:-1]) and calls[-1][1] == n_buckets
    assert calls[0][0] == 0 and all(a[1] == b[0] for a, b in zip(calls, calls[1:]))
    for site in plain._fps:
        assert np.array_equal(plain._fps[site], ix._fps[site]) and np.array_equal(plain._counts[site], ix._counts[site])


def test_add_segment_refuses_what_observe_refuses() -> None:
    from dedupe.errors import IndexStoreError

    ix = CountIndex()
    ix.add_segment(["s"], ["a"], None)
    with pytest.raises(IndexStoreError):
        ix.add_segment(["s"], ["a"], None)  # id seen
    with pytest.raises(IndexStoreError):
        ix.add_segment(["s", "s"], ["b"], None)  # one site per page
    ix.freeze()
    assert ix.spill_path() is None
    with pytest.raises(IndexStoreError):
        ix.add_segment(["s"], ["c"], None)  # frozen


def test_worker_count_runs_are_made_sorted_unique() -> None:
    fps, counts = np.array([1, 5, 2, 3], dtype=np.uint64), np.array([2, 2])
    got = ec._sorted_unique_runs(fps, counts)
    assert got[0] is fps and got[1] is counts  # each page's run sorted unique: as it is
    f, n = ec._sorted_unique_runs(np.array([5, 1, 1, 2, 2, 7], dtype=np.uint64), np.array([3, 0, 3]))
    assert f.tolist() == [1, 5, 2, 7] and n.tolist() == [2, 0, 2]  # a page counts a fingerprint once


def test_bucket_bits_must_fit_a_byte() -> None:
    from dedupe.engine.index import bucket_records

    fps, sites = np.array([1, 1 << 63], dtype=np.uint64), np.zeros(2, dtype=np.uint32)
    assert bucket_records(fps, sites, 8)[2][-1] == 2
    for bits in (0, 9):
        with pytest.raises(ValueError):
            bucket_records(fps, sites, bits)


def test_add_segment_refuses_other_buckets() -> None:
    from dedupe.engine.index import write_segment
    from dedupe.errors import IndexStoreError

    ix = CountIndex()
    ix.BUCKET_BITS = 4
    with pytest.raises(IndexStoreError, match="buckets"):
        ix.add_segment(["s"], ["a"], (0, 0, np.zeros(257, dtype=np.int64)))
    path = ix.spill_path()
    if path is None:
        pytest.skip("no /proc path for the spill file here")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        seg = write_segment(fd, np.array([1, 1 << 63], dtype=np.uint64), np.zeros(2, dtype=np.uint32), 4)
    finally:
        os.close(fd)
    ix.add_segment(["s"], ["b"], seg)
    ix.observe("s", "c", np.array([1 << 63], dtype=np.uint64))
    assert ix.freeze().doc_freq("s", np.array([1, 1 << 63], dtype=np.uint64)).tolist() == [1, 2]


def test_pool_workers_close_the_count_file(tmp_path) -> None:
    """After counting, no worker holds the count file open (its disk space is freed when the
    driver closes it, not when the pool ends)."""
    import glob

    from dedupe.engine.corpus import _Mapper, _observe_chunk, _encode_doc
    from dedupe.models import Document

    ix = CountIndex(min_count=1, spill_dir=str(tmp_path))
    path = ix.spill_path()
    if path is None:
        pytest.skip("no /proc path for the spill file here")
    docs = [Document(f"d{i}", f"the same line on every page\nand page {i} of it", site="s") for i in range(6)]
    nos = np.full(3, ix.site_number("s"), dtype=np.uint32)
    with _Mapper(2, Config(), False) as pmap:
        out = list(pmap(_observe_chunk, [([_encode_doc(d) for d in docs[:3]], (path, nos, 8)),
                                          ([_encode_doc(d) for d in docs[3:]], (path, nos, 8))]))
        target = os.readlink(path)
        pids = [p.pid for p in pmap.pool._processes.values()]
        held = [p for p in pids for fd in glob.glob(f"/proc/{p}/fd/*") if _readlink(fd) == target]
        assert not held
    ix.add_segment(["s"] * 3, [d.id for d in docs[:3]], out[0][-1])
    ix.add_segment(["s"] * 3, [d.id for d in docs[3:]], out[1][-1])
    assert ix.freeze().site_pages("s") == 6 and ix.n_fingerprints() > 0


def _readlink(p: str) -> str:
    try:
        return os.readlink(p)
    except OSError:
        return ""


def test_pool_workers_write_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a pool, the workers append the template fingerprints to the count file (the driver
    registers segments, never observes fingerprint arrays) and the output equals the
    one-process run's."""
    from dedupe.engine.corpus import run_corpus
    from dedupe.models import Document

    got = {"seg": 0, "chunk": 0}
    seg, chunk = CountIndex.add_segment, CountIndex.observe_chunk
    monkeypatch.setattr(CountIndex, "add_segment", lambda self, *a: (got.__setitem__("seg", got["seg"] + 1), seg(self, *a))[1])
    monkeypatch.setattr(CountIndex, "observe_chunk", lambda self, *a: (got.__setitem__("chunk", got["chunk"] + 1), chunk(self, *a))[1])
    probe = CountIndex()
    try:
        if probe.spill_path() is None:
            pytest.skip("no /proc path for the spill file here")
    finally:
        probe.freeze()  # closes its spill file
    nav = "Home | News | Sport | Weather | Contact us | About this site"
    docs = [Document(f"p{i}", f"{nav}\nStory {i} tells of the harbour, the market and the {i}th bridge of the town.\nFooter line © 2024 the site", site="s")
            for i in range(40)]
    one = [(r.text, r.spans) for r in run_corpus(docs, workers=1)]
    assert got == {"seg": 0, "chunk": 1}
    two = [(r.text, r.spans) for r in run_corpus(docs, workers=2)]
    assert got["seg"] >= 1 and got["chunk"] == 1
    assert one == two and all(nav not in t for t, _ in two)
