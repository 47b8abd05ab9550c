"""Read one text input (a file path or ``-`` for stdin) with strict, explained checks."""

from __future__ import annotations

import gzip
import io
import os
import stat
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
    """The bytes of a file (a pipe such as ``/dev/stdin`` too), or of standard input when
    ``path == "-"``, and the name to use in messages. Gzip data (by its magic bytes, whatever the
    name) is decompressed as it is read, at most ``max_bytes + 1`` bytes of it, so neither a large
    file nor a gzip bomb is held whole in memory.

    Raises:
        InputError: missing path, a directory, unreadable, too large, corrupt gzip.
    """
    limit = -1 if max_bytes is None else max_bytes + 1
    if path == "-":
        return _read_stream(sys.stdin.buffer, "<stdin>", limit, max_bytes), "<stdin>"
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a text file (use `dedupe corpus` for directories)")
    try:
        with open(path, "rb") as fh:
            return _read_stream(fh, path, limit, max_bytes), path
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_stream(fh: "io.BufferedReader", source: str, limit: int, max_bytes: int | None) -> bytes:
    """Up to ``limit`` bytes of ``fh`` (decompressed when it starts with gzip's magic bytes)."""
    if not hasattr(fh, "peek"):  # an in-memory stream (tests, embedding callers)
        fh = io.BufferedReader(fh)  # type: ignore[arg-type]
    if fh.peek(2)[:2] == _GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=fh) as gz:
                data = gz.read(limit)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{source}: corrupt or truncated gzip data ({exc})") from None
    else:
        try:
            st = os.fstat(fh.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            st = None
        if st is not None and stat.S_ISREG(st.st_mode) and max_bytes is not None and st.st_size > max_bytes:
            raise InputError(f"{source}: {st.st_size:,} bytes, more than the limit of {max_bytes:,}")
        data = fh.read(limit)
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{source}: more than the limit of {max_bytes:,} bytes")
    return data


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
