"""``dedupe corpus``: clean many pages at once (templates, main text, repeats, near-duplicates).

Exit codes: 0 when at least one document was processed (rejected rows are reported on stderr,
written to ``--rejects`` and counted in the summary); 3 when nothing could be processed (no input
row, or every row rejected) or an input path is missing; 4 for a bad config; 1 internal error.
"""

from __future__ import annotations

import pickle
import sys
import tempfile
import time
from array import array
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from .. import api
from ..engine.corpus import OBSERVE_CHUNK_SCALE, CHUNK_BYTES, Encoded, ParsedSource, run_corpus
from ..io.files import iter_inputs, jsonl_pieces, plain_jsonl_files
from ..io.jsonl import (
    FieldMap, Reject, dumps, dumps_cluster, encode_row_parts, out_row, parse_jsonl_piece, report_bytes, report_rows, row_meta_blob,
)
from ..io.parquet import is_parquet_path, report_schema
from ..models import Document
from ._common import EXIT_INPUT, check_paths, close_all, fail, handle_errors, load_config, open_output, rows_output

_MAX_REJECT_MESSAGES = 20


class Order(str, Enum):
    id = "id"
    input = "input"


class Policy(str, Enum):
    first = "first"
    longest = "longest"
    url = "url"


class _Progress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and (total is None or done < total):
            return
        self.last = now
        if total:
            width = 30
            fill = int(width * done / total) if total else 0
            bar = "#" * fill + "-" * (width - fill)
            msg = f"\r{stage:<8} [{bar}] {done:,}/{total:,} pages  {now - self.t0:6.1f}s"
        else:
            msg = f"\r{stage:<8} {done:,} pages  {now - self.t0:6.1f}s"
        sys.stderr.write(msg)
        sys.stderr.flush()

    def clear(self) -> None:
        """Blank the progress line (before another message; it is drawn again at the next step)."""
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()

    def done(self) -> None:
        self.clear()


