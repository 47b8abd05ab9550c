"""SQLiteIndex against the IndexStore protocol and the MemoryIndex reference; opening safety."""

from __future__ import annotations

import pickle
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from dedupe.config import Config, NearDupConfig, SignatureConfig, TemplateConfig
from dedupe.engine.index import IndexStore, MemoryIndex
from dedupe.errors import IndexConfigMismatch, IndexStoreError
from dedupe.stores.sqlite import SCHEMA_VERSION, SQLiteIndex, from_i64, to_i64

U64 = np.uint64


def fps(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=U64)


def state(ix: IndexStore, sites: list[str], universe: np.ndarray, band_probe: list[np.ndarray]) -> tuple:
    return (
        ix.doc_ids(),
        {s: ix.doc_ids(s) for s in sites},
        {s: ix.site_pages(s) for s in sites},
        {s: ix.doc_freq(s, universe).tolist() for s in sites},
        [ix.band_candidates(k) for k in band_probe],
        {d: (None if (g := ix.get_signature(d)) is None else g.tolist()) for d in [f"d{i}" for i in range(12)]},
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_agree_with_memory_index(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    # fingerprints straddle 2**63 so the signed int64 storage is exercised
    universe = np.array(sorted({rng.randrange(2**64) for _ in range(40)} | {0, 2**63 - 1, 2**63, 2**64 - 1}), dtype=U64)
    sites = ["a", "b", "c"]
    band_probe = [np.array([rng.randrange(4) for _ in range(3)], dtype=U64) for _ in range(6)]
    mem, sql = MemoryIndex(), SQLiteIndex(tmp_path / "i.db")
    assert isinstance(sql, IndexStore)
    for step in range(60):
        op = rng.random()
        doc = f"d{rng.randrange(12)}"
        if op < 0.45:
            site = rng.choice(sites)
            chosen = universe[rng.sample(range(len(universe)), rng.randrange(0, 15))]
            chosen = np.concatenate([chosen, chosen[:2]])  # duplicates in the input are counted once
            for ix in (mem, sql):
                ix.observe(site, doc, chosen)
        elif op < 0.6:
            batch = [(rng.choice(sites), f"d{rng.randrange(12)}", universe[rng.sample(range(len(universe)), 5)]) for _ in range(4)]
            mem.observe_many(batch)
            sql.observe_many(batch)
        elif op < 0.8:
            sig = np.array([rng.randrange(2**32) for _ in range(6)], dtype=np.uint32)
            keys = np.array([rng.randrange(4) for _ in range(3)], dtype=U64)
            for ix in (mem, sql):
                ix.put_signature(doc, sig, keys)
        elif op < 0.93:
            for ix in (mem, sql):
                ix.forget_doc(doc)
        else:
            site = rng.choice(sites)
            for ix in (mem, sql):
                ix.forget_site(site)
        assert state(sql, sites, universe, band_probe) == state(mem, sites, universe, band_probe), f"step {step}"
    sql.close()
    # and after reopening the file
    with SQLiteIndex(tmp_path / "i.db") as again:
        assert state(again, sites, universe, band_probe) == state(mem, sites, universe, band_probe)
        assert again.integrity_check() == ["ok"]


def test_int64_round_trip() -> None:
    a = np.array([0, 1, 2**63 - 1, 2**63, 2**64 - 1], dtype=U64)
    assert to_i64(a) == [0, 1, 2**63 - 1, -(2**63), -1]
    assert np.array_equal(from_i64(to_i64(a)), a)


def test_reobserve_does_not_double_count(tmp_path: Path) -> None:
    with SQLiteIndex(tmp_path / "i.db") as ix:
        for _ in range(3):
            ix.observe("s", "a", fps(1, 2, 3))
        ix.observe("s", "b", fps(2))
        assert ix.site_pages("s") == 2
        assert ix.doc_freq("s", fps(1, 2, 3)).tolist() == [1, 2, 1]
        ix.observe("t", "a", fps(2))  # moved to another site: its old contribution goes
        assert ix.site_pages("s") == 1 and ix.site_pages("t") == 1
        assert ix.doc_freq("s", fps(1, 2, 3)).tolist() == [0, 1, 0]
        # one batch holding the same id twice: the later item wins, counted once
        ix.observe_many([("s", "c", fps(7)), ("s", "c", fps(8))])
        assert ix.doc_freq("s", fps(7, 8)).tolist() == [0, 1]


def test_forget(tmp_path: Path) -> None:
    with SQLiteIndex(tmp_path / "i.db") as ix:
        ix.observe_many([("s", "a", fps(1, 2)), ("s", "b", fps(2)), ("t", "c", fps(2))])
        ix.put_signature("a", np.arange(4, dtype=np.uint32), fps(5, 6))
        ix.forget_doc("a")
        assert ix.doc_freq("s", fps(1, 2)).tolist() == [0, 1]
        assert ix.get_signature("a") is None and ix.band_candidates(fps(5, 6)) == []
        ix.forget_site("s")
        assert ix.doc_ids() == ["c"] and ix.site_pages("s") == 0
        assert ix.doc_freq("t", fps(2)).tolist() == [1]
        n = ix.conn.execute("SELECT count(*) FROM site_fp").fetchone()[0]
        assert n == 0  # no orphan rows left behind (a fingerprint on one page has no site_fp row)
        assert ix.stats()["fingerprints"] == 1 and ix.conn.execute("SELECT count(*) FROM sites").fetchone()[0] == 1


def test_pickle_reopens_same_file(tmp_path: Path) -> None:
    with SQLiteIndex(tmp_path / "i.db") as ix:
        ix.observe("s", "a", fps(9))
        clone = pickle.loads(pickle.dumps(ix))
        assert clone.doc_freq("s", fps(9)).tolist() == [1]
        clone.close()


# -- opening safety ----------------------------------------------------------------------------
def test_config_mismatch_is_refused_and_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    with SQLiteIndex(path, config=Config()) as ix:
        ix.observe("s", "a", fps(1))
    before = path.read_bytes()
    for other in (Config(signature=SignatureConfig(num_perm=64)), Config(neardup=NearDupConfig(bands=16))):
        with pytest.raises(IndexConfigMismatch, match="other hashing settings"):
            SQLiteIndex(path, config=other)
    assert path.read_bytes() == before
    # settings that only change decisions, not hashes, are accepted
    with SQLiteIndex(path, config=Config(templates=TemplateConfig(min_pages=3))) as ix:
        assert ix.doc_freq("s", fps(1)).tolist() == [1]


def test_not_an_index_is_refused_and_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not an index\n" * 100)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    for path, msg in ((text, "not an SQLite file"), (other, "not a dedupe index")):
        before = path.read_bytes()
        with pytest.raises(IndexStoreError, match=msg):
            SQLiteIndex(path)
        assert path.read_bytes() == before
    with pytest.raises(IndexStoreError, match="directory"):
        SQLiteIndex(tmp_path)


def test_damaged_index_gives_index_errors_only(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    rng = np.random.default_rng(0)
    with SQLiteIndex(path) as ix:
        ix.observe_many([("s", f"d{i}", rng.integers(0, 2**63, 300).astype(U64)) for i in range(50)])
    data = bytearray(path.read_bytes())
    # keep the header page, scribble over the rest
    data[4096:] = rng.integers(0, 256, len(data) - 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(IndexStoreError):
        with SQLiteIndex(path) as ix:
            ix.doc_freq("s", fps(1, 2, 3))
            ix.stats()
    assert path.read_bytes() == before
    # a truncated header page
    path.write_bytes(before[:100])
    with pytest.raises(IndexStoreError):
        SQLiteIndex(path)


def test_missing_file_is_created_and_empty_file_initialised(tmp_path: Path) -> None:
    with SQLiteIndex(tmp_path / "new.db") as ix:
        assert ix.stats()["pages"] == 0
    empty = tmp_path / "empty.db"
    empty.touch()
    with SQLiteIndex(empty) as ix:
        ix.observe("s", "a", fps(1))
    with SQLiteIndex(empty) as ix:
        assert ix.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        assert ix.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(IndexStoreError, match="does not exist"):
        SQLiteIndex(tmp_path / "no" / "dir.db")


def test_new_index_pages_are_16k_and_a_4k_index_keeps_working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dedupe.stores import sqlite as store_mod

    with SQLiteIndex(tmp_path / "new.db") as ix:
        ix.observe("s", "a", fps(1))
        assert ix.conn.execute("PRAGMA page_size").fetchone()[0] == store_mod.PAGE_SIZE == 16384
    monkeypatch.setattr(store_mod, "PAGE_SIZE", 4096)  # an index made before 16 KiB pages
    with SQLiteIndex(tmp_path / "old.db") as ix:
        ix.observe("s", "a", fps(1, 2))
    monkeypatch.undo()
    with SQLiteIndex(tmp_path / "old.db") as ix:
        ix.observe("s", "b", fps(2, 3))
        assert ix.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert ix.doc_freq("s", fps(1, 2, 3)).tolist() == [1, 2, 1]
        assert ix.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_fingerprints_of_any_layout_are_stored_as_their_values(tmp_path: Path) -> None:
    # blobs go to SQLite through the buffer protocol: a strided or other-dtype array is made a
    # contiguous uint64 copy first, so what is stored (and undone on re-observe) is its values
    wide = np.arange(20, dtype=np.uint64) * np.uint64(3)
    with SQLiteIndex(tmp_path / "i.db") as ix:
        ix.observe("s", "a", wide[::2])  # strided view: 0, 6, 12, ...
        ix.observe("s", "b", np.array([6, 7], dtype=np.int64))
        assert ix.doc_fingerprints(["a"])["a"].tolist() == wide[::2].tolist()
        assert ix.doc_freq("s", fps(0, 6, 7)).tolist() == [1, 2, 1]
        ix.observe("s", "a", fps(7))  # re-observed: the strided page's contribution is undone
        assert ix.doc_freq("s", fps(0, 6, 7)).tolist() == [0, 1, 2]


def test_batched_writes_and_lookups_agree_with_counting(tmp_path: Path) -> None:
    """Batches with repeated (site, fingerprint) pairs (several distinct counts in one batch,
    fingerprints straddling 2**63), re-observes, and the batched read paths."""
    rng = random.Random(7)
    universe = [rng.randrange(2**64) for _ in range(30)] + [0, 2**63 - 1, 2**63, 2**64 - 1]
    truth: dict[str, tuple[str, set[int]]] = {}
    with SQLiteIndex(tmp_path / "i.db") as ix:
        for _ in range(5):
            batch = []
            for _ in range(8):
                doc, site = f"d{rng.randrange(15)}", rng.choice(["a", "b"])
                chosen = set(rng.sample(universe, rng.randrange(0, 12)))
                batch.append((site, doc, np.array(sorted(chosen), dtype=U64)))
                truth[doc] = (site, chosen)
            ix.observe_many(batch)
        for site in ("a", "b"):
            expect = {fp: sum(1 for s, ch in truth.values() if s == site and fp in ch) for fp in universe}
            assert ix.doc_freq(site, np.array(universe, dtype=U64)).tolist() == [expect[fp] for fp in universe]
            keys, pages = ix.site_doc_freqs(site, 2)
            assert dict(zip(keys.tolist(), pages.tolist())) == {fp: n for fp, n in expect.items() if n >= 2}
            assert keys.tolist() == sorted(keys.tolist())
        sigs = [(f"d{i}", np.arange(6, dtype=np.uint32) + i, np.array([i % 3, 7, 2**63 + i % 2], dtype=U64)) for i in range(15)]
        ix.put_signatures(sigs)
        ix.put_signatures(sigs[:4])  # replacing stored signatures leaves no stale bucket entries
        probe = np.array([[0, 7, 2**63], [1, 9, 5], [2, 8, 2**63 + 1]], dtype=U64)
        assert ix.band_candidates_many(probe) == [ix.band_candidates(k) for k in probe]
        assert ix.band_candidates_many(probe)[1] == sorted(f"d{i}" for i in range(15) if i % 3 == 1)
        assert ix.integrity_check() == ["ok"]


def test_index_takes_the_same_rows_as_clean_corpus(tmp_path) -> None:
    import dedupe

    with dedupe.open_index(tmp_path / "i.db") as idx:
        assert idx.clean({"id": 7, "text": "Some page text here."}).doc_id == "7"  # integer ids, as in JSONL
        assert idx.clean({"id": "h", "html": "<p>Hello <b>html</b> page</p>"}).text == "Hello html page"
        with pytest.raises(dedupe.InputError, match="needs an 'id'"):
            idx.clean({"text": "no id"})
        with pytest.raises(dedupe.InputError, match="missing text field"):
            idx.clean({"id": "x"})


@pytest.mark.parametrize("cache_fps", [0, 10**9], ids=["no-cache", "cached"])
def test_two_connections_alternating_writes_keep_exact_counts(tmp_path: Path, cache_fps: int) -> None:
    """Each connection's in-memory sets of seen fingerprints go stale when the other one writes
    the same site (sites.gen tells), and with cache_fps=0 they are rebuilt from the page blobs on
    every write: counts stay exact either way, re-observes and forgets included."""
    rng = random.Random(11)
    universe = np.array(sorted({rng.randrange(2**64) for _ in range(30)} | {0, 2**63, 2**64 - 1}), dtype=U64)
    mem = MemoryIndex()
    a = SQLiteIndex(tmp_path / "i.db", cache_fps=cache_fps)
    b = SQLiteIndex(tmp_path / "i.db", cache_fps=cache_fps)
    try:
        for step in range(80):
            ix = a if step % 3 else b
            doc, site = f"d{rng.randrange(10)}", rng.choice(["s", "t"])
            if rng.random() < 0.85:
                chosen = universe[rng.sample(range(len(universe)), rng.randrange(0, 12))]
                mem.observe(site, doc, chosen)
                ix.observe(site, doc, chosen)
            else:
                if doc in mem.doc_ids():
                    mem.forget_doc(doc)
                ix.forget_docs([doc])
            for site in ("s", "t"):
                want = mem.doc_freq(site, universe).tolist()
                assert a.doc_freq(site, universe).tolist() == want and b.doc_freq(site, universe).tolist() == want, step
                keys, pages = b.site_doc_freqs(site, 2)
                assert dict(zip(keys.tolist(), pages.tolist())) == {int(f): n for f, n in zip(universe.tolist(), want) if n >= 2}
        st = a.stats()
        assert st["fingerprints"] == sum(int((mem.doc_freq(s, universe) > 0).sum()) for s in ("s", "t"))
    finally:
        a.close()
        b.close()


def test_cleaned_texts_stored_as_cuts_of_the_stored_original(tmp_path: Path) -> None:
    import dedupe
    from dedupe.models import Document

    from index_corpus import multi_site

    docs = multi_site(pages=4)
    with dedupe.open_index(tmp_path / "i.db") as idx:
        results = list(idx.corpus(docs))
        store = idx.store
        assert any(r.removed_spans for r in results)
        for r in results:
            assert store.get_text(r.doc_id, clean=True) == r.text
        n_cuts, n_blobs = store.conn.execute("SELECT count(cuts), count(clean) FROM cleans").fetchone()
        assert n_cuts == len(results) and n_blobs == 0
        # cleaned from another text than the stored one (the page changed): kept as text
        d = docs[0]
        sig = np.arange(128, dtype=np.uint32)
        other = "Another text entirely. " + d.text
        store.put_signatures([(d.id, sig, np.arange(32, dtype=U64), {"clean_text": "Another text", "original": other, "cuts": np.array([12, len(other)])})])
        assert store.get_text(d.id, clean=True) == "Another text"
        assert store.conn.execute("SELECT count(clean) FROM cleans").fetchone()[0] == 1
        # re-observed with a new text: the old cleaned text goes with the old original
        idx.observe([Document(d.id, other, url=d.url)])
        assert store.get_text(d.id, clean=True) is None and store.get_text(d.id) == other


def test_merge_counts_equals_unique_with_counts() -> None:
    from dedupe.stores.sqlite import _merge_counts

    rng = np.random.default_rng(1)
    for t in range(100):
        high = 50 if t % 2 else 2**64  # small range: many values shared between arrays
        arrays = [np.unique(rng.integers(0, high, int(rng.integers(0, 30)), dtype=U64)) for _ in range(int(rng.integers(1, 5)))]
        keys, counts = _merge_counts(arrays)
        want_keys, want_counts = np.unique(np.concatenate(arrays), return_counts=True)
        assert np.array_equal(keys, want_keys) and np.array_equal(counts, want_counts)


def test_seen_set_contains_add_and_remove_equal_python_sets() -> None:
    from dedupe.stores.sqlite import _FpSet

    rng = np.random.default_rng(2)
    for t in range(60):
        high = 40 if t % 2 else 2**64  # small range: pages share many fingerprints
        fs, ref = _FpSet(), set()
        for _ in range(int(rng.integers(1, 8))):
            keys = np.unique(rng.integers(0, high, int(rng.integers(0, 25)), dtype=U64))
            seen = fs.contains_add(keys)
            assert seen.tolist() == [int(k) in ref for k in keys.tolist()]
            ref |= set(keys.tolist())
            assert fs.array().tolist() == sorted(ref) and fs.size == len(ref)
        gone = np.array(sorted(ref)[::3], dtype=U64)
        fs.remove(gone)
        ref -= set(gone.tolist())
        assert fs.array().tolist() == sorted(ref)
        assert fs.contains(gone).sum() == 0


def test_seen_set_merge_add_equals_the_search_path() -> None:
    """Many keys at once (a batch's pages of a site) are merged into the set; the answers and the
    set equal those of the key-by-key path (binary searches, the small array) and of a Python set."""
    from dedupe.stores.sqlite import _FpSet

    class _Searching(_FpSet):
        MERGE_AT = -1  # never merges at once

    rng = np.random.default_rng(7)
    for t in range(40):
        high = 3000 if t % 2 else 2**64
        base = np.unique(rng.integers(0, high, int(rng.integers(0, 2000)), dtype=U64))
        merged, searched, ref = _FpSet(base.copy()), _Searching(base.copy()), set(base.tolist())
        for _ in range(6):
            keys = np.unique(rng.integers(0, high, int(rng.integers(0, 1500)), dtype=U64))
            want = [int(k) in ref for k in keys.tolist()]
            assert merged._merge_add(keys).tolist() == want
            assert searched.contains_add(keys).tolist() == want
            ref |= set(keys.tolist())
            assert merged.array().tolist() == sorted(ref) == searched.array().tolist()
            assert merged.size == len(ref) == searched.size


def test_seen_set_of_a_large_site_adds_pages_through_the_small_array() -> None:
    """A large set takes a page's new fingerprints into its small sorted ``recent`` array (no copy
    of the whole set per page) and merges it later; membership, removal and the sorted array
    always equal a Python set's."""
    from dedupe.stores.sqlite import _FpSet

    rng = np.random.default_rng(4)
    base = np.unique(rng.integers(0, 2**64, 4000, dtype=U64))
    fs, ref = _FpSet(base.copy()), set(base.tolist())
    used_recent = merged = 0
    for step in range(120):
        old = rng.choice(base, 20)  # a page: some fingerprints seen before, some new
        keys = np.unique(np.concatenate([old, rng.integers(0, 2**64, 30, dtype=U64)]))
        before = len(fs.recent)
        seen = fs.contains_add(keys)
        assert seen.tolist() == [int(k) in ref for k in keys.tolist()]
        ref |= set(keys.tolist())
        used_recent += len(fs.recent) > 0
        merged += len(fs.recent) < before
        probe = np.unique(np.concatenate([keys, rng.integers(0, 2**64, 10, dtype=U64)]))
        assert fs.contains(probe).tolist() == [int(k) in ref for k in probe.tolist()]
        assert fs.size == len(ref)
        if step % 40 == 39:
            gone = np.array(sorted(ref)[::7], dtype=U64)
            fs.remove(gone)
            ref -= set(gone.tolist())
            assert fs.array().tolist() == sorted(ref)
    assert used_recent > 60 and merged >= 1  # the small array is used, and merged when it grows
    assert fs.array().tolist() == sorted(ref)


def test_band_rows_sorted_and_complete() -> None:
    from dedupe.stores.sqlite import _band_rows, bucket_keys

    rng = np.random.default_rng(3)
    for lens in ([32, 32, 32], [32, 0, 32, 5]):  # the usual case and ragged band counts
        keys = [rng.integers(0, 2**64, n, dtype=U64) for n in lens]
        dids = [7, 3, 11, 5][: len(lens)]
        bk, did = _band_rows(dids, keys)
        want = sorted((b, d) for d, k in zip(dids, keys) if len(k) for b in bucket_keys(k).tolist())
        assert list(zip(bk.tolist(), did.tolist())) == want


@pytest.mark.parametrize("cache_buckets", [0, 10**9], ids=["no-cache", "cached"])
def test_two_connections_band_lookups_see_each_others_signatures(tmp_path: Path, cache_buckets: int) -> None:
    """Each connection's in-memory bucket ids (a superset of the bucket table) go stale when the
    other one writes signatures (meta bgen tells) and catch up from sigs.bgen: look-ups always
    equal the MemoryIndex reference, replaced and forgotten signatures included."""
    rng = random.Random(5)
    mem = MemoryIndex()
    a = SQLiteIndex(tmp_path / "i.db", cache_buckets=cache_buckets)
    b = SQLiteIndex(tmp_path / "i.db", cache_buckets=cache_buckets)
    a.bk_cache_min = b.bk_cache_min = 0  # build the cache on the first look-up, however small
    keyspace = [np.array([rng.randrange(2**64) for _ in range(4)], dtype=U64) for _ in range(12)]
    # many stored buckets first: later writes land in the cache's small `recent` array
    pre = [(f"pre{i}", np.zeros(8, dtype=np.uint32), np.array([rng.randrange(2**64) for _ in range(4)], dtype=U64)) for i in range(100)]
    for item in pre:
        mem.put_signature(*item)
    a.put_signatures(pre)
    used_recent = False
    try:
        for step in range(60):
            ix = a if step % 3 else b
            doc = f"d{rng.randrange(10)}"
            if rng.random() < 0.8:
                # band keys drawn from a small pool: pages share buckets
                keys = np.array([keyspace[rng.randrange(12)][j] for j in range(4)], dtype=U64)
                sig = np.array([rng.randrange(2**32) for _ in range(8)], dtype=np.uint32)
                mem.put_signature(doc, sig, keys)
                ix.put_signatures([(doc, sig, keys)])
            else:
                if doc in mem.doc_ids() or mem.get_signature(doc) is not None:
                    mem.forget_doc(doc)
                ix.forget_docs([doc])
            probe = np.stack([keyspace[rng.randrange(12)] for _ in range(3)] + [np.array([rng.randrange(2**64) for _ in range(4)], dtype=U64)])
            want = [mem.band_candidates(k) for k in probe]
            assert a.band_candidates_many(probe) == want and b.band_candidates_many(probe) == want, step
            used_recent |= any(c is not None and len(c[2]) > 0 for c in (a._bk_cache, b._bk_cache))
        if cache_buckets:
            assert a._bk_cache is not None and b._bk_cache is not None and used_recent  # the cached paths ran
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("old", [2, 3, 4, 5])
def test_older_schema_version_is_refused_untouched(tmp_path: Path, old: int) -> None:
    path = tmp_path / "old.db"
    with SQLiteIndex(path) as ix:
        ix.observe("s", "a", fps(1, 2))
        ix.checkpoint()
    conn = sqlite3.connect(path)
    if old == 3:  # what a schema-3 writer leaves: no page identities, no raw signatures
        conn.execute("DROP TABLE raws")
        conn.execute("DROP INDEX docs_ident")
        conn.execute("ALTER TABLE docs DROP COLUMN ukey")
        conn.execute("ALTER TABLE docs DROP COLUMN tkey")
    # (schema 2: no bucket generations either; schema 4: the same tables, texts zlib-compressed;
    # schema 5: texts Brotli-compressed, in 4 KiB pages) its version in meta
    conn.execute(f"UPDATE meta SET value = '{old}' WHERE key = 'schema_version'")
    conn.execute(f"PRAGMA user_version={old}")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(IndexStoreError, match=f"schema version {old}, .* reads version {SCHEMA_VERSION}; build a new index"):
        SQLiteIndex(path)
    assert path.read_bytes() == before


def test_a_batch_left_half_read_keeps_the_signatures_of_what_it_yielded(tmp_path: Path) -> None:
    import dedupe

    from index_corpus import multi_site

    docs = multi_site(pages=4)
    idx = dedupe.open_index(tmp_path / "i.db")
    idx.link_chunk = 2
    gen = idx.corpus(docs)
    first = next(gen)
    idx.close()  # the caller stops reading and closes the index: no error, nothing lost
    del gen
    n = sqlite3.connect(tmp_path / "i.db").execute("SELECT count(*) FROM sigs").fetchone()[0]
    assert n >= 1
    with dedupe.open_index(tmp_path / "i.db") as again:
        assert again.store.get_text(first.doc_id, clean=True) == first.text


@pytest.mark.parametrize("store_text", [True, False])
def test_lone_surrogates_in_api_documents_are_stored_and_read_back(tmp_path: Path, store_text: bool) -> None:
    import dedupe
    from dedupe.models import Document

    text = "Paragraph one with a broken \ud800 character in it, from a JSON escape.\nSecond line here.\n"
    with dedupe.open_index(tmp_path / "i.db", store_text=store_text) as idx:
        (r,) = list(idx.corpus([Document("a", text, url="https://s.example/a")]))
        assert r.rebuild() == text
        if store_text:
            assert idx.store.get_text("a") == text and idx.store.get_text("a", clean=True) == r.text


def test_index_from_a_version_with_other_hashing_says_to_rebuild(tmp_path: Path) -> None:
    """An index whose stored settings hash otherwise under this version (the tokeniser or the
    fingerprint scheme changed, e.g. case folding) is refused whatever config is passed, with a
    message that says to build a new index (no config can make it readable)."""
    import json as _json

    path = tmp_path / "i.db"
    with SQLiteIndex(path, config=Config()) as ix:
        ix.observe("s", "a", fps(1))
    con = sqlite3.connect(path)
    (raw,) = con.execute("SELECT value FROM meta WHERE key = 'hash_settings'").fetchone()
    old = _json.loads(raw)
    old["fingerprint"] = "0123456789abcdef"  # what an older tokeniser version stored
    con.execute("UPDATE meta SET value = ? WHERE key = 'hash_settings'", (_json.dumps(old),))
    con.commit()
    con.close()
    before = path.read_bytes()
    for cfg in (None, Config()):
        with pytest.raises(IndexConfigMismatch, match="build a new index file"):
            SQLiteIndex(path, config=cfg)
    assert path.read_bytes() == before


# -- copies of one page: identities and raw signatures (schema 4) --------------------------------
def test_copy_candidates_follow_the_page_groups_pair_rule(tmp_path: Path) -> None:
    """For every query identity, the stored pages returned are exactly those that
    ``neardup.page_groups`` joins with it when both have the same raw text (same site), and
    never pages of another site or excluded ids."""
    from dedupe.engine.neardup import PageId, page_groups

    idents = [PageId(u, t) for u in (None, "ex.com/a", "ex.com/b") for t in (None, "t", "x")]
    sig = np.arange(1, 129, dtype=np.uint32)
    with SQLiteIndex(tmp_path / "i.db") as ix:
        items = [("s", f"p{k}", fps(k + 1), {"page": pid, "raw_sig": sig}) for k, pid in enumerate(idents)]
        items.append(("other", "o", fps(99), {"page": PageId(None, None), "raw_sig": sig}))
        items.append(("s", "no-raw", fps(98), {"page": PageId(None, None)}))  # observed without a raw signature
        ix.observe_many(items)
        for q in idents:
            got = [(d, PageId(u, t)) for d, u, t, g in ix.copy_candidates("s", q.url, q.title, exclude={"p0"})]
            assert all(np.array_equal(g, sig) for *_, g in ix.copy_candidates("s", q.url, q.title))
            want = [(f"p{k}", pid) for k, pid in enumerate(idents)
                    if k != 0 and page_groups(np.stack([sig, sig]), ["s", "s"], 0.8, 32, [q, pid])]
            assert got == want, q
        # re-observing replaces the identity and signature; forgetting removes them
        ix.observe_many([("s", "p4", fps(5), {"page": PageId("ex.com/c", None), "raw_sig": sig + 1})])
        assert [d for d, *_ in ix.copy_candidates("s", "ex.com/a", None)] == ["p0", "p1", "p2", "p3", "p5"]  # p4 left ex.com/a
        got = ix.copy_candidates("s", "ex.com/c", "zz")
        assert [(d, u, t) for d, u, t, _ in got] == [("p0", None, None), ("p4", "ex.com/c", None)]
        assert np.array_equal(got[1][3], sig + 1)
        ix.observe("s", "p4", fps(5))  # observed again without identity or raw signature
        assert "p4" not in [d for d, *_ in ix.copy_candidates("s", None, None)]
        ix.forget_docs(["p0"])
        assert "p0" not in [d for d, *_ in ix.copy_candidates("s", None, None)]
        assert ix.conn.execute("SELECT count(*) FROM raws r LEFT JOIN docs d ON d.did = r.did WHERE d.did IS NULL").fetchone()[0] == 0
        assert ix.stats()["raw_signatures"] == len(idents) - 2 + 1
        ix.compact()
        assert ix.integrity_check() == ["ok"]


def _brute_candidates(path: Path, site: str, url_key, title_key, exclude, sig, thr) -> list:
    """The stored pages a look-up must return, by brute force: every page of the site with a
    raw signature whose identity the pair rule does not tell apart and whose estimate reaches
    ``thr``."""
    con = sqlite3.connect(path)
    rows = con.execute(
        "SELECT d.doc_id, d.ukey, d.tkey, r.sig FROM docs d JOIN raws r ON r.did = d.did JOIN sites s ON s.site_id = d.site_id "
        "WHERE s.name = ? ORDER BY d.doc_id", (site,)).fetchall()
    con.close()
    out = []
    for d, u, t, g in rows:
        g = np.frombuffer(g, dtype=np.uint32)
        if d in exclude or float((g == sig).mean()) < thr:
            continue
        if url_key is not None and u is not None:
            if url_key != u:
                continue
        elif title_key is not None and t is not None and title_key != t:
            continue
        out.append((d, u, t))
    return out


@pytest.mark.parametrize("cache_raws,recent", [(200_000, 256), (3, 256), (200_000, 2)])
def test_copy_candidates_of_two_connections_writing_alternately_match_brute_force(
    tmp_path: Path, cache_raws: int, recent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Look-ups without URL key answer from a per-connection cache of each site's identities and
    raw signatures (LSH buckets over the rows, plus the rows added since one by one), kept
    current through ``sites.gen`` (additions read alone, a removal or re-observation rebuilds):
    with another connection adding, re-observing and forgetting pages in between, with a cache
    small enough to evict, and with the buckets rebuilt often (``recent``), they equal a brute
    force pass over the file. A write transaction that fails after a look-up leaves no trace in
    the cache."""
    from dedupe.engine.neardup import PageId
    from dedupe.stores import sqlite as sq

    monkeypatch.setattr(sq._RawSite, "RECENT_MIN", recent)
    rng = random.Random(3)
    base = np.array([rng.randrange(2**32) for _ in range(128)], dtype=np.uint32)

    def sig_near(k: int) -> np.ndarray:  # k of 128 values changed: estimate 1 - k/128 to base
        s = base.copy()
        s[rng.sample(range(128), k)] ^= np.uint32(0x5A5A5A5A)
        return s

    path = tmp_path / "i.db"
    a = SQLiteIndex(path, cache_raws=cache_raws)
    b = SQLiteIndex(path, cache_raws=cache_raws)
    try:
        used_incremental = False
        found = 0
        for step in range(60):
            writer = (a, b)[step % 2]
            op = rng.random()
            doc, site = f"d{rng.randrange(14)}", rng.choice(["s", "t"])
            if op < 0.75:
                pid = PageId(rng.choice([None, None, "ex.com/a", "ex.com/b"]), rng.choice([None, "x", "y"]))
                writer.observe_many([(site, doc, fps(rng.randrange(50)), {"page": pid, "raw_sig": sig_near(rng.randrange(0, 50))})])
            else:
                writer.forget_docs([doc])
            for q in ((None, None), (None, "x"), ("ex.com/a", None)):
                want = _brute_candidates(path, site, *q, {"d0"}, base, 0.8)
                found += len(want)
                for ix in (a, b):
                    before = dict(ix._raw_sites)
                    got = ix.copy_candidates(site, *q, exclude={"d0"}, raw_sig=base, threshold=0.8)
                    used_incremental |= any(sid in before and before[sid][1] is ix._raw_sites[sid][1] and before[sid][0] != ix._raw_sites[sid][0] for sid in ix._raw_sites)
                    assert [(d, u, t) for d, u, t, _ in got] == want, (step, q)
                    assert all(float((g[3] == base).mean()) >= 0.8 for g in got)
        assert found > 20  # the look-ups had pages to find
        assert used_incremental  # the cache was brought up to date by reading only the added pages
        # a failed write transaction: what it showed the cache does not survive it
        with pytest.raises(RuntimeError):
            with a.transaction():
                a.observe_many([("s", "ghost", fps(1), {"page": PageId(None, None), "raw_sig": base})])
                assert "ghost" in [d for d, *_ in a.copy_candidates("s", None, None)]
                raise RuntimeError("fail")
        # the next commit on the site reuses the failed one's generation number
        a.observe_many([("s", "real", fps(2), {"page": PageId(None, None), "raw_sig": base})])
        got = [d for d, *_ in a.copy_candidates("s", None, None)]
        assert "real" in got and "ghost" not in got
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("n", [0, 1, 2047, 2048, 2049, 5000])
def test_insert_pairs_equals_one_row_per_step(n: int) -> None:
    """The multi-row VALUES insert of bucket rows stores exactly what executemany stores: every
    row, int64 extremes included, duplicates ignored, across full and partial statements."""
    import dedupe.stores.sqlite as S

    rng = np.random.default_rng(n)
    a = rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64, endpoint=True)
    b = rng.integers(0, 50, size=n, dtype=np.int64)
    if n:
        a[0], b[0] = -(2**63), 2**63 - 1
        a[-1], b[-1] = a[0], b[0]  # a duplicate row: ignored
    got, want = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for c in (got, want):
        c.execute("CREATE TABLE t (x INTEGER NOT NULL, y INTEGER NOT NULL, PRIMARY KEY (x, y)) WITHOUT ROWID")
    S._insert_pairs(got, "INSERT OR IGNORE INTO t(x, y) VALUES ", a, b)
    want.executemany("INSERT OR IGNORE INTO t(x, y) VALUES (?, ?)", zip(a.tolist(), b.tolist()))
    rows = got.execute("SELECT x, y FROM t ORDER BY x, y").fetchall()
    assert rows == want.execute("SELECT x, y FROM t ORDER BY x, y").fetchall()
    assert len(rows) == len(set(zip(a.tolist(), b.tolist())))


def test_fingerprint_blobs_ignore_ndarray_adapters(tmp_path: Path) -> None:
    # a process-wide sqlite3 adapter for numpy arrays (a common recipe) must not change what the
    # index stores: its blobs are bound as memoryviews
    sqlite3.register_adapter(np.ndarray, lambda a: b"not-what-you-stored")
    try:
        with SQLiteIndex(tmp_path / "i.db") as ix:
            ix.observe("s", "a", fps(1, 2, 3))
            assert ix.doc_fingerprints(["a"])["a"].tolist() == [1, 2, 3]
            ix.observe("s", "a", fps(2))  # re-observed: the undo reads the stored blob back
            assert ix.doc_freq("s", fps(1, 2, 3)).tolist() == [0, 1, 0]
    finally:
        del sqlite3.adapters[(np.ndarray, sqlite3.PrepareProtocol)]
