"""Corpus inputs: JSONL rows, HTML rows and files, directories; every bad row becomes a reject."""

from __future__ import annotations

import io
import json

import pytest

from dedupe.errors import InputError
from dedupe.io.files import iter_directory, iter_inputs
from dedupe.io.html import decode_html, html_to_text
from dedupe.io.jsonl import FieldMap, Reject, iter_jsonl, out_row, report_rows
from dedupe.models import Document
from dedupe.api import clean


def _jsonl(*lines: str | bytes) -> io.BytesIO:
    return io.BytesIO(b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines))


def test_rows_and_rejects() -> None:
    stream = _jsonl(
        json.dumps({"id": "a", "text": "Hello there.", "url": "http://x.org/a", "site": "S", "lang": "en"}),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "text": ["x"]}),
        json.dumps({"id": {"x": 1}, "text": "t"}),
        b'{"id": "d", "text": "\xff\xfe"}',
        json.dumps({"text": "no id here"}),
        json.dumps({"id": 7, "text": "int id"}),
    )
    items = list(iter_jsonl(stream, "in.jsonl"))
    docs = [i for i in items if isinstance(i, Document)]
    rej = [i for i in items if isinstance(i, Reject)]
    assert [d.id for d in docs] == ["a", "in.jsonl:9", "7"]
    assert docs[0].url == "http://x.org/a" and docs[0].site == "S"
    assert [(r.line, r.id) for r in rej] == [(3, None), (4, None), (5, "b"), (6, "c"), (7, None), (8, "d")]
    assert "malformed JSON" in rej[0].reason
    assert "expected an object" in rej[1].reason
    assert "missing text field 'text'" in rej[2].reason
    assert "must be a string" in rej[3].reason
    assert "invalid UTF-8" in rej[5].reason
    assert len(items) == 9  # blank line skipped: every non-blank row is accounted for


def test_configurable_field_names_and_passthrough() -> None:
    stream = _jsonl(json.dumps({"key": "k1", "body": "Some text.", "link": "https://www.A.com/p", "domain": "dom", "n": 3}))
    (doc,) = iter_jsonl(stream, "s", fields=FieldMap(id="key", text="body", url="link", site="domain"))
    assert (doc.id, doc.text, doc.url, doc.site) == ("k1", "Some text.", "https://www.A.com/p", "dom")
    res = clean(doc.text, doc_id=doc.id)
    row = out_row(doc, res)
    assert list(row) == ["key", "body", "link", "domain", "n", "dedupe"]
    assert row["body"] == res.text and row["n"] == 3


def test_oversized_rows_rejected_with_id() -> None:
    big = "word " * 2000
    stream = _jsonl(json.dumps({"id": "huge", "text": big}), json.dumps({"id": "ok", "text": "fine"}))
    items = list(iter_jsonl(stream, "s", max_chars=100))
    assert isinstance(items[0], Reject) and items[0].id == "huge" and "max_doc_chars" in items[0].reason
    assert isinstance(items[1], Document)


def test_50mb_line_rejected_without_parsing() -> None:
    big = b'{"id": "giant", "text": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    items = list(iter_jsonl(_jsonl(big, json.dumps({"id": "ok", "text": "t"})), "s", max_chars=10_000_000))
    assert isinstance(items[0], Reject) and items[0].id == "giant" and "max_doc_chars" in items[0].reason
    assert isinstance(items[1], Document)


def test_html_rows() -> None:
    html = "<html><head><title>T</title><style>p{}</style></head><body><nav>Home</nav><p>Para one.</p><p>Para two.</p></body></html>"
    (doc,) = iter_jsonl(_jsonl(json.dumps({"id": "h", "html": html})), "s")
    assert doc.text.splitlines()[-2:] == ["Para one.", "Para two."]
    assert "p{}" not in doc.text
    row = out_row(doc, clean(doc.text, doc_id="h"))
    assert row["text"] == doc.text and "html" not in row  # the cleaned text replaces the HTML


