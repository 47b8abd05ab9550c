"""Feeding pages one by one through a persistent index, then re-cleaning, equals corpus mode."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from dedupe.config import Config, NearDupConfig
from dedupe.core.tokenize import tokenize
from dedupe.engine.corpus import clean_document, run_corpus, site_of
from dedupe.engine.neardup import page_id
from dedupe.models import CleanResult, Document
from dedupe.stores import open_index

from index_corpus import france24_pages, multi_site, paragraph



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


def test_streaming_clean_is_one_write_transaction_all_or_nothing(tmp_path: Path) -> None:
    """``Index.clean`` observes, cleans and stores a page in ONE write transaction: a failure
    after the page was observed leaves no trace of it, and the page can be cleaned again with
    counts equal to a fresh connection's and to observing the pages in one batch."""
    docs = multi_site(n_sites=1, pages=4)[:4]
    site = "site0.example"
    path = tmp_path / "idx.db"
    with open_index(path) as idx:
        idx.clean(docs[0])
        begins: list[str] = []
        idx.store.conn.set_trace_callback(lambda sql: begins.append(sql) if sql.startswith("BEGIN IMMEDIATE") else None)
        idx.clean(docs[1])
        idx.store.conn.set_trace_callback(None)
        assert len(begins) == 1  # observe + signature: one write transaction

        def fail(items):  # the last write of a page: everything before it is in the transaction
            raise RuntimeError("disk full")

        idx.store.put_signatures = fail
        with pytest.raises(RuntimeError, match="disk full"):
            idx.clean(docs[2])
        del idx.store.put_signatures
        assert sorted(idx.store.doc_ids()) == sorted([docs[0].id, docs[1].id])
        assert idx.store.site_pages(site) == 2
        again = idx.clean(docs[2])
        assert again.meta["site_pages"] == 3
        idx.clean(docs[3])
        counts = idx.store.site_doc_freqs(site)
        assert idx.store.get_signature(docs[2].id) is not None
    # the counts kept through the failed attempt equal a fresh connection's rebuilt from the pages
    with open_index(path) as other:
        fresh = other.store.site_doc_freqs(site)
    assert np.array_equal(counts[0], fresh[0]) and np.array_equal(counts[1], fresh[1])
    with open_index(tmp_path / "ref.db") as ref:
        ref.observe(docs)
        want = ref.store.site_doc_freqs(site)
    assert np.array_equal(fresh[0], want[0]) and np.array_equal(fresh[1], want[1])


def test_streaming_clean_joins_a_longer_page_containing_a_stored_one(tmp_path: Path) -> None:
    """Corpus mode's containment rule against stored pages: a later page that holds a stored
    page's whole body plus as much other text (Jaccard below the threshold) joins its cluster."""
    docs = multi_site(n_sites=1, pages=3)[:3]
    rng = random.Random(9)
    body = [ln for ln in docs[1].text.split("\n") if len(ln) > 200]
    extra = [paragraph(rng, 6) for _ in body]
    container = Document("container", "\n".join(["Other chrome", *body, *extra]) + "\n", site="other.example")
    cfg = Config(neardup=NearDupConfig(canonical="first"))
    with open_index(tmp_path / "idx.db", config=cfg) as idx:
        for d in docs:
            idx.clean(d)
        got = idx.clean(container)
    spans = [s for s in got.spans if s.kind == "near-duplicate-doc"]
    assert got.meta["cluster"] == docs[1].id and got.meta["canonical"] is False
    assert len(spans) == 1 and spans[0].kept_doc == docs[1].id
    assert spans[0].score < cfg.neardup.threshold and "containment" in spans[0].rule  # not a Jaccard match
    # corpus mode on the same pages clusters them the same way
    assert {r.doc_id: r for r in run_corpus([*docs, container], cfg)}["container"].meta["cluster"] == docs[1].id
    # and with the rule off, the stored page is not matched
    off = Config(neardup=NearDupConfig(canonical="first", containment=0.0))
    with open_index(tmp_path / "off.db", config=off) as idx:
        for d in docs:
            idx.clean(d)
        assert idx.clean(container).meta["cluster"] is None


