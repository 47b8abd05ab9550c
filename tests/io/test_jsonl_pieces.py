"""Plain JSONL files cut in pieces for the corpus workers (``io.files.jsonl_pieces``) and parsed
piece by piece (``io.jsonl.parse_jsonl_piece``) give the rows ``iter_jsonl`` gives for the whole
file: the same documents and rejects, with the same line numbers, whatever the piece size."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dedupe.io.files import jsonl_pieces, plain_jsonl_files
from dedupe.io.jsonl import FieldMap, iter_jsonl, line_limit, parse_jsonl_piece

MAX_CHARS = 10  # line_limit = 60 bytes + 1 MiB: over-long lines stay cheap to write


def _rows(path: Path, *, target: int) -> list:
    out = []
    for piece in jsonl_pieces(str(path), fields=FieldMap(), max_chars=MAX_CHARS, target=target):
        out.extend(parse_jsonl_piece(piece))
    return out


def _whole(path: Path) -> list:
    with open(path, "rb") as fh:
        return list(iter_jsonl(io.BufferedReader(fh), str(path), fields=FieldMap(), max_chars=MAX_CHARS))


def _file(tmp_path: Path, parts: list[bytes]) -> Path:
    p = tmp_path / "in.jsonl"
    p.write_bytes(b"".join(parts))
    return p


LIMIT = line_limit(MAX_CHARS)


def _long(n: int, row_id: str) -> bytes:
    """A JSON row of exactly ``n`` bytes (no newline)."""
    head = json.dumps({"id": row_id, "text": ""})[:-2]
    pad = n - len(head) - 2
    return (head + "x" * pad + '"}').encode()


CASES = {
    "plain": [b'{"id": "a", "text": "one"}\n', b'{"id": "b", "text": "two"}\n'],
    "bom blank crlf no final newline": [
        "\ufeff".encode(), b'{"id": "a", "text": "one"}\r\n', b"\n", b"   \n", b'{"id": "b", "text": "t"}\r\n', b'{"id": "c", "text": "x"}',
    ],
    "bad rows": [b"{not json\n", b"[1, 2]\n", b'{"id": "bad\xff", "text": "x"}\n', b'{"text": "no id"}\n', b'{"id": "a", "text": 3}\n'],
    "long lines": [
        b'{"id": "a", "text": "one"}\n', _long(LIMIT, "at-limit") + b"\n", _long(LIMIT + 1, "over") + b"\n",
        b'{"id": "b", "text": "two"}\n', _long(LIMIT + 5, "last-no-newline"),
    ],
    "long first line": [_long(LIMIT + 1, "first") + b"\n", b'{"id": "b", "text": "two"}\n\n\n'],
    "only blank lines": [b"\n\n  \n"],
    "empty": [],
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("target,block", [(1, 1 << 20), (7, 5), (64, 1 << 20), (64, 3), (1 << 19, 1 << 20), (1 << 19, 1000)])
def test_pieces_give_the_rows_of_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, target: int, block: int) -> None:
    from dedupe.io import files

    monkeypatch.setattr(files, "PIECE_READ", block)  # the file read in blocks of this many bytes
    path = _file(tmp_path, CASES[name])
    assert _rows(path, target=target) == _whole(path)


def test_an_over_long_line_is_its_own_piece_and_never_read_whole(tmp_path: Path) -> None:
    path = _file(tmp_path, CASES["long lines"])
    pieces = list(jsonl_pieces(str(path), max_chars=MAX_CHARS, target=1 << 19))
    longs = [p for p in pieces if p[5]]
    assert [(p[3], p[2]) for p in longs] == [(3, LIMIT + 2), (5, LIMIT + 5)]  # (line, bytes with its newline)
    # the pieces cover the file once, in order
    assert [p[1] for p in pieces] == [0] + [p[1] + p[2] for p in pieces[:-1]]
    assert sum(p[2] for p in pieces) == path.stat().st_size


def test_only_plain_files_are_cut(tmp_path: Path) -> None:
    import gzip

    plain = _file(tmp_path, CASES["plain"])
    gz_named = tmp_path / "in.jsonl.gz"
    gz_named.write_bytes(gzip.compress(plain.read_bytes()))
    gz_magic = tmp_path / "gz.jsonl"
    gz_magic.write_bytes(gzip.compress(plain.read_bytes()))
    assert plain_jsonl_files([str(plain), str(plain)])
    for other in ("-", str(tmp_path), str(gz_named), str(gz_magic), str(tmp_path / "x.parquet"), str(tmp_path / "missing.jsonl")):
        assert not plain_jsonl_files([str(plain), other])


def test_rows_nested_past_the_limit_are_rejected_at_any_stack_depth() -> None:
    """The nesting limit is fixed (MAX_NESTING levels, the row being the first): a row is kept or
    rejected whatever the depth of the reader's call stack (json and pickle stop at Python's
    recursion limit, which that depth uses up)."""
    from dedupe.io.jsonl import MAX_NESTING, row_to_document

    def at_depth(frames: int, row: dict):
        if frames:
            return at_depth(frames - 1, row)
        return row_to_document(row, source="s", line=1, fields=FieldMap(), max_chars=100)

    for levels, kept in ((MAX_NESTING, True), (MAX_NESTING + 1, False)):
        row = {"id": "a", "text": "t", "x": json.loads("[" * (levels - 1) + "]" * (levels - 1))}
        for frames in (0, 300):
            got = at_depth(frames, row)
            assert (getattr(got, "reason", None) is None) == kept, (levels, frames, got)


def test_deep_lines_are_rejected_before_parsing_whatever_the_stack() -> None:
    """A line nesting past MAX_NESTING is rejected from its bytes, before the JSON parser runs
    (which stops at Python's recursion limit, sooner the deeper the caller's stack): the same
    reject, id included, at any stack depth. Brackets inside strings do not count."""
    from dedupe.io.jsonl import MAX_NESTING, _nested_over

    deep = 600  # the parser reads it from a shallow stack, not from 400 frames down
    line = ('{"pad": {"id": "inner"}, "x": ' + "[" * deep + "]" * deep + ', "id": "outer", "text": "hi"}\n').encode()

    def read(frames: int) -> list:
        if frames:
            return read(frames - 1)
        return list(iter_jsonl(io.BytesIO(line), "s", max_chars=100))

    got = [read(frames) for frames in (0, 150, 400)]
    assert got[0] == got[1] == got[2] and "nested too deeply" in got[0][0].reason
    quoted = '{"id": "a", "text": "' + "[" * 500 + '\\"{{{"}'
    assert not _nested_over(quoted.encode()) and json.loads(quoted)["id"] == "a"
    for levels in (MAX_NESTING, MAX_NESTING + 1):
        raw = ('{"id": "a", "x": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}").encode()
        assert _nested_over(raw) == (levels > MAX_NESTING)


def test_nesting_scan_kernel_equals_the_numpy_code() -> None:
    """The text kernel's json_deeper and the numpy scan agree on any bytes: brackets, quotes,
    backslashes (one at the very end included), unterminated strings, raw newlines."""
    import random

    from dedupe.io import jsonl as J

    if J._TEXT is None:
        pytest.skip("text kernel not built")
    rng = random.Random(7)
    alpha = b'[]{}"\\\\ab\n'
    for _ in range(5000):
        raw = bytes(rng.choice(alpha) for _ in range(rng.randint(0, 50)))
        for limit in (0, 1, 3):
            assert bool(J._TEXT.json_deeper(raw, limit)) == J._nested_over_numpy(raw, limit), (raw, limit)
    for scan in (J._TEXT.json_deeper, J._nested_over_numpy):  # a negative limit is refused by both
        with pytest.raises(ValueError):
            scan(b"}[", -1)
