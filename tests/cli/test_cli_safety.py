"""What a read-only review of the command line found (session of 2026-11-28): each test fails on
the code before its fix."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dedupe
from dedupe.cli.app import app
from dedupe.config import Config
from dedupe.errors import ConfigError
from dedupe.io.jsonl import iter_jsonl

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_9438c1acc4b3994a.txt"
BODIES = (
    "The harbour reopened on Monday after storms closed it for a week.",
    "Farmers in the valley expect a late harvest because of the cold spring.",
    "A new library opens downtown with a reading room for children.",
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bad_json_values_are_rejects_not_a_crash() -> None:
    lines = [
        b'{"id":"a","text":"hello world","\\ud800key":1}',
        b'{"id":"deep","text":"hi","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"id":"bigint","text":"hi","n":' + b"9" * 5000 + b"}",
        b'{"id":"ok","text":"fine"}',
    ]
    items = list(iter_jsonl(io.BytesIO(b"\n".join(lines) + b"\n"), "x"))
    assert [type(i).__name__ for i in items] == ["Reject", "Reject", "Reject", "Document"]
    assert [i.id for i in items] == ["a", "deep", "bigint", "ok"]


def test_output_that_is_an_input_or_the_index_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    src = _rows(tmp_path / "in.jsonl", [{"id": f"p{i}", "text": b + "\n", "site": "s"} for i, b in enumerate(BODIES)])
    before = src.read_bytes()
    got = runner.invoke(app, ["corpus", str(src), "--out", str(src)])
    assert got.exit_code == 2 and "is also an input" in got.output
    assert src.read_bytes() == before
    db = tmp_path / "crawl.db"
    assert runner.invoke(app, ["corpus", str(src), "--out", os.devnull, "--index", str(db), "--quiet"]).exit_code == 0
    size = db.stat().st_size
    got = runner.invoke(app, ["corpus", str(src), "--out", str(db), "--index", str(db)])
    assert got.exit_code == 2 and "is also the index" in got.output
    got = runner.invoke(app, ["index", "reclean", str(db), "--out", str(db)])
    assert got.exit_code == 2 and db.stat().st_size == size
    assert runner.invoke(app, ["index", "stats", str(db)]).exit_code == 0
    page = tmp_path / "page.txt"
    page.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    got = runner.invoke(app, ["clean", str(page), "--report", str(page)])
    assert got.exit_code == 2 and page.read_text(encoding="utf-8") == SEED.read_text(encoding="utf-8")


def test_null_id_and_html_beside_text(runner: CliRunner, tmp_path: Path) -> None:
    src = _rows(tmp_path / "nullid.jsonl", [
        {"id": None, "text": BODIES[0] + "\n"},
        {"id": "both", "text": BODIES[1] + "\n", "html": "<p>kept as it was</p>"},
    ])
    out, rep = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    got = runner.invoke(app, ["corpus", str(src), "--out", str(out), "--report", str(rep), "--order", "input", "--quiet"])
    assert got.exit_code == 0, got.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["id"] == f"{src}:1"  # the id the report uses
    assert rows[1]["html"] == "<p>kept as it was</p>" and rows[1]["text"] == BODIES[1] + "\n"


def test_gzip_by_magic_bytes_on_stdin_and_without_gz_name(runner: CliRunner, tmp_path: Path) -> None:
    plain = "".join(json.dumps({"id": f"p{i}", "text": b + "\n"}) + "\n" for i, b in enumerate(BODIES)).encode()
    packed = gzip.compress(plain)
    got = runner.invoke(app, ["corpus", "-", "--out", "-", "--quiet"], input=packed)
    assert got.exit_code == 0, got.output
    assert len(got.stdout.splitlines()) == 3
    f = tmp_path / "rows.data"
    f.write_bytes(packed)
    got = runner.invoke(app, ["corpus", str(f), "--out", "-", "--quiet"])
    assert got.exit_code == 0 and len(got.stdout.splitlines()) == 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_fifo_in_a_directory_is_a_reject(runner: CliRunner, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.txt").write_text(BODIES[0], encoding="utf-8")
    os.mkfifo(d / "b.txt")
    rej = tmp_path / "rej.jsonl"
    got = runner.invoke(app, ["corpus", str(d), "--out", os.devnull, "--rejects", str(rej), "--quiet"])
    assert got.exit_code == 0
    assert "not a regular file" in rej.read_text(encoding="utf-8")


def test_report_to_stdout_with_json_format_keeps_the_text(runner: CliRunner) -> None:
    got = runner.invoke(app, ["clean", str(SEED), "--format", "json", "--report", "-"])
    assert got.exit_code == 0
    data = json.loads(got.stdout)
    assert data["text"] == dedupe.clean(SEED.read_text(encoding="utf-8")).text and "spans" in data


def test_stdin_pages_with_an_index_need_an_id(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    got = runner.invoke(app, ["clean", "-", "--index", str(db)], input=BODIES[0])
    assert got.exit_code == 3 and "--id or --url" in got.output
    for i, body in enumerate(BODIES):
        got = runner.invoke(app, ["clean", "-", "--index", str(db), "--url", f"https://site.example/{i}"], input=body)
        assert got.exit_code == 0, got.output
    stats = json.loads(runner.invoke(app, ["index", "stats", str(db), "--json"]).stdout)
    assert stats["pages"] == 3


def test_cli_with_an_index_uses_its_stored_settings(runner: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"within": {"enabled": False}}), encoding="utf-8")
    src = _rows(tmp_path / "d1.jsonl", [{"id": f"p{i}", "text": b + "\n", "site": "s"} for i, b in enumerate(BODIES)])
    db = tmp_path / "idx.db"
    assert runner.invoke(app, ["corpus", str(src), "--out", os.devnull, "--index", str(db), "--config", str(cfg), "--quiet"]).exit_code == 0
    rep_text = "Twice said sentence with enough words in it here. " * 2
    page = tmp_path / "rep.txt"
    page.write_text(rep_text, encoding="utf-8")
    got = runner.invoke(app, ["clean", str(page), "--index", str(db), "--site", "s", "--id", "rep"])
    assert got.exit_code == 0, got.output
    assert got.stdout == rep_text  # within-page repeats are off in this index's settings
    got = runner.invoke(app, ["clean", str(page), "--site", "s"])
    assert got.stdout != rep_text  # without the index, the defaults remove the repeat


def test_config_types_are_checked() -> None:
    for bad in ({"max_doc_chars": 1e9}, {"max_doc_chars": "big"}, {"max_doc_chars": True}):
        with pytest.raises(ConfigError, match="max_doc_chars must be int"):
            Config.from_dict(bad)
    with pytest.raises(ConfigError, match="within must be a WithinConfig"):
        Config(within={"keep_policy": "first"})  # type: ignore[arg-type]


def test_index_paths_that_are_not_index_files(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for args in (["index", "stats", str(tmp_path)], ["index", "stats", str(empty)], ["clean", str(SEED), "--index", str(tmp_path)]):
        got = runner.invoke(app, args)
        assert got.exit_code == 5 and "dedupe: error:" in got.output, (args, got.output)
    assert empty.read_bytes() == b""  # a read-only command writes nothing
    got = runner.invoke(app, ["index", "reclean", str(empty), "--out", "-", "--site", "s", "--id", "x"])
    assert got.exit_code == 2 and "not both" in got.output


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (workers forked by a forkserver are its grandchildren)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            kids = [int(x) for x in fh.read().split()]
    except OSError:
        return []
    return kids + [d for k in kids for d in _children(k)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_stopping_a_corpus_run_stops_its_workers_quietly(tmp_path: Path, how: str) -> None:
    """SIGTERM to the command, or Ctrl-C (SIGINT to its process group), with 2 workers: one line
    on stderr (no traceback from the workers), exit 128 + signal, and no worker left running."""
    import signal
    import subprocess
    import sys
    import time

    rows = tmp_path / "c.jsonl"
    gen = Path(__file__).resolve().parents[2] / "benchmarks" / "gen_corpus.py"
    subprocess.run([sys.executable, str(gen), "--mb", "2", "--out", str(rows)], check=True, capture_output=True)
    code = "import sys; from dedupe.cli import main; sys.argv = ['dedupe'] + sys.argv[1:]; main()"
    # the rows come on stdin, which stays open: the run cannot end before the signal, however
    # fast it is (a file of a fixed size was read to the end in under a second, then exit 0)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "corpus", "-", "--out", os.devnull, "--workers", "2", "--quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(rows.read_bytes())
    proc.stdin.flush()
    # wait for the pool: 2 workers and multiprocessing's resource tracker
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(workers) < 3 and proc.poll() is None:
        time.sleep(0.2)
        workers = _children(proc.pid)
    time.sleep(1.0)  # at work
    workers = _children(proc.pid)  # all of them by now (a forkserver's workers start after it)
    assert proc.poll() is None and len(workers) >= 3, "the run ended before it could be stopped"
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # hung: do not leave it behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    sig = signal.SIGTERM if how == "SIGTERM" else signal.SIGINT
    assert proc.returncode == 128 + sig, err
    text = err.decode()
    assert "Traceback" not in text and text.strip().splitlines()[-1].startswith("dedupe: error:"), text
    time.sleep(0.5)
    assert not [w for w in workers if _alive(w)], "worker processes left behind"


def test_second_review_findings(runner: CliRunner, tmp_path: Path) -> None:
    # a row nested deeper than pickle keeps is a reject, the run goes on
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"id":"a","text":"hello world page","x":%s}\n{"id":"b","text":"another page here"}\n' % ("[" * 900 + "]" * 900), encoding="utf-8")
    rej = tmp_path / "rej.jsonl"
    got = runner.invoke(app, ["corpus", str(deep), "--out", os.devnull, "--rejects", str(rej), "--quiet"])
    assert got.exit_code == 0, got.output
    assert "nested too deeply" in rej.read_text(encoding="utf-8")
    # a phrases file with a BOM: its first line is still a comment
    ph = tmp_path / "ph.txt"
    ph.write_bytes("\ufeff# Read more\nAdvertisement\n".encode("utf-8"))
    page = tmp_path / "pg.txt"
    page.write_text("Title\nRead more\nThe real article text goes here and it is long enough to be kept.\n", encoding="utf-8")
    got = runner.invoke(app, ["clean", str(page), "--phrases", str(ph)])
    assert got.exit_code == 0 and "Read more" in got.stdout
    # an output inside an input directory, with a name that would be read as a page
    d = tmp_path / "pages" / "s"
    d.mkdir(parents=True)
    (d / "p1.txt").write_text(BODIES[0], encoding="utf-8")
    got = runner.invoke(app, ["corpus", str(tmp_path / "pages"), "--out", str(d / "out.txt")])
    assert got.exit_code == 2 and "inside the input directory" in got.output
    assert not (d / "out.txt").exists()


def test_gzip_without_gz_name_closes_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    import dedupe.io.files as files

    opened = []

    def tracking_open(*args, **kwargs):
        fh = builtins.open(*args, **kwargs)
        opened.append(fh)
        return fh

    monkeypatch.setattr(files, "open", tracking_open, raising=False)
    f = tmp_path / "rows.data"
    f.write_bytes(gzip.compress(b'{"id": "a", "text": "hello"}\n'))
    assert sum(1 for _ in files.iter_inputs([str(f)])) == 1
    assert opened and all(fh.closed for fh in opened)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("where", ["clean-stdout", "corpus-stdout", "corpus-out", "corpus-report", "small-stdout"])
def test_a_full_disk_is_an_io_error_not_an_internal_one(tmp_path: Path, where: str) -> None:
    import subprocess
    import sys

    rows = _rows(tmp_path / "in.jsonl", [{"id": str(i), "text": f"{b}\nShared footer line of the site.\n"} for i, b in enumerate(BODIES * 40)])
    out, rep = str(tmp_path / "o.jsonl"), str(tmp_path / "r.jsonl")
    args = {
        "clean-stdout": ["clean", str(SEED)],
        "small-stdout": ["clean", "-", "--format", "text"],
        "corpus-stdout": ["corpus", str(rows), "--out", "-", "--report", rep, "--quiet"],
        "corpus-out": ["corpus", str(rows), "--out", "/dev/full", "--report", rep, "--quiet"],
        "corpus-report": ["corpus", str(rows), "--out", out, "--report", "/dev/full", "--quiet"],
    }[where]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-c", "from dedupe.cli import main; main()", *args],
            input=b"a short page\n", stdout=full, stderr=subprocess.PIPE, timeout=120,
        )
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.strip().splitlines()[-1].startswith("dedupe: error: I/O error:") and "No space left" in err, err
    assert "Traceback" not in err and "Exception ignored" not in err
