"""The optional C kernels: the loader's switches, and (in CI) that every kernel was built.

Each kernel's results are compared with its numpy twin in the tests of the module that uses it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dedupe.core import native

NATIVE_DIR = Path(native.__file__).resolve().parent / "_native"
KERNELS = sorted(p.stem for p in NATIVE_DIR.glob("*.c"))


@pytest.mark.skipif(not os.environ.get("DEDUPE_REQUIRE_NATIVE"), reason="set by .ci/run, where a C compiler is present")
@pytest.mark.parametrize("name", KERNELS)
def test_every_kernel_is_built(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEDUPE_PURE", raising=False)
    assert native.load(name) is not None, f"C kernel {name} was not compiled: see the pip install output"


def test_pure_mode_and_missing_kernels_give_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEDUPE_PURE", "1")
    assert all(native.load(name) is None for name in KERNELS)
    monkeypatch.setenv("DEDUPE_PURE", "0")
    assert native.load("no_such_kernel") is None
