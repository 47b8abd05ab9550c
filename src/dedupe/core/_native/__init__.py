"""Compiled kernels (C sources beside this file, built by ``setup.py`` when a compiler is there).

Import them through :func:`dedupe.core.native.load`, never directly: it returns None when a kernel
is not built or ``DEDUPE_PURE=1`` is set, and the caller then runs its numpy code.
"""