def test_streaming_clean_equals_clean_document_against_the_same_evidence(tmp_path: Path) -> None:
    """``Index.clean`` tokenises a page and computes its template features once for observing
    and cleaning; each result equals ``clean_document`` of the page against the index right
    after the page was observed (the near-duplicate span aside)."""
    docs = [*multi_site(), *france24_pages()]
    cfg = Config()
    with open_index(tmp_path / "idx.db", config=cfg) as idx:
        removed = 0
        for d in docs:
            got = idx.clean(d)
            want = clean_document(d, idx.store, cfg)
            assert got.text == want.text
            assert [s for s in got.spans if s.kind != "near-duplicate-doc"] == list(want.spans)
            assert got.meta["removed_chars"] == want.meta["removed_chars"]
            removed += got.removed_chars().get("template", 0)
    assert removed > 0  # templates were learned along the way: the comparison is not vacuous


def test_streaming_clean_prepared_before_the_lock_is_redone_when_the_site_changed(tmp_path: Path) -> None:
    """``Index.clean`` cleans a page before taking the write lock, against the evidence its
    site will hold once the page is observed; when another writer changes the site in between,
    the page is cleaned again in the lock, so the result is always the page cleaned against the
    site as committed. Here the other writer's page makes a line of this page a template."""
    nav, foot = "Home | News | Sport | Weather | Contact", "Copyright the site. All rights reserved here."
    extra = "Sign up to the weekly newsletter and get the best stories in your inbox"
    rng = random.Random(4)

    def page(i: int, *more: str) -> Document:
        return Document(f"p{i}", "\n".join([nav, paragraph(rng, 4), *more, paragraph(rng, 4), foot]) + "\n", site="s.example")

    p0, p1, p2 = page(0), page(1, extra), page(2, extra)
    path = tmp_path / "idx.db"
    with open_index(path) as idx, open_index(path) as other:
        idx.clean(p0)
        assert idx.prepared_misses == 0
        real = idx.store.preview_observe

        def preview_then_another_writer(site, doc_id, fps):
            got = real(site, doc_id, fps)
            other.observe([p1])  # lands between this page's preview and its write lock
            return got

        idx.store.preview_observe = preview_then_another_writer
        got = idx.clean(p2)
        del idx.store.preview_observe
        assert idx.prepared_misses == 1
        assert got.meta["site_pages"] == 3
        assert extra not in got.text  # on p1 and p2: a template of the site as committed
        want = clean_document(p2, idx.store, Config())
        assert got.text == want.text and [s for s in got.spans if s.kind != "near-duplicate-doc"] == list(want.spans)
        # without the other writer the clean prepared before the lock is kept
        p3 = page(3, extra)
        idx.clean(p3)
        assert idx.prepared_misses == 1


def test_streaming_clean_does_not_count_a_recrawl_under_another_id_as_template(tmp_path: Path) -> None:
    """Corpus mode does not let copies of one page (same normalised URL, near-identical text)
    vote for each other's body as template; page by page neither: the re-crawl under a second id
    finds the stored page by its URL key and raw-text signature and does not count it. Without
    the rule (schema 3) the body, on two pages, was cut as template under ``dedupe_only``."""
    docs = multi_site(n_sites=1, pages=6)[:6]
    copy = Document("s0-p3-again", docs[3].text, url=docs[3].url + "?utm_source=feed")
    want = {r.doc_id: r for r in run_corpus([*docs, copy], Config(), dedupe_only=True)}["s0-p3-again"]
    assert len(want.text) > len(copy.text) // 2  # corpus mode keeps the body
    with open_index(tmp_path / "idx.db", dedupe_only=True) as idx:
        for d in docs:
            idx.clean(d)
        got = idx.clean(copy)
    assert got.text == want.text


def _site_pages(kind: str) -> list[Document]:
    """Six pages of one site whose identity is of one ``kind``: ``url``, ``title`` (no URL,
    a title in ``meta["page"]``, as HTML input gives) or ``none`` (no URL, no title)."""
    out = []
    for d in multi_site(n_sites=1, pages=6)[:6]:
        if kind == "url":
            out.append(d)
        elif kind == "title":
            out.append(Document(d.id, d.text, site="site0.example", meta={"page": {"title": f"Story {d.id}"}}))
        else:
            out.append(Document(d.id, d.text, site="site0.example"))
    return out


