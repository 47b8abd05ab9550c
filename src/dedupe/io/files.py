"""Corpus inputs: JSONL files, ``-`` (JSONL on stdin), directories of ``.txt`` / ``.html`` files.

:func:`iter_inputs` walks the inputs in the order given and yields :class:`~dedupe.models.Document`
or :class:`~dedupe.io.jsonl.Reject` items, so that every input row is accounted for: rows out +
rejects = rows in. It also rejects a second row with an id already seen (in any input).

Directories: every ``.txt``, ``.html`` and ``.htm`` file below the directory, in sorted order of
their relative paths; the id is the relative path (``/``-separated), the site is the file's
parent folder (files directly in the directory share the site ``""``: one group). ``.txt`` must
be UTF-8; ``.html`` is decoded robustly and converted to text (one block per line); its title, canonical
link and ``og:url`` go to ``Document.meta["page"]`` (files have no ``url``: the title tells two
pages of a folder apart, see :func:`dedupe.engine.neardup.page_id`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Iterator

from ..engine.neardup import PAGE_META
from ..errors import InputError
from ..models import Document
from .html import decode_html, read_html
from .jsonl import FieldMap, Reject, iter_jsonl
from .text import decode_text

TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm")


def _dir_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if f.lower().endswith(TEXT_SUFFIXES + HTML_SUFFIXES) and not f.startswith("."):
                out.append(Path(dirpath) / f)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def iter_directory(root: str | Path, *, max_chars: int = 10_000_000) -> Iterator[Document | Reject]:
    """Documents of the ``.txt`` / ``.html`` files below ``root`` (sorted by relative path)."""
    root = Path(root)
    for path in _dir_files(root):
        rel = path.relative_to(root).as_posix()
        site = path.parent.relative_to(root).as_posix()
        site = "" if site == "." else site
        try:
            size = path.stat().st_size
            is_html = path.name.lower().endswith(HTML_SUFFIXES)
            if size > max_chars * (16 if is_html else 4):
                yield Reject(str(root), None, rel, f"file has {size:,} bytes: the text cannot fit max_doc_chars={max_chars:,}")
                continue
            data = path.read_bytes()
        except OSError as exc:
            yield Reject(str(root), None, rel, f"cannot read: {exc.strerror}")
            continue
        head: dict[str, str] = {}
        try:
            if is_html:
                page = read_html(decode_html(data))
                text, head = page.text, page.head_meta()
            else:
                text = decode_text(data, rel)
        except InputError as exc:
            yield Reject(str(root), None, rel, str(exc))
            continue
        if len(text) > max_chars:
            yield Reject(str(root), None, rel, f"text has {len(text):,} characters, more than max_doc_chars={max_chars:,}")
            continue
        meta = {"row": {"id": rel, "text": None}, "source": str(root), "line": None, "text_field": "text"}
        if head:
            meta[PAGE_META] = head
        yield Document(rel, text, site=site, meta=meta)


def iter_inputs(inputs: Iterable[str], *, fields: FieldMap = FieldMap(), max_chars: int = 10_000_000) -> Iterator[Document | Reject]:
    """Documents and rejects of all inputs, in order; duplicate ids are rejected.

    Raises:
        InputError: an input path that does not exist or cannot be opened (nothing of it can be
            read, so it is not a row-level reject).
    """
    seen: dict[str, str] = {}
    for inp in inputs:
        if inp == "-":
            items: Iterator[Document | Reject] = iter_jsonl(sys.stdin.buffer, "<stdin>", fields=fields, max_chars=max_chars)
            fh = None
        elif os.path.isdir(inp):
            items = iter_directory(inp, max_chars=max_chars)
            fh = None
        elif os.path.exists(inp):
            try:
                fh = open(inp, "rb")
            except OSError as exc:
                raise InputError(f"{inp}: cannot read: {exc.strerror}") from None
            items = iter_jsonl(fh, inp, fields=fields, max_chars=max_chars)
        else:
            raise InputError(f"{inp}: no such file or directory")
        try:
            for item in items:
                if isinstance(item, Document):
                    where = f"{item.meta.get('source')}" + (f":{item.meta.get('line')}" if item.meta.get("line") else "")
                    first = seen.get(item.id)
                    if first is not None:
                        yield Reject(str(item.meta.get("source")), item.meta.get("line"), item.id, f"duplicate id (first seen at {first})")
                        continue
                    seen[item.id] = where
                yield item
        finally:
            if fh is not None:
                fh.close()
