"""Index.corpus / Index.reclean stream their batch: bounded memory, same results in chunks."""

from __future__ import annotations

import random
import string
import tracemalloc
from pathlib import Path
from typing import Iterator

import numpy as np

from dedupe.models import Document
from dedupe.stores import open_index

from index_corpus import multi_site


def key(results) -> dict:
    return {r.doc_id: (r.text, r.spans, r.meta) for r in results}


def test_chunked_linking_and_observing_give_the_same_results(tmp_path: Path) -> None:
    """One page per link chunk and one transaction per observed page and per signature write
    equal one big chunk: near-duplicates of stored pages, batch exclusions and reclean are unchanged."""
    docs = multi_site(pages=4)
    first, second = docs[:4], docs[4:]  # site 0 first; the mirror of s0-p0 comes in batch two
    out = {}
    for name, link_chunk, budget in (("whole", 10**9, 1 << 40), ("chunked", 2, 1)):
        with open_index(tmp_path / f"{name}.db") as idx:
            idx.link_chunk, idx.observe_budget, idx.sig_budget = link_chunk, budget, budget
            a = list(idx.corpus(iter(first)))
            b = list(idx.corpus(d for d in second))
            c = list(idx.reclean())
            st = {k: v for k, v in idx.stats().items() if k not in ("file_bytes", "wal_bytes")}  # more transactions, more WAL
            out[name] = ([r.doc_id for r in a + b + c], key(a), key(b), key(c), st)
    assert out["chunked"] == out["whole"]
    # not vacuous: the mirror is marked as a near-duplicate of a page stored by the first batch
    mirror = out["whole"][2]["mirror-of-s0-p0"]
    assert mirror[2]["cluster"] == "s0-p0"
    assert any(s.rule.startswith("index:") for s in mirror[1])


_rng = random.Random(7)
WORDS = ["".join(_rng.choice(string.ascii_lowercase) for _ in range(_rng.randint(3, 9))) for _ in range(20000)]


def pages(n: int, paras: int = 60, sites: int = 5) -> Iterator[Document]:
    for i in range(n):
        rng = random.Random(i)
        body = "\n".join(" ".join(rng.choice(WORDS) for _ in range(60)) + "." for _ in range(paras))
        s = i % sites
        yield Document(f"p{i}", f"Home | News | Site{s} menu\n{body}\nCopyright site {s}. All rights reserved.\n", url=f"https://site{s}.example/{i}")


def test_corpus_with_index_does_not_hold_the_batch_in_memory(tmp_path: Path) -> None:
    n = 200
    total = sum(len(d.text) for d in pages(n, sites=40))  # ASCII: one byte per character
    # tracemalloc sees the texts: holding them all at once costs at least their size
    tracemalloc.start()
    held = list(pages(n, sites=40))
    materialised = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del held
    assert materialised >= total
    with open_index(tmp_path / "warm.db") as idx:  # imports and hashing caches, outside the measure
        list(idx.corpus(list(pages(3))))
    with open_index(tmp_path / "idx.db") as idx:
        idx.link_chunk, idx.observe_budget, idx.sig_budget = 16, 64 << 10, 64 << 10
        # the store's in-memory sets of seen fingerprints are bounded separately: cache_fps (8
        # bytes each; sites beyond it are rebuilt from their pages' blobs when next written),
        # plus the sets of the sites one transaction touches (40 sites: 5 pages each here)
        idx.store.cache_fps = 50_000
        tracemalloc.start()
        try:
            n_out = sum(1 for _ in idx.corpus(pages(n, sites=40)))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert idx.stats()["pages"] == n
    assert n_out == n
    # a list of all Documents (or of all results, each holding its original text) would exceed `total`
    assert peak < 0.75 * total, (peak, total)


def test_batch_buffer_holds_each_text_once_as_utf8_bytes(tmp_path: Path) -> None:
    """The batch observer hands the store each page's UTF-8 bytes (and digest), not also its
    str, and counts its budget in those bytes; the stored text is the page's."""
    from dedupe.engine.indexing import PREPARED_TEXT, _BatchObserver
    from dedupe.stores.sqlite import SQLiteIndex

    with SQLiteIndex(tmp_path / "i.db") as store:
        view = _BatchObserver(store, budget=1 << 30)
        text = "Été à Zürich — 東京\n" * 3
        view.note(Document("a", text, url="https://s.example/a"))
        view.note_raw(0, "a", np.zeros(128, dtype=np.uint32), None)
        view.observe("s.example", "a", np.array([1, 2], dtype=np.uint64))
        (item,) = view._pending
        (_, _, _, info) = view._store_item(item)
        assert "text" not in info and info[PREPARED_TEXT][0] == text.encode("utf-8")
        # the budget counts the bytes, fingerprints, raw signature and ~0.4 KB per page
        assert view._pending_bytes == len(text.encode("utf-8")) + 16 + 512 + 400
        view._flush()
        assert store.get_text("a") == text


