"""``dedupe clean`` through Typer's CliRunner (issue 2, acceptance 4).

click >= 8.2 keeps stderr separate: ``result.stdout`` is stdout only, ``result.stderr`` stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dedupe
from dedupe.cli.app import app

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_9438c1acc4b3994a.txt"
EXIT_INPUT = 3
EXIT_USAGE = 2


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def assert_one_error_line(result, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dedupe: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stdout == ""
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_file_to_stdout_equals_api(runner: CliRunner) -> None:
    text = SEED.read_text(encoding="utf-8")
    result = runner.invoke(app, ["clean", str(SEED)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == dedupe.clean(text).text
    assert result.stderr == ""


def test_stdin_to_stdout(runner: CliRunner) -> None:
    text = "Breaking news here today, read all of it now. " * 3 + "\nEnd."
    result = runner.invoke(app, ["clean", "-"], input=text.encode("utf-8"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == dedupe.clean(text).text
    assert result.stdout.count("Breaking news") == 1


def test_report_to_file_rebuilds_original(runner: CliRunner, tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    rep = tmp_path / "spans.json"
    result = runner.invoke(app, ["clean", str(SEED), "--report", str(rep)])
    assert result.exit_code == 0, result.stderr
    data = json.loads(rep.read_text(encoding="utf-8"))
    assert data["dedupe_version"] == dedupe.__version__
    assert data["config"]["within"]["keep_policy"] == "context"
    assert data["original_chars"] == len(text)
    assert len(data["spans"]) == 4
    spans = [dedupe.Span(s["start"], s["end"], s["text"], s["kind"], s["rule"], s["score"], tuple(s["kept"])) for s in data["spans"]]
    for s in spans:
        assert s.text == text[s.start : s.end]
    assert dedupe.rebuild(result.stdout, spans) == text  # cleaned stdout + report = original
    assert dedupe.rebuild(result.stdout, data["spans"]) == text  # the report's dicts as they are
    flagged = {"start": 0, "end": 5, "text": "XXXXX", "removed": False}  # reported, not cut
    assert dedupe.rebuild(result.stdout, [*data["spans"], flagged]) == text


def test_format_json(runner: CliRunner) -> None:
    text = SEED.read_text(encoding="utf-8")
    result = runner.invoke(app, ["clean", str(SEED), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == dedupe.clean(text).text
    assert [s["kind"] for s in data["spans"]] == ["repeat"] * 4
    assert all(isinstance(s["kept"], list) and len(s["kept"]) == 2 for s in data["spans"])


def test_report_to_stdout(runner: CliRunner) -> None:
    result = runner.invoke(app, ["clean", str(SEED), "--report", "-"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # only the report, no cleaned text mixed in
    assert "spans" in data and "text" not in data


def test_keep_first_option(runner: CliRunner) -> None:
    a = runner.invoke(app, ["clean", str(SEED)])
    b = runner.invoke(app, ["clean", str(SEED), "--keep", "first"])
    assert a.exit_code == b.exit_code == 0
    assert a.stdout != b.stdout
    assert b.stdout.startswith(SEED.read_text(encoding="utf-8")[:100])


def test_bad_keep_value_is_a_config_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["clean", str(SEED), "--keep", "last"])
    assert_one_error_line(result, 4, "keep_policy")


def test_unknown_option_is_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["clean", str(SEED), "--no-such-option"])
    assert result.exit_code == EXIT_USAGE
    assert "Traceback" not in result.stderr


def test_missing_path(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert_one_error_line(runner.invoke(app, ["clean", str(missing)]), EXIT_INPUT, str(missing), "no such file")


def test_directory(runner: CliRunner, tmp_path: Path) -> None:
    assert_one_error_line(runner.invoke(app, ["clean", str(tmp_path)]), EXIT_INPUT, "directory")


def test_empty_file(runner: CliRunner, tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    assert_one_error_line(runner.invoke(app, ["clean", str(p)]), EXIT_INPUT, "empty")
    p.write_bytes(b" \n\t\n")
    assert_one_error_line(runner.invoke(app, ["clean", str(p)]), EXIT_INPUT, "empty")


def test_empty_stdin(runner: CliRunner) -> None:
    assert_one_error_line(runner.invoke(app, ["clean", "-"], input=b""), EXIT_INPUT, "<stdin>", "empty")


def test_invalid_utf8(runner: CliRunner, tmp_path: Path) -> None:
    p = tmp_path / "latin1.txt"
    p.write_bytes("Café crème, déjà vu.".encode("latin-1"))
    assert_one_error_line(runner.invoke(app, ["clean", str(p)]), EXIT_INPUT, "invalid UTF-8", "byte 3")
    assert_one_error_line(runner.invoke(app, ["clean", "-"], input=b"ok \xff\xfe"), EXIT_INPUT, "invalid UTF-8")


def test_binary_file(runner: CliRunner, tmp_path: Path) -> None:
    p = tmp_path / "image.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert_one_error_line(runner.invoke(app, ["clean", str(p)]), EXIT_INPUT, "binary")


def test_bom_is_dropped(runner: CliRunner, tmp_path: Path) -> None:
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffHello there.".encode("utf-8"))
    result = runner.invoke(app, ["clean", str(p)])
    assert result.exit_code == 0
    assert result.stdout == "Hello there."


def test_unwritable_report(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "no_dir" / "r.json"
    result = runner.invoke(app, ["clean", str(SEED), "--report", str(target)])
    assert result.exit_code == EXIT_INPUT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dedupe: error:") and "cannot write" in lines[0]
    assert "Traceback" not in result.stderr


def test_all_repeats_removes_a_repeat_that_is_only_flagged_by_default(runner: CliRunner) -> None:
    line = "A whole line repeated far away in this page here."
    text = f"{line}\nOther text in between, with quite different words.\n{line}\n"
    default = runner.invoke(app, ["clean", "-", "--format", "json"], input=text)
    assert default.exit_code == 0
    rep = json.loads(default.stdout)
    assert rep["text"].count(line) == 2  # no artefact evidence: both copies stay ...
    assert [s["removed"] for s in rep["spans"]] == [False]  # ... and the repeat is reported
    every = runner.invoke(app, ["clean", "-", "--all-repeats"], input=text)
    assert every.exit_code == 0
    assert every.stdout.count(line) == 1


def test_html_and_gzip_inputs(runner: CliRunner, tmp_path: Path) -> None:
    """An .html file is converted to text (one block per line) before cleaning, --html does it for
    stdin, --text keeps the markup; gzip input is decompressed; broken gzip is one error line."""
    import gzip

    body = "<p>Le président russe est arrivé dans la nuit à Pyongyang pour un sommet.</p>"
    html = f"<html><head><title>Sommet</title></head><body><nav>Accueil</nav>{body}{body}</body></html>"
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    expected = dedupe.clean(dedupe.io.html.html_to_text(html)).text
    res = runner.invoke(app, ["clean", str(page)])
    assert res.exit_code == 0, res.stderr
    assert res.stdout == expected and "<p>" not in res.stdout and res.stdout.count("Pyongyang") == 1
    assert runner.invoke(app, ["clean", "-", "--html"], input=html.encode()).stdout == expected
    assert "<p>" in runner.invoke(app, ["clean", str(page), "--text"]).stdout
    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress(html.encode()))
    assert runner.invoke(app, ["clean", str(gz)]).stdout == expected
    seed_gz = tmp_path / "seed.txt.gz"
    seed_gz.write_bytes(gzip.compress(SEED.read_bytes()))
    assert runner.invoke(app, ["clean", str(seed_gz)]).stdout == runner.invoke(app, ["clean", str(SEED)]).stdout
    assert_one_error_line(runner.invoke(app, ["clean", "-"], input=b"\x1f\x8bnot really gzip"), EXIT_INPUT, "gzip")
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><script>x=1</script></body></html>", encoding="utf-8")
    assert_one_error_line(runner.invoke(app, ["clean", str(empty)]), EXIT_INPUT, "no visible text")


def test_a_pipe_path_and_binary_html(runner: CliRunner, tmp_path: Path) -> None:
    """A path that is a pipe (``<(cat f)``, /dev/stdin) is read like a file; binary data named
    .html is one error line, exit 3, as for text."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    text = "Une phrase courte ici.\n"
    writer = subprocess.Popen([sys.executable, "-c", f"open({str(fifo)!r}, 'w').write({text!r})"])
    try:
        res = runner.invoke(app, ["clean", str(fifo)])
    finally:
        writer.wait(timeout=30)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == text
    binary = tmp_path / "x.html"
    binary.write_bytes(bytes(range(256)) * 20)
    assert_one_error_line(runner.invoke(app, ["clean", str(binary)]), EXIT_INPUT, "binary")


def test_version_flag(runner: CliRunner) -> None:
    from dedupe.cli.app import app as root

    got = runner.invoke(root, ["--version"])
    assert got.exit_code == 0 and got.stdout.strip() == f"dedupe {dedupe.__version__}"
