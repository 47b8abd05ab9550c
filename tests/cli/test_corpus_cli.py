"""`dedupe corpus` end to end with CliRunner: rows accounted for, order/worker independence, exit codes."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from dedupe.cli.app import app

runner = CliRunner()
W = ("river bridge council budget market school winter harbour railway museum garden doctor village teacher "
     "weather festival library station minister island forest farmer factory concert airport journal").split()


def _para(rng: random.Random, n: int = 45) -> str:
    return " ".join(rng.choice(W) for _ in range(n)).capitalize() + "."


def _rows(seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for s in range(2):
        for p in range(4):
            body = "\n".join(_para(rng) for _ in range(3))
            text = f"Menu | Home | World | Site {s}\n{body}\nDownload our app today and follow site {s} everywhere you go now.\n"
            rows.append({"id": f"s{s}p{p}", "url": f"https://www.site{s}.test/{p}", "text": text, "extra": [s, p]})
    dup = dict(rows[0])
    dup["id"] = "mirror"
    dup["url"] = "https://mirror.test/x"
    dup["text"] = "Mirror header\n" + "\n".join(rows[0]["text"].split("\n")[1:4]).replace("river", "stream", 1) + "\n"
    rows.append(dup)
    return rows


def _write(path, rows, extra_lines=()) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
        for ln in extra_lines:
            fh.write(ln + "\n")


def _run(*args: str):
    return runner.invoke(app, ["corpus", *args])


def test_end_to_end_rows_accounted_and_lossless(tmp_path) -> None:
    rows = _rows()
    bad = ["{oops", json.dumps({"id": "s0p1", "text": "dup id"}), json.dumps({"id": "nt", "text": 3}), json.dumps({"id": "nf"})]
    _write(tmp_path / "in.jsonl", rows, bad)
    r = _run(str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--report", str(tmp_path / "rep.jsonl"), "--rejects", str(tmp_path / "rej.jsonl"))
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    rep = [json.loads(x) for x in (tmp_path / "rep.jsonl").read_text().splitlines()]
    rej = [json.loads(x) for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert len(out) + len(rej) == len(rows) + len(bad)
    assert sorted(x["line"] for x in rej) == [10, 11, 12, 13]
    assert "rejected" in r.stderr and f"{len(rows) + len(bad)} rows in" in r.stderr
    by_id = {x["id"]: x for x in out}
    originals = {x["id"]: x["text"] for x in rows}
    assert by_id["s0p0"]["extra"] == [0, 0] and set(by_id["s0p0"]["dedupe"]) >= {"removed_chars", "cluster", "canonical"}
    # lossless: the report rebuilds each original from its cleaned text
    for doc_id, row in by_id.items():
        spans = sorted((x for x in rep if x["doc_id"] == doc_id and x["removed"]), key=lambda x: x["start"])
        parts, pos_c, pos_o = [], 0, 0
        for s in spans:
            take = s["start"] - pos_o
            parts.append(row["text"][pos_c : pos_c + take])
            parts.append(s["text"])
            pos_c += take
            pos_o = s["end"]
        parts.append(row["text"][pos_c:])
        assert "".join(parts) == originals[doc_id]
        for s in rep:
            if s["doc_id"] == doc_id:
                assert originals[doc_id][s["start"] : s["end"]] == s["text"]
    # the template menu goes from every page of both sites
    kinds = {x["kind"] for x in rep}
    assert "template" in kinds
    assert all("Menu | Home" not in by_id[f"s{s}p{p}"]["text"] for s in range(2) for p in range(4))
    # the mirror is a near-duplicate of s0p0
    assert by_id["mirror"]["dedupe"]["cluster"] == by_id["s0p0"]["dedupe"]["cluster"] is not None
    nd = [x for x in rep if x["kind"] == "near-duplicate-doc"]
    assert len(nd) == 1 and not nd[0]["removed"] and nd[0]["kept"]["doc_id"] in ("mirror", "s0p0")


def test_shuffled_input_and_workers_give_identical_bytes(tmp_path) -> None:
    rows = _rows(1)
    _write(tmp_path / "a.jsonl", rows)
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    _write(tmp_path / "b.jsonl", shuffled)
    outs = []
    for name, workers in (("a", "1"), ("b", "1"), ("a", "2")):
        r = _run(str(tmp_path / f"{name}.jsonl"), "--out", str(tmp_path / f"o{name}{workers}.jsonl"), "--report", str(tmp_path / f"r{name}{workers}.jsonl"), "--workers", workers, "--quiet")
        assert r.exit_code == 0, r.output
        outs.append(((tmp_path / f"o{name}{workers}.jsonl").read_bytes(), (tmp_path / f"r{name}{workers}.jsonl").read_bytes()))
    assert outs[0] == outs[1] == outs[2]
    assert r.stderr == ""  # --quiet


def test_drop_near_dups_moves_rows_to_rejects(tmp_path) -> None:
    rows = _rows(2)
    _write(tmp_path / "in.jsonl", rows)
    r = _run(str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--rejects", str(tmp_path / "rej.jsonl"), "--drop-near-dups")
    assert r.exit_code == 0, r.output
    out = (tmp_path / "out.jsonl").read_text().splitlines()
    rej = [json.loads(x) for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert len(out) == len(rows) - 1 and len(rej) == 1
    assert "near-duplicate of" in rej[0]["reason"]
    assert "1 dropped" in r.stderr


def test_stdin_and_stdout(tmp_path) -> None:
    rows = _rows(3)[:3]
    data = "".join(json.dumps(x) + "\n" for x in rows)
    r = runner.invoke(app, ["corpus", "-", "--out", "-", "--quiet"], input=data)
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == sorted(x["id"] for x in rows)


def test_directory_input(tmp_path) -> None:
    d = tmp_path / "pages" / "site.test"
    d.mkdir(parents=True)
    rng = random.Random(4)
    for i in range(3):
        (d / f"{i}.html").write_text(f"<html><body><nav>Top menu of the site with links</nav><p>{_para(rng)}</p></body></html>", encoding="utf-8")
    r = _run(str(tmp_path / "pages"), "--out", str(tmp_path / "out.jsonl"), "--report", str(tmp_path / "rep.jsonl"))
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["id"] for x in out] == ["site.test/0.html", "site.test/1.html", "site.test/2.html"]
    assert all(x["text"] for x in out)
    assert all("Top menu" not in x["text"] for x in out)


def test_nothing_processed_exits_3(tmp_path) -> None:
    _write(tmp_path / "bad.jsonl", [], ["{x", json.dumps({"id": 1})])
    r = _run(str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 3
    assert "all 2 input rows were rejected" in r.stderr
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    r = _run(str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 3 and "no input rows" in r.stderr
    r = _run(str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 3 and "no such file" in r.stderr
    assert "Traceback" not in r.output


def test_bad_config_exits_4(tmp_path) -> None:
    _write(tmp_path / "in.jsonl", _rows()[:2])
    (tmp_path / "c.json").write_text(json.dumps({"neardup": {"threshold": 3}}), encoding="utf-8")
    r = _run(str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"), "--config", str(tmp_path / "c.json"))
    assert r.exit_code == 4 and "neardup.threshold" in r.stderr


def test_lone_surrogate_row_is_rejected_and_the_run_goes_on(tmp_path) -> None:
    src = tmp_path / "s.jsonl"
    src.write_text(
        '{"id": "a", "text": "hello world, a page of ordinary text"}\n'
        '{"id": "b", "text": "x \\ud800 y"}\n'
        '{"id": "c", "text": "a proper pair \\ud83d\\ude00 is fine"}\n',
        encoding="utf-8",
    )
    out, rej = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    r = _run(str(src), "--out", str(out), "--rejects", str(rej), "--quiet")
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["a", "c"]
    rejected = [json.loads(x) for x in rej.read_text(encoding="utf-8").splitlines()]
    assert [(x["id"], x["line"]) for x in rejected] == [("b", 2)]
    assert "surrogate" in rejected[0]["reason"]


def test_unwritable_output_fails_before_any_work(tmp_path) -> None:
    src = tmp_path / "s.jsonl"
    src.write_text('{"id": "a", "text": "hello world, a page of ordinary text"}\n', encoding="utf-8")
    db = tmp_path / "idx.db"
    r = _run(str(src), "--out", str(tmp_path / "missing" / "o.jsonl"), "--index", str(db), "--quiet")
    assert r.exit_code == 3
    assert "cannot write" in r.stderr
    assert not db.exists()  # nothing was recorded in the index


def test_row_without_id_keeps_the_id_the_report_uses(tmp_path) -> None:
    src = tmp_path / "s.jsonl"
    text = "A sentence that is printed twice in a row here. " * 2
    src.write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    out, rep = tmp_path / "o.jsonl", tmp_path / "rep.jsonl"
    r = _run(str(src), "--out", str(out), "--report", str(rep), "--quiet")
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text(encoding="utf-8"))
    spans = [json.loads(x) for x in rep.read_text(encoding="utf-8").splitlines()]
    assert spans and {s["doc_id"] for s in spans} == {row["id"]}


def test_no_within_keeps_the_site_level_only(tmp_path) -> None:
    rows = _rows()
    body = rows[1]["text"].split("\n")[1]
    rows[1]["text"] = rows[1]["text"].replace(body, body + "\n" + body)  # a paragraph printed twice in a row
    _write(tmp_path / "in.jsonl", rows)

    def kinds(*flags: str) -> dict[str, set]:
        r = _run(str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "r.jsonl"), "--quiet", *flags)
        assert r.exit_code == 0, r.output
        out: dict[str, set] = {}
        for x in (tmp_path / "r.jsonl").read_text().splitlines():
            row = json.loads(x)
            out.setdefault(row["doc_id"], set()).add(row["kind"])
        return out

    default, site_only = kinds(), kinds("--no-within")
    assert "repeat" in default["s0p1"]
    assert "repeat" not in site_only["s0p1"] and "template" in site_only["s0p1"]
    assert not any({"repeat", "near-repeat"} & k for k in site_only.values())
    out = {json.loads(x)["id"]: json.loads(x)["text"] for x in (tmp_path / "o.jsonl").read_text().splitlines()}
    assert out["s0p1"].count(body) == 2


def test_rows_parsed_by_the_workers_equal_the_drivers_reading(tmp_path) -> None:
    """With --workers 2 plain JSONL files are read and parsed by the pool's workers
    (engine.corpus.ParsedSource); with --workers 1 the driver reads them (io.files.iter_inputs).
    Bad rows, duplicate ids within and across files, a row too nested to keep, HTML rows, a BOM,
    blank lines and a last line without newline give the same OUT, REPORT, rejects and messages."""
    rows = _rows(2)
    lines = ["\ufeff" + json.dumps(rows[0])]
    for i, r in enumerate(rows[1:], start=1):
        lines.append(json.dumps(r))
        if i == 2:
            lines += ["{not json", "", "   ", "[1, 2]", json.dumps({"id": "s0p0", "text": "a duplicate id"})]
        if i == 4:
            lines.append(json.dumps({"id": "deep", "text": "nested row", "extra": json.loads("[" * 900 + "]" * 900)}))
            lines.append(json.dumps({"id": "h", "html": "<html><head><title>T</title></head><body><p>" + _para(random.Random(9)) + "</p></body></html>"}))
        if i == 5:
            lines.append(json.dumps({"text": "a row without id " + _para(random.Random(4))}))
            # nesting around the fixed limit (200 levels) and past what the JSON reader reads
            for depth in (198, 199, 200, 1200):
                lines.append('{"id": "n%d", "text": "nested %d", "x": %s%s}' % (depth, depth, "[" * depth, "]" * depth))
    (tmp_path / "a.jsonl").write_bytes(("\n".join(lines)).encode())  # no final newline
    (tmp_path / "b.jsonl").write_bytes(
        b'{"id": "s1p2", "text": "again"}\n{"id": "bad\xff"}\n' + json.dumps(rows[3] | {"id": "b3"}).encode() + b"\n"
        + b'{"id": "deep", "text": "the id of a row rejected as too nested"}\n{"id": "b3", "text": "a duplicate across files"}\n'
    )
    got = []
    for workers in ("1", "2"):
        o, rep, rej = (tmp_path / f"{k}{workers}.jsonl" for k in ("o", "r", "j"))
        r = _run(str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--out", str(o), "--report", str(rep), "--rejects", str(rej), "--workers", workers, "--quiet")
        assert r.exit_code == 0, r.output
        got.append((o.read_bytes(), rep.read_bytes(), rej.read_bytes(), r.stderr))
    assert got[0] == got[1]
    reasons = [json.loads(x)["reason"] for x in got[0][2].decode().splitlines()]
    assert len(reasons) == 9 and sum("duplicate id" in x for x in reasons) == 3 and sum("nested too deeply" in x for x in reasons) == 3, reasons
    assert any("duplicate id (first seen at" in x and "b.jsonl:3" in x for x in reasons), reasons  # where the first b3 was
