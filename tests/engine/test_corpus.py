"""The corpus driver: counts first, cleans, clusters; invariants that must hold on any corpus."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from dedupe.config import Config, CorpusConfig, NearDupConfig, TemplateConfig
from dedupe.engine import corpus as corpus_mod
from dedupe.engine.corpus import clean_document, observe_document, run_corpus, site_of
from dedupe.engine.index import MemoryIndex
from dedupe.errors import InputError
from dedupe.models import KIND_CROSS_PAGE, KIND_NEAR_DUP_DOC, Document

WORDS = (
    "river bridge council budget market school winter harbour railway museum garden doctor "
    "village teacher weather festival library station minister island forest farmer factory "
    "concert airport journal painter surgeon theatre hospital election stadium cathedral"
).split()


def sentence(rng: random.Random, n: int = 14) -> str:
    w = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(w).capitalize() + "."


def paragraph(rng: random.Random, k: int = 4) -> str:
    return " ".join(sentence(rng) for _ in range(k))


def make_corpus(seed: int = 0, n_sites: int = 3, pages: int = 4) -> list[Document]:
    rng = random.Random(seed)
    shared = paragraph(rng, 2)  # a background paragraph on two sites
    docs: list[Document] = []
    for s in range(n_sites):
        nav = f"Home | News | Sport | Site{s} | Contact"
        footer = f"Copyright site {s}. All rights reserved. Follow us on every network today."
        for p in range(pages):
            body = [paragraph(rng) for _ in range(3)]
            if p == 1 and s < 2:
                body.insert(1, shared)
            if p == 2:
                body.append(body[0].split(". ")[0] + ".")  # a within-page repeat
            text = "\n".join([nav, *body, footer]) + "\n"
            docs.append(Document(f"s{s}-p{p}", text, url=f"https://www.site{s}.example/{p}"))
    # a near-duplicate of s0-p0 on another site (1 word changed in the body)
    src = docs[0].text.split("\n")
    body = src[1:-2]
    near = "\n".join(["Other chrome line here"] + [b.replace("river", "stream", 1) for b in body]) + "\n"
    docs.append(Document("copy-of-s0-p0", near, site="mirror"))
    return docs


def outputs(results) -> list[tuple]:
    return [
        (r.doc_id, r.text, tuple(s.to_dict().items().__repr__() for s in r.spans), tuple(sorted(r.meta.items(), key=str)))
        for r in results
    ]


def test_site_of() -> None:
    assert site_of(Document("a", "", url="http://WWW.Foo.COM:8080/x")) == "foo.com"
    assert site_of(Document("a", "", url="http://foo.com/x", site="S")) == "S"
    assert site_of(Document("a", "")) == ""
    assert site_of(Document("a", "", url="not a url")) == ""


def test_rows_out_equal_rows_in_and_lossless() -> None:
    docs = make_corpus()
    results = list(run_corpus(docs))
    assert [r.doc_id for r in results] == [d.id for d in docs]
    for d, r in zip(docs, results):
        assert r.original == d.text
        assert r.rebuild() == d.text
        assert set(r.meta) >= {"cluster", "canonical", "removed_chars"}
        removed = [s for s in r.spans if s.removed]
        for a, b in zip(removed, removed[1:]):
            assert a.end <= b.start
        for s in r.spans:
            assert d.text[s.start : s.end] == s.text


def test_output_independent_of_input_order() -> None:
    docs = make_corpus(1)
    shuffled = docs[:]
    random.Random(5).shuffle(shuffled)
    a = outputs(run_corpus(docs, order="id"))
    b = outputs(run_corpus(shuffled, order="id"))
    assert a == b


def test_workers_do_not_change_output() -> None:
    docs = make_corpus(2, n_sites=2, pages=3)
    a = outputs(run_corpus(docs, workers=1))
    b = outputs(run_corpus(docs, workers=2))
    assert a == b


def test_generator_input_is_spilled_and_matches_list_input() -> None:
    docs = make_corpus(3, n_sites=2)
    a = outputs(run_corpus(docs))
    b = outputs(run_corpus(d for d in docs))
    assert a == b


def test_near_duplicate_document_clustered_with_canonical() -> None:
    docs = make_corpus(4)
    res = {r.doc_id: r for r in run_corpus(docs)}
    copy = res["copy-of-s0-p0"]
    orig = res["s0-p0"]
    assert copy.meta["cluster"] == orig.meta["cluster"] is not None
    assert sum(res[i].meta["canonical"] for i in ("copy-of-s0-p0", "s0-p0")) == 1
    non_canon = copy if not copy.meta["canonical"] else orig
    flagged = [s for s in non_canon.spans if s.kind == KIND_NEAR_DUP_DOC]
    assert len(flagged) == 1 and not flagged[0].removed
    assert flagged[0].start == 0 and flagged[0].end == len(non_canon.original)
    assert 0.7 <= flagged[0].score < 1.0
    # no other document is in a cluster
    others = [r for r in res.values() if r.doc_id not in ("copy-of-s0-p0", "s0-p0")]
    assert all(r.meta["cluster"] is None and r.meta["canonical"] for r in others)


@pytest.mark.parametrize("policy", ["first", "longest", "url"])
def test_canonical_policies(policy: str) -> None:
    rng = random.Random(9)
    body = "\n".join(paragraph(rng) for _ in range(3))
    docs = [
        Document("b", body + "\nA short extra line of text.", url="https://z.example/1", site="z"),
        Document("a", body, url="https://y.example/1", site="y"),
        Document("c", body + "\nA much longer extra line of text, with several more words in it.", url="https://x.example/1", site="x"),
    ]
    cfg = Config(neardup=NearDupConfig(canonical=policy))
    res = {r.doc_id: r for r in run_corpus(docs, cfg)}
    canon = {"first": "b", "longest": "c", "url": "c"}[policy]
    assert {r.meta["cluster"] for r in res.values()} == {canon}
    assert [k for k, r in res.items() if r.meta["canonical"]] == [canon]


def test_exact_duplicates_tie_break_by_id() -> None:
    rng = random.Random(11)
    body = "\n".join(paragraph(rng) for _ in range(2))
    docs = [Document(i, body, site=i) for i in ("q", "m", "x")]
    res = list(run_corpus(docs))
    assert {r.meta["cluster"] for r in res} == {"m"}
    assert all(s.score == 1.0 for r in res for s in r.spans if s.kind == KIND_NEAR_DUP_DOC)


def test_near_dup_threshold_separates_unrelated() -> None:
    rng = random.Random(12)
    docs = [Document(f"d{i}", "\n".join(paragraph(rng) for _ in range(3)), site=f"s{i}") for i in range(20)]
    res = list(run_corpus(docs))
    assert all(r.meta["cluster"] is None for r in res)


def test_cross_page_block_flagged_not_removed_by_default() -> None:
    docs = make_corpus(5)
    res = {r.doc_id: r for r in run_corpus(docs, Config(templates=TemplateConfig(enabled=False), neardup=NearDupConfig(enabled=False)))}
    flagged = [(r.doc_id, s) for r in res.values() for s in r.spans if s.kind == KIND_CROSS_PAGE]
    # the shared paragraph of s0-p1 / s1-p1 is flagged on exactly one of them
    shared_hits = [(d, s) for d, s in flagged if d in ("s0-p1", "s1-p1")]
    assert shared_hits
    assert all(not s.removed and s.kept_doc in ("s0-p1", "s1-p1") and s.kept_doc != d for d, s in shared_hits)
    assert all(s.site_pages and s.site_pages >= 2 for _, s in flagged)


def test_cross_page_remove_keeps_canonical_copy() -> None:
    docs = make_corpus(5)
    cfg = Config(
        templates=TemplateConfig(enabled=False),
        neardup=NearDupConfig(enabled=False),
        corpus=CorpusConfig(crosspage_remove=True, crosspage_policy="url"),
    )
    res = {r.doc_id: r for r in run_corpus(docs, cfg)}
    rng = random.Random(5)
    shared = paragraph(rng, 2)
    holders = [d for d in ("s0-p1", "s1-p1") if shared in res[d].text]
    assert holders == ["s0-p1"]  # smallest URL keeps it
    removed = [s for s in res["s1-p1"].spans if s.kind == KIND_CROSS_PAGE and s.text.strip() in shared]
    assert removed and all(s.removed and s.kept_doc == "s0-p1" for s in removed)
    # the footer (templates off) recurs on all 4 pages of site 1: removed from 3 of them
    footer_holders = [d for d in res if d.startswith("s1-") and "All rights reserved" in res[d].text]
    assert len(footer_holders) == 1
    for r in res.values():
        assert r.rebuild() == r.original


def test_duplicate_id_and_oversized_doc_raise() -> None:
    with pytest.raises(InputError, match="duplicate document id"):
        list(run_corpus([Document("a", "x"), Document("a", "y")]))
    with pytest.raises(InputError, match="max_doc_chars"):
        list(run_corpus([Document("a", "x" * 50)], Config(max_doc_chars=10)))


def test_empty_corpus() -> None:
    assert list(run_corpus([])) == []


def test_observe_then_clean_document_matches_run_corpus_without_neardup() -> None:
    docs = make_corpus(6, n_sites=2, pages=3)
    cfg = Config(neardup=NearDupConfig(enabled=False), corpus=CorpusConfig(crosspage=False))
    idx = MemoryIndex()
    for d in docs:
        fps = observe_document(d, idx, cfg)
        assert fps.dtype == np.uint64
    manual = [clean_document(d, idx, cfg) for d in docs]
    driven = list(run_corpus(docs, cfg))
    assert [(r.text, r.spans) for r in manual] == [(r.text, r.spans) for r in driven]


def test_templates_removed_from_every_page() -> None:
    docs = make_corpus(7)
    res = list(run_corpus(docs, Config(neardup=NearDupConfig(enabled=False))))
    for r in res:
        if r.doc_id.startswith("s"):
            assert "Home | News" not in r.text
            assert "All rights reserved" not in r.text
            assert r.meta["removed_chars"].get("template", 0) > 0


def test_copies_of_one_page_do_not_make_its_body_a_template() -> None:
    docs = make_corpus(8)
    # the same article under a second URL of the same site (a re-crawl)
    docs.append(Document("s0-p0-again", docs[0].text, url="https://www.site0.example/0?ref=x"))
    cfg = Config(neardup=NearDupConfig(enabled=False))
    res = {r.doc_id: r for r in run_corpus(docs, cfg)}
    body = docs[0].text.split("\n")[1]
    for d in ("s0-p0", "s0-p0-again"):
        assert body in res[d].text
        assert res[d].meta["removed_chars"].get("template", 0) > 0  # the real template still goes
        assert "Home | News" not in res[d].text
    # and the two copies then form one near-duplicate cluster
    res2 = {r.doc_id: r for r in run_corpus(docs)}
    assert res2["s0-p0"].meta["cluster"] == res2["s0-p0-again"].meta["cluster"] is not None


def test_excluding_index_view() -> None:
    idx = MemoryIndex()
    a = np.array([1, 2, 3], dtype=np.uint64)
    idx.observe("s", "p1", a)
    idx.observe("s", "p2", a)
    idx.observe("s", "p3", np.array([1], dtype=np.uint64))
    view = corpus_mod.ExcludingIndex(idx, "s", np.array([1, 2, 3], dtype=np.uint64), np.array([1, 1, 1]), 1)
    assert view.site_pages("s") == 2 and view.site_pages("t") == 0
    assert view.doc_freq("s", a).tolist() == [2, 1, 1]
    assert view.doc_freq("t", a).tolist() == [0, 0, 0]
    assert view.doc_ids("s") == ["p1", "p2", "p3"]


def _gen_docs(mb: float = 0.4, seed: int = 3, pages_per_site: int = 12) -> list[Document]:
    """A small corpus from benchmarks/gen_corpus.py (also used by test_corpus_batch.py)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        from gen_corpus import generate
    finally:
        sys.path.pop(0)
    return [Document(r["id"], r["text"], url=r.get("url"), site=r.get("site")) for r in generate(mb, seed, pages_per_site=pages_per_site)]


