"""The start method of the corpus pool's workers, and its server's early start.

Kept apart from :mod:`dedupe.engine.corpus` and light (no numpy): the CLI imports it before
anything else and starts the server (:func:`prestart`) when the command it runs will use a pool,
so the server's imports (~0.35 s) run on the other core while the CLI imports its own, instead of
after them (when the driver then waited for its first worker).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from ..errors import ConfigError

#: the module the pool's functions live in (preloaded by the server)
CORPUS_MODULE = "dedupe.engine.corpus"

#: a module the forkserver imports to build the normalisation tables once for all workers
WARM = "dedupe.core._warm"

#: environment of the worker processes while the pool runs (a caller's own values are kept): the
#: workers never call BLAS, and without it numpy's OpenBLAS starts a thread per core at import
#: (~0.06 CPU-s each on 2 cores), in the server (which imports numpy) or in each spawned worker
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def start_method() -> str:
    """``DEDUPE_START_METHOD`` (``forkserver``, the default, or ``spawn``); another value is a
    :class:`~dedupe.errors.ConfigError`."""
    method = os.environ.get("DEDUPE_START_METHOD", "").strip() or "forkserver"
    if method not in ("forkserver", "spawn"):
        raise ConfigError(f"DEDUPE_START_METHOD must be 'forkserver' or 'spawn', not {method!r}")
    return method


def pool_context() -> Any:
    """The pool's start method: ``forkserver`` where there is one (POSIX), with
    :data:`CORPUS_MODULE` preloaded in the server, so a worker is a fork of a process that
    imported numpy and dedupe once (~0.01 CPU-s a worker instead of ~0.35 for a spawned
    interpreter importing them again, and the server is reused by later runs of the process);
    else ``spawn``. ``__main__`` is preloaded too, as ``spawn`` imports it in each worker
    (functions of the caller's script pickle by reference). ``DEDUPE_START_METHOD=spawn`` forces
    spawn. The server is started here (when not running yet), with :data:`WORKER_ENV`."""
    method = start_method()
    if method == "forkserver" and method in multiprocessing.get_all_start_methods():
        import multiprocessing.forkserver as mp_forkserver

        ctx = multiprocessing.get_context("forkserver")
        # keep what a caller preloads; the list only matters while the server is not running
        theirs = list(getattr(getattr(mp_forkserver, "_forkserver", None), "_preload_modules", None) or [])
        ctx.set_forkserver_preload(theirs + [m for m in ("__main__", CORPUS_MODULE, WARM) if m not in theirs])
        # start the server now, with this thread's normal signal mask: started from the first
        # submit (where the stop signals are blocked, see corpus._Mapper._submit), the server and
        # every process it forks later, the caller's own included, would keep them blocked
        saved = {k: os.environ.get(k) for k in WORKER_ENV}
        for k, v in WORKER_ENV.items():
            os.environ.setdefault(k, v)
        try:
            mp_forkserver.ensure_running()
        finally:
            for k, old in saved.items():
                if old is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = old
        return ctx
    return multiprocessing.get_context("spawn")


def prestart() -> None:
    """Start the pool's server now (see the module docstring). Nothing happens with the
    ``spawn`` method; an error is left for the pool to raise when it starts."""
    try:
        pool_context()
    except Exception:  # e.g. a bad DEDUPE_START_METHOD: the command reports it when it needs a pool
        pass
