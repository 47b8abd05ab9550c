"""The Typer application; each command lives in its own module."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from .._version import __version__
from ._common import on_signal

from .clean import clean_command
from .corpus import corpus_command
from .index import index_app

app = typer.Typer(
    name="dedupe",
    help="Deduplicate and de-boilerplate scraped web text, with an offset-exact span report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("clean")(clean_command)
app.command("corpus")(corpus_command)
app.add_typer(index_app, name="index")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dedupe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """dedupe: within-page repeats, site templates, near-duplicate documents."""


def main() -> None:
    """Console-script entry point. SIGTERM and SIGHUP stop the command as Ctrl-C does (workers
    stopped, temporary files removed, one line on stderr, exit 128 + the signal's number)."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, on_signal)
    app()