def test_count_index_agrees_with_memory_index() -> None:
    from dedupe.engine.index import CountIndex
    from dedupe.errors import IndexStoreError

    cfg = Config()
    docs = _gen_docs()
    mem, exact, pruned = MemoryIndex(), CountIndex(), CountIndex(min_count=2)
    CountIndex.BUFFER_RECORDS, old = 5000, CountIndex.BUFFER_RECORDS  # force many spills to disk
    try:
        fps_of = {}
        for d in docs:
            fps_of[d.id] = observe_document(d, mem, cfg)
            for ix in (exact, pruned):
                ix.observe(site_of(d), d.id, fps_of[d.id])
    finally:
        CountIndex.BUFFER_RECORDS = old
    assert exact._tmp is not None  # records went to the bucket files
    exact.freeze(), pruned.freeze()
    assert exact._tmp is None
    rng = np.random.default_rng(0)
    for d in docs[::7]:
        s = site_of(d)
        q = np.concatenate((fps_of[d.id], rng.integers(0, 2**63, 50, dtype=np.int64).astype(np.uint64)))
        want = mem.doc_freq(s, q)
        assert exact.site_pages(s) == pruned.site_pages(s) == mem.site_pages(s)
        assert np.array_equal(exact.doc_freq(s, q), want)
        assert np.array_equal(pruned.doc_freq(s, q), np.where(want >= 2, want, 0))
        assert want.max() >= 2 and (want == 1).any()  # the check sees both cases
    assert pruned.n_fingerprints() < exact.n_fingerprints() / 3
    assert exact.doc_ids() == mem.doc_ids()
    with pytest.raises(IndexStoreError):
        exact.observe("x", "new", np.zeros(1, dtype=np.uint64))


