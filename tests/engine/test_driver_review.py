"""What a read-only review of the forkserver / spill-file driver found (session of 2026-11-28);
each test fails on the code before its fix. Run in child processes: the forkserver is global to
a process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=180)


PAGES = '''
def pages(n=40):
    for i in range(n):
        yield {"id": f"p{i}", "url": f"https://site{i % 3}.example/{i}",
               "text": f"Menu Home News Sport\\nStory {i} begins here with words {i * 7} and more words.\\nFooter (c) site"}
'''


def test_the_callers_forkserver_processes_keep_an_open_signal_mask(tmp_path: Path) -> None:
    # the forkserver used to start inside the driver's first submit, where the stop signals are
    # blocked: it and every process it forked later (the caller's own) ignored terminate()
    r = _script(tmp_path, PAGES + '''
import multiprocessing as mp, multiprocessing.forkserver as mf
import dedupe

def sigblk(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)

if __name__ == "__main__":
    list(dedupe.clean_corpus(pages(), workers=2))
    print("server", sigblk(mf._forkserver._forkserver_pid))
    p = mp.get_context("forkserver").Process(target=__import__("time").sleep, args=(60,))
    p.start(); p.terminate(); p.join(10)
    print("terminated", p.exitcode)
''')
    assert r.returncode == 0, r.stderr[-1500:]
    out = dict(line.split() for line in r.stdout.split("\n") if line)
    assert out["server"] == "0" and out["terminated"] == "-15", r.stdout


def test_workers_that_cannot_open_the_spill_file_get_the_pages_through_the_pipe(tmp_path: Path) -> None:
    # a driver whose /proc fds other processes cannot open (not dumpable) failed every
    # multi-worker run with a spilled input; now one worker tries first and the pages go by pipe
    r = _script(tmp_path, PAGES + '''
import dedupe
from dedupe.engine import corpus as ec

if __name__ == "__main__":
    want = [(x.doc_id, x.text, len(x.spans)) for x in dedupe.clean_corpus(pages(), workers=1)]
    ec._Spill.shared_path = lambda self: "/nonexistent/dedupe-spill"
    got = [(x.doc_id, x.text, len(x.spans)) for x in dedupe.clean_corpus(pages(), workers=2)]
    print("same", got == want)
''')
    assert r.returncode == 0, r.stderr[-1500:]
    assert "same True" in r.stdout


def test_a_list_changed_while_results_are_read_does_not_change_them() -> None:
    from dedupe.engine.corpus import run_corpus
    from dedupe.models import Document

    ns: dict = {}
    exec(PAGES, ns)
    docs = [Document(d["id"], d["text"], url=d["url"]) for d in ns["pages"](12)]
    want = [(r.doc_id, r.original, r.text) for r in run_corpus(list(docs))]
    mine = list(docs)
    got = []
    for r in run_corpus(mine):
        mine.reverse()  # the caller's list, changed between results
        got.append((r.doc_id, r.original, r.text))
    assert got == want


def test_an_unknown_start_method_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # any value but "forkserver" used to mean spawn, silently (a typo, or "fork")
    from dedupe.engine.pool import pool_context
    from dedupe.errors import ConfigError

    monkeypatch.setenv("DEDUPE_START_METHOD", "fork")
    with pytest.raises(ConfigError, match="DEDUPE_START_METHOD"):
        pool_context()
    monkeypatch.setenv("DEDUPE_START_METHOD", "spawn")
    assert pool_context().get_start_method() == "spawn"