def test_batch_buffer_and_prepared_writes_are_untracked_by_the_collector(tmp_path: Path) -> None:
    """Pages waiting in the batch buffer, and the store's prepared records of a write, hold no
    object the garbage collector tracks: a 100k-page batch otherwise promotes hundreds of
    thousands of them and triggers dozens of full collections."""
    import gc

    from dedupe.engine.indexing import _BatchObserver
    from dedupe.engine.neardup import PageId
    from dedupe.stores.sqlite import SQLiteIndex

    with SQLiteIndex(tmp_path / "i.db") as store:
        view = _BatchObserver(store, budget=1 << 30)
        for i in range(3):
            view.note(Document(f"d{i}", f"page {i} text\n", url=f"https://s.example/{i}"))
            view.note_raw(i, f"d{i}", np.zeros(128, dtype=np.uint32), PageId(f"s.example/{i}", f"title {i}"))
            view.observe("s.example", f"d{i}", np.array([1, 2, 3 + i], dtype=np.uint64))
        gc.collect()  # (a tuple of untracked values stops being tracked at its first collection)
        assert not any(gc.is_tracked(it) for it in view._pending)
        prepared = [store._prep(view._store_item(it), True) for it in view._pending]
        gc.collect()  # (an outer tuple seen before its inner one is let go at the next collection,
        gc.collect()  # still young: it is never promoted as a tracked object)
        assert not any(gc.is_tracked(p) for p in prepared)
        assert [p[7:9] for p in prepared] == [(f"s.example/{i}", f"title {i}") for i in range(3)]
        view._flush()
        assert store.doc_info(["d2"])["d2"]["url_key"] == "s.example/2"


def test_a_batch_finds_pages_another_unfinished_batch_yielded(tmp_path: Path) -> None:
    """Signatures of pages a still-running corpus() generator has yielded (and not yet written:
    sig_budget) are written before the next batch looks its pages up, so a copy in that batch
    is linked to them as to any stored page."""
    docs = multi_site(pages=4)
    mirror = next(d for d in docs if d.id == "mirror-of-s0-p0")
    first = [d for d in docs if d.id != mirror.id]
    with open_index(tmp_path / "i.db") as idx:
        idx.sig_budget = 1 << 40  # nothing written until a batch ends (or the next one looks up)
        gen = idx.corpus(first)
        got = [next(gen)]  # the first link chunk is linked and yielded: s0-p0 among it
        assert got[0].doc_id == "s0-p0"
        (res,) = idx.corpus([mirror])
        got += list(gen)
    assert res.meta["cluster"] == "s0-p0" and not res.meta["canonical"]
    assert any(s.rule.startswith("index:") for s in res.spans)
    assert len(got) == len(first)


def test_corpus_holds_a_small_chunk_of_results_at_a_time(tmp_path: Path) -> None:
    """corpus() links and yields results a few at a time (link_chunk), so the results waiting
    are never many: held while many more pages are cleaned, they outlive the collector's young
    generations and are promoted (2048 at a time: 19 full collections, 1.5 CPU-s, in a
    100k-page batch). The LSH look-ups are made lookup_every pages at a time, apart."""
    import gc

    from dedupe.models import CleanResult

    docs = list(pages(1500, paras=2, sites=30))
    ids = {d.id for d in docs}
    with open_index(tmp_path / "i.db") as idx:
        most = 0
        for k, _ in enumerate(idx.corpus(docs)):
            if k % 100 == 50:
                gc.collect()
                most = max(most, sum(1 for o in gc.get_objects() if type(o) is CleanResult and o.doc_id in ids))
    # a chunk's results and each one's copy with its links (the caller dropped the rest); the
    # whole batch (1500) when results were linked 2048 at a time
    assert 0 < most <= 300, most


