"""Read one text input (a file path or ``-`` for stdin) with strict, explained checks."""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib

from ..errors import InputError

_GZIP_MAGIC = b"\x1f\x8b"


def decode_text(data: bytes, source: str) -> str:
    """Decode UTF-8 bytes (a BOM is dropped), refusing binary data and invalid UTF-8.

    Raises:
        InputError: with a one-line message that names ``source`` and what is wrong.
    """
    if b"\x00" in data[:65536] or b"\x00" in data[-65536:]:
        raise InputError(f"{source}: looks like a binary file (NUL bytes); dedupe reads UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: invalid UTF-8 at byte {exc.start}: {exc.reason}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def read_bytes(path: str, *, max_bytes: int | None = None) -> tuple[bytes, str]:
    """The bytes of a file, or of standard input when ``path == "-"``, and the name to use in
    messages. Gzip data (by its magic bytes, whatever the name) is decompressed, at most
    ``max_bytes + 1`` bytes of it, so a small bomb cannot fill memory.

    Raises:
        InputError: missing path, a directory, unreadable, too large, corrupt gzip.
    """
    if path == "-":
        data = sys.stdin.buffer.read()
        source = "<stdin>"
    else:
        source = path
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory, expected a text file (use `dedupe corpus` for directories)")
        try:
            with open(path, "rb") as fh:
                head = fh.read(2)
                fh.seek(0)
                if head != _GZIP_MAGIC and max_bytes is not None and os.fstat(fh.fileno()).st_size > max_bytes:
                    raise InputError(f"{path}: {os.fstat(fh.fileno()).st_size:,} bytes, more than the limit of {max_bytes:,}")
                data = fh.read()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(-1 if max_bytes is None else max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{source}: corrupt or truncated gzip data ({exc})") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{source}: {len(data):,} bytes, more than the limit of {max_bytes:,}")
    return data, source


def read_text(path: str, *, max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file (gzipped or not), or standard input when ``path == "-"``.

    Raises:
        InputError: missing path, a directory, unreadable, binary, invalid UTF-8, empty, too large.
    """
    data, source = read_bytes(path, max_bytes=max_bytes)
    text = decode_text(data, source)
    if not text.strip():
        raise InputError(f"{source}: empty input (no text to clean)")
    return text
