"""The corpus driver's memory-saving structures give the same results as the plain in-memory ones:
the spilled, bucketed cross-page block table, signatures kept in a temporary file and read in
blocks, band keys spilled band by band, the merged LSH pair keys, the CountIndex freeze."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from dedupe.config import Config, CorpusConfig, NearDupConfig
from dedupe.engine import crosspage, neardup
from dedupe.engine.corpus import _SigFile
from dedupe.engine.index import CountIndex


# ---------------------------------------------------------------------------------------------
# cross-page block table
# ---------------------------------------------------------------------------------------------
def _resolve_reference(fps, doc, st, en, rank):
    """The former one-sort implementation of BlockTable.resolve (all blocks in memory)."""
    order = np.lexsort((st, doc, fps))
    fps, doc, st, en = fps[order], doc[order], st[order], en[order]
    first = np.concatenate(([True], (fps[1:] != fps[:-1]) | (doc[1:] != doc[:-1])))
    fps, doc, st, en = fps[first], doc[first], st[first], en[first]
    new = np.concatenate(([True], fps[1:] != fps[:-1]))
    gid = np.cumsum(new) - 1
    shared = np.bincount(gid)[gid] >= 2
    if not shared.any():
        return None
    fps, doc, st, en, gid = fps[shared], doc[shared], st[shared], en[shared], gid[shared]
    o = np.lexsort((rank[doc], gid))
    doc, st, en, gid = doc[o], st[o], en[o], gid[o]
    head = np.concatenate(([True], gid[1:] != gid[:-1]))
    head_idx = np.flatnonzero(head)
    canon = head_idx[np.cumsum(head) - 1]
    pages = np.diff(np.concatenate((head_idx, [len(gid)])))[np.cumsum(head) - 1]
    o = np.lexsort((en, st, doc))
    kdoc = np.where(canon == np.arange(len(doc)), -1, doc[canon])
    return [doc[o], st[o], en[o], pages[o], kdoc[o], st[canon][o], en[canon][o]]


def _random_blocks(rng, n_docs, n_fps):
    """Blocks of ``n_docs`` documents drawing fingerprints from a pool of ``n_fps`` (so many are
    shared, some twice in one document), with line-like offsets."""
    out = []
    for d in range(n_docs):
        k = int(rng.integers(0, 12))
        fps = rng.integers(0, n_fps, k).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        st = np.cumsum(rng.integers(1, 90, k)).astype(np.int64)
        out.append((d, fps, st, st + rng.integers(10, 60, k)))
    return out


@pytest.mark.parametrize("policy", ["first", "longest", "url"])
def test_block_table_spilled_equals_in_memory_and_reference(policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    n = 400
    blocks = _random_blocks(rng, n, 300)
    ids = [f"d{(i * 37) % n:04d}" for i in range(n)]
    urls = [None if i % 5 == 0 else f"https://s{i % 3}.example/{ids[i]}" for i in range(n)]
    lengths = rng.integers(100, 5000, n).tolist()
    cfg = CorpusConfig(crosspage_policy=policy)

    def build(buffer_blocks: int, per_doc: bool) -> crosspage.BlockTable:
        monkeypatch.setattr(crosspage.BlockTable, "BUFFER_BLOCKS", buffer_blocks)
        t = crosspage.BlockTable()
        if per_doc:
            for d, f, s, e in blocks:
                t.add(d, f, s, e)
        else:  # chunks of documents, as the driver adds them
            for c in range(0, n, 16):
                part = blocks[c : c + 16]
                t.add_many(np.concatenate([np.full(len(f), d) for d, f, _, _ in part]), *(np.concatenate([b[j] for b in part]) for j in (1, 2, 3)))
        return t

    spilled = build(50, per_doc=False)
    assert spilled._tmp is not None and len(spilled._segs) > 3  # several flushes to the file
    in_memory = build(1 << 20, per_doc=True)
    assert in_memory._tmp is None
    got_s = spilled.resolve(cfg, ids=ids, urls=urls, lengths=lengths)
    got_m = in_memory.resolve(cfg, ids=ids, urls=urls, lengths=lengths)
    rank = crosspage.policy_rank(policy, ids=ids, urls=urls, lengths=lengths)
    want = _resolve_reference(*_ref_inputs(blocks), rank)
    assert want is not None and len(want[0]) > 100
    assert isinstance(got_s, crosspage.SpilledHits) and isinstance(got_m, crosspage.Hits)
    parts = [got_s._part(p) for p in range(got_s._n_parts)]  # a document range at a time
    assert sum(h is not None for h in parts) > 3
    for got in [got_m] + [h for h in parts if h is not None]:
        assert got._st.dtype == np.int32 and got._doc.dtype == np.int32
    for k, w in enumerate(want):  # the ranges laid end to end: the rows of the in-memory table
        name = ("_doc", "_st", "_en", "_pages", "_kdoc", "_kst", "_ken")[k]
        assert np.array_equal(getattr(got_m, name), w)
        assert np.array_equal(np.concatenate([getattr(h, name) for h in parts if h is not None]), w)
    assert sorted(got_m.keys()) == sorted(got_s.keys()) == sorted(set(want[0].tolist()))
    assert len(got_s) == len(got_m)
    for d in range(-1, n + 2):  # every document, in order, as the clean pass asks
        assert got_s.get(d) == got_m.get(d) and got_s.rows(d) == got_m.rows(d) and (d in got_s) == (d in got_m)
    rng2 = np.random.default_rng(5)
    for _ in range(60):  # chunks, some across the ranges' bounds
        lo = int(rng2.integers(0, n))
        hi = min(n, lo + int(rng2.integers(1, 40)))
        assert got_s.rows_range(lo, hi) == got_m.rows_range(lo, hi)
        a, b = got_s.rows_chunk(lo, hi), got_m.rows_chunk(lo, hi)
        assert a.rows() == b.rows() and a.counts.tolist() == b.counts.tolist()
    assert spilled._tmp is None  # the spill file is closed once resolved
    got_s.close()


def test_shared_blocks_same_for_blocks_in_doc_order_and_shuffled() -> None:
    """_shared_blocks sorts blocks handed over in (doc, start) order by fingerprint alone (a
    stable sort); blocks in any other order go through the full lexsort: the same rows."""
    rng = np.random.default_rng(5)
    fps, doc, st, en = _ref_inputs(_random_blocks(rng, 300, 200))
    assert bool(np.all((doc[1:] > doc[:-1]) | ((doc[1:] == doc[:-1]) & (st[1:] >= st[:-1]))))
    rank = rng.permutation(300).astype(np.int64)
    ordered = crosspage._shared_blocks(fps, doc, st, en, rank)
    p = rng.permutation(len(fps))
    shuffled = crosspage._shared_blocks(fps[p], doc[p], st[p], en[p], rank)
    assert ordered is not None and len(ordered[0]) > 100
    key = lambda rows: sorted(zip(*(np.asarray(c).tolist() for c in rows)))  # noqa: E731
    assert key(ordered) == key(shuffled)
    want = _resolve_reference(fps, doc, st, en, rank)
    assert key(ordered) == key(want)


@pytest.mark.parametrize("seed", range(4))
def test_policy_rank_longest_is_length_then_id(seed: int) -> None:
    """policy "longest": the longest text first, ties by id, then by input position (equal ids):
    the Python key it replaced."""
    rng = np.random.default_rng(seed)
    n = 500
    ids = [f"d{int(x)}" for x in rng.integers(0, 300 if seed % 2 else 10**9, n)]  # repeats on odd seeds
    lengths = rng.integers(0, 40, n).tolist()  # many ties
    rank = crosspage.policy_rank("longest", ids=ids, urls=[None] * n, lengths=lengths)
    want = np.empty(n, dtype=np.int64)
    want[sorted(range(n), key=lambda i: (-lengths[i], ids[i]))] = np.arange(n)
    assert np.array_equal(rank, want)
    assert crosspage.policy_rank("longest", ids=[], urls=[], lengths=[]).tolist() == []


def _ref_inputs(blocks):
    fps = np.concatenate([b[1] for b in blocks]).astype(np.uint64)
    doc = np.concatenate([np.full(len(b[1]), b[0], dtype=np.int64) for b in blocks])
    st = np.concatenate([b[2] for b in blocks]).astype(np.int64)
    en = np.concatenate([b[3] for b in blocks]).astype(np.int64)
    return fps, doc, st, en


def test_block_table_without_shared_blocks_is_empty() -> None:
    t = crosspage.BlockTable()
    assert t.resolve(CorpusConfig(), ids=[], urls=[], lengths=[]) == {}
    t.add(0, np.array([1, 2], dtype=np.uint64), np.array([0, 5]), np.array([4, 9]))
    t.add(1, np.array([3], dtype=np.uint64), np.array([0]), np.array([4]))
    assert t.resolve(CorpusConfig(), ids=["a", "b"], urls=[None, None], lengths=[9, 4]) == {}


# ---------------------------------------------------------------------------------------------
# signatures on disk, band keys on disk, LSH pair merging
# ---------------------------------------------------------------------------------------------
def _sigs(n: int, seed: int = 0) -> np.ndarray:
    """Signatures with planted near-copies (groups sharing most values) and empty rows."""
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2**32 - 1, size=(n, 128), dtype=np.uint64).astype(np.uint32)
    for g in range(0, n - 8, 9):
        for m in range(1, 1 + g % 5):
            s[g + m] = s[g]
            flip = rng.choice(128, int(rng.integers(0, 40)), replace=False)
            s[g + m, flip] = rng.integers(0, 2**32 - 1, len(flip), dtype=np.uint64).astype(np.uint32)
    s[::50] = 0xFFFFFFFF  # empty sets
    return s


def test_sig_file_rows_equal_array_rows() -> None:
    a = _sigs(700)
    f = _SigFile(128)
    for lo in range(0, 700, 64):
        f.append(a[lo : lo + 64])
    rng = np.random.default_rng(1)
    assert len(f) == 700
    for idx in (np.arange(700), np.arange(100, 350), np.array([699]), rng.integers(0, 700, 2000), np.array([5, 5, 3, 0, 699, 4]), np.zeros(0, dtype=np.int64)):
        assert np.array_equal(f.take_rows(idx), a[idx])
    with pytest.raises(IndexError):
        f.take_rows(np.array([700]))
    f.close()


def _lsh_reference(keys: np.ndarray) -> np.ndarray:
    """The former one-sort lsh_pairs (test_neardup's reference; empty keys give no pairs)."""
    from test_neardup import _lsh_pairs_all_bands_at_once

    return _lsh_pairs_all_bands_at_once(keys)


@pytest.mark.parametrize("threads", [1, 2, 3, 40])
def test_lsh_pairs_with_merged_keys_equal_reference(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 40, size=(3000, 16)).astype(np.uint64)  # big buckets in every band
    keys[:500] = 7  # 500 identical documents: paired again in every band
    keys[600:700, 5] = np.arange(100)  # a band with no pair in some threads' share
    want = _lsh_reference(keys)
    monkeypatch.setattr(neardup, "LSH_MERGE_PAIRS", 1000)  # merge after nearly every band
    monkeypatch.setattr(neardup, "LSH_THREADS", threads)  # every other band on each thread (40: more threads than bands)
    monkeypatch.setattr(neardup, "LSH_THREAD_MIN", 0)
    got = neardup.lsh_pairs(keys)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.array_equal(neardup.lsh_pairs(keys[:1]), np.empty((0, 2), dtype=np.int64))
    assert np.array_equal(neardup.lsh_pairs(np.arange(20, dtype=np.uint64).reshape(10, 2)), _lsh_reference(np.arange(20, dtype=np.uint64).reshape(10, 2)))


def test_spilled_band_keys_read_by_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads read the spilled band keys at once: each gets its own band, whatever the
    other does meanwhile (a shared file position read with seek + read gave one thread the
    other's band, or nothing: a thread switch right after a seek, made likely here)."""
    import tempfile
    import time

    rng = np.random.default_rng(1)
    m, bands = 3000, 8
    keys = rng.integers(0, 500, size=(m, bands)).astype(np.uint64)
    monkeypatch.setattr(neardup, "LSH_THREADS", 1)
    want = neardup._lsh_pairs_cols(m, bands, lambda b: keys[:, b])
    assert len(want) > 1000

    class SlowSeek:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self) -> "SlowSeek":
            self.fh.__enter__()
            return self

        def __exit__(self, *exc: Any) -> Any:
            return self.fh.__exit__(*exc)

        def seek(self, *a: Any) -> int:
            got = self.fh.seek(*a)
            time.sleep(0.002)  # the other thread runs now
            return got

        def __getattr__(self, name: str) -> Any:
            return getattr(self.fh, name)

    real = tempfile.TemporaryFile
    monkeypatch.setattr(neardup, "tempfile", type("T", (), {"TemporaryFile": staticmethod(lambda **kw: SlowSeek(real(**kw)))}))
    monkeypatch.setattr(neardup, "band_keys", lambda rows, b: rows)  # the rows are the keys
    monkeypatch.setattr(neardup, "BAND_KEYS_IN_MEMORY", 0)
    monkeypatch.setattr(neardup, "LSH_THREADS", 2)
    monkeypatch.setattr(neardup, "LSH_THREAD_MIN", 0)
    for _ in range(2):
        assert np.array_equal(neardup._lsh_pairs_blocks(lambda idx: keys[idx], m, bands), want)


def test_candidates_and_cluster_from_disk_equal_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signatures in a file read in small blocks, band keys spilled to a file: the same candidate
    pairs, copy groups and clusters as with everything in memory."""
    n = 900
    a = _sigs(n, seed=2)
    n_sh = np.where(a[:, 0] == 0xFFFFFFFF, 0, 400)
    n_sh[3::7] = 150  # some pages too different in size for the containment rule
    nd = NearDupConfig(containment=0.8)
    rows = np.flatnonzero(np.arange(n) % 4 != 1)
    want = neardup.candidates(a[rows], n_sh[rows], nd)
    assert len(want) > 50
    f = _SigFile(128)
    for lo in range(0, n, 100):
        f.append(a[lo : lo + 100])
    monkeypatch.setattr(neardup, "SIG_BLOCK", 37)
    monkeypatch.setattr(neardup, "BAND_KEYS_IN_MEMORY", 0)  # band keys go to a temporary file
    monkeypatch.setattr(neardup, "LSH_THREAD_MIN", 0)  # read by two threads at once
    assert np.array_equal(neardup.candidates(f, n_sh[rows], nd, rows=rows), want)
    assert np.array_equal(neardup.candidates(a, n_sh[rows], nd, rows=rows), want)
    sites = [f"s{i % 3}" for i in range(n)]
    assert neardup.page_groups(f, sites, 0.8, 32) == neardup.page_groups(a, sites, 0.8, 32)
    texts = {i: " ".join(f"w{(i // 9) * 7 + k}" for k in range(40)) for i in range(n)}  # copies share text
    cfg = Config()
    kw = dict(ids=[f"d{i:04d}" for i in range(n)], urls=[None] * n, lengths=[100] * n)
    got = neardup.cluster(f, n_sh, texts.__getitem__, cfg, **kw)
    monkeypatch.undo()
    ref = neardup.cluster(a, n_sh, texts.__getitem__, cfg, **kw)
    assert (ref.canonical >= 0).sum() > 20
    assert np.array_equal(got.canonical, ref.canonical) and np.array_equal(got.score, ref.score)


# ---------------------------------------------------------------------------------------------
# CountIndex freeze
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_count_index_freeze_per_site_arrays(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Frozen per-site fingerprints are sorted and counted exactly (many sites, many spills),
    whatever the number of counting threads (buckets kept in order)."""
    rng = np.random.default_rng(8)
    monkeypatch.setattr(CountIndex, "BUFFER_RECORDS", 700)
    monkeypatch.setattr(CountIndex, "COUNT_THREADS", threads)
    ix = CountIndex(min_count=2)
    want: dict[str, dict[int, int]] = {}
    for d in range(600):
        site = f"site{int(rng.integers(0, 37))}"
        fps = np.unique(rng.integers(0, 200, int(rng.integers(0, 30))).astype(np.uint64) << np.uint64(55) | np.uint64(d % 3))
        ix.observe(site, f"d{d}", fps)
        for x in fps.tolist():
            want.setdefault(site, {})[x] = want.setdefault(site, {}).get(x, 0) + 1
    assert len(ix._segs) > 5
    ix.freeze()
    for site, counts in want.items():
        keep = sorted(k for k, c in counts.items() if c >= 2)
        assert ix._fps.get(site, np.empty(0, np.uint64)).tolist() == keep
        assert ix._counts.get(site, np.empty(0, np.uint32)).tolist() == [counts[k] for k in keep]


def test_frozen_counts_read_as_the_count_index() -> None:
    """What the corpus job hands its workers (CountIndex.frozen_counts, pickled) answers
    site_pages and doc_freq exactly as the store, for known and unknown sites and fingerprints,
    and holds no page ids."""
    import pickle

    rng = np.random.default_rng(3)
    ix = CountIndex(min_count=2)
    for d in range(400):
        fps = np.unique(rng.integers(0, 300, int(rng.integers(0, 25))).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        ix.observe(f"site{int(rng.integers(0, 9))}", f"d{d}", fps)
    view = pickle.loads(pickle.dumps(ix.frozen_counts()))
    q = np.unique(rng.integers(0, 400, 200).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    for site in [f"site{i}" for i in range(9)] + ["elsewhere"]:
        assert view.site_pages(site) == ix.site_pages(site)
        assert np.array_equal(view.doc_freq(site, q), ix.doc_freq(site, q))
        assert view.doc_freq(site, q[:0]).tolist() == []
    assert sum(ix.site_pages(f"site{i}") for i in range(9)) == 400 and ix.doc_freq("site0", q).max() >= 2
    assert all(type(n) is int for n in view._pages.values())  # counts, not the pages' ids
    # a view of its own: the store forgetting a site afterwards leaves the view as it was
    view = ix.frozen_counts()
    before = view.doc_freq("site0", q)
    ix.forget_site("site0")
    assert ix.doc_freq("site0", q).max() == 0 and np.array_equal(view.doc_freq("site0", q), before) and before.max() >= 2


def test_count_task_table_is_dropped_when_a_worker_loads_the_index(tmp_path) -> None:
    """count_task keeps the site map table between the tasks of one freeze; a worker loading the
    counted index for the clean pass (corpus._index_for) frees it."""
    import pickle

    from dedupe.engine import corpus as ec
    from dedupe.engine import index as ixm
    from dedupe.engine.index import write_segment

    ix = CountIndex(min_count=2)
    path = ix.spill_path()
    if path is None:
        pytest.skip("no /proc path for the spill file here")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        fps = np.array([1 << 60, 2 << 60], dtype=np.uint64)
        for k in range(3):
            seg = write_segment(fd, fps, np.zeros(2, dtype=np.uint32), CountIndex.BUCKET_BITS)
            ix.add_segment(["s"], [f"d{k}"], seg, [ix.site_number("s")])
    finally:
        os.close(fd)
    ix.freeze(count_map=lambda fn, items: map(fn, items))
    assert ixm._TABLE[1] is not None and ix.doc_freq("s", fps).tolist() == [3, 3]
    blob = tmp_path / "index.pkl"
    blob.write_bytes(pickle.dumps(ix.frozen_counts()))
    saved = dict(ec._W)
    try:
        assert ec._index_for(str(blob)).doc_freq("s", fps).tolist() == [3, 3]
        assert ixm._TABLE == [None, None]
    finally:
        ec._W.clear()
        ec._W.update(saved)


def test_the_job_keeps_only_the_counts_of_its_own_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once counted, run_corpus trades the store it made for its counts (FrozenCounts: no page
    ids held through the clean pass); a store the caller passed stays the caller's, whole. Same
    results either way."""
    from dedupe.engine import corpus as ec
    from dedupe.models import Document

    docs = [Document(f"p{i}", f"Menu Home News Sport\nArticle {i} about item {i * 7} and more words here {i}.\nFooter (c) 2024", url=f"https://a.example/{i}")
            for i in range(6)]
    shared = []
    share = ec._Mapper.share_index
    monkeypatch.setattr(ec._Mapper, "share_index", lambda self, ix: (shared.append(ix), share(self, ix))[1])
    own = [(r.text, r.spans) for r in ec.run_corpus(docs)]
    mine = CountIndex(min_count=2)
    theirs = [(r.text, r.spans) for r in ec.run_corpus(docs, index=mine)]
    assert own == theirs and any(s.kind == "template" for _, spans in own for s in spans)
    assert type(shared[0]).__name__ == "FrozenCounts" and shared[1] is mine


# ---------------------------------------------------------------------------------------------
# near-duplicate verification: the candidate pairs compared a group at a time
# ---------------------------------------------------------------------------------------------
def _near_dup_docs(monkeypatch: pytest.MonkeyPatch) -> list:
    import sys
    from pathlib import Path

    tests_dir = str(Path(__file__).resolve().parent)
    if tests_dir not in sys.path:
        monkeypatch.syspath_prepend(tests_dir)
    from test_corpus import _gen_docs

    return _gen_docs(0.3, 3, pages_per_site=6)


def _clusters(results) -> list:
    return sorted((r.doc_id, r.meta["cluster"], r.meta["canonical"], r.text) for r in results)


def test_the_job_compares_candidate_pairs_a_group_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a pool, the clustering shingles a group of candidate pages at a time (a task of
    about CHUNK_BYTES of pages), not every candidate at once; same clusters and scores."""
    from dedupe.engine import corpus as ec

    docs = _near_dup_docs(monkeypatch)
    want = _clusters(ec.run_corpus(docs))
    assert sum(1 for _, c, canon, _ in want if c is not None and not canon) >= 2
    held: list[int] = []
    compare = ec._compare_chunk
    monkeypatch.setattr(ec, "_compare_chunk", lambda task: (held.append(len(task[0])), compare(task))[1])
    monkeypatch.setattr(ec, "CHUNK_BYTES", 1)  # a pair per task
    assert _clusters(ec.run_corpus(docs)) == want
    assert len(held) >= 2 and max(held) <= 2


def test_the_job_with_a_pool_shingles_no_candidate_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a pool, the candidates' pages are shingled by the workers: the driver never calls
    shingle_set; same clusters as in one process."""
    from dedupe.engine import corpus as ec

    docs = _near_dup_docs(monkeypatch)
    want = _clusters(ec.run_corpus(docs))
    monkeypatch.setattr(neardup, "shingle_set", lambda *a, **k: pytest.fail("the driver shingled a page"))
    monkeypatch.setenv("DEDUPE_START_METHOD", "forkserver")
    assert _clusters(ec.run_corpus(docs, workers=2)) == want


def test_band_pair_keys_hold_only_what_they_found() -> None:
    """A band's pair keys own their memory: a view of the kernel's 2n-entry buffer kept it alive
    while the bands' keys piled up (~13-26 MB at 25,000 documents)."""
    col = np.arange(5000, dtype=np.uint64)
    col[10] = col[11] = 7
    got = neardup._band_pair_keys(col, len(col))
    assert got is not None and len(got) >= 1
    assert got.base is None or got.base.nbytes <= got.nbytes


@pytest.mark.parametrize("dtype", [np.uint64, np.int64])
def test_band_pair_keys_split_equal_the_whole_column(dtype) -> None:
    """A long band column goes to the kernel a part of its keys at a time (by their top bits):
    the same pairs as the kernel over the whole column and as the numpy reference, whatever the
    runs of equal keys."""
    if neardup._MH is None:
        pytest.skip("the minhash kernel is not built")
    from dedupe.core.hashing import sorted_unique

    rng = np.random.default_rng(9)
    for n in (2, 3, 50, 1000, 20000):
        col = rng.integers(0, 2**63, n, dtype=np.uint64).astype(dtype)
        col[rng.integers(0, n, n // 3)] = col[rng.integers(0, n, n // 3)]  # pairs and runs of equal keys
        col[rng.integers(0, n, max(1, n // 50))] = col[0]  # one long run
        whole = np.empty(2 * n, dtype=np.int64)
        k = neardup._MH.band_pair_keys(np.ascontiguousarray(col), whole)
        split = neardup._band_pair_keys_split(col, n)
        ref = neardup._band_pair_keys_numpy(col, n)
        want = sorted_unique(ref) if ref is not None else np.empty(0, np.int64)
        assert np.array_equal(sorted_unique(whole[:k]), want)
        assert np.array_equal(sorted_unique(split) if split is not None else np.empty(0, np.int64), want), n


def test_count_index_without_ids_counts_as_with_them() -> None:
    """CountIndex(track_ids=False) (the corpus job's own store: no page ids kept) gives the
    same page counts and document frequencies as the store that keeps the ids, through observe,
    observe_chunk and a pickle; it refuses what needs the ids."""
    import pickle

    from dedupe.errors import IndexStoreError

    rng = np.random.default_rng(4)
    pages = [(f"s{int(rng.integers(0, 5))}", f"d{d}", np.unique(rng.integers(0, 60, int(rng.integers(0, 12))).astype(np.uint64) << np.uint64(56)))
             for d in range(300)]
    a, b = CountIndex(min_count=2), CountIndex(min_count=2, track_ids=False)
    for ix in (a, b):
        for site, doc_id, fps in pages[:100]:
            ix.observe(site, doc_id, fps)
        part = pages[100:]
        ix.observe_chunk([p[0] for p in part], [p[1] for p in part], np.concatenate([p[2] for p in part]), np.array([len(p[2]) for p in part]))
    assert not b._doc_site and not b._pages  # no id kept
    q = np.arange(60, dtype=np.uint64) << np.uint64(56)
    for view in (b, pickle.loads(pickle.dumps(b)), b.frozen_counts()):
        for site in ("s0", "s1", "s2", "s3", "s4", "elsewhere"):
            assert view.site_pages(site) == a.site_pages(site)
            assert np.array_equal(view.doc_freq(site, q), a.doc_freq(site, q))
    assert sum(a.site_pages(f"s{i}") for i in range(5)) == 300 and a.doc_freq("s0", q).max() >= 2
    for call in (b.doc_ids, lambda: b.forget_site("s0"), lambda: b.forget_doc("d1")):
        with pytest.raises(IndexStoreError):
            call()


@pytest.mark.parametrize("policy", ["longest", "url", "first"])
def test_the_job_sorts_the_ids_once(monkeypatch: pytest.MonkeyPatch, policy: str) -> None:
    """The pages' id order is sorted once per job (crosspage.id_order) and handed to the canonical
    policies, the copy groups and the output order, which each sorted the ids again; policy_rank
    and page_groups give the same answers with the order handed to them."""
    from dedupe.engine import corpus as ec

    docs = _near_dup_docs(monkeypatch)
    cfg = Config(neardup=NearDupConfig(canonical=policy), corpus=CorpusConfig(crosspage_policy=policy))
    calls: list[int] = []
    real = crosspage.id_order
    monkeypatch.setattr(crosspage, "id_order", lambda ids: (calls.append(len(ids)), real(ids))[1])
    got = [(r.doc_id, r.text, r.spans, sorted(r.meta.items(), key=str)) for r in ec.run_corpus(docs, cfg, order="id")]
    assert calls == [len(docs)] and [g[0] for g in got] == sorted(d.id for d in docs)
    ids = [d.id for d in docs]
    urls = [d.url for d in docs]
    lengths = [len(d.text) for d in docs]
    order = real(ids)
    assert order.tolist() == sorted(range(len(ids)), key=ids.__getitem__)
    assert np.array_equal(crosspage.policy_rank(policy, ids=ids, urls=urls, lengths=lengths, order=lambda: order),
                          crosspage.policy_rank(policy, ids=ids, urls=urls, lengths=lengths))


def test_the_job_sorts_no_ids_when_nothing_needs_them_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Policies "first", no templates (no copy groups), input order: the ids are never sorted, as
    before the order was shared (ids that do not sort together, e.g. from a caller that passed
    numbers, still go through)."""
    from dedupe.config import TemplateConfig
    from dedupe.engine import corpus as ec
    from dedupe.models import Document

    calls: list[int] = []
    real = crosspage.id_order
    monkeypatch.setattr(crosspage, "id_order", lambda ids: (calls.append(len(ids)), real(ids))[1])
    cfg = Config(templates=TemplateConfig(enabled=False), neardup=NearDupConfig(canonical="first"), corpus=CorpusConfig(crosspage_policy="first"))
    body = "The same long paragraph about the river and the town, repeated on both pages here."
    docs = [Document(1, body + " One."), Document("b", body + " Two."), Document(3.5, "Something else entirely.")]  # type: ignore[arg-type]
    got = [r.doc_id for r in ec.run_corpus(docs, cfg, order="input")]
    assert got == [1, "b", 3.5] and calls == []


def test_count_index_refuses_an_id_twice_in_one_segment() -> None:
    """add_segment refuses a page id given twice in one call, as observe does, and registers
    nothing of the call."""
    from dedupe.errors import IndexStoreError

    ix = CountIndex()
    ix.add_segment(["s"], ["x"], None)
    for ids in (["a", "a"], ["b", "x"]):
        with pytest.raises(IndexStoreError, match="observed twice"):
            ix.add_segment(["s", "s"], ids, None)
    assert ix.doc_ids() == ["x"] and ix.site_pages("s") == 1


def test_band_pair_keys_split_takes_big_endian_keys() -> None:
    """A long band column in big-endian order (lsh_pairs takes any uint64 keys) is split and
    paired as in native order."""
    if neardup._MH is None:
        pytest.skip("the minhash kernel is not built")
    rng = np.random.default_rng(2)
    col = rng.integers(0, 50, 9000).astype(np.uint64)
    want = neardup._band_pair_keys(col, len(col))
    got = neardup._band_pair_keys(col.astype(">u8"), len(col))
    assert got is not None and np.array_equal(np.sort(got), np.sort(want))


def test_cluster_holds_flat_arrays_per_candidate_pair() -> None:
    """The clustering keeps the compared pairs' counts in flat arrays (a dict of tuples took
    ~410 bytes a pair at its peak): 140,000 candidate pairs, traced peak under 250 bytes a pair,
    LSH included."""
    import tracemalloc

    cfg = Config()
    rng = np.random.default_rng(0)
    n = 3000
    sigs = rng.integers(0, 2, (n, 128)).astype(np.uint32) + 7  # two values a row: big LSH buckets
    n_sh = np.full(n, 100)
    n_pairs = len(neardup.candidates(sigs, n_sh, cfg.neardup))
    assert n_pairs > 100_000

    def many(p: np.ndarray) -> np.ndarray:  # counts of pairs that do not verify
        out = np.zeros((len(p), 3), dtype=np.int64)
        out[:, 0], out[:, 1:] = 1, 100
        return out

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        got = neardup.cluster(sigs, n_sh, lambda i: pytest.fail("get_text called"), cfg, ids=[f"d{i:05d}" for i in range(n)],
                              urls=[None] * n, lengths=[100] * n, compare_many=many)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert (got.canonical < 0).all()
    assert peak / n_pairs < 250, peak / n_pairs


def _results(results) -> list:
    return sorted((r.doc_id, r.text, r.removed_spans, sorted(r.meta.items())) for r in results)


def test_a_pool_sized_task_is_worked_a_part_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task as large as a pool's (POOL_CHUNK_SCALE / OBSERVE_CHUNK_SCALE times a one-process
    chunk) tokenises and cleans its pages in parts of a one-process chunk each, so a worker's work
    memory is one part's; the results equal those of small tasks."""
    from dedupe.engine import corpus as ec

    docs = _near_dup_docs(monkeypatch)
    want = _results(ec.run_corpus(docs))
    monkeypatch.setattr(ec, "CHUNK_DOCS", 3)
    init = ec._Mapper.__init__

    def pool_sized(self, *a, **k):  # the task sizes of a pool, in this process
        init(self, *a, **k)
        self.scale, self.observe_scale = ec.POOL_CHUNK_SCALE, ec.OBSERVE_CHUNK_SCALE

    tasks: list[int] = []
    texts: list[int] = []
    clean, tokenize_batch = ec._clean_chunk, ec.tokenize_batch
    monkeypatch.setattr(ec._Mapper, "__init__", pool_sized)
    monkeypatch.setattr(ec, "_clean_chunk", lambda task: (tasks.append(len(task[0])), clean(task))[1])
    monkeypatch.setattr(ec, "tokenize_batch", lambda t: (texts.append(len(t)), tokenize_batch(t))[1])
    assert _results(ec.run_corpus(docs)) == want
    assert max(tasks) > 3 and max(texts) <= 3


@pytest.mark.parametrize("in_memory", [1 << 40, 0])
def test_lsh_pairs_blocks_equal_the_whole_keys_array(monkeypatch: pytest.MonkeyPatch, in_memory: int) -> None:
    """The band keys written block by block, in memory (band-major, in place) or to the file,
    give the pairs of the whole keys array at once."""
    from dedupe.core.minhash import band_keys

    sigs = _sigs(700, seed=5)
    sigs[100:140] = sigs[0]  # a bucket in every band
    want = neardup.lsh_pairs(band_keys(sigs, 32))
    assert len(want) > 300
    monkeypatch.setattr(neardup, "SIG_BLOCK", 64)  # 11 blocks, the last one short
    monkeypatch.setattr(neardup, "BAND_KEYS_IN_MEMORY", in_memory)
    got = neardup._lsh_pairs_blocks(lambda idx: sigs[idx], len(sigs), 32)
    assert got.dtype == want.dtype and np.array_equal(got, want)
