"""JSONL rows in, JSONL rows out, and the rejects of bad rows.

Input rows are JSON objects ``{"id", "text", "url"?, "site"?}`` (field names configurable with
:class:`FieldMap`); a row may carry ``html`` instead of ``text`` (converted with
:func:`dedupe.io.html.read_html`; the page's title, canonical link and ``og:url`` go to
``Document.meta["page"]``, which tells pages without a ``url`` apart, see
:func:`dedupe.engine.neardup.page_id`; the row's ``url`` is left as given). Every other field
passes through to the output row.

A row that cannot be processed becomes a :class:`Reject` (source, line number, id when known,
reason) instead of stopping the run: malformed JSON, a non-object row, a missing or non-string
text, invalid UTF-8, a document longer than ``max_doc_chars``. (Duplicate ids are caught by
:func:`dedupe.io.files.iter_inputs`, which sees all inputs.)

Output: :func:`out_row` (the input row with ``text`` replaced by the cleaned text plus a
``dedupe`` object), :func:`report_rows` (one row per removed or flagged span), :func:`reject_row`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import io
import json
import os
import pickle
import re
from dataclasses import dataclass
from typing import IO, Any, Iterator

import numpy as np

from ..core import native
from ..engine.neardup import PAGE_META
from ..errors import InputError
from ..models import CleanResult, Document
from .html import read_html

#: what an input row must not exceed beyond its text (JSON quoting and other fields)
_ROW_OVERHEAD = 1 << 20
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800-\udfff in a JSON line
_ID_PEEK = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,20})')


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Names of the input fields."""

    id: str = "id"
    text: str = "text"
    url: str = "url"
    site: str = "site"
    html: str = "html"


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was not processed, and why."""

    source: str
    line: int | None
    id: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "id": self.id, "reason": self.reason}


def _peek_id(raw: bytes, fields: FieldMap) -> str | None:
    if fields.id != "id":
        pat = re.compile(rb'"' + re.escape(fields.id.encode()) + rb'"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,20})')
    else:
        pat = _ID_PEEK
    m = pat.search(raw[:4096])
    if not m:
        return None
    try:
        v = json.loads(m.group(1))
    except ValueError:
        return None
    return str(v)


#: the deepest nesting of lists and objects a row may have (the row object is level 1): a fixed
#: limit, so whether a row is kept never depends on how deep the reader's call stack happens to
#: be (json and pickle stop at Python's recursion limit, which the caller's depth uses up)
MAX_NESTING = 200
_NESTED_REASON = f"a field is nested too deeply (more than {MAX_NESTING} levels of lists and objects)"


#: a JSON string as the text kernel's ``json_deeper`` reads one: a '"', then bytes where a
#: backslash takes the next one (or ends the text), up to a '"' or the end of the text
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.|\\\Z)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def _nested_over(raw: bytes, limit: int = MAX_NESTING) -> bool:
    """Does the JSON text ``raw`` nest lists and objects more than ``limit`` levels deep? Read
    from its bytes (brackets inside strings left out), before it is parsed: the parser itself
    stops at Python's recursion limit, which the caller's stack depth uses up. Lines with at most
    ``limit`` brackets in all (nearly every line) are not scanned; the others by the text
    kernel's ``json_deeper`` (~1 GB/s), else by the equal numpy code below (HTML rows, with their
    scripts and style sheets, have thousands)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if _TEXT is not None:
        return bool(_TEXT.json_deeper(raw, limit))
    return _nested_over_numpy(raw, limit)


