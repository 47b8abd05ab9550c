"""``dedupe index ...``: inspect and maintain a persistent index (SQLite file).

Exit codes: 0 ok; 3 bad input (unknown id, texts not stored); 4 bad config; 5 index error (not a
dedupe index, damaged, other hashing settings).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import api
from ..errors import InputError
from ..io.jsonl import out_row, report_rows
from ..io.parquet import report_schema
from ..models import Document
from ._common import EXIT_USAGE, check_paths, close_all, fail, handle_errors, load_config, read_phrases, rows_output

index_app = typer.Typer(
    name="index",
    help="Inspect and maintain a persistent index (see `dedupe clean --index`, `dedupe corpus --index`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PathArg = Annotated[Path, typer.Argument(help="The index file (SQLite).", show_default=False)]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="JSON config file; default: the settings stored in the index.")]


def _existing(path: Path) -> Path:
    if not path.exists():
        raise fail(f"{path}: index not found", 5)
    if path.is_dir():
        raise fail(f"{path}: is a directory, not an index file", 5)
    if path.is_file() and path.stat().st_size == 0:  # SQLite would make an empty file an index
        raise fail(f"{path}: empty file, not a dedupe index", 5)
    return path


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@index_app.command("stats")
@handle_errors
def stats_command(
    path: PathArg,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Sites, pages, template fingerprints, near-duplicate clusters and size of an index."""
    cfg = load_config(config) if config is not None else None
    with api.open_index(_existing(path), config=cfg) as idx:
        st = idx.stats()
        sites = idx.store.sites()
    st["config"] = idx.config.to_dict()
    if as_json:
        typer.echo(json.dumps({**st, "site_pages": sites}, ensure_ascii=False, sort_keys=True))
        return
    top = sorted(sites.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    lines = [
        f"index          {path}",
        f"sites          {st['sites']:,}",
        f"pages          {st['pages']:,}",
        f"templates      {st['template_fingerprints']:,} fingerprints on >= {idx.config.templates.min_pages} pages "
        f"({st['sites_with_templates']:,} sites)",
        f"fingerprints   {st['fingerprints']:,} distinct (site, fingerprint), "
        f"{st.get('shared_fingerprints', 0):,} of them on >= 2 pages of their site",
        f"signatures     {st['signatures']:,}",
        f"clusters       {st['clusters']:,} near-duplicate clusters",
        f"texts stored   {'yes' if st['store_text'] else 'no'} ({st['stored_texts']:,})",
        f"size           {_human(st['file_bytes'])} (+ WAL {_human(st['wal_bytes'])})",
        f"settings       fingerprint {st['config_fingerprint']}, schema {st['schema_version']}, written by dedupe {st['dedupe_version']}",
    ]
    if top:
        lines.append("largest sites  " + ", ".join(f"{s or '(no site)'} {n:,}" for s, n in top))
    typer.echo("\n".join(lines))


@index_app.command("forget")
@handle_errors
def forget_command(
    path: PathArg,
    site: Annotated[Optional[list[str]], typer.Option("--site", help="Forget every page of this site (repeatable).")] = None,
    ids: Annotated[Optional[list[str]], typer.Option("--id", help="Forget this document id (repeatable).")] = None,
) -> None:
    """Remove pages (and their template evidence, signatures and texts) from an index."""
    if not site and not ids:
        raise fail("give --site SITE or --id ID (repeatable)", EXIT_USAGE)
    with api.open_index(_existing(path)) as idx:
        n = idx.forget(ids or [])
        for s in site or []:
            n += idx.forget(site=s)
    typer.echo(f"dedupe index: forgot {n:,} pages", err=True)


@index_app.command("compact")
@handle_errors
def compact_command(path: PathArg) -> None:
    """Reclaim free space (VACUUM) and fold the write-ahead log into the file."""
    with api.open_index(_existing(path)) as idx:
        sizes = idx.store.compact()
    typer.echo(f"dedupe index: {_human(sizes['before'])} -> {_human(sizes['after'])}", err=True)


@index_app.command("reclean")
@handle_errors
def reclean_command(
    path: PathArg,
    out: Annotated[str, typer.Option("--out", "-o", help="Output rows: id, url, site, cleaned text and a `dedupe` object; JSONL, or Parquet when the name ends in .parquet (- for stdout).")],
    report: Annotated[Optional[str], typer.Option("--report", "-r", help="Span report; JSONL, or Parquet when the name ends in .parquet.")] = None,
    site: Annotated[Optional[str], typer.Option("--site", help="Re-clean the pages of this site.")] = None,
    ids: Annotated[Optional[list[str]], typer.Option("--id", help="Re-clean this document (repeatable).")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Processes for per-document work.")] = 1,
    dedupe_only: Annotated[bool, typer.Option("--dedupe-only", help="No main-text selection.")] = False,
    config: ConfigOpt = None,
    phrases: Annotated[Optional[Path], typer.Option("--phrases", help="File of boilerplate phrases (one per line) removed too, added to the settings' templates.phrases (see `dedupe clean --help`).")] = None,
) -> None:
    """Re-clean stored pages against everything the index holds now (needs stored texts).

    Default: every page. Early pages of a site, cleaned before the site had enough pages to
    show its template, get the template removed now.
    """
    if site is not None and ids:
        raise fail("give --site or --id, not both", EXIT_USAGE)
    cfg = load_config(config) if config is not None else None
    extra = read_phrases(phrases) if phrases is not None else []
    with api.open_index(_existing(path), config=cfg, dedupe_only=dedupe_only) as idx:
        if extra:  # on top of the settings in use (given, or stored in the index)
            tc = idx.config.templates
            idx.config = dataclasses.replace(idx.config, templates=dataclasses.replace(tc, phrases=(*tc.phrases, *extra)))
        info = idx.store.doc_info(ids) if ids else None
        if ids and info is not None:
            missing = [i for i in ids if i not in info]
            if missing:
                raise InputError(f"not in the index: {', '.join(map(repr, missing[:5]))}")
        check_paths([], {"--out": out, "--report": report}, path)
        out_fh = rows_output(out, dedupe_column=True)
        rep_fh = rows_output(report, schema=report_schema) if report is not None else None
        n = 0
        try:
            for res in idx.reclean(ids, site=site, workers=workers):
                meta = idx.store.doc_info([res.doc_id]).get(res.doc_id, {})
                row = {"id": res.doc_id, "url": meta.get("url"), "site": meta.get("site")}
                out_fh.write(out_row(Document(res.doc_id, "", meta={"row": row}), res))
                if rep_fh is not None:
                    for r in report_rows(res):
                        rep_fh.write(r)
                n += 1
        finally:
            close_all(out_fh, rep_fh)
    typer.echo(f"dedupe index: re-cleaned {n:,} pages", err=True)
