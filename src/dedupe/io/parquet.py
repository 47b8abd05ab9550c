"""Parquet rows in and out (pyarrow; the optional ``parquet`` extra).

Web corpora are often shipped as Parquet (C4, FineWeb, CommonCrawl derivatives). ``dedupe corpus``
reads ``.parquet`` inputs and writes ``--out`` / ``--report`` as Parquet when their name ends in
``.parquet``:

* **Input**: one row per Parquet row, read in record batches (the file is never loaded whole),
  converted exactly as JSONL rows are (:func:`dedupe.io.jsonl.row_to_document`: the same field
  names, ``html`` rows, rejects for a missing or non-string text, an over-long text…); the row
  number (1-based) stands where JSONL gives the line. A file that is not Parquet, or whose schema
  has neither the text nor the HTML column, is ONE reject naming the file (not one per row); the
  other inputs go on.
* **Output rows** keep every input column (the types of the Parquet inputs; for other inputs,
  the type of all the column's values, or JSON text when they have none in common; see
  :class:`ParquetRowWriter`), the text column replaced by the cleaned text, plus a ``dedupe``
  struct column (the JSONL ``dedupe`` object; ``removed_chars`` / ``flagged_spans`` as maps).
* **Report rows**: one per removed or flagged span, as the JSONL report, with a fixed schema.

Values that JSON cannot hold (timestamps, decimals, bytes) in other columns are written to a
JSONL ``--out`` as ISO dates, strings and base64 (:func:`dedupe.io.jsonl.json_default`).
"""

from __future__ import annotations

import json
import pickle
import tempfile
from typing import Any, Iterator

from ..errors import InputError
from ..models import Document
from .jsonl import FieldMap, Reject, json_default, row_to_document

#: Parquet rows read per record batch
BATCH_ROWS = 512
#: output rows per Parquet write (a row group)
WRITE_ROWS = 2048

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet_path(path: str) -> bool:
    return path.lower().endswith(PARQUET_SUFFIXES)


def _pa() -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InputError("Parquet needs pyarrow: pip install 'dedupe-spans[parquet]'") from None
    import pyarrow as pa

    return pa


def iter_parquet(
    path: str, *, fields: FieldMap = FieldMap(), max_chars: int = 10_000_000, schemas: list[Any] | None = None
) -> Iterator[Document | Reject]:
    """Documents (or rejects) of the rows of a Parquet file, batch by batch. ``schemas``: the
    file's Arrow schema is appended to it (the output keeps the input's column types)."""
    pa = _pa()
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        yield Reject(path, None, None, f"not a readable Parquet file: {exc}")
        return
    schema = pf.schema_arrow
    names = set(schema.names)
    if fields.text not in names and fields.html not in names:
        yield Reject(path, None, None, f"no {fields.text!r} or {fields.html!r} column (columns: {', '.join(schema.names)})")
        return
    if schemas is not None:
        schemas.append(schema)
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                n += 1
                # Arrow strings are valid UTF-8: no lone surrogate to look for
                yield row_to_document(row, source=path, line=n, fields=fields, max_chars=max_chars, check_surrogates=False)
    except (pa.ArrowException, OSError) as exc:
        yield Reject(path, None, None, f"Parquet file is corrupt after row {n}: the rest of it cannot be read ({exc})")


def _dedupe_type(pa: Any) -> Any:
    return pa.struct([
        ("original_chars", pa.int64()),
        ("cleaned_chars", pa.int64()),
        ("removed_chars", pa.map_(pa.string(), pa.int64())),
        ("flagged_spans", pa.map_(pa.string(), pa.int64())),
        ("cluster", pa.string()),
        ("canonical", pa.bool_()),
    ])


