"""Corpus inputs: JSONL files, ``-`` (JSONL on stdin), Parquet files (``.parquet``, see
:mod:`dedupe.io.parquet`), directories of ``.txt`` / ``.html`` files.

:func:`iter_inputs` walks the inputs in the order given and yields :class:`~dedupe.models.Document`
or :class:`~dedupe.io.jsonl.Reject` items, so that every input row is accounted for: rows out +
rejects = rows in. It also rejects a second row with an id already seen (in any input).

Directories: every ``.txt``, ``.html`` and ``.htm`` file below the directory (each also gzipped,
``.txt.gz`` …), in sorted order of their relative paths; the id is the relative path
(``/``-separated), the site is the file's parent folder (files directly in the directory share the
site ``""``: one group). Every other file below it (hidden ones aside) is a reject row that names
it ("not a .txt/.html/.htm file"), so a folder of unsupported files says what it skipped; so is a
symbolic link to a folder (not followed). File names that are not UTF-8 give ids with ``\\xNN``
escapes. ``.txt`` must
be UTF-8; ``.html`` is decoded robustly and converted to text (one block per line); its title, canonical
link and ``og:url`` go to ``Document.meta["page"]`` (files have no ``url``: the title tells two
pages of a folder apart, see :func:`dedupe.engine.neardup.page_id`).

JSONL inputs whose name ends in ``.gz`` are read through gzip; a corrupt or truncated stream ends
that input with a reject row saying after which line, and the other inputs go on.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator

from ..engine.neardup import PAGE_META
from ..errors import InputError
from ..models import Document
from .html import check_not_binary, decode_html, read_html
from .jsonl import FieldMap, JsonlPiece, Reject, iter_jsonl, line_limit
from .parquet import is_parquet_path, iter_parquet
from .text import decode_text

TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm")


#: the read buffer of a JSONL input file (read line by line: one ``read`` per MB instead of per 8 KB)
READ_BUFFER = 1 << 20

#: what a corrupt or truncated gzip stream raises while it is read
GZIP_ERRORS = (OSError, EOFError, zlib.error)


def input_kind(name: str) -> str | None:
    """``"text"``, ``"html"`` or None (not an input file) from a file name, ``.gz`` or not."""
    low = name.lower()
    if low.endswith(".gz"):
        low = low[:-3]
    if low.endswith(TEXT_SUFFIXES):
        return "text"
    if low.endswith(HTML_SUFFIXES):
        return "html"
    return None


def _dir_files(root: Path) -> tuple[list[Path], list[Path]]:
    """Every non-hidden file below ``root``, sorted by relative path (hidden folders skipped),
    and the symbolic links to folders met on the way (not followed: a link can loop)."""
    out: list[Path] = []
    links: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                links.append(Path(dirpath) / d)
            else:
                keep.append(d)
        dirnames[:] = keep
        out.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return sorted(out, key=lambda p: p.relative_to(root).as_posix()), links


def _safe_id(rel: str) -> str:
    """A file's relative path as an id that can be written as UTF-8: bytes of a file name that
    are not UTF-8 (``os.walk`` gives them as lone surrogates) become ``\\xNN`` escapes."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _read_capped(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` (decompressed when it ends in ``.gz``), at most ``limit + 1`` of them."""
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read(limit + 1)
    with open(path, "rb") as fh:
        return fh.read(limit + 1)