def test_run_corpus_count_index_matches_memory_index() -> None:
    docs = _gen_docs(0.3, seed=5)
    a = list(run_corpus(docs, index=MemoryIndex()))
    b = list(run_corpus(docs))  # default: the compact CountIndex
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.spans for r in a] == [r.spans for r in b]
    assert [r.meta for r in a] == [r.meta for r in b]
    assert any(s.kind == "template" for r in b for s in r.spans)


def test_within_repeat_never_keeps_its_copy_in_site_removed_text(monkeypatch) -> None:
    from dedupe.core.spans import Piece
    from dedupe.core.tokenize import tokenize

    rng = random.Random(11)
    rep = sentence(rng, 12)
    text = paragraph(rng, 2) + "\n" + rep + " " + rep + "\n" + paragraph(rng, 2) + "\n"
    cfg = Config(neardup=NearDupConfig(enabled=False))
    doc = Document("d", text, site="s")
    first = text.index(rep)
    plain = clean_document(doc, MemoryIndex(), cfg)
    assert plain.text.count(rep) == 1  # adjacent copies: one goes as a within-page repeat

    def fake_site(text_, toks, index, site, cfg_, feats=None):  # the site level removes the FIRST copy
        mask = (toks.start >= first) & (toks.end <= first + len(rep))
        return [Piece(first, first + len(rep), "template", "test", 1.0)], mask

    monkeypatch.setattr(corpus_mod, "_site_pieces", fake_site)
    res = clean_document(doc, MemoryIndex(), cfg, toks=tokenize(text))
    assert res.text.count(rep) == 1  # the second copy survives: its twin went as template
    assert res.removed_chars().get("template", 0) > 0
    assert not any(s.removed and s.kind in ("repeat", "near-repeat") and rep[:30] in s.text for s in res.spans)
    assert res.rebuild() == text


def test_flagged_within_page_repeats_reported_in_corpus_mode() -> None:
    rng = random.Random(11)
    promo = "Download the river bridge app today and read every council budget story on the way home"
    docs = []
    for p in range(4):
        body = [paragraph(rng) for _ in range(3)]
        if p == 1:  # a repeat with no artefact evidence (two whole paragraphs far apart): flagged
            body.append(paragraph(rng))
            body.append(body[0])
        text = "\n".join(["Home | News | Sport | Contact", *body, promo, "Comments"]) + "\n"
        docs.append(Document(f"p{p}", text, url=f"https://site.example/{p}"))
    cfg = Config(neardup=NearDupConfig(enabled=False), templates=dataclasses.replace(Config().templates, main_text=False))
    res = {r.doc_id: r for r in run_corpus(docs, cfg)}
    flagged = [s for s in res["p1"].spans if not s.removed and s.kind in ("repeat", "near-repeat")]
    assert flagged and all(s.kept is not None for s in flagged)
    assert res["p1"].rebuild() == docs[1].text
