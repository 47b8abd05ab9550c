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
* **Output rows** keep every input column with its Parquet type (when all inputs are Parquet
  files with compatible schemas; otherwise the types are inferred from the first rows), the text
  column replaced by the cleaned text, plus a ``dedupe`` struct column (the JSONL ``dedupe``
  object; ``removed_chars`` / ``flagged_spans`` as maps).
* **Report rows**: one per removed or flagged span, as the JSONL report, with a fixed schema.

Values that JSON cannot hold (timestamps, decimals, bytes) in other columns are written to a
JSONL ``--out`` as ISO dates, strings and base64 (:func:`dedupe.io.jsonl.json_default`).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..errors import InputError
from ..models import Document
from .jsonl import FieldMap, Reject, row_to_document

#: Parquet rows read per record batch
BATCH_ROWS = 512
#: output rows buffered per Parquet row group write
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
    """Rows (dicts) to a Parquet file, :data:`WRITE_ROWS` at a time.

    Args:
        path: the output file (created or replaced).
        schema: the output schema; ``None``: the ``input_schemas`` (unified) for the input's
            columns, else inferred from the first rows; the ``dedupe`` column is added (``out``
            rows) when ``dedupe_column``.
        input_schemas: schemas of the Parquet inputs (read as the rows are).
        text_field: the text column (always a string).
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
        self._rows: list[dict[str, Any]] = []
        self._writer: Any = None
        try:  # fail before any work when the path cannot be written
            open(path, "wb").close()
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror}") from None

    def _resolve_schema(self, rows: list[dict[str, Any]]) -> Any:
        pa = self._pa
        if self._schema is not None:
            return self._schema
        names: list[str] = []
        for r in rows:
            for k in r:
                if k not in names:
                    names.append(k)
        known: dict[str, Any] = {}
        if self._inputs:
            try:
                unified = pa.unify_schemas(self._inputs, promote_options="permissive")
                known = {f.name: f.type for f in unified}
            except (pa.ArrowException, TypeError):
                known = {}
        inferred = pa.Table.from_pylist([{k: r.get(k) for k in names if k != "dedupe"} for r in rows]).schema
        out = []
        for name in names:
            if name == "dedupe" and self._dedupe:
                out.append(pa.field("dedupe", _dedupe_type(pa)))
            elif name == self._text:
                out.append(pa.field(name, pa.string()))
            elif name in known:
                out.append(pa.field(name, known[name]))
            else:
                t = inferred.field(name).type
                out.append(pa.field(name, pa.string() if pa.types.is_null(t) else t))
        self._schema = pa.schema(out)
        return self._schema

    def write(self, row: dict[str, Any]) -> None:
        if self._dedupe and "dedupe" in row:
            d = dict(row["dedupe"])
            d["removed_chars"] = _as_map(d["removed_chars"])
            d["flagged_spans"] = _as_map(d["flagged_spans"])
            row = {**row, "dedupe": d}
        self._rows.append(row)
        if len(self._rows) >= WRITE_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        pa = self._pa
        import pyarrow.parquet as pq

        schema = self._resolve_schema(self._rows)
        try:
            table = pa.Table.from_pylist([{f: r.get(f) for f in schema.names} for r in self._rows], schema=schema)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            raise InputError(
                f"{self.path}: cannot write these rows as Parquet ({exc}); a column changes type between rows: write JSONL instead"
            ) from None
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, schema)
        self._writer.write_table(table)
        self._rows.clear()

    def close(self) -> None:
        """Write what is buffered and close the file (an output with no row is still a valid,
        empty Parquet file when its schema is known)."""
        try:
            self._flush()
            if self._writer is None and self._schema is not None:
                import pyarrow.parquet as pq

                self._writer = pq.ParquetWriter(self.path, self._schema)
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