def test_decode_html() -> None:
    assert decode_html("\ufeffé".encode("utf-8")) == "é"
    assert decode_html("é".encode("utf-16")) == "é"
    assert decode_html(b'<meta charset="iso-8859-1"><p>\x93quoted\x94</p>').endswith("“quoted”</p>")
    assert decode_html(b"<p>caf\xe9</p>") == "<p>café</p>"
    assert html_to_text(b"<p>caf\xe9</p>") == "café"


def test_unclosed_title_does_not_swallow_the_page() -> None:
    # a garbled archive (l3s_gn1 has such pages): the <title> never ends, so the HTML parser
    # reads the whole page as title text and there is no visible text at all
    html = "<html><head><title>BBC SPORTi library-->\n<script>var x = 1;</script></head><body><p>Match report.</p><p>Second para.</p></body></html>"
    assert html_to_text(html) == "Match report.\nSecond para."
    assert html_to_text(html.replace("library-->", "library--></title>")) == "Match report.\nSecond para."
    assert html_to_text("<title>A</title><textarea><title>b</textarea><p>c</p>").endswith("c")
    # an inline SVG's own <title> further down does not close the page's title
    svg = html.replace("<p>Second para.</p>", "<p>Second para.</p><svg><title>icon</title></svg><p>Tail.</p>")
    assert html_to_text(svg).startswith("Match report.\nSecond para.")


def test_directory(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "p2.html").write_bytes(b"<p>Second page</p>")
    (tmp_path / "b" / "p1.txt").write_text("First page", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Top", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    (tmp_path / "skip.json").write_text("{}", encoding="utf-8")
    items = list(iter_directory(tmp_path))
    assert [(i.id, getattr(i, "site", None)) for i in items] == [
        ("a.txt", ""), ("b/p1.txt", "b"), ("b/p2.html", "b"), ("bad.txt", None), ("skip.json", None)]
    assert items[2].text == "Second page"
    assert isinstance(items[3], Reject) and isinstance(items[4], Reject)  # an unsupported file is named, not dropped


def test_duplicate_ids_across_inputs(tmp_path) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text(json.dumps({"id": "x", "text": "1"}) + "\n", encoding="utf-8")
    b.write_text(json.dumps({"id": "x", "text": "2"}) + "\n" + json.dumps({"id": "y", "text": "3"}) + "\n", encoding="utf-8")
    items = list(iter_inputs([str(a), str(b)]))
    assert [type(i).__name__ for i in items] == ["Document", "Reject", "Document"]
    assert "duplicate id" in items[1].reason and str(a) in items[1].reason


def test_missing_input_path() -> None:
    with pytest.raises(InputError, match="no such file"):
        list(iter_inputs(["/nonexistent/x.jsonl"]))


def test_report_rows_point_into_original() -> None:
    text = "The same long sentence is repeated here for sure, twice. The same long sentence is repeated here for sure, twice."
    res = clean(text, doc_id="d")
    rows = list(report_rows(res))
    assert rows and all(text[r["start"] : r["end"]] == r["text"] for r in rows)
    assert all(r["kept"]["doc_id"] == "d" for r in rows if r["kept"])


def test_gzipped_inputs_and_skipped_files_are_accounted(tmp_path) -> None:
    """.txt.gz / .html.gz files and .jsonl.gz inputs are read; every other file of a directory is
    a reject that names it; a truncated gzip ends its input with a reject and others go on."""
    import gzip

    d = tmp_path / "crawl"
    (d / "s").mkdir(parents=True)
    (d / "s" / "a.txt.gz").write_bytes(gzip.compress("première page\n".encode()))
    (d / "s" / "b.html.gz").write_bytes(gzip.compress(b"<html><title>B</title><body><p>second page</p></body></html>"))
    (d / "s" / "c.pdf").write_bytes(b"%PDF-1.4")
    (d / "s" / "d.txt.gz").write_bytes(b"not gzip at all")
    (d / ".hidden").write_bytes(b"x")
    items = list(iter_directory(d))
    docs = {x.id: x for x in items if isinstance(x, Document)}
    rej = {x.id: x.reason for x in items if isinstance(x, Reject)}
    assert docs["s/a.txt.gz"].text == "première page\n" and docs["s/a.txt.gz"].site == "s"
    assert "second page" in docs["s/b.html.gz"].text and docs["s/b.html.gz"].meta["page"]["title"] == "B"
    assert "not a .txt/.html/.htm file" in rej["s/c.pdf"]
    assert "gzip" in rej["s/d.txt.gz"]
    assert len(items) == 4  # the hidden file is not an input

    def rows(p: str) -> bytes:
        return "".join(json.dumps({"id": f"{p}{i}", "text": f"row {i} " * 40}) + "\n" for i in range(50)).encode()

    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress(rows("r")))
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(rows("b"), compresslevel=0)[:-3000])  # truncated: the last rows and the trailer are gone
    out = list(iter_inputs([str(bad), str(good)]))
    got = [x.id for x in out if isinstance(x, Document)]
    assert got[-50:] == [f"r{i}" for i in range(50)]  # the good input is read whole after the bad one
    bad_rej = [x for x in out if isinstance(x, Reject)]
    assert len(bad_rej) == 1 and "truncated after line" in bad_rej[0].reason and bad_rej[0].source == str(bad)
    assert 0 < len(got) - 50 < 50


