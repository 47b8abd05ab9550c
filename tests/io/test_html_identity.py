"""What the HTML readers take from a page's head (title, canonical link, og:url) into
``Document.meta["page"]``, and that corpus mode uses it to tell pages without a URL apart."""

from __future__ import annotations

import io
import json
import random


from dedupe import clean_corpus
from dedupe.engine import neardup
from dedupe.io.files import iter_directory
from dedupe.io.html import html_to_text, read_html
from dedupe.io.jsonl import as_document, iter_jsonl, out_row
from dedupe.api import clean

MESSY = (
    "<!DOCTYPE html><HTML><HEAD><meta charset=utf-8>"
    "<TITLE>  Fall Leaf &amp;  Bunting\t - The Crafty Crow\n"  # never closed: close_title ends it at the line
    "<LINK REL='alternate stylesheet' HREF='/x.css'><link rel=\"Canonical\" href=\"  \">"
    "<link rel='CANONICAL' href='http://www.thecraftycrow.net/2012/10/fall-leaf-bunting.html'>"
    "<meta name='OG:URL' content='http://thecraftycrow.net/?p=7'>"
    "</HEAD><body><svg><title>icon</title></svg><h1>Fall Leaf Bunting</h1><p>Cut the leaves.<p>Glue them."
)


def test_read_html_takes_the_head_identity_from_messy_html() -> None:
    page = read_html(MESSY)
    assert page.title == "Fall Leaf & Bunting - The Crafty Crow"  # entity decoded, whitespace collapsed
    assert page.canonical == "http://www.thecraftycrow.net/2012/10/fall-leaf-bunting.html"  # the empty one skipped
    assert page.og_url == "http://thecraftycrow.net/?p=7"
    assert page.text == html_to_text(MESSY) and page.text.endswith("Cut the leaves.\nGlue them.")
    assert read_html(MESSY.encode("utf-8")) == page  # bytes are decoded the same way
    bare = read_html("<p>no head</p><svg><title>icon</title></svg>")  # an SVG title is not the page's
    assert (bare.title, bare.canonical, bare.og_url, bare.head_meta()) == (None, None, None, {})


def test_html_rows_and_files_carry_the_head_identity(tmp_path) -> None:
    (doc,) = iter_jsonl(io.BytesIO(json.dumps({"id": "h", "html": MESSY}).encode() + b"\n"), "s")
    assert doc.url is None  # the row has no url: the canonical link does not become one
    assert doc.meta["page"] == {"title": "Fall Leaf & Bunting - The Crafty Crow",
                                "canonical": "http://www.thecraftycrow.net/2012/10/fall-leaf-bunting.html",
                                "og_url": "http://thecraftycrow.net/?p=7"}
    assert neardup.page_id(doc) == neardup.PageId("thecraftycrow.net/2012/10/fall-leaf-bunting.html",
                                                  "fall leaf & bunting - the crafty crow")
    row = out_row(doc, clean(doc.text, doc_id="h"))
    assert "page" not in row and "html" not in row  # the output row is the input row, cleaned
    (tmp_path / "a.html").write_text("<title>Corn</title><p>x</p>", encoding="utf-8")
    (tmp_path / "b.txt").write_text("plain", encoding="utf-8")
    a, b = iter_directory(tmp_path)
    assert a.meta["page"] == {"title": "Corn"} and "page" not in b.meta
    assert "page" not in as_document({"id": "t", "text": "plain", "url": "http://s/x"}, max_chars=100).meta


def _blog_html(title: str, day: int, sidebar: list[str]) -> str:
    side = "".join(f"<p>{s}</p>" for s in sidebar)
    return (f"<html><head><title>{title} - Crafts for Kids</title></head><body>"
            f"<h1>{title}</h1><p>{day} October 2012</p><div id=side>{side}</div></body></html>")


_WORDS = ("glue paper leaf corn paint scissors string autumn bunting print stamp colour craft kids "
          "table window branch acorn pumpkin yarn button felt needle ribbon sticker brush water").split()


def _blog_rows(titles: list[str]) -> list[dict]:
    rng = random.Random(11)
    sidebar = [" ".join(rng.choice(_WORDS) for _ in range(40)) + "." for _ in range(6)]
    return [{"id": f"p{i}", "site": "crafty", "html": _blog_html(t, 20 + i, sidebar)} for i, t in enumerate(titles)]


def test_api_html_posts_without_url_learn_their_sidebar() -> None:
    # dragnet thecraftycrow.net R721-R723 in small: three posts, no URL, the sidebar is most of the text
    rows = _blog_rows(["Paper Punched Leaves", "Indian Corn Printing", "Fall Leaf Bunting"])
    res = {r.doc_id: r for r in clean_corpus(rows)}
    side = read_html(rows[0]["html"]).text.splitlines()[3]
    for row in rows:
        r = res[row["id"]]
        assert side not in r.text  # the sidebar went as template
        assert read_html(row["html"]).text.splitlines()[0] in r.text  # the post's own heading stayed
        assert r.meta["cluster"] is None


def test_api_html_re_crawls_without_url_stay_copies() -> None:
    rows = _blog_rows(["Fall Leaf Bunting", "Fall Leaf Bunting"])
    res = {r.doc_id: r for r in clean_corpus(rows)}
    side = read_html(rows[0]["html"]).text.splitlines()[3]
    assert side in res["p0"].text and side in res["p1"].text  # no template learned from a copy
    assert res["p0"].meta["cluster"] == res["p1"].meta["cluster"] is not None