def _nested_over_numpy(raw: bytes, limit: int) -> bool:
    """:func:`_nested_over` without the kernel: the strings cut out by a pattern, the running
    depth of the brackets left (``limit`` >= 0, as the kernel requires)."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    brackets = np.frombuffer(_JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET), dtype=np.uint8)
    if len(brackets) <= limit:
        return False
    steps = np.where((brackets == 0x5B) | (brackets == 0x7B), 1, -1)
    return int(np.cumsum(steps).max()) > limit


def _too_deep(row: Any, limit: int = MAX_NESTING) -> bool:
    """Does ``row`` nest lists and objects more than ``limit`` levels deep? (No recursion.)"""
    stack = [(v, 2) for v in row.values() if isinstance(v, (dict, list))] if isinstance(row, dict) else [(row, 1)]
    while stack:
        obj, depth = stack.pop()
        if depth > limit:
            return True
        for v in obj.values() if isinstance(obj, dict) else obj:
            if isinstance(v, (dict, list)):
                stack.append((v, depth + 1))
    return False


def _lone_surrogate(row: dict[str, Any]) -> str | None:
    """Why ``row`` cannot be written as UTF-8 (a lone surrogate, e.g. from a JSON ``\\ud800``), or None."""
    for key, value in row.items():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return f"a field name holds a lone surrogate ({key!r}): not valid Unicode text"
        try:
            if isinstance(value, str):
                value.encode("utf-8")
            elif isinstance(value, (list, dict)):
                json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"field {key!r} holds a lone surrogate (character {exc.start}): not valid Unicode text"
    return None


def row_to_document(
    row: Any, *, source: str, line: int | None, fields: FieldMap, max_chars: int, check_surrogates: bool = True
) -> Document | Reject:
    """One parsed row → a :class:`Document` (the row kept in ``meta["row"]``) or a :class:`Reject`.

    ``check_surrogates=False`` skips the lone-surrogate check (for callers that know the row has none).
    """
    if not isinstance(row, dict):
        return Reject(source, line, None, f"row is a JSON {type(row).__name__}, expected an object")
    if _too_deep(row):
        raw_id = row.get(fields.id)
        ok_id = isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and _lone_surrogate({"id": raw_id}) is None
        return Reject(source, line, str(raw_id) if ok_id else None, _NESTED_REASON)
    if check_surrogates:
        bad = _lone_surrogate(row)
        if bad is not None:
            raw_id = row.get(fields.id)
            return Reject(source, line, str(raw_id) if isinstance(raw_id, (str, int)) and _lone_surrogate({"id": raw_id}) is None else None, bad)
    raw_id = row.get(fields.id)
    if raw_id is None:
        doc_id = f"{source}:{line}"
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)
    else:
        return Reject(source, line, None, f"field {fields.id!r} must be a string or an integer, got {type(raw_id).__name__}")
    text = row.get(fields.text)
    from_html = False
    head: dict[str, str] = {}
    if text is None:
        html = row.get(fields.html)
        if html is None:
            return Reject(source, line, doc_id, f"missing text field {fields.text!r} (and no {fields.html!r} field)")
        if not isinstance(html, str):
            return Reject(source, line, doc_id, f"field {fields.html!r} must be a string, got {type(html).__name__}")
        if len(html) > max_chars * 4:
            return Reject(source, line, doc_id, f"HTML has {len(html):,} characters, more than 4 x max_doc_chars={max_chars:,}")
        try:
            page = read_html(html)
        except Exception as exc:  # noqa: BLE001 - a broken page is a reject, not a crash
            return Reject(source, line, doc_id, f"HTML could not be converted: {type(exc).__name__}: {exc}")
        text, head, from_html = page.text, page.head_meta(), True
    elif not isinstance(text, str):
        return Reject(source, line, doc_id, f"field {fields.text!r} must be a string, got {type(text).__name__}")
    if len(text) > max_chars:
        return Reject(source, line, doc_id, f"text has {len(text):,} characters, more than max_doc_chars={max_chars:,}")
    url = row.get(fields.url)
    site = row.get(fields.site)
    url = url if isinstance(url, str) and url else None
    site = str(site) if isinstance(site, (str, int)) and not isinstance(site, bool) and str(site) else None
    # the html field is dropped only when it became the text (then ``text`` takes its place)
    kept = {k: (None if k == fields.text else v) for k, v in row.items() if not (from_html and k == fields.html)}
    if from_html:
        kept[fields.text] = None
    meta = {"row": kept, "source": source, "line": line, "text_field": fields.text, "id_field": fields.id}
    if head:
        meta[PAGE_META] = head
    return Document(doc_id, text, url=url, site=site, meta=meta)


def as_document(obj: Any, *, max_chars: int, n: int | None = None, need_id: bool = False) -> Document:
    """A :class:`Document` from a Document or a dict row, converted as ``dedupe.clean_corpus``
    converts rows (ids as str or int, ``html`` rows, the same checks).

    Args:
        obj: a Document (returned as is) or a dict.
        max_chars: longest text accepted.
        n: position of the row in its iterable, for messages and the id of a row without one.
        need_id: refuse a row without an id (the persistent index needs one).

    Raises:
        InputError: the row cannot be a document; the message says why.
    """
    if isinstance(obj, Document):
        return obj
    where = "document" + (f" {n}" if n is not None else "")
    if need_id and isinstance(obj, dict) and obj.get("id") is None:
        raise InputError(f"{where}: needs an 'id' to be recorded in the index")
    got = row_to_document(obj, source="<docs>", line=n, fields=FieldMap(), max_chars=max_chars)
    if isinstance(got, Reject):
        raise InputError(where + (f" ({got.id!r})" if got.id else "") + f": {got.reason}")
    return got


def _bounded_lines(fh: IO[bytes], limit: int) -> Iterator["bytes | tuple[bytes, int]"]:
    """The lines of ``fh``; a line longer than ``limit`` bytes comes as (its first ``limit``
    bytes, its length) and the rest of it is read in 1 MB pieces and dropped, so one huge line
    (or a gzip bomb) never sits whole in memory."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while True:
            more = fh.readline(1 << 20)
            size += len(more)
            if not more or more.endswith(b"\n"):
                break
        yield line, size


