"""Persistent index stores. SQLite (standard library) is the default.

A store implements :class:`dedupe.engine.index.IndexStore`; :class:`~dedupe.stores.sqlite.SQLiteIndex`
keeps it in one file that several processes on one host can update at once.
:func:`open_index` wraps a store in an :class:`~dedupe.engine.indexing.Index` (incremental
corpus mode).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..config import Config
from ..engine.indexing import Index
from ..errors import InputError
from ..io.jsonl import FieldMap, Reject, row_to_document
from ..models import Document
from .sqlite import SCHEMA_VERSION, SQLiteIndex


def _converter(max_chars: int) -> Callable[[Any], Document]:
    """dict -> Document exactly as ``dedupe.clean_corpus`` converts rows (an InputError explains a bad one)."""

    def convert(doc: Any) -> Document:
        if isinstance(doc, Document):
            return doc
        if isinstance(doc, dict) and doc.get("id") is None:
            raise InputError("a document needs an 'id' to be recorded in the index")
        got = row_to_document(doc, source="<docs>", line=None, fields=FieldMap(), max_chars=max_chars)
        if isinstance(got, Reject):
            raise InputError("document" + (f" {got.id!r}" if got.id else "") + f": {got.reason}")
        return got

    return convert


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
