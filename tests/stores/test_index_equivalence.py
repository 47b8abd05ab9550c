"""Feeding pages one by one through a persistent index, then re-cleaning, equals corpus mode."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dedupe.config import Config
from dedupe.engine.corpus import run_corpus
from dedupe.models import Document
from dedupe.stores import open_index

from index_corpus import france24_pages, multi_site



def key(results) -> dict:
    return {r.doc_id: (r.text, r.spans, r.meta.get("cluster"), r.meta.get("canonical")) for r in results}


def feed_page_by_page(path: Path, docs: list[Document], seed: int) -> None:
    """One transaction per page, the index closed and reopened in between, some pages
    re-crawled (same text) and one first seen with other text, then replaced."""
    rng = random.Random(seed)
    for i, d in enumerate(docs):
        with open_index(path) as idx:
            if i == 1:
                idx.observe([Document(d.id, "an early draft of this page\nwith other lines entirely\n", url=d.url, site=d.site)])
            idx.observe([d])
            if rng.random() < 0.3:
                idx.observe([docs[rng.randrange(i + 1)]])  # a re-crawl of an earlier page


@pytest.mark.parametrize("make", [multi_site, france24_pages], ids=["multi-site", "france24"])
def test_page_by_page_then_reclean_equals_corpus_mode(tmp_path: Path, make) -> None:
    docs = make()
    cfg = Config()
    expected = key(run_corpus(docs, cfg))
    # the comparison is not vacuous: templates (and, on the multi-site corpus, a cluster and a
    # cross-page block) are there to be reproduced
    kinds = {s.kind for _, spans, _, _ in expected.values() for s in spans}
    assert "template" in kinds
    if make is multi_site:
        assert {"cross-page", "near-duplicate-doc"} <= kinds
    path = tmp_path / "idx.db"
    feed_page_by_page(path, docs, seed=1)
    with open_index(path, config=cfg) as idx:
        got = key(idx.reclean())
        st = idx.stats()
    assert got == expected
    assert st["pages"] == len(docs)
    assert st["template_fingerprints"] > 0
    if make is multi_site:
        assert st["clusters"] == 1


def test_streaming_clean_learns_templates_and_finds_earlier_near_duplicates(tmp_path: Path) -> None:
    docs = multi_site(pages=4)
    *pages, mirror_doc = docs
    with open_index(tmp_path / "idx.db") as idx:
        first = idx.clean(pages[0])
        assert first.meta["site_pages"] == 1
        assert "template" not in first.removed_chars()  # one page: no template evidence yet
        later = {r.doc_id: r for r in (idx.clean(d) for d in pages[1:])}
        s0p3 = later["s0-p3"]
        assert s0p3.meta["site_pages"] == 4
        assert s0p3.removed_chars().get("template", 0) > 0
        assert "All rights reserved" not in s0p3.text
        # re-cleaning the first page now that the site has evidence removes its template,
        # and refreshes its stored signature (taken on the cleaned text)
        again = {r.doc_id: r for r in idx.reclean(site="site0.example")}
        assert again["s0-p0"].removed_chars().get("template", 0) > 0
        assert "All rights reserved" not in again["s0-p0"].text
        assert idx.store.get_text("s0-p0", clean=True) == again["s0-p0"].text
        # a re-published copy seen later is recognised against the stored page
        mirror = idx.clean(mirror_doc)
        assert mirror.meta["cluster"] == "s0-p0" and mirror.meta["canonical"] is False
        assert any(s.kind == "near-duplicate-doc" and s.kept_doc == "s0-p0" and not s.removed for s in mirror.spans)
        assert mirror.rebuild() == mirror_doc.text
        unrelated = idx.clean(france24_pages(1)[1])
        assert unrelated.meta["cluster"] is None and unrelated.meta["canonical"] is True


def test_corpus_batch_with_index_uses_earlier_pages(tmp_path: Path) -> None:
    docs = multi_site(pages=4)
    cfg = Config()
    with open_index(tmp_path / "idx.db", config=cfg) as idx:
        out1 = {r.doc_id: r for r in idx.corpus(docs[:3])}  # site 0, pages 0-2
        out2 = {r.doc_id: r for r in idx.corpus(docs[3:])}
        assert idx.stats()["pages"] == len(docs)
    # page s0-p3 alone in its batch still gets site 0's template from the stored pages
    assert out2["s0-p3"].removed_chars().get("template", 0) > 0
    # the mirror is found as a near-duplicate of a page of the earlier batch
    assert out2["mirror-of-s0-p0"].meta["cluster"] == "s0-p0"
    assert out1["s0-p0"].meta["canonical"] is True


def test_reclean_without_stored_texts_needs_docs(tmp_path: Path) -> None:
    docs = multi_site(n_sites=1, pages=3)
    with open_index(tmp_path / "idx.db", store_text=False) as idx:
        idx.observe(docs)
        with pytest.raises(Exception, match="does not store the text"):
            list(idx.reclean())
        assert [r.doc_id for r in idx.reclean(docs=docs)] == [d.id for d in docs]
