"""Multi-process runs end with a clear error when a worker dies, instead of waiting forever
(multiprocessing.Pool respawned dead workers and hung)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from dedupe import Config, WorkerError
from dedupe.engine import corpus as ec
from dedupe.engine.index import CountIndex


def test_a_killed_worker_ends_the_run_with_worker_error(tmp_path: Path) -> None:
    """A worker killed mid-run (as the OOM killer would) stops the run with WorkerError; what
    came back before came in order. Run in a child process with a timeout, so a regression to a
    hang fails the test instead of hanging the suite."""
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent('''
        import os
        from dedupe import Config, WorkerError
        from dedupe.engine import corpus as ec

        def die_on_three(x):
            if x == 3:
                os._exit(9)
            return x * 2

        if __name__ == "__main__":
            got = []
            try:
                with ec._Mapper(2, Config(), False) as pmap:
                    for r in pmap(die_on_three, range(50)):
                        got.append(r)
            except WorkerError as exc:
                assert got == [0, 2, 4][: len(got)], got
                print("WorkerError:", exc)
    '''), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "WorkerError: a worker process died" in proc.stdout


def test_ordered_results_and_bounded_window() -> None:
    fed = []

    def items():
        for i in range(40):
            fed.append(i)
            yield i

    with ec._Mapper(2, Config(), False) as pmap:
        it = pmap(abs, items())
        first = next(it)
        assert first == 0 and len(fed) <= ec.WINDOW_PER_WORKER * 2  # the input is not read ahead
        assert [first, *it] == list(range(40))


def test_unguarded_script_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    """clean_corpus(workers=2) at the top level of a script: spawned workers re-run the script
    and cannot start; the run stops with WorkerError naming the fix (it used to hang)."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent('''
        import dedupe
        docs = [{"id": str(i), "text": f"page {i} text here and there " * 5, "site": "x"} for i in range(20)]
        print(len(list(dedupe.clean_corpus(docs, workers=2))))
    '''), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert "WorkerError" in proc.stderr and "__main__" in proc.stderr


def _full(results: list) -> list:
    return [(r.doc_id, r.original, r.text, r.spans, sorted(r.meta.items(), key=str)) for r in results]


def test_generator_input_with_workers_reads_the_spill_file(monkeypatch) -> None:
    """A generator input is spilled; pool workers read its pages from the spill file
    (_FileChunk) and count the template evidence (CountIndex.freeze hands them the buckets),
    under forkserver and spawn alike, with the same results as in-process."""
    tests_dir = str(Path(__file__).resolve().parent)
    if tests_dir not in sys.path:
        monkeypatch.syspath_prepend(tests_dir)
    from test_corpus import _gen_docs

    docs = _gen_docs(0.12, 7, pages_per_site=6)
    want = _full(list(ec.run_corpus(docs)))
    assert any(r[4] and r[3] for r in want)
    made = []
    init = ec._FileChunk.__init__

    def spy(self, path, offset, lengths):
        made.append(len(lengths))
        init(self, path, offset, lengths)

    monkeypatch.setattr(ec._FileChunk, "__init__", spy)  # the driver's side: tasks hold no text
    counted = []  # freeze: was the count handed to the workers (a count_map), and what they kept?
    freeze = CountIndex.freeze

    def freeze_spy(self, **kw):
        if not self._frozen:
            counted.append(kw.get("count_map") is not None)
        return freeze(self, **kw)

    monkeypatch.setattr(CountIndex, "freeze", freeze_spy)
    freeze_shared = CountIndex.freeze_shared

    def freeze_shared_spy(self, *a, **kw):
        got = freeze_shared(self, *a, **kw)
        counted.append("kept in a file" if got is not None else None)
        return got

    monkeypatch.setattr(CountIndex, "freeze_shared", freeze_shared_spy)
    shared = []  # what the workers load: the counts, without the page ids (and when)
    share = ec._Mapper.share_index
    monkeypatch.setattr(ec._Mapper, "share_index", lambda self, ix: (shared.append(type(ix).__name__), share(self, ix))[1])
    resolve = ec.crosspage.BlockTable.resolve
    monkeypatch.setattr(ec.crosspage.BlockTable, "resolve", lambda self, *a, **k: (shared.append("resolve"), resolve(self, *a, **k))[1])
    for method in ("forkserver", "spawn"):
        monkeypatch.setenv("DEDUPE_START_METHOD", method)
        got = _full(list(ec.run_corpus((d for d in docs), workers=2)))
        assert got == want, method
    probe = ec._Spill()
    try:
        if probe.shared_path() is not None:
            assert sum(made) == 2 * 2 * len(docs)  # both passes, both start methods
            assert counted == ["kept in a file", "kept in a file"]  # the workers counted the buckets and wrote what they kept
    finally:
        probe.close()
    # handed over as soon as counted: not held through the cross-page resolve
    assert shared == ["SharedCounts", "resolve", "SharedCounts", "resolve"]


def test_file_chunk_reads_the_records(tmp_path) -> None:
    sp = ec._Spill()
    try:
        blobs = [b"", b"abc", bytes(range(256)) * 40, b"z"]
        for b in blobs:
            sp.append(b)
        path = sp.shared_path()
        if path is None:  # no /proc: the driver sends the records themselves
            return
        sp.flush()
        for lo, hi in ((0, 4), (1, 3), (2, 3), (3, 4)):
            fc = ec._FileChunk(path, sp.start(lo), [len(b) for b in blobs[lo:hi]])
            back = pickle.loads(pickle.dumps(fc))
            assert back.blobs() == blobs[lo:hi] == fc.blobs()
        bad = ec._FileChunk(path, sp.start(3), [5])  # past the end of the file
        try:
            bad.blobs()
        except WorkerError:
            pass
        else:
            raise AssertionError("a short read must fail")
    finally:
        sp.close()
        ec._W.pop("spill", None)
