"""Multi-process runs end with a clear error when a worker dies, instead of waiting forever
(multiprocessing.Pool respawned dead workers and hung)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from dedupe import Config
from dedupe.engine import corpus as ec


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
