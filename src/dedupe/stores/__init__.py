"""Persistent index stores. SQLite (standard library) is the default.

A store implements :class:`dedupe.engine.index.IndexStore`; :class:`~dedupe.stores.sqlite.SQLiteIndex`
keeps it in one file that several processes on one host can update at once.
:func:`open_index` wraps a store in an :class:`~dedupe.engine.indexing.Index` (incremental
corpus mode).
"""

from __future__ import annotations

import os

from ..config import Config
from ..engine.indexing import Index
from .sqlite import SCHEMA_VERSION, SQLiteIndex


def open_index(
    path: str | os.PathLike[str],
    *,
    config: Config | None = None,
    store_text: bool = True,
    dedupe_only: bool = False,
    busy_timeout: float = 60.0,
) -> Index:
    """Open (or create) the SQLite index at ``path``; see :func:`dedupe.open_index`."""
    store = SQLiteIndex(path, config=config, store_text=store_text, busy_timeout=busy_timeout)
    return Index(store, config or store.config, dedupe_only=dedupe_only)


__all__ = ["SCHEMA_VERSION", "Index", "SQLiteIndex", "open_index"]
