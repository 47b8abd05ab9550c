"""``dedupe clean``: clean one page."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import api
from ..engine.neardup import PAGE_META
from ..errors import InputError
from ..io.html import check_not_binary, decode_html, read_html
from ..io.text import read_bytes, read_text
from ..models import Document
from ._common import check_paths, handle_errors, load_config, write_output


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


@handle_errors
def clean_command(
    path: Annotated[str, typer.Argument(help="Text or HTML file to clean (gzipped or not), or - for standard input.")],
    report: Annotated[Optional[str], typer.Option("--report", "-r", help="Write the JSON span report to FILE (- for stdout, instead of the cleaned text; with --format json, stdout gets one object with both).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="text: cleaned text; json: report with the cleaned text.")] = OutputFormat.text,
    config: Annotated[Optional[Path], typer.Option("--config", help="JSON config file (see README).")] = None,
    keep: Annotated[Optional[str], typer.Option("--keep", help="Which copy to keep: context (default) or first.")] = None,
    min_tokens: Annotated[Optional[int], typer.Option("--min-tokens", help="Shortest repeat, in tokens (default 8).")] = None,
    all_repeats: Annotated[bool, typer.Option("--all-repeats", help="Remove every repeat (one copy kept), not only those with evidence of an extraction artefact; the others are otherwise only reported.")] = False,
    index: Annotated[Optional[Path], typer.Option("--index", help="Persistent index: observe the page, clean it against the pages of its site seen before, record it.")] = None,
    site: Annotated[Optional[str], typer.Option("--site", help="With --index: the page's site (default: the host of --url, else one group).")] = None,
    url: Annotated[Optional[str], typer.Option("--url", help="With --index: the page's URL (its host is the site when --site is not given).")] = None,
    doc_id: Annotated[Optional[str], typer.Option("--id", help="With --index: the page's id (default: the path; for stdin, the --url). Re-observing an id replaces it.")] = None,
    phrases: Annotated[Optional[Path], typer.Option("--phrases", help="File of boilerplate phrases you know (one per line, # comments): removed as templates wherever they occur (phrases shorter than 5 tokens: only as whole lines). Added to the config's templates.phrases.")] = None,
    html: Annotated[Optional[bool], typer.Option("--html/--text", help="Read the input as HTML (converted to text, one block per line) or as text. Default: HTML for .html/.htm(.gz) files, text otherwise.")] = None,
) -> None:
    """Remove repeated and near-repeated spans inside one page; keep one canonical copy."""
    check_paths([path], {"--report": report}, index)
    cfg = load_config(config, {"within": {"keep_policy": keep, "min_repeat_tokens": min_tokens, "artefact_evidence": False if all_repeats else None}}, phrases, index)
    if index is not None and path == "-" and not (doc_id or url):
        raise InputError("a page read from standard input needs --id or --url to be recorded in the index (its id; the same id replaces the page)")
    if html is None:
        html = path.lower().removesuffix(".gz").endswith((".html", ".htm"))
    meta: dict[str, object] = {}
    if html:
        data, source = read_bytes(path, max_bytes=cfg.max_doc_chars * 16)
        check_not_binary(data, source)
        page = read_html(decode_html(data))
        text = page.text
        if not text.strip():
            raise InputError(f"{source}: no visible text in the HTML")
        if len(text) > cfg.max_doc_chars:
            raise InputError(f"{source}: text has {len(text):,} characters, more than max_doc_chars={cfg.max_doc_chars:,}")
        if page.head_meta():
            meta[PAGE_META] = page.head_meta()
    else:
        text = read_text(path, max_bytes=cfg.max_doc_chars * 4)
    if index is not None:
        with api.open_index(index, config=cfg) as idx:
            result = idx.clean(Document(doc_id or (url if path == "-" else path), text, url=url, site=site, meta=meta))
    else:
        result = api.clean(text, config=cfg, doc_id="" if path == "-" else path)
    rep = api.report(result, cfg)
    if report is not None and (report != "-" or fmt is OutputFormat.text):
        # --report - alone: the report is what goes to stdout (not the cleaned text)
        write_output(report, json.dumps(rep, ensure_ascii=False, indent=1) + "\n")
    if fmt is OutputFormat.json:
        write_output("-", json.dumps({**rep, "text": result.text}, ensure_ascii=False, indent=1) + "\n")
    elif report != "-":
        write_output("-", result.text)
