"""The command's process runs without BLAS threads (dedupe never calls BLAS)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dedupe.cli as cli
from dedupe.engine.pool import WORKER_ENV


def test_main_sets_the_worker_env_before_numpy_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in WORKER_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(sys, "argv", ["dedupe", "--version"])
    seen = {}
    import dedupe.cli.app as app

    monkeypatch.setattr(app, "main", lambda: seen.update({k: __import__("os").environ.get(k) for k in WORKER_ENV}))
    cli.main()
    assert seen == WORKER_ENV


def test_a_value_the_caller_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    cli.no_blas_threads()
    import os

    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


def test_numpy_is_not_loaded_before_the_env_is_set() -> None:
    """In a fresh interpreter: importing the entry point and setting the env load no numpy (so
    the setting reaches OpenBLAS when the command imports it)."""
    code = "import sys, dedupe.cli as c; c.no_blas_threads(); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
