"""The ``dedupe`` command line: a thin Typer layer over :mod:`dedupe.api`.

Exit codes (documented in the README):

====  ==========================================================
0     success
1     unexpected internal error (one line on stderr, no traceback)
2     usage error (unknown option, bad value)
3     input error (missing path, directory, binary, invalid UTF-8, empty, too large,
      or — in corpus mode — no row could be processed)
4     configuration error
5     index error (corrupt file, config mismatch, locked)
====  ==========================================================
"""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
