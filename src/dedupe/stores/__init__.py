"""Persistent index stores. SQLite (standard library) is the default.

A store implements :class:`dedupe.engine.index.IndexStore`; :class:`~dedupe.stores.sqlite.SQLiteIndex`
keeps it in one file that several processes on one host can update at once.
:func:`open_index` wraps a store in an :class:`~dedupe.engine.indexing.Index` (incremental
corpus mode).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

from ..config import Config
from ..engine.indexing import Index
from ..io.jsonl import as_document
from ..models import Document
from .sqlite import SCHEMA_VERSION, SQLiteIndex


def _converter(max_chars: int) -> Callable[[Any], Document]:
    """dict -> Document exactly as ``dedupe.clean_corpus`` converts rows, plus: an id is required."""
    return functools.partial(as_document, max_chars=max_chars, need_id=True)


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
    cfg = config or store.config
    return Index(store, cfg, dedupe_only=dedupe_only, as_document=_converter(cfg.max_doc_chars))


__all__ = ["SCHEMA_VERSION", "Index", "SQLiteIndex", "open_index"]
