"""The page records sent to the observe workers carry what page_id reads of meta["page"], in a
form that always pickles (a review finding: a MappingProxyType page meta made clean_corpus fail)."""

from __future__ import annotations

import types

import pytest

from dedupe import api
from dedupe.engine import corpus, neardup
from dedupe.models import Document

HEADS = [
    None,
    {},
    {"title": "Breaking: Story  1", "canonical": "https://www.ex.com/a/", "og_url": "http://ex.com/b"},
    {"og_url": "https://ex.com/c", "title": 7, "extra": object()},
    {"canonical": "   ", "og_url": "https://ex.com/d", "title": None},
    types.MappingProxyType({"title": "Proxy title", "canonical": "https://ex.com/p"}),
    neardup.PageId("ex.com/q", "q title"),
    "not a mapping",
    ["canonical", "x"],
]


@pytest.mark.parametrize("head", HEADS, ids=range(len(HEADS)))
@pytest.mark.parametrize("url", [None, "https://ex.com/own"])
def test_records_give_the_same_page_id(head: object, url: str | None) -> None:
    doc = Document("a", "text", url=url, meta={neardup.PAGE_META: head})
    back, meta = corpus._decode_doc_meta(corpus._encode_doc(doc))
    rebuilt = Document(back.id, "", back.url, back.site, meta or {})
    assert neardup.page_id(rebuilt) == neardup.page_id(doc)


def test_unpicklable_page_meta_is_cleaned() -> None:
    docs = [
        Document(f"d{i}", f"Some text number {i} with a few words in it.", meta={"page": types.MappingProxyType({"title": f"T{i}"})})
        for i in range(3)
    ]
    assert [r.doc_id for r in api.clean_corpus(docs)] == ["d0", "d1", "d2"]