def report_schema() -> Any:
    pa = _pa()
    return pa.schema([
        ("doc_id", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("kind", pa.string()),
        ("removed", pa.bool_()),
        ("text", pa.string()),
        ("kept", pa.struct([("doc_id", pa.string()), ("start", pa.int64()), ("end", pa.int64())])),
        ("score", pa.float64()),
        ("site_pages", pa.int64()),
        ("rule", pa.string()),
    ])


def _as_map(d: dict[str, int]) -> list[tuple[str, int]]:
    return list(d.items())


class ParquetRowWriter:
    """Rows (dicts) to a Parquet file.

    Rows are spooled to an anonymous temporary file as they come, and written when the writer is
    closed, once every column and every value has been seen, so that no column is dropped and no
    type is guessed from the first rows only. A column's type is, in order: the fixed ``schema``'s;
    its type in the Parquet inputs (``input_schemas``, unified); the type Arrow infers from all
    its values (promoted across batches: int and float give float); and when its values have no
    common type (a number here, a string there), a string column of their JSON
    (:func:`dedupe.io.jsonl.json_default` for dates, decimals and bytes). The text column is a
    string; the ``dedupe`` column (``dedupe_column``) a struct.

    Args:
        path: the output file (created or replaced; checked writable at once).
        schema: the whole output schema (report rows), or None.
        input_schemas: schemas of the Parquet inputs (filled as they are read).
        text_field: the text column.
        dedupe_column: rows carry the ``dedupe`` object of OUT rows.
    """

    def __init__(
        self, path: str, *, schema: Any = None, input_schemas: list[Any] | None = None, text_field: str = "text",
        dedupe_column: bool = False,
    ) -> None:
        self._pa = _pa()
        self.path = path
        self._schema = schema
        self._inputs = input_schemas
        self._text = text_field
        self._dedupe = dedupe_column
        self._names: dict[str, None] = {} if schema is None else dict.fromkeys(schema.names)
        self._spool = tempfile.TemporaryFile(prefix="dedupe-", suffix=".rows")
        self._n = 0
        self._closed = False
        try:  # fail before any work when the path cannot be written
            open(path, "wb").close()
        except OSError as exc:
            self._spool.close()
            raise InputError(f"{path}: cannot write: {exc.strerror}") from None

    def write(self, row: dict[str, Any]) -> None:
        if self._dedupe and isinstance(row.get("dedupe"), dict):
            d = dict(row["dedupe"])
            d["removed_chars"] = _as_map(d["removed_chars"])
            d["flagged_spans"] = _as_map(d["flagged_spans"])
            row = {**row, "dedupe": d}
        for k in row:
            if k not in self._names:
                self._names[k] = None
        pickle.dump(row, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        self._n += 1

    def _batches(self) -> Iterator[list[dict[str, Any]]]:
        self._spool.seek(0)
        buf: list[dict[str, Any]] = []
        for _ in range(self._n):
            buf.append(pickle.load(self._spool))
            if len(buf) >= WRITE_ROWS:
                yield buf
                buf = []
        if buf:
            yield buf

    def _column_types(self) -> dict[str, Any]:
        """The type of every column (None: JSON text), from the fixed schema, the inputs', or
        all the values."""
        pa = self._pa
        names = list(self._names)
        fixed: dict[str, Any] = {}
        if self._schema is not None:
            fixed = {f.name: f.type for f in self._schema}
        else:
            if self._inputs:
                try:
                    fixed = {f.name: f.type for f in pa.unify_schemas(self._inputs, promote_options="permissive")}
                except (pa.ArrowException, TypeError):
                    fixed = {}
            fixed[self._text] = pa.string()
            if self._dedupe:
                fixed["dedupe"] = _dedupe_type(pa)
        todo = [n for n in names if n not in fixed]
        # an input column's type is checked against the values written (an id the output gives
        # a row whose id was null is a str, even in an int column): no fit -> JSON text
        check = [n for n in names if n in fixed and self._schema is None and n not in (self._text, "dedupe")]
        seen: dict[str, Any] = {}
        mixed: set[str] = set()
        for batch in self._batches() if todo or check else ():
            for name in check:
                if name in mixed:
                    continue
                try:
                    pa.array([r.get(name) for r in batch], type=fixed[name])
                except (pa.ArrowException, TypeError, ValueError, OverflowError):
                    mixed.add(name)
            for name in todo:
                if name in mixed:
                    continue
                try:
                    t = pa.array([r.get(name) for r in batch]).type
                    seen[name] = t if name not in seen else pa.unify_schemas(
                        [pa.schema([(name, seen[name])]), pa.schema([(name, t)])], promote_options="permissive"
                    ).field(name).type
                except (pa.ArrowException, TypeError, ValueError, OverflowError):
                    mixed.add(name)
        out: dict[str, Any] = {}
        for name in names:
            if name in mixed:
                out[name] = None
            elif name in fixed:
                out[name] = fixed[name]
            else:
                t = seen.get(name, pa.null())
                out[name] = pa.string() if pa.types.is_null(t) else t
        return out

    def close(self) -> None:
        """Write the spooled rows and close (an output without rows is a valid, empty Parquet
        file: of its schema when it is fixed, e.g. a report; else of the columns known: the
        Parquet inputs', the text column, the ``dedupe`` column)."""
        if self._closed:
            return
        self._closed = True
        pa = self._pa
        import pyarrow.parquet as pq

        try:
            if not self._names:  # no row: a valid, empty file of the columns known (not 0 bytes)
                names = [n for sch in self._inputs or () for n in sch.names]
                self._names = dict.fromkeys([*names, self._text, *(["dedupe"] if self._dedupe else [])])
            types = self._column_types()
            schema = pa.schema([(n, pa.string() if t is None else t) for n, t in types.items()])
            with pq.ParquetWriter(self.path, schema) as writer:
                for batch in self._batches():
                    cols = []
                    for name, t in types.items():
                        vals = [r.get(name) for r in batch]
                        if t is None:
                            vals = [None if v is None else json.dumps(v, ensure_ascii=False, default=json_default) for v in vals]
                        try:
                            cols.append(pa.array(vals, type=pa.string() if t is None else t))
                        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                            raise InputError(f"{self.path}: column {name!r} cannot be written as {t}: {exc}") from None
                    writer.write_table(pa.Table.from_arrays(cols, schema=schema))
        finally:
            self._spool.close()