def test_closing_the_index_stops_a_batch_and_keeps_what_it_yielded(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from dedupe.errors import IndexStoreError

    docs = list(pages(300, paras=2, sites=10))
    idx = open_index(tmp_path / "i.db")
    idx.sig_budget = 1 << 40
    gen = idx.corpus(docs)
    got = [next(gen) for _ in range(10)]
    idx.close()  # the pages linked so far (a chunk) are written; the batch stops at its next chunk
    with pytest.raises(IndexStoreError, match="closed"):
        for r in gen:  # the rest of the chunk linked before close(), then the error
            got.append(r)
    assert len(got) <= idx.link_chunk < len(docs)
    stored = {r[0] for r in sqlite3.connect(tmp_path / "i.db").execute("SELECT d.doc_id FROM sigs s JOIN docs d ON d.did = s.did")}
    assert {r.doc_id for r in got} <= stored  # every page it yielded is a stored page


def test_a_failed_signature_write_keeps_the_signatures_for_the_next_one(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from dedupe.errors import IndexStoreError

    docs = list(pages(40, paras=2, sites=4))
    with open_index(tmp_path / "i.db") as idx:
        real = idx.store.put_signatures
        calls = []

        def flaky(items):
            calls.append(1)
            if len(calls) == 1:
                raise IndexStoreError("disk full (simulated)")
            return real(items)

        idx.store.put_signatures = flaky
        with pytest.raises(IndexStoreError, match="simulated"):
            list(idx.corpus(docs))  # the batch's write at its end fails
        assert idx._unsaved_sigs  # still waiting
    # close() wrote them
    n = sqlite3.connect(tmp_path / "i.db").execute("SELECT count(*) FROM sigs").fetchone()[0]
    assert n == len(docs) and len(calls) == 2


def test_a_batch_sees_pages_other_writers_store_while_it_is_read(tmp_path: Path) -> None:
    """Pages are looked up lookup_every at a time, in output order: a page stored by another
    connection while the batch is read is a candidate for the batch's later pages."""
    docs = multi_site(pages=4)
    mirror = next(d for d in docs if d.id == "mirror-of-s0-p0")
    src = next(d for d in docs if d.id == "s0-p0")
    batch = [d for d in docs if d.id not in (mirror.id, src.id)] + [mirror]
    with open_index(tmp_path / "i.db") as idx, open_index(tmp_path / "i.db") as other:
        idx.link_chunk = idx.lookup_every = 2
        gen = idx.corpus(batch)
        first = [next(gen)]
        other.clean(src)  # committed by another connection while the batch is being read
        rest = list(gen)
    res = next(r for r in first + rest if r.doc_id == mirror.id)
    assert res.meta["cluster"] == src.id and not res.meta["canonical"]


def test_clean_forget_and_reclean_write_what_a_batch_yielded_first(tmp_path: Path) -> None:
    """A page a half-read batch yielded is a stored page for idx.clean (its copy is linked to
    it), is not brought back by the batch after idx.forget, and reclean's new signature of it
    is not written over by the batch's older one."""
    docs = multi_site(pages=4)
    mirror = next(d for d in docs if d.id == "mirror-of-s0-p0")
    src = next(d for d in docs if d.id == "s0-p0")
    batch = [src] + [d for d in docs if d.id not in (mirror.id, src.id)]
    with open_index(tmp_path / "a.db") as idx:
        idx.link_chunk, idx.sig_budget = 2, 1 << 40
        gen = idx.corpus(batch)
        assert next(gen).doc_id == src.id
        res = idx.clean(mirror)
        list(gen)
    assert res.meta["cluster"] == src.id
    with open_index(tmp_path / "b.db") as idx:
        idx.link_chunk, idx.sig_budget = 2, 1 << 40
        gen = idx.corpus(batch)
        first = next(gen)
        assert idx.forget([first.doc_id]) == 1
        list(gen)
        assert first.doc_id not in idx.store.doc_info([first.doc_id])
        assert first.doc_id not in idx.store.get_signatures([first.doc_id])
    with open_index(tmp_path / "c.db") as idx:
        list(idx.corpus(batch[2:]))
        idx.link_chunk, idx.sig_budget = 2, 1 << 40
        gen = idx.corpus(batch[:2])
        first = next(gen)
        # more pages of its site, holding one of its paragraphs: template evidence from now on
        para = max(src.text.split("\n"), key=len)
        idx.observe([Document(f"x{i}", f"Other page {i} of the site.\n{para}\nIts own words {i}.\n", url=f"https://www.site0.example/x/{i}") for i in range(6)])
        (again,) = idx.reclean(ids=[first.doc_id])
        assert again.text != first.text  # (the paragraph is a template now)
        list(gen)
        assert idx.store.get_text(first.doc_id, clean=True) == again.text


def test_a_failed_close_does_not_hide_its_error_and_a_second_close_does_nothing(tmp_path: Path) -> None:
    import pytest

    from dedupe.errors import IndexStoreError

    docs = list(pages(30, paras=2, sites=3))
    idx = open_index(tmp_path / "i.db")
    idx.link_chunk, idx.sig_budget = 2, 1 << 40
    gen = idx.corpus(docs)
    next(gen)

    def fail(items):
        raise IndexStoreError("disk full (simulated)")

    idx.store.put_signatures = fail
    with pytest.raises(IndexStoreError, match="simulated"):
        idx.close()
    idx.close()  # nothing more
    with pytest.raises(IndexStoreError, match="closed while a batch"):
        list(gen)
