"""Parquet inputs and outputs of ``dedupe corpus`` (dedupe.io.parquet)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import dedupe  # noqa: E402
from dedupe.cli.app import app  # noqa: E402

NAV = "Home | World | Sport | Culture | Contact us today"
FOOT = "Copyright 2024 Example media group. All rights reserved."


def _rows(n: int = 6) -> list[dict]:
    rows = []
    for i in range(n):
        body = f"Article {i} starts here with its own words number {i}. " * 3
        rows.append({
            "id": f"p{i}",
            "text": f"{NAV}\n{body}\nAdvertisement\n{body}\n{FOOT}\n",
            "url": f"https://example.org/a/{i}",
            "crawled": dt.datetime(2024, 6, 19, 1, i),
            "lang": "en",
            "score": 0.5 + i,
        })
    return rows


def _write(path: Path, rows: list[dict], schema=None) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=2)


def test_parquet_in_and_out_equal_jsonl(tmp_path: Path) -> None:
    rows = _rows()
    src = tmp_path / "in.parquet"
    _write(src, rows)
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "crawled"}) + "\n" for r in rows), encoding="utf-8")
    runner = CliRunner()
    got = runner.invoke(app, ["corpus", str(src), "--out", str(tmp_path / "out.parquet"), "--report", str(tmp_path / "rep.parquet"), "--quiet"])
    assert got.exit_code == 0, got.output
    ref = runner.invoke(app, ["corpus", str(jsonl), "--out", str(tmp_path / "out.jsonl"), "--report", str(tmp_path / "rep.jsonl"), "--quiet"])
    assert ref.exit_code == 0, ref.output
    out = pq.read_table(tmp_path / "out.parquet")
    # every input column kept with its type, text cleaned, dedupe struct added
    assert out.schema.field("crawled").type == pa.timestamp("us")
    assert out.schema.field("score").type == pa.float64()
    assert out.column_names == ["id", "text", "url", "crawled", "lang", "score", "dedupe"]
    want = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    got_rows = out.to_pylist()
    assert [r["text"] for r in got_rows] == [w["text"] for w in want]
    assert [r["crawled"] for r in got_rows] == [r["crawled"] for r in rows]
    for g, w in zip(got_rows, want):
        assert dict(g["dedupe"]["removed_chars"]) == w["dedupe"]["removed_chars"]
        assert g["dedupe"]["canonical"] == w["dedupe"]["canonical"]
    rep = pq.read_table(tmp_path / "rep.parquet").to_pylist()
    rep_want = [json.loads(line) for line in (tmp_path / "rep.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rep == rep_want
    # lossless from the Parquet report
    by_doc: dict[str, list] = {}
    for s in rep:
        by_doc.setdefault(s["doc_id"], []).append(s)
    for r, o in zip(rows, got_rows):
        assert dedupe.rebuild(o["text"], by_doc.get(r["id"], [])) == r["text"]


def test_parquet_values_in_jsonl_out(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    _write(src, _rows(3))
    got = CliRunner().invoke(app, ["corpus", str(src), "--out", str(tmp_path / "out.jsonl"), "--quiet"])
    assert got.exit_code == 0, got.output
    first = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["crawled"] == "2024-06-19T01:00:00"


def test_bad_parquet_inputs_are_rejects_and_the_rest_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    _write(good, _rows(3))
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"not parquet at all")
    nocol = tmp_path / "nocol.parquet"
    _write(nocol, [{"id": "x", "body": "no text column"}])
    mixed = tmp_path / "mixed.parquet"
    _write(mixed, [{"id": "m1", "text": "fine text here"}, {"id": "m2", "text": None}])
    rej = tmp_path / "rej.jsonl"
    got = CliRunner().invoke(app, ["corpus", str(fake), str(nocol), str(good), str(mixed), "--out", str(tmp_path / "o.jsonl"),
                                   "--rejects", str(rej), "--quiet"])
    assert got.exit_code == 0, got.output
    rejects = [json.loads(line) for line in rej.read_text(encoding="utf-8").splitlines()]
    reasons = {(r["source"].rsplit("/", 1)[-1], r["line"]): r["reason"] for r in rejects}
    assert "not a readable Parquet file" in reasons[("fake.parquet", None)]
    assert "no 'text' or 'html' column" in reasons[("nocol.parquet", None)]
    assert "missing text field" in reasons[("mixed.parquet", 2)]
    out_ids = [json.loads(line)["id"] for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(out_ids) == ["m1", "p0", "p1", "p2"]  # rows out + rejects (3) = rows in


WORDS = (
    "The harbour reopened on Monday after storms closed it for a week",
    "Farmers in the valley expect a late harvest because of the cold spring",
    "A new library opens downtown with a reading room for children and students",
)


def test_parquet_html_column(tmp_path: Path) -> None:
    src = tmp_path / "h.parquet"
    _write(src, [{"id": f"h{i}", "html": f"<html><head><title>T{i}</title></head><body><p>{NAV}</p><p>{w}.</p></body></html>"} for i, w in enumerate(WORDS)])
    out = tmp_path / "o.parquet"
    got = CliRunner().invoke(app, ["corpus", str(src), "--out", str(out), "--quiet"])
    assert got.exit_code == 0, got.output
    texts = [r["text"] for r in pq.read_table(out).to_pylist()]
    assert all(w in t and NAV not in t for w, t in zip(WORDS, texts))


def test_unwritable_parquet_out_fails_before_work(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    _write(src, _rows(2))
    got = CliRunner().invoke(app, ["corpus", str(src), "--out", str(tmp_path / "no" / "dir" / "o.parquet")])
    assert got.exit_code == 3 and "cannot write" in got.output


def test_parquet_out_sees_every_column_and_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns that appear late, and values whose types differ between rows, are not lost: a
    column with no common type becomes JSON text (found in review: the schema used to come from
    the first 2,048 rows)."""
    import dedupe.io.parquet as P

    monkeypatch.setattr(P, "WRITE_ROWS", 4)
    rows = []
    for i in range(12):
        row = {"id": f"r{i}", "text": f"Row {i} says something of its own here."}
        row["mixed"] = i if i % 2 else f"s{i}"  # int and str: no common type
        row["num"] = i if i < 6 else i + 0.5  # int, then float: promoted
        if i >= 9:
            row["late"] = {"k": i}  # appears after the first batches
        rows.append(row)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "o.parquet"
    rep = tmp_path / "r.parquet"
    got = CliRunner().invoke(app, ["corpus", str(src), "--out", str(out), "--report", str(rep), "--order", "input", "--quiet"])
    assert got.exit_code == 0, got.output
    table = pq.read_table(out)
    assert table.column_names == ["id", "text", "mixed", "num", "dedupe", "late"]
    assert table.schema.field("num").type == pa.float64() and table.schema.field("mixed").type == pa.string()
    back = table.to_pylist()
    assert [json.loads(r["mixed"]) for r in back] == [r["mixed"] for r in rows]
    assert [r["num"] for r in back] == [float(r["num"]) for r in rows]
    assert [r["late"] for r in back] == [r.get("late") for r in rows]
    assert pq.read_table(rep).num_rows == 0 or pq.read_table(rep).schema.names[0] == "doc_id"