def test_over_long_line_is_never_held_whole_and_the_next_rows_are_read() -> None:
    from dedupe.io.jsonl import _bounded_lines

    big = b'{"id": "big", "text": "' + b"x" * 3_000_000 + b'"}\n'
    data = b'{"id": "a", "text": "one"}\n' + big + b'{"id": "b", "text": "two"}\n' + big[:-1]  # the last has no newline
    chunks = list(_bounded_lines(io.BytesIO(data), 10_000))
    assert all(len(c[0] if isinstance(c, tuple) else c) <= 10_001 for c in chunks)
    assert [c[1] for c in chunks if isinstance(c, tuple)] == [len(big), len(big) - 1]
    items = list(iter_jsonl(io.BytesIO(data), "s", max_chars=1_000))
    assert [(type(x).__name__, x.id) for x in items] == [("Document", "a"), ("Reject", "big"), ("Document", "b"), ("Reject", "big")]
    assert f"{len(big):,} bytes" in items[1].reason


def test_directory_odd_names_binary_html_and_folder_links(tmp_path) -> None:
    """A non-UTF-8 file name gives an id that can be written; binary data named .html is a reject,
    a UTF-16 page (NUL bytes, with its BOM) is read; a link to a folder is a reject, not followed."""
    import os

    d = tmp_path / "crawl"
    d.mkdir()
    (d / os.fsdecode(b"caf\xe9.txt")).write_bytes("du café".encode())
    (d / "bin.html").write_bytes(bytes(range(256)) * 20)
    (d / "u16.html").write_bytes("\ufeff<p>bonjour à tous</p>".encode("utf-16-le"))
    (d / "loop").symlink_to(d, target_is_directory=True)
    items = list(iter_directory(d))
    by_id = {x.id: x for x in items}
    assert set(by_id) == {"caf\\xe9.txt", "bin.html", "u16.html", "loop"}
    json.dumps([x.id for x in items], ensure_ascii=False).encode("utf-8")  # writable
    assert isinstance(by_id["caf\\xe9.txt"], Document) and by_id["caf\\xe9.txt"].text == "du café"
    assert isinstance(by_id["bin.html"], Reject) and "binary" in by_id["bin.html"].reason
    assert isinstance(by_id["u16.html"], Document) and "bonjour à tous" in by_id["u16.html"].text
    assert isinstance(by_id["loop"], Reject) and "not followed" in by_id["loop"].reason
