"""Access to the optional compiled kernels in :mod:`dedupe.core._native`.

Every kernel has a numpy twin in the module that uses it, and tests check the two give equal
results. ``load(name)`` returns the kernel module, or None when it was not compiled (no C compiler
at install time, ``DEDUPE_BUILD_NATIVE=0``) or when the environment sets ``DEDUPE_PURE=1`` (to run
the numpy code, e.g. to compare speed).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def pure() -> bool:
    """True when ``DEDUPE_PURE`` asks for the numpy code only."""
    return os.environ.get("DEDUPE_PURE", "").strip() not in ("", "0")


def load(name: str) -> ModuleType | None:
    """The compiled kernel ``dedupe.core._native.<name>``, or None (not built, or pure mode)."""
    if pure():
        return None
    try:
        return importlib.import_module(f"dedupe.core._native.{name}")
    except ImportError:
        return None