def test_same_file_for_two_outputs_or_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    _write(src, _rows(2))
    before = src.read_bytes()
    runner = CliRunner()
    for args in (["--out", str(src)], ["--out", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "o.jsonl")],
                 ["--out", "-", "--report", "-"], ["--out", str(tmp_path / "x.jsonl"), "--rejects", str(src)]):
        got = runner.invoke(app, ["corpus", str(src), *args, "--quiet"])
        assert got.exit_code == 2 and "dedupe: error:" in got.output, (args, got.output)
    assert src.read_bytes() == before
    keep = tmp_path / "keep.jsonl"
    keep.write_text("precious\n", encoding="utf-8")
    got = runner.invoke(app, ["corpus", str(src), str(tmp_path / "nosuch.jsonl"), "--out", str(keep)])
    assert got.exit_code == 3 and keep.read_text(encoding="utf-8") == "precious\n"
    got = runner.invoke(app, ["corpus", str(src), "--out", "/dev/null", "--report", "/dev/null", "--quiet"])
    assert got.exit_code == 0, got.output


def test_parquet_int_ids_with_a_null_one(tmp_path: Path) -> None:
    """A null id gets the SOURCE:ROW id in OUT (as in REPORT): a str in an int64 id column, so
    the column is written as JSON text instead of failing after all the work."""
    src = tmp_path / "ids.parquet"
    _write(src, [{"id": 1, "text": "The harbour reopened on Monday after the storms."},
                 {"id": None, "text": "Farmers expect a late harvest after a cold spring."}])
    out = tmp_path / "o.parquet"
    got = CliRunner().invoke(app, ["corpus", str(src), "--out", str(out), "--order", "input", "--quiet"])
    assert got.exit_code == 0, got.output
    ids = [json.loads(r["id"]) for r in pq.read_table(out).to_pylist()]
    assert ids == [1, f"{src}:2"]


@pytest.mark.parametrize("with_parquet_input", [False, True])
def test_outputs_of_a_run_where_every_row_was_rejected_are_valid_empty_files(tmp_path: Path, with_parquet_input: bool) -> None:
    """Nothing processed (exit 3): the Parquet OUT and REPORT are still readable, with no rows
    (OUT was a 0-byte file, which no Parquet reader opens)."""
    if with_parquet_input:
        src = tmp_path / "in.parquet"
        _write(src, [{"id": "a", "text": None, "lang": "en"}])  # a null text: rejected
    else:
        src = tmp_path / "in.jsonl"
        src.write_text('not json\n{"id": 1}\n', encoding="utf-8")
    out, rep = tmp_path / "o.parquet", tmp_path / "r.parquet"
    got = CliRunner().invoke(app, ["corpus", str(src), "--out", str(out), "--report", str(rep), "--quiet"])
    assert got.exit_code == 3, got.output
    table = pq.read_table(out)
    assert table.num_rows == 0 and {"text", "dedupe"} <= set(table.column_names)
    if with_parquet_input:
        assert table.column_names[:3] == ["id", "text", "lang"]
    assert pq.read_table(rep).num_rows == 0
