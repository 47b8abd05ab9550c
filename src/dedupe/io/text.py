"""Read one text input (a file path or ``-`` for stdin) with strict, explained checks."""

from __future__ import annotations

import os
import sys

from ..errors import InputError


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


def read_text(path: str, *, max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file, or standard input when ``path == "-"``.

    Raises:
        InputError: missing path, a directory, unreadable, binary, invalid UTF-8, empty, too large.
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
        if max_bytes is not None and os.path.getsize(path) > max_bytes:
            raise InputError(f"{path}: {os.path.getsize(path):,} bytes, more than the limit of {max_bytes:,}")
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{source}: {len(data):,} bytes, more than the limit of {max_bytes:,}")
    text = decode_text(data, source)
    if not text.strip():
        raise InputError(f"{source}: empty input (no text to clean)")
    return text
