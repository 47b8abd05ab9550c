"""Crash safety (SIGKILL mid-batch) and several writer processes on one index file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dedupe.engine.index import MemoryIndex
from dedupe.stores.sqlite import SQLiteIndex

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Deterministic pages: fingerprints drawn from a small per-site pool (so pages share rows and
# upserts collide) plus page-unique ones; ids "b{batch}-{i}".
GEN = textwrap.dedent(
    """
    import numpy as np
    def batch(b, n, sites=5):
        out = []
        for i in range(n):
            rng = np.random.default_rng(b * 100003 + i)
            site = f"site{i % sites}"
            pool = np.random.default_rng(i % sites).integers(0, 2**64, 400, dtype=np.uint64)
            fps = np.concatenate([rng.choice(pool, 150), rng.integers(0, 2**64, 150, dtype=np.uint64)])
            out.append((site, f"b{b}-{i}", fps, {"url": f"https://{site}/{b}/{i}", "chars": int(rng.integers(100, 9000))}))
        return out
    """
)
namespace: dict = {}
exec(GEN, namespace)
batch = namespace["batch"]


def dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def run_child(code: str, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED="random")
    return subprocess.Popen(
        [sys.executable, "-c", GEN + textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw,
    )


CRASHER = """
import sys, time
from dedupe.stores.sqlite import SQLiteIndex

class Pausing(SQLiteIndex):
    def _observe_tx(self, conn, items):
        n = super()._observe_tx(conn, items)   # every row written, nothing committed yet
        print("IN-TRANSACTION", flush=True)
        time.sleep(60)
        return n

ix = Pausing(sys.argv[1])
ix.conn.execute("PRAGMA cache_size=50")       # small cache: pages spill to the WAL mid-transaction
ix.observe_many(batch(0, 300))
SQLiteIndex.observe_many(ix, batch(1, 1500))   # big batch; paused before COMMIT, then SIGKILL
"""


def test_sigkill_mid_batch_leaves_a_sound_index_that_rerun_completes(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    # batch 0 committed; batch 1 killed in the middle
    with SQLiteIndex(path) as ix:
        ix.observe_many(batch(0, 300))
    proc = run_child(CRASHER.replace("ix.observe_many(batch(0, 300))\nSQLiteIndex.observe_many(ix, batch(1, 1500))", "Pausing.observe_many(ix, batch(1, 1500))"), str(path))
    line = proc.stdout.readline()
    assert line.strip() == "IN-TRANSACTION", proc.stderr.read()
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # uncommitted frames really hit the disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    reference = tmp_path / "ref.db"
    with SQLiteIndex(reference) as ix:
        ix.observe_many(batch(0, 300))
    with SQLiteIndex(path) as ix:  # opens; the killed batch left no trace
        assert ix.integrity_check() == ["ok"]
        assert ix.stats()["pages"] == 300
    assert dump(path) == dump(reference)
    # re-running the batch reaches exactly the state of an uninterrupted run
    with SQLiteIndex(path) as ix:
        ix.observe_many(batch(1, 1500))
    with SQLiteIndex(reference) as ix:
        ix.observe_many(batch(1, 1500))
    assert dump(path) == dump(reference)


def test_sigkill_at_random_moments_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    code = """
    import sys
    from dedupe.stores.sqlite import SQLiteIndex
    ix = SQLiteIndex(sys.argv[1])
    print("OPEN", flush=True)
    for b in range(100):
        ix.observe_many(batch(b, 40))
    """
    for delay in (0.05, 0.2, 0.4, 0.8):
        proc = run_child(code, str(path))
        assert proc.stdout.readline().strip() == "OPEN"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with SQLiteIndex(path) as ix:
            assert ix.integrity_check() == ["ok"]
            pages = ix.stats()["pages"]
            assert pages % 40 == 0  # whole batches only


WRITER = """
import sys
from dedupe.stores.sqlite import SQLiteIndex
path, worker, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import os, time
while not os.path.exists(go):
    time.sleep(0.001)