def iter_directory(root: str | Path, *, max_chars: int = 10_000_000) -> Iterator[Document | Reject]:
    """Documents of the ``.txt`` / ``.html`` files below ``root`` (sorted by relative path), and
    a reject for every other file."""
    root = Path(root)
    files, links = _dir_files(root)
    for link in links:
        yield Reject(str(root), None, _safe_id(link.relative_to(root).as_posix()), "symbolic link to a folder: not followed")
    for path in files:
        rel = _safe_id(path.relative_to(root).as_posix())
        kind = input_kind(path.name)
        if kind is None:
            yield Reject(str(root), None, rel, "not a .txt/.html/.htm file (or a .gz of one): skipped")
            continue
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError as exc:  # a dangling link, a file gone meanwhile
            yield Reject(str(root), None, rel, f"cannot read: {exc.strerror}")
            continue
        if not regular:  # a FIFO or a device would block or never end
            yield Reject(str(root), None, rel, "not a regular file (a pipe or a device): skipped")
            continue
        site = _safe_id(path.parent.relative_to(root).as_posix())
        site = "" if site == "." else site
        is_html = kind == "html"
        limit = max_chars * (16 if is_html else 4)
        try:
            data = _read_capped(path, limit)
        except GZIP_ERRORS as exc:
            why = f"cannot read: {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else f"not a valid gzip file ({exc})"
            yield Reject(str(root), None, rel, why)
            continue
        if len(data) > limit:
            yield Reject(str(root), None, rel, f"file has over {limit:,} bytes: the text cannot fit max_doc_chars={max_chars:,}")
            continue
        head: dict[str, str] = {}
        try:
            if is_html:
                check_not_binary(data, rel)
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


def _sniff_gzip(fh: IO[bytes]) -> tuple[IO[bytes], bool]:
    """``fh``, or a gzip reader over it when it starts with gzip's magic bytes (a JSONL stream
    piped through ``gzip``, or a gzipped file without the ``.gz`` name)."""
    if not hasattr(fh, "peek"):
        fh = io.BufferedReader(fh)  # type: ignore[arg-type]
    if fh.peek(2)[:2] == b"\x1f\x8b":  # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=fh, mode="rb"), True  # type: ignore[return-value]
    return fh, False


def _gz_guarded(items: Iterator[Document | Reject], source: str) -> Iterator[Document | Reject]:
    """``items`` of a gzipped JSONL input; a corrupt or truncated stream ends it with a reject."""
    last = 0
    try:
        for item in items:
            line = item.meta.get("line") if isinstance(item, Document) else item.line
            last = line or last
            yield item
    except GZIP_ERRORS as exc:
        yield Reject(source, None, None, f"gzip stream is corrupt or truncated after line {last}: the rest of the file cannot be read ({exc})")


def iter_inputs(
    inputs: Iterable[str], *, fields: FieldMap = FieldMap(), max_chars: int = 10_000_000, schemas: list | None = None
) -> Iterator[Document | Reject]:
    """Documents and rejects of all inputs, in order; duplicate ids are rejected. A path ending
    in ``.parquet`` / ``.pq`` is read as Parquet (:func:`dedupe.io.parquet.iter_parquet`; its
    Arrow schema is appended to ``schemas`` when given).

    Raises:
        InputError: an input path that does not exist or cannot be opened (nothing of it can be
            read, so it is not a row-level reject).
    """
    seen: dict[str, str] = {}
    for inp in inputs:
        raw = None
        if inp == "-":
            stream, gz = _sniff_gzip(sys.stdin.buffer)
            items: Iterator[Document | Reject] = iter_jsonl(stream, "<stdin>", fields=fields, max_chars=max_chars)
            if gz:
                items = _gz_guarded(items, "<stdin>")
            fh = None
        elif os.path.isdir(inp):
            items = iter_directory(inp, max_chars=max_chars)
            fh = None
        elif os.path.exists(inp) and is_parquet_path(inp):
            items = iter_parquet(inp, fields=fields, max_chars=max_chars, schemas=schemas)
            fh = None
        elif os.path.exists(inp):
            try:
                if inp.lower().endswith(".gz"):
                    fh, gz = gzip.open(inp, "rb"), True
                else:  # gzip without the .gz name: by its magic bytes
                    raw = open(inp, "rb", buffering=READ_BUFFER)
                    fh, gz = _sniff_gzip(raw)
            except OSError as exc:
                raise InputError(f"{inp}: cannot read: {exc.strerror}") from None
            items = iter_jsonl(fh, inp, fields=fields, max_chars=max_chars)
            if gz:
                items = _gz_guarded(items, inp)
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
            if raw is not None:  # a GzipFile over a file does not close the file
                raw.close()