class _RowStore:
    """The other fields of each input row (``url``, ``site``, ``meta``: not the text), kept until
    its output row is written: pickled to an anonymous temporary file, with only ``id -> row
    number`` and one end offset per row in memory (~100 bytes a row instead of the decoded row)."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile(prefix="dedupe-", suffix=".rows")
        self._ends = array("q")
        self._row: dict[str, int] = {}
        self._pos = 0  # the file position (a seek flushes the buffer: only when it moves)

    def put(self, doc: Document) -> None:
        self.put_blob(doc.id, pickle.dumps((doc.url, doc.site, doc.meta), protocol=pickle.HIGHEST_PROTOCOL))

    def put_blob(self, doc_id: str, blob: bytes) -> None:
        """:meth:`put` of the document whose pickled ``(url, site, meta)`` is ``blob``."""
        start = self._ends[-1] if self._ends else 0
        if self._pos != start:
            self._fh.seek(start)
        self._fh.write(blob)
        self._row[doc_id] = len(self._ends)
        self._ends.append(start + len(blob))
        self._pos = start + len(blob)

    def has(self, doc_id: str) -> bool:
        return doc_id in self._row

    def peek(self, doc_id: str) -> Document:
        """The row of ``doc_id`` (as :meth:`pop`), kept."""
        k = self._row[doc_id]
        start = self._ends[k - 1] if k else 0
        self._fh.seek(start)
        self._pos = self._ends[k]
        url, site, meta = pickle.loads(self._fh.read(self._ends[k] - start))
        return Document(doc_id, "", url, site, meta)

    def discard(self, doc_id: str) -> None:
        """Forget the row of ``doc_id`` (its output was written from elsewhere)."""
        del self._row[doc_id]

    def pop(self, doc_id: str) -> Document:
        k = self._row.pop(doc_id)
        start = self._ends[k - 1] if k else 0
        if self._pos != start:
            self._fh.seek(start)
        self._pos = self._ends[k]
        url, site, meta = pickle.loads(self._fh.read(self._ends[k] - start))
        return Document(doc_id, "", url, site, meta)

    def close(self) -> None:
        self._fh.close()


class _JsonlBytes:
    """Rows to a JSONL output (a file, or stdout for ``-``) that also takes ready-made UTF-8
    lines (:meth:`write_bytes`): the workers' encoded rows go to the file as they are. Same bytes
    as :class:`~dedupe.cli._common.JsonlRows`."""

    def __init__(self, path: str) -> None:
        self._fh = open_output(path)
        # a file opened here (UTF-8, "\n" line ends): its bytes layer takes everything; stdout
        # keeps its text layer (its encoding and newline handling are the caller's)
        self._raw = None if self._fh is sys.stdout else self._fh.buffer  # type: ignore[attr-defined]

    def write(self, row: dict[str, Any]) -> None:
        if self._raw is None:
            self._fh.write(dumps(row))
        else:
            self._raw.write(dumps(row).encode("utf-8"))

    def write_bytes(self, data: bytes) -> None:
        if self._raw is None:
            self._fh.write(data.decode("utf-8"))
        else:
            self._raw.write(data)

    def close(self) -> None:
        if self._fh is not sys.stdout:
            self._fh.close()


def _rows_output(path: str, **kw: Any) -> Any:
    """:func:`rows_output`, with a :class:`_JsonlBytes` for JSONL."""
    if path != "-" and is_parquet_path(path):
        return rows_output(path, **kw)
    return _JsonlBytes(path)


@handle_errors
def corpus_command(
    inputs: Annotated[list[str], typer.Argument(help="JSONL files (.jsonl, .jsonl.gz), Parquet files (.parquet), directories of .txt/.html files, or - (JSONL on stdin).", show_default=False)],
    out: Annotated[str, typer.Option("--out", "-o", help="Output: input rows with cleaned text and a `dedupe` object; JSONL, or Parquet when the name ends in .parquet (- for stdout).")],
    report: Annotated[Optional[str], typer.Option("--report", "-r", help="Span report: one removed or flagged span per row; JSONL, or Parquet when the name ends in .parquet.")] = None,
    rejects: Annotated[Optional[str], typer.Option("--rejects", help="JSONL of rows not written to OUT (bad input, dropped near-duplicates), with the reason.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Processes for per-document work (output does not depend on it).")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    dedupe_only: Annotated[bool, typer.Option("--dedupe-only", help="Deduplicate only: no main-text selection (no off-main removal).")] = False,
    no_templates: Annotated[bool, typer.Option("--no-templates", help="Do not learn or remove site templates (implies no main-text selection).")] = False,
    no_within: Annotated[bool, typer.Option("--no-within", help="Do not look for repeats inside each page (site level only).")] = False,
    drop_near_dups: Annotated[bool, typer.Option("--drop-near-dups", help="Leave non-canonical near-duplicate documents out of OUT (they go to --rejects).")] = False,
    crosspage_remove: Annotated[bool, typer.Option("--crosspage-remove", help="Remove cross-page duplicate blocks from all but the canonical page (default: report only).")] = False,
    crosspage_policy: Annotated[Optional[Policy], typer.Option("--crosspage-policy", help="Canonical page of a cross-page block.")] = None,
    canonical: Annotated[Optional[Policy], typer.Option("--canonical", help="Canonical document of a near-duplicate cluster.")] = None,
    order: Annotated[Order, typer.Option("--order", help="Row order of OUT and REPORT: id (independent of input order) or input.")] = Order.id,
    config: Annotated[Optional[Path], typer.Option("--config", help="JSON config file (see README).")] = None,
    phrases: Annotated[Optional[Path], typer.Option("--phrases", help="File of boilerplate phrases you know (one per line, # comments): removed as templates wherever they occur (phrases shorter than 5 tokens: only as whole lines). Added to the config's templates.phrases.")] = None,
    id_field: Annotated[str, typer.Option("--id-field", help="Input field holding the document id.")] = "id",
    text_field: Annotated[str, typer.Option("--text-field", help="Input field holding the text.")] = "text",
    url_field: Annotated[str, typer.Option("--url-field", help="Input field holding the URL.")] = "url",
    site_field: Annotated[str, typer.Option("--site-field", help="Input field holding the site key.")] = "site",
    html_field: Annotated[str, typer.Option("--html-field", help="Input field holding HTML (used when the text field is absent).")] = "html",
    index: Annotated[Optional[Path], typer.Option("--index", help="Persistent index: earlier pages count as evidence, near-duplicates of stored pages are found, and these pages are recorded.")] = None,
) -> None:
    """Clean a corpus: site templates, main text, within-page repeats, cross-page duplicates and
    near-duplicate documents, with a span report."""
    overrides: dict[str, dict[str, Any]] = {
        "neardup": {"drop": True if drop_near_dups else None, "canonical": canonical.value if canonical else None},
        "templates": {"enabled": False if no_templates else None},
        "within": {"enabled": False if no_within else None},
        "corpus": {
            "crosspage_remove": True if crosspage_remove else None,
            "crosspage_policy": crosspage_policy.value if crosspage_policy else None,
        },
    }
    # refuse a missing input, and an output that is an input, the index or another output, before
    # anything is opened (an output is truncated when opened)
    check_paths(list(inputs), {"--out": out, "--report": report, "--rejects": rejects}, index)
    cfg = load_config(config, overrides, phrases, index)
    fields = FieldMap(id_field, text_field, url_field, site_field, html_field)
    progress = _Progress(not quiet)
    t0 = time.monotonic()

    rows_in = 0
    reject_list: list[Reject] = []
    rows_meta = _RowStore()
    chars_in = 0
    schemas: list[Any] = []  # of the Parquet inputs: a Parquet OUT keeps their column types

    def reject(item: Reject) -> None:
        reject_list.append(item)
        if len(reject_list) <= _MAX_REJECT_MESSAGES:
            progress.clear()  # a message never glued to the progress line
            where = f"{item.source}" + (f":{item.line}" if item.line else "")
            typer.echo(f"dedupe: rejected {where}" + (f" (id {item.id!r})" if item.id else "") + f": {item.reason}", err=True)

    def docs() -> Iterator[Document]:
        nonlocal rows_in, chars_in
        for item in iter_inputs(inputs, fields=fields, max_chars=cfg.max_doc_chars, schemas=schemas):
            rows_in += 1
            if isinstance(item, Reject):
                reject(item)
                continue
            # keep the row's other fields (not its text) to write the output row
            try:
                rows_meta.put(item)
            except RecursionError:  # JSON nesting that json reads but pickle cannot keep
                reject_list.append(Reject(str(item.meta.get("source")), item.meta.get("line"), item.id, "a field is nested too deeply to keep"))
                continue
            chars_in += len(item.text)
            yield item

    # plain JSONL files with a pool: the workers read and parse them (the same rows, rejects and
    # messages as docs(), in the same order); this process only sees what each row needs
    # iter_inputs' duplicate check: an id seen before is in the row store (whose row holds its
    # source and line), or among the few rows rejected as nested too deeply (id -> (source,
    # line)); no object per row (a dict of (source, line) tuples held ~150 bytes a row through
    # the first pass)
    nested: dict[str, tuple] = {}

    def first_seen(doc_id: str) -> "tuple | None":
        got = nested.get(doc_id)
        if got is None and rows_meta.has(doc_id):
            meta = rows_meta.peek(doc_id).meta or {}
            got = (meta.get("source"), meta.get("line"))
        return got

    def on_row(item: Any) -> bool:
        nonlocal rows_in, chars_in
        rows_in += 1
        if isinstance(item, Reject):
            reject(item)
            return False
        doc_id, n_chars, (source, line, blob) = item
        first = first_seen(doc_id)
        if first is not None:
            where = f"{first[0]}" + (f":{first[1]}" if first[1] else "")
            reject(Reject(str(source), line, doc_id, f"duplicate id (first seen at {where})"))
            return False
        if blob is None:  # JSON nesting that json reads but pickle cannot keep
            nested[doc_id] = (source, line)
            reject_list.append(Reject(str(source), line, doc_id, "a field is nested too deeply to keep"))
            return False
        rows_meta.put_blob(doc_id, blob)
        chars_in += n_chars
        return True

    def pieces() -> Iterator[Any]:
        for inp in inputs:
            yield from jsonl_pieces(inp, fields=fields, max_chars=cfg.max_doc_chars, target=CHUNK_BYTES * OBSERVE_CHUNK_SCALE)

    n_out = n_dropped = 0
    removed: dict[str, int] = {}
    flagged: dict[str, int] = {}
    clusters: set[str] = set()
    in_clusters = 0
    # open every output first: an unwritable path fails before any work (and before the index is written)
    out_fh = _rows_output(out, input_schemas=schemas, text_field=text_field, dedupe_column=True)
    rep_fh = _rows_output(report, schema=report_schema) if report is not None else None
    # JSONL outputs: the workers encode each row (all but its cluster) as they clean the page
    encoded = isinstance(out_fh, _JsonlBytes) and (rep_fh is None or isinstance(rep_fh, _JsonlBytes))
    rej_fh = open_output(rejects) if rejects is not None else None
    try:
        idx = api.open_index(index, config=cfg, dedupe_only=dedupe_only or no_templates) if index is not None else None
    except BaseException:
        close_all(out_fh, rep_fh, rej_fh)
        raise
    try:
        if idx is not None:
            results = idx.corpus(docs(), workers=workers, order=order.value, progress=progress)
        elif encoded:
            source: Any = docs()
            if workers > 1 and plain_jsonl_files(inputs):
                source = ParsedSource(pieces(), parse_jsonl_piece, row_meta_blob, on_row, done=nested.clear, unique_ids=True)
            results = run_corpus(
                source, cfg, workers=workers, dedupe_only=dedupe_only or no_templates, order=order.value, progress=progress,
                row_encoder=encode_row_parts,
            )
        else:
            results = api.clean_corpus(docs(), config=cfg, workers=workers, dedupe_only=dedupe_only or no_templates, order=order.value, progress=progress)
        for res in results:
            if isinstance(res, Encoded):  # canonical or in no cluster: never dropped
                rows_meta.discard(res.doc_id)
                head, tail, rep_lines, rem, flg = res.value
                for k, v in rem.items():
                    removed[k] = removed.get(k, 0) + v
                for k, v in flg.items():
                    flagged[k] = flagged.get(k, 0) + v
                if res.cluster is not None:
                    clusters.add(res.cluster)
                    in_clusters += 1
                if rep_fh is not None:
                    rep_fh.write_bytes(rep_lines)
                out_fh.write_bytes(b"".join((head, dumps_cluster(res.cluster), tail)))
                n_out += 1
                continue
            doc = rows_meta.pop(res.doc_id)
            for s in res.spans:
                if s.removed:
                    removed[s.kind] = removed.get(s.kind, 0) + s.end - s.start
                else:
                    flagged[s.kind] = flagged.get(s.kind, 0) + 1
            if res.meta.get("cluster") is not None:
                clusters.add(res.meta["cluster"])
                in_clusters += 1
            if isinstance(rep_fh, _JsonlBytes):  # the same bytes as the rows' dumps, in one piece
                rep_fh.write_bytes(report_bytes(res))
            elif rep_fh is not None:
                for row in report_rows(res):
                    rep_fh.write(row)
            if cfg.neardup.drop and not res.meta.get("canonical", True):
                n_dropped += 1
                reject_list.append(Reject(str(doc.meta.get("source")), doc.meta.get("line"), res.doc_id, f"near-duplicate of {res.meta['cluster']!r} (dropped by --drop-near-dups)"))
                continue
            out_fh.write(out_row(doc, res))
            n_out += 1
    finally:
        progress.done()
        rows_meta.close()
        if idx is not None:
            idx.close()
        close_all(out_fh, rep_fh)
    if rej_fh is not None:
        try:
            for r in reject_list:
                rej_fh.write(dumps(r.to_dict()))
        finally:
            if rej_fh is not sys.stdout:
                rej_fh.close()
    n_rej = len(reject_list) - n_dropped
    if len(reject_list) > _MAX_REJECT_MESSAGES:
        typer.echo(f"dedupe: ... {len(reject_list) - _MAX_REJECT_MESSAGES} more rejected rows" + (f" (see {rejects})" if rejects else ""), err=True)
    if n_out + n_dropped == 0:
        if rows_in == 0:
            raise fail("no input rows: nothing to process", EXIT_INPUT)
        raise fail(f"all {rows_in:,} input rows were rejected: nothing processed" + (f" (reasons in {rejects})" if rejects else ""), EXIT_INPUT)
    if not quiet:
        secs = time.monotonic() - t0
        total_removed = sum(removed.values())
        typer.echo(
            f"dedupe corpus: {rows_in:,} rows in = {n_out:,} out + {n_rej:,} rejected + {n_dropped:,} dropped near-duplicates; "
            f"{chars_in:,} chars, {total_removed:,} removed ({100 * total_removed / max(chars_in, 1):.1f}%); "
            f"{len(clusters):,} near-duplicate clusters ({in_clusters:,} documents); {secs:.1f}s, {chars_in / 1e6 / max(secs, 1e-9):.2f} M chars/s",
            err=True,
        )
        if removed:
            typer.echo("  removed chars by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(removed.items())), err=True)
        if flagged:
            typer.echo("  flagged spans by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(flagged.items())), err=True)