def _copy_of(d: Document, kind: str, new_id: str = "copy") -> Document:
    """A re-crawl of ``d`` under another id: same text, identity as ``kind`` says."""
    if kind == "url":
        return Document(new_id, d.text, url=d.url + "?utm_source=feed")
    if kind == "title":
        return Document(new_id, d.text, site=d.site, meta={"page": {"title": "  STORY " + d.id.upper()}})  # same title key
    if kind == "other-url":
        return Document(new_id, d.text, url=d.url + "-other")
    return Document(new_id, d.text, site=d.site)


def _corpus_mode(docs: list[Document], doc_id: str) -> "CleanResult":
    return {r.doc_id: r for r in run_corpus(docs, Config(), dedupe_only=True)}[doc_id]


@pytest.mark.parametrize("kind", ["url", "title", "none"])
def test_streaming_clean_excludes_a_stored_copy_found_by_identity_and_raw_text(tmp_path: Path, kind: str) -> None:
    """Page by page, a copy of a stored page under another id (same URL key; else same title
    and no URL; else no identity at all) is cleaned without its stored copy's evidence: the
    body stays, as in corpus mode on the same pages (dedupe_only: no main-text restore)."""
    docs = _site_pages(kind)
    copy = _copy_of(docs[3], kind)
    want = _corpus_mode([*docs, copy], "copy")
    body = [ln for ln in copy.text.split("\n") if len(ln) > 200]
    assert all(b in want.text for b in body)  # corpus mode keeps the body
    with open_index(tmp_path / "idx.db", dedupe_only=True) as idx:
        for d in docs:
            idx.clean(d)
        got = idx.clean(copy)
        assert idx.prepared_misses == 0  # cleaned before the lock, copies included
        assert idx.stats()["raw_signatures"] == len(docs) + 1
    assert got.text == want.text
    assert got.removed_chars().get("template", 0) > 0  # the site's template still goes


def test_streaming_clean_counts_near_identical_pages_under_two_urls(tmp_path: Path) -> None:
    """Two URLs are two pages (page_groups): a near-identical text under another URL is not a
    copy, its body is on two of the site's pages and, without main-text selection, cut as
    template in corpus mode and page by page alike."""
    docs = _site_pages("url")
    other = _copy_of(docs[3], "other-url")
    want = _corpus_mode([*docs, other], "copy")
    body = [ln for ln in other.text.split("\n") if len(ln) > 200]
    assert not any(b in want.text for b in body)
    with open_index(tmp_path / "idx.db", dedupe_only=True) as idx:
        for d in docs:
            idx.clean(d)
        got = idx.clean(other)
    assert got.text == want.text


@pytest.mark.parametrize("workers", [1, 2])
def test_corpus_batch_excludes_a_copy_stored_by_an_earlier_batch(tmp_path: Path, workers: int) -> None:
    """A page whose copy an earlier ``idx.corpus`` batch stored is cleaned without that copy's
    evidence, as in one corpus run over both batches; within the second batch its own copies
    are excluded too (both sets together). Worker processes do not change it."""
    docs = _site_pages("url")
    copy = _copy_of(docs[3], "url")
    copy2 = Document("copy2", docs[3].text, url=docs[3].url + "#again")
    want = {r.doc_id: r for r in run_corpus([*docs, copy, copy2], Config(), dedupe_only=True)}
    body = [ln for ln in copy.text.split("\n") if len(ln) > 200]
    assert all(b in want["copy"].text for b in body)
    with open_index(tmp_path / "one.db", dedupe_only=True) as idx:
        list(idx.corpus(docs))
        (alone,) = list(idx.corpus([copy]))
    assert alone.text == _corpus_mode([*docs, copy], "copy").text
    with open_index(tmp_path / "two.db", dedupe_only=True) as idx:
        asked: list[int] = []
        real = idx.store.copy_candidates_many

        def counted(queries, *a, **k):
            queries = list(queries)
            asked.append(len(queries))
            return real(queries, *a, **k)

        idx.store.copy_candidates_many = counted
        list(idx.corpus(docs, workers=workers))
        assert sum(asked) == 0  # a site whose stored pages are all in the batch: no look-up
        got = {r.doc_id: r for r in idx.corpus([copy, copy2], workers=workers)}
        assert sum(asked) == 2
    assert got["copy"].text == want["copy"].text and got["copy2"].text == want["copy2"].text