def line_limit(max_chars: int) -> int:
    """The longest JSONL line (bytes, without its newline) that can hold a text of
    ``max_chars`` characters: a JSON-escaped text can take up to 6 bytes per character."""
    return max_chars * 6 + _ROW_OVERHEAD


def long_line_reject(head: bytes, size: int, *, source: str, line: int, fields: FieldMap, max_chars: int) -> Reject:
    """The reject of a line of ``size`` bytes over :func:`line_limit` (``head``: its first bytes)."""
    return Reject(source, line, _peek_id(head, fields), f"line has {size:,} bytes: the text cannot fit max_doc_chars={max_chars:,}")


def iter_jsonl(
    fh: IO[bytes], source: str, *, fields: FieldMap = FieldMap(), max_chars: int = 10_000_000, first_line: int = 1
) -> Iterator[Document | Reject]:
    """Documents (or rejects) of a binary JSONL stream; blank lines are skipped. ``first_line``:
    the line number of the stream's first line (a piece of a file)."""
    limit = line_limit(max_chars)
    for n, raw in enumerate(_bounded_lines(fh, limit), start=first_line):
        if isinstance(raw, tuple):  # an over-long line: its head and its length, never held whole
            head, size = raw
            yield long_line_reject(head, size, source=source, line=n, fields=fields, max_chars=max_chars)
            continue
        if not raw.strip():
            continue
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Reject(source, n, _peek_id(raw, fields), f"invalid UTF-8 at byte {exc.start} of the line")
            continue
        if n == 1 and s.startswith("\ufeff"):
            s = s[1:]
        if _nested_over(raw):  # never handed to the parser (see _nested_over)
            yield Reject(source, n, _peek_id(raw, fields), _NESTED_REASON)
            continue
        try:
            row = json.loads(s)
        except json.JSONDecodeError as exc:
            yield Reject(source, n, _peek_id(raw, fields), f"malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:  # deeper than the reader goes: past MAX_NESTING in any case
            yield Reject(source, n, _peek_id(raw, fields), _NESTED_REASON)
            continue
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            yield Reject(source, n, _peek_id(raw, fields), f"unreadable JSON value: {exc}")
            continue
        yield row_to_document(
            row, source=source, line=n, fields=fields, max_chars=max_chars,
            check_surrogates=_SURROGATE_ESCAPE.search(raw) is not None,
        )


#: a piece of a JSONL file for :func:`parse_jsonl_piece`: (path, byte offset, byte length, line
#: number of its first line, source name for messages, whether it is one line over
#: :func:`line_limit` (the length then counts its newline), field names, max_doc_chars)
JsonlPiece = tuple[str, int, int, int, str, bool, FieldMap, int]


def parse_jsonl_piece(piece: JsonlPiece) -> "list[Document | Reject]":
    """The rows of a piece of a JSONL file (:func:`dedupe.io.files.jsonl_pieces`), as
    :func:`iter_jsonl` reads them from the whole file: run by the corpus workers, which read
    the piece themselves."""
    path, offset, length, line, source, too_long, fields, max_chars = piece
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, min(length, 4096) if too_long else length, offset)
    finally:
        os.close(fd)
    if too_long:
        return [long_line_reject(data, length, source=source, line=line, fields=fields, max_chars=max_chars)]
    if len(data) != length:
        raise InputError(f"{source}: the file changed while it was read")
    return list(iter_jsonl(io.BytesIO(data), source, fields=fields, max_chars=max_chars, first_line=line))


