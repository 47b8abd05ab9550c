"""The console entry point starts the worker pool's server before its own imports, when the
command will use a pool; importing the entry point is light; the command's process runs without
BLAS threads (dedupe never calls BLAS) and leaves rapidfuzz out until it compares blocks."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dedupe.cli as cli
from dedupe.cli import pooled
from dedupe.engine.pool import WORKER_ENV


def _printed(code: str) -> list[str]:
    """What ``code`` prints in a fresh interpreter, split in words."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize(
    "args, want",
    [
        (["corpus", "in.jsonl", "--out", "o.jsonl", "--workers", "2"], True),
        (["corpus", "in.jsonl", "-j", "4"], True),
        (["corpus", "in.jsonl", "--workers=3"], True),
        (["corpus", "in.jsonl", "-j2"], True),
        (["index", "reclean", "idx.sqlite", "-j", "2"], True),
        (["corpus", "in.jsonl"], False),  # default: one process
        (["corpus", "in.jsonl", "-j", "1"], False),
        (["corpus", "in.jsonl", "-j", "x"], False),  # the command reports the bad value
        (["corpus", "in.jsonl", "-j"], False),
        (["clean", "page.txt", "-j", "2"], False),  # no pool in that command
        (["index", "stats", "idx.sqlite", "-j", "2"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_which_command_lines_run_a_pool(args: list[str], want: bool) -> None:
    assert pooled(args) is want


def test_importing_the_entry_point_does_not_import_numpy() -> None:
    assert _printed("import sys, dedupe.cli; print('numpy' in sys.modules, 'dedupe.api' in sys.modules)") == ["False", "False"]


_PROBE = """
import os, sys, multiprocessing.forkserver as mf
from dedupe.cli import main
sys.argv = ["dedupe", "corpus", sys.argv[1], "-j", sys.argv[2], "--quiet"]
try:
    main()
except SystemExit:
    pass
pid = getattr(getattr(mf, "_forkserver", None), "_forkserver_pid", None)
env = open(f"/proc/{pid}/environ", "rb").read().split(b"\\0") if pid else []
print(pid is not None, b"OPENBLAS_NUM_THREADS=1" in env, os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here")
# the command's own process runs with the workers' environment too (cli.no_blas_threads)
@pytest.mark.parametrize("workers, want", [("2", ["True", "True", "1"]), ("1", ["False", "False", "1"])])
def test_the_entry_point_starts_the_server_for_a_pooled_command(tmp_path: Path, workers: str, want: list[str]) -> None:
    # a missing input: the command fails (exit 3), after the server was started (or not)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "DEDUPE_START_METHOD")}
    got = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "missing.jsonl"), workers], capture_output=True, text=True, env=env, check=True
    )
    assert got.stdout.split() == want


def test_the_driver_does_not_load_rapidfuzz_until_it_compares_blocks() -> None:
    """The command's imports leave rapidfuzz out (a corpus driver with a pool never compares
    blocks: ~4 MB of its resident size); the pool's server preloads it for its workers, and the
    within-page pass loads it on first use."""
    code = (
        "import sys, dedupe.cli.app; a = 'rapidfuzz' in sys.modules\n"
        "import dedupe.core._warm; b = 'rapidfuzz' in sys.modules\n"
        "print(a, b)"
    )
    assert _printed(code) == ["False", "True"]
    code = (
        "import sys\nfrom dedupe.api import clean\n"
        "r = clean('The same line of text here.\\nOther words.\\nThe same line of text, here.\\nEnd of page now.')\n"
        "print('rapidfuzz' in sys.modules, type(sys.modules['dedupe.engine.within'].fuzz).__name__)"
    )
    assert _printed(code) == ["True", "module"]


def test_main_sets_the_worker_env_before_numpy_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in WORKER_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(sys, "argv", ["dedupe", "--version"])
    seen = {}
    import dedupe.cli.app as app

    monkeypatch.setattr(app, "main", lambda: seen.update({k: os.environ.get(k) for k in WORKER_ENV}))
    cli.main()
    assert seen == WORKER_ENV


def test_a_value_the_caller_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    cli.no_blas_threads()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


def test_numpy_is_not_loaded_before_the_env_is_set() -> None:
    """In a fresh interpreter: importing the entry point and setting the env load no numpy (so
    the setting reaches OpenBLAS when the command imports it)."""
    assert _printed("import sys, dedupe.cli as c; c.no_blas_threads(); print('numpy' in sys.modules)") == ["False"]


_LEAN = """
import sys
before = {m for m in ("_hashlib", "numpy.random") if m in sys.modules}
import dedupe.cli.app, dedupe.engine.corpus
from dedupe.core import tokenize
driver = [m in sys.modules for m in ("_hashlib", "numpy.random")] + [bool(tokenize._BMP_TABLE)]
import dedupe.core._warm
server = [m in sys.modules for m in ("_hashlib", "numpy.random")] + [bool(tokenize._BMP_TABLE)]
from dedupe.api import clean_corpus
pages = [{"id": str(i), "site": "s", "text": f"Menu Home News\\nPage {i} body text with words {i}.\\nFooter line"} for i in range(4)]
results = list(clean_corpus(pages))
work = [m in sys.modules for m in ("_hashlib", "numpy.random")] + [len(results)]
print(sorted(before), driver, server, work)
"""


def test_a_corpus_run_loads_no_openssl_nor_numpy_random() -> None:
    """The driver's imports leave out OpenSSL (``hashlib``: ~3.5 MB resident) and the tokeniser's
    class table (~2 MB, built in the workers' server instead), and the per-page work, MinHash
    signatures included, loads neither OpenSSL nor ``numpy.random`` (~6 MB in every worker)."""
    before, *rest = subprocess.run([sys.executable, "-c", _LEAN], capture_output=True, text=True, check=True).stdout.strip().split(None, 1)
    if before != "[]":
        pytest.skip(f"this interpreter's start-up imports {before}")
    assert rest == ["[False, False, False] [False, False, True] [False, False, 4]"]