def test_a_forgotten_or_moved_page_is_no_longer_a_copy(tmp_path: Path) -> None:
    """Forgetting a page removes its identity and raw signature; re-observing it under another
    URL replaces them: a later page with its old URL and text is then not its copy (its evidence,
    where it is still stored, counts)."""
    docs = _site_pages("url")
    copy = _copy_of(docs[3], "url")
    moved = Document(docs[3].id, docs[3].text, url=docs[3].url + "-moved")
    with open_index(tmp_path / "idx.db", dedupe_only=True) as idx:
        for d in docs:
            idx.clean(d)
        idx.clean(moved)  # the same id, now at another URL: two URLs are two pages
        got = idx.clean(copy)
        assert got.text == _corpus_mode([*docs[:3], moved, *docs[4:], copy], "copy").text
        body = [ln for ln in copy.text.split("\n") if len(ln) > 200]
        assert not any(b in got.text for b in body)  # counted: cut as template
        assert idx.forget([docs[3].id]) == 1
        assert idx._copies(site_of(copy), page_id(copy), idx._raw_signature(copy, tokenize(copy.text)), ()) == ["copy"]
        idx.forget(["copy"])
        assert idx._copies(site_of(copy), page_id(copy), idx._raw_signature(copy, tokenize(copy.text)), ()) == []


def test_reclean_keeps_stored_identities_and_excludes_stored_copies(tmp_path: Path) -> None:
    """``reclean`` of some pages takes their identities as stored (titles from the HTML head
    included) and leaves out the evidence of their stored copies that are not re-cleaned with
    them: a page with another title and the same text counts (two pages), a re-crawl with the
    same title does not, as in one corpus run over all the pages."""
    docs = _site_pages("title")
    other = Document("other", docs[3].text, site=docs[3].site, meta={"page": {"title": "A different story"}})
    same = _copy_of(docs[2], "title", "same")
    pages = [*docs, other, same]
    want = {r.doc_id: r for r in run_corpus(pages, Config(), dedupe_only=True)}
    body3 = [ln for ln in docs[3].text.split("\n") if len(ln) > 200]
    assert not any(b in want[docs[3].id].text for b in body3)  # told apart by title: cut
    with open_index(tmp_path / "idx.db", dedupe_only=True) as idx:
        for d in pages:
            idx.clean(d)
        got = {r.doc_id: r for r in idx.reclean([docs[3].id, docs[2].id])}
    assert got[docs[3].id].text == want[docs[3].id].text
    assert got[docs[2].id].text == want[docs[2].id].text


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


def test_identities_and_raw_signatures_stored_alike_by_every_path(tmp_path: Path) -> None:
    """``idx.clean``, ``idx.observe`` and ``idx.corpus`` store the same identity and raw-text
    signature for a page (copies found across paths are found alike)."""
    import sqlite3

    titled = [Document("t-" + d.id, d.text, site=d.site, meta=d.meta) for d in _site_pages("title")[:2]]
    docs = [*multi_site(pages=3), *france24_pages(2), *titled,
            Document("cjk", "这是一个中文页面的文本，没有空格。" * 20, meta={"page": {"canonical": "https://www.ex.cn/p/", "title": " T "}})]

    def rows(path: Path) -> dict:
        con = sqlite3.connect(path)
        got = {d: (u, t, bytes(s)) for d, u, t, s in con.execute("SELECT d.doc_id, d.ukey, d.tkey, r.sig FROM docs d JOIN raws r ON r.did = d.did")}
        con.close()
        return got

    with open_index(tmp_path / "a.db") as idx:
        for d in docs:
            idx.clean(d)
    with open_index(tmp_path / "b.db") as idx:
        list(idx.corpus(docs))
    with open_index(tmp_path / "c.db") as idx:
        idx.observe(docs)
    a = rows(tmp_path / "a.db")
    assert len(a) == len(docs) and a["cjk"][:2] == ("ex.cn/p", "t")
    assert a == rows(tmp_path / "b.db") == rows(tmp_path / "c.db")
