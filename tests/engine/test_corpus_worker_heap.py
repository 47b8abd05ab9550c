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
