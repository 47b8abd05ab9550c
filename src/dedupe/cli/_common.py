"""Shared CLI plumbing: option aliases, config loading, error → exit-code mapping."""

from __future__ import annotations

import functools
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any, Callable, TypeVar

import typer

from ..config import Config
from ..errors import ConfigError, DedupeError, IndexStoreError, InputError
from ..io.files import input_kind
from ..io.jsonl import dumps
from ..io.parquet import ParquetRowWriter, is_parquet_path

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_CONFIG = 4
EXIT_INDEX = 5

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> typer.Exit:
    """Print one error line on stderr and return the Exit to raise."""
    typer.echo(f"dedupe: error: {message}", err=True)
    return typer.Exit(code)


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) reached the command (:func:`on_signal`): unwind like Ctrl-C, so
    worker processes are stopped and temporary files removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def on_signal(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def handle_errors(func: F) -> F:
    """Map dedupe's exceptions to one stderr line and a documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a write error (disk full) is reported here, not at interpreter exit
            return result
        except typer.Exit:
            raise
        except InputError as exc:
            raise fail(str(exc), EXIT_INPUT) from None
        except ConfigError as exc:
            raise fail(str(exc), EXIT_CONFIG) from None
        except IndexStoreError as exc:
            raise fail(str(exc), EXIT_INDEX) from None
        except DedupeError as exc:
            raise fail(str(exc), EXIT_INTERNAL) from None
        except BrokenPipeError:
            raise typer.Exit(EXIT_OK) from None
        except OSError as exc:  # an output or temporary file that cannot be written (disk full), a read error
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"I/O error: {where}{exc.strerror or exc}", EXIT_INPUT) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Terminated as exc:
            raise fail("terminated", 128 + exc.signum) from None
        except MemoryError:
            raise fail("out of memory", EXIT_INTERNAL) from None
        except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback
            raise fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def read_phrases(path: Path) -> list[str]:
    """Boilerplate phrases from a UTF-8 file: one per line; blank lines and lines starting with
    ``#`` are skipped. A missing or unreadable file is a config error (exit 4)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a BOM is not part of line 1
    except FileNotFoundError:
        raise ConfigError(f"{path}: phrases file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable UTF-8 phrases file: {exc}") from None
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def load_config(
    path: Path | None, overrides: dict[str, dict[str, Any]] | None = None, phrases: Path | None = None, index: Path | None = None
) -> Config:
    """Config from an optional JSON file plus per-section overrides (values ``None`` are skipped);
    ``phrases``: a file of boilerplate phrases (:func:`read_phrases`), added to the config's
    ``templates.phrases``. ``index``: without a config file, an existing index's stored settings
    are the base the overrides apply to (not the defaults: the index was built with them)."""
    data: dict[str, Any] = {}
    if path is None and index is not None and index.exists():
        from ..api import open_index  # the API layer opens stores

        with open_index(index) as idx:
            data = json.loads(json.dumps(idx.config.to_dict()))
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not a readable JSON config: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: config must be a JSON object")
    for section, values in (overrides or {}).items():
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            data.setdefault(section, {}).update(values)
    if phrases is not None:
        tpl = data.setdefault("templates", {})
        if not isinstance(tpl, dict):
            raise ConfigError("templates must be an object")
        tpl["phrases"] = [*(tpl.get("phrases") or []), *read_phrases(phrases)]
    try:
        return Config.from_dict(data)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def _regular(path: str) -> bool:
    """True unless ``path`` exists and is not a regular file (``/dev/null``, a pipe: writing to it
    twice destroys nothing)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # not there yet: it will be a regular file


def _inside(path: str, folder: str) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, root]) == root


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_paths(inputs: "list[str]", outputs: "dict[str, str | None]", index: "Path | None" = None) -> None:
    """Refuse, before anything is opened or truncated, a missing input path (exit 3) and an
    output that is also an input, the index or another output (exit 2): opening it for writing
    would destroy what it holds. ``outputs``: option name -> path (``-`` = stdout, None = not given)."""
    for inp in inputs:
        if inp != "-" and not os.path.exists(inp):
            raise InputError(f"{inp}: no such file or directory")
    if index is not None and index.is_dir():
        raise fail(f"{index}: is a directory, not an index file", EXIT_INDEX)
    given = [(name, path) for name, path in outputs.items() if path is not None]
    stdout = [name for name, path in given if path == "-"]
    if len(stdout) > 1:
        raise fail(f"{' and '.join(stdout)} are both standard output: give one of them a file", EXIT_USAGE)
    files = [(name, path) for name, path in given if path != "-" and _regular(path)]
    for k, (name, path) in enumerate(files):
        for other, opath in files[:k]:
            if _same(path, opath):
                raise fail(f"{other} and {name} are the same file ({path}): each needs its own", EXIT_USAGE)
        for inp in inputs:
            if inp != "-" and os.path.isfile(inp) and _same(path, inp):
                raise fail(f"{name} {path} is also an input: writing it would destroy the input", EXIT_USAGE)
            if inp != "-" and os.path.isdir(inp) and _inside(path, inp) and input_kind(os.path.basename(path)) is not None:
                raise fail(f"{name} {path} is inside the input directory {inp}: it would be read back as a page", EXIT_USAGE)
        if index is not None and _same(path, str(index)):
            raise fail(f"{name} {path} is also the index: writing it would destroy the index", EXIT_USAGE)


def write_output(path: str, content: str) -> None:
    """Write to a file, or to stdout when ``path == "-"``."""
    if path == "-":
        sys.stdout.write(content)
        sys.stdout.flush()
    else:
        try:
            Path(path).write_text(content, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror}") from None


#: write buffer of an output file: rows go to the file in 1 MB writes (the default 8 KB took a
#: system call every second row; same bytes)
OUTPUT_BUFFER = 1 << 20


def open_output(path: str) -> IO[str]:
    """A text stream for an output path: stdout for ``-``, else the file (UTF-8, ``\n`` line ends)."""
    if path == "-":
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8", newline="\n", buffering=OUTPUT_BUFFER)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}") from None


class JsonlRows:
    """Rows to a JSONL output (a file, or stdout for ``-``)."""

    def __init__(self, path: str) -> None:
        self._fh = open_output(path)

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(dumps(row))

    def close(self) -> None:
        if self._fh is not sys.stdout:
            self._fh.close()


def rows_output(path: str, *, schema: Any = None, **parquet: Any) -> "JsonlRows | ParquetRowWriter":
    """A row writer for ``--out`` / ``--report``: Parquet when the name ends in ``.parquet`` /
    ``.pq``, else JSONL. ``schema``: a callable giving the fixed Parquet schema (report rows)."""
    if path != "-" and is_parquet_path(path):
        return ParquetRowWriter(path, schema=schema() if schema is not None else None, **parquet)
    return JsonlRows(path)


def close_all(*outputs: Any) -> None:
    """Close every output given (None skipped; stdout is never closed); when one fails, the
    others are still closed and the first error is raised."""
    error: BaseException | None = None
    for fh in outputs:
        if fh is None or fh is sys.stdout:
            continue
        try:
            fh.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            error = error or exc
    if error is not None:
        raise error
