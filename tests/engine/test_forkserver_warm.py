"""The pool's forkserver preloads dedupe.core._warm, whose import builds the normalisation tables
(so forked workers share them)."""

from __future__ import annotations

import subprocess
import sys

from dedupe.engine import pool

_PROBE = (
    "import dedupe.core.normalize as n\n"
    "assert n._FOLD is None and n._EXPANSIONS is None and n._NATIVE_ARGS is None\n"
    "import dedupe.core._warm\n"
    "print(n._K is None or n._FOLD is not None, n._EXPANSIONS is not None, n._BMP_TABLES is not None, n._K is None or n._NATIVE_ARGS is not None)\n"
)


def test_warm_module_builds_the_tables() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True", "True"]


def test_the_forkserver_preloads_it() -> None:
    import multiprocessing
    import multiprocessing.forkserver as mf

    import pytest

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no forkserver on this platform")
    pool.pool_context()
    assert pool.WARM in mf._forkserver._preload_modules