def plain_jsonl_files(inputs: Iterable[str]) -> bool:
    """Are all ``inputs`` regular files read as plain JSONL (not ``-``, a directory, Parquet, a
    ``.gz`` name or gzip's magic bytes)? Such inputs can be cut in pieces that the corpus
    workers read and parse themselves (:func:`jsonl_pieces`)."""
    for inp in inputs:
        if inp == "-" or inp.lower().endswith(".gz") or is_parquet_path(inp):
            return False
        try:
            if not stat.S_ISREG(os.stat(inp).st_mode):
                return False
            with open(inp, "rb") as fh:
                if fh.read(2) == b"\x1f\x8b":
                    return False
        except OSError:
            return False
    return True


#: bytes read at a time while cutting a JSONL file in pieces
PIECE_READ = 1 << 20


def jsonl_pieces(path: str, *, fields: FieldMap = FieldMap(), max_chars: int = 10_000_000, target: int = 1 << 19) -> Iterator[JsonlPiece]:
    """A plain JSONL file cut in pieces of whole lines of about ``target`` bytes (each ends
    after the first newline at or after ``target`` bytes from its start), in order, for
    :func:`dedupe.io.jsonl.parse_jsonl_piece`; a line longer than
    :func:`~dedupe.io.jsonl.line_limit` is a piece of its own, marked (its rows are then one
    reject, as :func:`iter_inputs` gives), and is never held whole: at most a piece and its
    last line are in memory. The file is read to its end, in blocks of :data:`PIECE_READ`
    bytes, only to find the newlines.

    Raises:
        InputError: the file cannot be opened or read.
    """
    limit = line_limit(max_chars)
    where = os.path.abspath(path)  # the workers open it by name
    try:
        fh = open(path, "rb", buffering=0)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        data = bytearray()  # the file's bytes from offset base on
        base = pos = 0  # pos: where the next piece starts
        line = 1
        eof = False

        def more() -> None:
            nonlocal eof
            try:
                got = fh.read(PIECE_READ)
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror}") from None
            if got:
                data.extend(got)
            else:
                eof = True

        while True:
            want = pos + target - 1  # the piece ends after the first newline from here on
            while not eof and base + len(data) <= want:
                more()
            if pos >= base + len(data):
                return  # the whole file is cut
            # the piece's last line starts after the last newline before `want`
            head = data.rfind(b"\n", pos - base, max(min(want, base + len(data)) - base, pos - base)) + 1 + base
            head = max(head, pos)
            cut = -1
            start = max(min(want, base + len(data)), head)  # where to look for the newline (file offset)
            while True:
                nl = data.find(b"\n", start - base)
                if nl >= 0:
                    cut = base + nl + 1
                    break
                start = base + len(data)  # searched up to here: only what more() adds is new
                if eof:
                    break
                if base + len(data) - head > limit + 1:  # the last line is already too long
                    break
                more()
            if cut >= 0 or eof:
                end = cut if cut >= 0 else base + len(data)
                last_end = end - 1 if cut >= 0 else end  # the last line without its newline
                if last_end - head <= limit:
                    yield (where, pos, end - pos, line, path, False, fields, max_chars)
                    line += data.count(b"\n", pos - base, end - base)
                    del data[: end - base]
                    base = pos = end
                    continue
            # the last line is over the limit: the pieces before it, then the line alone, read
            # through without being kept
            if head > pos:
                yield (where, pos, head - pos, line, path, False, fields, max_chars)
                line += data.count(b"\n", pos - base, head - base)
            size = 0
            del data[: head - base]
            base = head
            while True:
                nl = data.find(b"\n")
                if nl >= 0:
                    size += nl + 1
                    del data[: nl + 1]
                    break
                size += len(data)
                data.clear()
                if eof:
                    break
                more()
            yield (where, head, size, line, path, True, fields, max_chars)
            line += 1
            base = pos = head + size
