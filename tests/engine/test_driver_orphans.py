"""Pool workers end when their driver is killed without unwinding (SIGKILL): they used to wait
forever on the pool's pipes, holding the driver's deleted spill files (a review finding). The
driver leaves no temporary file behind either."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="Linux /proc")

#: the processes (but the calling one) whose environment holds a mark; used here and, as source,
#: in the child driver
MARKED = r'''
def marked(mark):
    import os
    out = []
    for q in os.listdir("/proc"):
        if q.isdigit() and int(q) != os.getpid():
            try:
                with open(f"/proc/{q}/environ", "rb") as fh:
                    if mark.encode() in fh.read():
                        out.append(int(q))
            except OSError:
                pass
    return out
'''
_ns: dict = {}
exec(MARKED, _ns)
marked = _ns["marked"]

CHILD = MARKED + r'''
import os, signal

from dedupe.engine import neardup

def cluster(*a, **kw):  # the pool is alive while the driver clusters: die here, unwinding nothing
    print("workers", len(marked("DEDUPE_ORPHAN_MARK=" + os.environ["DEDUPE_ORPHAN_MARK"])), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

neardup.cluster = cluster

if __name__ == "__main__":
    from dedupe import api
    from dedupe.models import Document
    docs = [Document(f"d{i}", " ".join(f"w{(i * 7 + j) % 50}" for j in range(300)) + f" page {i // 2}.") for i in range(200)]
    list(api.clean_corpus(docs, workers=2))
'''


def test_workers_end_when_the_driver_is_killed(tmp_path: Path) -> None:
    mark = f"orphan-test-{os.getpid()}-{time.time_ns()}"
    script = tmp_path / "driver.py"
    script.write_text(CHILD, encoding="utf-8")
    tmp = tmp_path / "tmp"  # the driver's temporary files: none left behind, although it is killed
    tmp.mkdir()
    env = dict(os.environ, DEDUPE_ORPHAN_MARK=mark, TMPDIR=str(tmp))
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as o, err.open("w") as e:  # files, not pipes: an orphan holding one would block
        proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=o, stderr=e)
        rc = proc.wait(timeout=120)
    assert rc == -9, err.read_text()[-2000:]
    assert int(out.read_text().split()[1]) >= 2  # the pool's workers (and its forkserver) were alive
    deadline = time.monotonic() + 15
    left = marked("DEDUPE_ORPHAN_MARK=" + mark)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = marked("DEDUPE_ORPHAN_MARK=" + mark)
    for pid in left:  # do not leave them behind if the test fails
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    assert not left, f"processes left running after their driver was killed: {left}"
    # the counted evidence the workers load is shared as an open file without a name (/proc);
    # multiprocessing's own directory (pymp-*, the forkserver's socket) is its to remove
    assert not list(tmp.glob("dedupe-*")), list(tmp.iterdir())
