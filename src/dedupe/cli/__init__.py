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

import os
import sys

__all__ = ["main"]  # the Typer application: dedupe.cli.app.app


def main() -> None:
    """Console-script entry point: :func:`dedupe.cli.app.main`, after starting the worker pool's
    server when the command will use one (:func:`pooled`), so the server's imports overlap this
    process's own (see :mod:`dedupe.engine.pool`)."""
    no_blas_threads()
    if pooled(sys.argv[1:]):
        from ..engine.pool import prestart

        prestart()
    from .app import main as app_main

    app_main()


def no_blas_threads() -> None:
    """The workers' environment (:data:`dedupe.engine.pool.WORKER_ENV`) in this process too,
    before numpy is imported: dedupe never calls BLAS, and numpy's OpenBLAS would start a thread
    per core at import (~0.035 CPU-s) that then spins now and then (~0.05 CPU-s in a 100 MB
    corpus run). A value the caller set is kept."""
    from ..engine.pool import WORKER_ENV

    for k, v in WORKER_ENV.items():
        os.environ.setdefault(k, v)


def pooled(args: list[str]) -> bool:
    """Will the command line ``args`` run a worker pool: ``corpus`` or ``index reclean`` with
    ``--workers``/``-j`` above 1? A guess that only decides when the pool's server starts (any
    error is the command's to report)."""
    words = [a for a in args if not a.startswith("-")]
    if words[:1] != ["corpus"] and words[:2] != ["index", "reclean"]:
        return False
    workers = None
    for i, a in enumerate(args):
        if a in ("--workers", "-j"):
            workers = args[i + 1] if i + 1 < len(args) else None
        elif a.startswith("--workers="):
            workers = a.split("=", 1)[1]
        elif a.startswith("-j") and not a.startswith("--"):
            workers = a[2:]
    try:
        return workers is not None and int(workers) > 1
    except ValueError:
        return False

