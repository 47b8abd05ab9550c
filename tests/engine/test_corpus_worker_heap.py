"""Pool workers keep their freed heap (glibc ``mallopt``), unless the environment tunes malloc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_GLIBC = bool(getattr(os, "confstr", None)) and "glibc" in (os.confstr("CS_GNU_LIBC_VERSION") or "")  # type: ignore[operator]
_PROBE = "from dedupe.engine.corpus import _keep_heap; print(_keep_heap())"


def _probe(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
def test_keep_heap_sets_trim_threshold_on_glibc() -> None:
    assert _probe({}) == "True"


@pytest.mark.parametrize("extra", [{"MALLOC_TRIM_THRESHOLD_": "131072"}, {"MALLOC_TOP_PAD_": "0"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_keep_heap_leaves_callers_malloc_settings(extra: dict[str, str]) -> None:
    assert _probe(extra) == "False"


_FAULTS = """
import resource, numpy as np
from dedupe.engine.corpus import _keep_heap
assert _keep_heap()
a = np.ones(1 << 17)  # the first 1 MB array: its pages are new either way
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):  # a chunk's ~1 MB arrays, allocated, written and freed again and again
    a = np.ones(1 << 17)
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
def test_kept_heap_serves_repeated_arrays_without_page_faults_on_a_fresh_heap() -> None:
    """Setting only the trim threshold freezes glibc's mmap threshold where the heap's history
    left it: on a fresh heap 1 MB arrays would still be mapped and unmapped each time (~256
    faults each, ~51k here). The mmap threshold is set too, so they come from the kept heap."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True, text=True, check=True).stdout
    assert int(out) < 5_000, out