with SQLiteIndex(path, wal_limit=4 * 2**20) as ix:  # (default 32 MiB: more than this test writes)
    for item in batch(10 + worker, 120):
        ix.observe_many([item])                  # one transaction per page: maximal contention
    for j in range(0, 120, 20):                  # and some re-crawls
        ix.observe_many(batch(10 + worker, 120)[j : j + 3])
print("done", worker, flush=True)
"""


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_writers_lose_nothing_and_never_surface_locks(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "shared.db"
    go = tmp_path / "go"
    SQLiteIndex(path).close()
    procs = [run_child(WRITER, str(path), str(w), str(go)) for w in range(workers)]
    time.sleep(0.5)  # every child imported and waiting
    go.touch()
    wal = path.with_name(path.name + "-wal")
    max_wal = 0
    while any(p.poll() is None for p in procs):
        if wal.exists():
            max_wal = max(max_wal, wal.stat().st_size)
        time.sleep(0.01)
    outs = [p.communicate() for p in procs]
    for w, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower() and err == ""
        assert out.strip() == f"done {w}"
    ref = MemoryIndex()
    for w in range(workers):
        ref.observe_many((s, d, f) for s, d, f, _ in batch(10 + w, 120))
    with SQLiteIndex(path) as ix:
        assert ix.integrity_check() == ["ok"]
        assert ix.doc_ids() == ref.doc_ids()
        for s in [f"site{i}" for i in range(5)]:
            assert ix.site_pages(s) == ref.site_pages(s)
            fps, pages = ix.site_doc_freqs(s)
            assert np.array_equal(pages, ref.doc_freq(s, fps))
            assert int(pages.sum()) == sum(len(np.unique(ref._doc_fps[d])) for d in ref.doc_ids(s))
    # WAL bounded by checkpointing: near the writers' wal_limit (4 MiB), well under the data
    # written (~workers * 120 * 300 rows)
    assert max_wal < 16 * 2**20, max_wal


CLEANER = """
import sys
sys.path.insert(0, sys.argv[4])
from index_corpus import multi_site
from dedupe.stores import open_index
path, worker, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import os, time
docs = multi_site(seed=3, n_sites=3, pages=16)
while not os.path.exists(go):
    time.sleep(0.001)
with open_index(path) as idx:
    for d in docs[worker::2]:
        idx.clean(d)                             # one write transaction per page
print("done", worker, flush=True)
"""


def test_two_processes_cleaning_page_by_page_lose_nothing(tmp_path: Path) -> None:
    """Two processes stream ``Index.clean`` over the pages of the same sites at once (each page
    holds the write lock while it is observed, cleaned and stored): every page, count and
    signature is there, as if the pages had been observed in one batch, and no lock error shows."""
    from dedupe.stores import open_index

    sys.path.insert(0, str(Path(__file__).parent))
    from index_corpus import multi_site

    path = tmp_path / "shared.db"
    go = tmp_path / "go"
    open_index(path).close()
    procs = [run_child(CLEANER, str(path), str(w), str(go), str(Path(__file__).parent)) for w in range(2)]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for w, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, err
        assert err == "" and out.strip() == f"done {w}"
    docs = multi_site(seed=3, n_sites=3, pages=16)
    with open_index(tmp_path / "ref.db") as ref:
        ref.observe(docs)
        sites = ref.store.sites()
        want = {s: ref.store.site_doc_freqs(s) for s in sites}
    with open_index(path) as idx:
        assert idx.store.integrity_check() == ["ok"]
        assert sorted(idx.store.doc_ids()) == sorted(d.id for d in docs)
        assert idx.store.sites() == sites
        for s, (fps, pages) in want.items():
            got = idx.store.site_doc_freqs(s)
            assert np.array_equal(got[0], fps) and np.array_equal(got[1], pages)
        assert sorted(idx.store.signature_table()[0]) == sorted(d.id for d in docs)