def row_meta_blob(doc: Document) -> "tuple[str | None, int | None, bytes | None]":
    """What the ``corpus`` command keeps of an input row to write its output row later: (its
    source, its line, the pickled ``(url, site, meta)``; None when a field is nested too deeply
    to pickle). Run by the corpus workers on the documents they parse."""
    meta = doc.meta or {}
    try:
        blob: bytes | None = pickle.dumps((doc.url, doc.site, doc.meta), protocol=pickle.HIGHEST_PROTOCOL)
    except RecursionError:
        blob = None
    return meta.get("source"), meta.get("line"), blob


def dedupe_info(result: CleanResult) -> dict[str, Any]:
    """The ``dedupe`` object of an output row."""
    removed = {k: v for k, v in sorted(result.removed_chars().items())}
    flagged: dict[str, int] = {}
    for s in result.spans:
        if not s.removed:
            flagged[s.kind] = flagged.get(s.kind, 0) + 1
    return {
        "original_chars": len(result.original),
        "cleaned_chars": len(result.text),
        "removed_chars": removed,
        "flagged_spans": dict(sorted(flagged.items())),
        "cluster": result.meta.get("cluster"),
        "canonical": bool(result.meta.get("canonical", True)),
    }


def out_row(doc: Document, result: CleanResult) -> dict[str, Any]:
    """The input row with the text field replaced by the cleaned text, plus ``dedupe``."""
    return _output_row(doc.id, doc.meta, result.text, dedupe_info(result))


def _output_row(doc_id: str, meta: "dict[str, Any] | None", text: str, dedupe: Any) -> dict[str, Any]:
    """:func:`out_row` with the ``dedupe`` value given: the input row's fields in order, the text
    field replaced, ``dedupe`` where the row had one, else last."""
    meta = meta or {}
    row = dict(meta.get("row") or {"id": doc_id})
    id_field = meta.get("id_field", "id")
    if row.get(id_field) is None:  # a row without id (or with a null one) gets the one reports use
        row[id_field] = doc_id
    row[meta.get("text_field", "text")] = text
    row["dedupe"] = dedupe
    return row


def _around_dedupe(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields of an output row before and after its ``dedupe`` field."""
    keys = list(row)
    k = keys.index("dedupe")
    return {key: row[key] for key in keys[:k]}, {key: row[key] for key in keys[k + 1 :]}


def report_rows(result: CleanResult) -> Iterator[dict[str, Any]]:
    """One row per removed or flagged span: offsets into that document's original text."""
    for s in result.spans:
        kept = None
        if s.kept is not None:
            kept = {"doc_id": s.kept_doc if s.kept_doc is not None else result.doc_id, "start": s.kept[0], "end": s.kept[1]}
        yield {
            "doc_id": result.doc_id,
            "start": s.start,
            "end": s.end,
            "kind": s.kind,
            "removed": s.removed,
            "text": s.text,
            "kept": kept,
            "score": round(float(s.score), 4),
            "site_pages": s.site_pages,
            "rule": s.rule,
        }


def json_default(value: Any) -> Any:
    """JSON for the Parquet values ``json`` cannot encode (``json.dumps(default=...)``)."""
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _make_encoder() -> Any:
    """One encoder for every line: ``json.dumps`` with options builds a new encoder (and the C
    encoder under it) per call, a third of the cost of a short report row. The same C encoder
    ``json`` would build (same separators, string escaping, float repr and ``default``), without
    the circular-reference check (rows come from parsed JSON or Parquet: never circular); the
    pure-Python encoder when the C one is unavailable."""
    c_make = getattr(json.encoder, "c_make_encoder", None)
    if c_make is None:  # pragma: no cover - CPython always has it
        enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default)
        return lambda row: enc.encode(row)
    c_enc = c_make(None, json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda row: "".join(c_enc(row, 0))


_ENCODE = _make_encoder()
#: the text kernel (its ``report_lines`` formats report lines), or None
_TEXT = native.load("text")


def dumps(row: dict[str, Any]) -> str:
    """One JSONL line (UTF-8 kept readable, no trailing spaces; values of Parquet inputs that
    JSON cannot hold go through :func:`json_default`). Equal to ``json.dumps(row,
    ensure_ascii=False, separators=(",", ":"), default=json_default) + "\\n"``."""
    return _ENCODE(row) + "\n"


#: what :func:`encode_row_parts` returns: the OUT line without its cluster (``head`` ends with
#: ``"cluster":``, ``tail`` starts with ``,"canonical":true``), the REPORT lines, and the
#: characters removed / spans flagged by kind (for the summary); UTF-8 bytes
RowParts = tuple[bytes, bytes, bytes, "dict[str, int]", "dict[str, int]"]

_INFO_TAIL = '"cluster":null,"canonical":true}'


def encode_row_parts(doc_id: str, meta: "dict[str, Any] | None", result: CleanResult) -> "RowParts | None":
    """The output of one document whose near-duplicate cluster is not known yet (in a corpus
    worker, right after cleaning), for a document that will be its cluster's canonical member or
    in no cluster: ``head + cluster + tail`` (``cluster`` = :func:`dumps_cluster`) is
    ``dumps(out_row(doc, result'))`` for the ``result'`` with ``meta`` ``cluster`` and
    ``canonical=True``, and ``report`` is the :func:`dumps` of its :func:`report_rows`, joined.
    ``meta``: the document's ``Document.meta`` (as the readers set it). None when a value cannot
    be encoded (the caller then takes the dict path, which raises the same error).

    The ``dedupe`` object is formatted directly (one pass over the spans) when every span's kind
    is a ``str`` and the removed ones' offsets are ``int``: the encoder's characters (tested
    equal to :func:`_encode_row_parts_generic`, which any other value goes through)."""
    try:
        rmeta = result.meta
        if rmeta.get("cluster") is not None or not bool(rmeta.get("canonical", True)):
            return None
        removed: dict[str, int] = {}
        flagged: dict[str, int] = {}
        for sp in result.spans:
            kind = sp.kind
            if type(kind) is not str:
                return _encode_row_parts_generic(doc_id, meta, result)
            if sp.removed:
                a, b = sp.start, sp.end
                if type(a) is not int or type(b) is not int:
                    return _encode_row_parts_generic(doc_id, meta, result)
                removed[kind] = removed.get(kind, 0) + b - a
            else:
                flagged[kind] = flagged.get(kind, 0) + 1
        esc = _ESC
        info = (
            '"dedupe":{"original_chars":' + repr(len(result.original)) + ',"cleaned_chars":' + repr(len(result.text))
            + ',"removed_chars":{' + ",".join([esc(k) + ":" + repr(v) for k, v in sorted(removed.items())])
            + '},"flagged_spans":{' + ",".join([esc(k) + ":" + repr(v) for k, v in sorted(flagged.items())])
            + '},"cluster":'
        )
        before, after = _around_dedupe(_output_row(doc_id, meta, result.text, None))
        tf = (meta or {}).get("text_field", "text")
        # the cleaned text (most of the row) straight to UTF-8 JSON by the kernel when it can
        text_j = _TEXT.json_str(result.text) if _TEXT is not None and type(tf) is str and type(result.text) is str else None
        if text_j is None:
            head = (_ENCODE(before)[:-1] + ("," if before else "") + info).encode("utf-8")
            tail = (',"canonical":true}' + ("," + _ENCODE(after)[1:] if after else "}") + "\n").encode("utf-8")
        else:
            head = _object_bytes(before, tf, text_j)[:-1] + (b"," if before else b"") + info.encode("utf-8")
            tail = b',"canonical":true}' + (b"," + _object_bytes(after, tf, text_j)[1:] if after else b"}") + b"\n"
        return head, tail, report_bytes(result), removed, flagged
    except (TypeError, ValueError, RecursionError):  # ValueError covers UnicodeEncodeError
        return None


_ESC = json.encoder.encode_basestring  # how the encoder writes a str (ensure_ascii=False)


def _object_bytes(d: "dict[Any, Any]", tf: str, text_j: bytes) -> bytes:
    """The UTF-8 of ``_ENCODE(d)`` where ``d[tf]``, when ``d`` has it, is encoded as ``text_j``
    (the kernel's ``json_str`` of it): the members before and after it through the encoder."""
    if tf not in d:
        return _ENCODE(d).encode("utf-8")
    keys = list(d)
    j = keys.index(tf)
    parts = []
    if j:
        parts.append(_ENCODE({key: d[key] for key in keys[:j]})[1:-1].encode("utf-8"))
    parts.append(_ESC(tf).encode("utf-8") + b":" + text_j)
    if j + 1 < len(keys):
        parts.append(_ENCODE({key: d[key] for key in keys[j + 1 :]})[1:-1].encode("utf-8"))
    return b"{" + b",".join(parts) + b"}"


def _encode_row_parts_generic(doc_id: str, meta: "dict[str, Any] | None", result: CleanResult) -> "RowParts | None":
    """:func:`encode_row_parts` (same parts) through :func:`out_row` and :func:`dedupe_info`: the
    reference of the direct formatting, and its path for kinds or offsets of other types."""
    try:
        doc = Document(doc_id, "", meta=meta)
        row = out_row(doc, result)  # "dedupe" with cluster None and canonical True (result.meta has neither)
        info = row["dedupe"]
        if info["cluster"] is not None or info["canonical"] is not True:
            return None
        before, after = _around_dedupe(row)
        info_json = _ENCODE(info)
        if not info_json.endswith(_INFO_TAIL):  # pragma: no cover - the key order of dedupe_info
            return None
        head = _ENCODE(before)[:-1] + ("," if before else "") + '"dedupe":' + info_json[: -len(_INFO_TAIL)] + '"cluster":'
        tail = ',"canonical":true}' + ("," + _ENCODE(after)[1:] if after else "}") + "\n"
        report = report_bytes(result)
        removed: dict[str, int] = {}
        flagged: dict[str, int] = {}
        for s in result.spans:
            if s.removed:
                removed[s.kind] = removed.get(s.kind, 0) + s.end - s.start
            else:
                flagged[s.kind] = flagged.get(s.kind, 0) + 1
        return head.encode("utf-8"), tail.encode("utf-8"), report, removed, flagged
    except (TypeError, ValueError, RecursionError):  # ValueError covers UnicodeEncodeError
        return None


def report_bytes(result: CleanResult) -> bytes:
    """The UTF-8 of ``"".join(dumps(r) for r in report_rows(result))``: by the text kernel's
    ``report_lines`` (the same bytes, tested) when every value has the plain type it formats,
    else through the JSON encoder."""
    if _TEXT is not None:
        got = _TEXT.report_lines(result.doc_id, result.spans, round)
        if got is not None:
            return got
    return "".join(_ENCODE(r) + "\n" for r in report_rows(result)).encode("utf-8")


def dumps_cluster(cluster: str | None) -> bytes:
    """The JSON of a ``cluster`` value between :func:`encode_row_parts`'s ``head`` and ``tail``."""
    return b"null" if cluster is None else _ENCODE(cluster).encode("utf-8")
