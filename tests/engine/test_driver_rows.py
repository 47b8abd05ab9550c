"""The corpus workers encode the output rows (``run_corpus(row_encoder=...)``,
``dedupe.io.jsonl.encode_row_parts``); the driver splices the cluster in. The bytes must equal the
dict path's (``out_row`` / ``report_rows`` / ``dumps``) for every kind of row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import pickle
import random
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedupe import api
from dedupe.cli import corpus as cli_corpus
from dedupe.cli.app import app
from dedupe.engine.corpus import Encoded, run_corpus
from dedupe.io.jsonl import FieldMap, dumps, dumps_cluster, encode_row_parts, out_row, report_rows, row_to_document
from dedupe.models import Document

runner = CliRunner()

WORDS = ("river bridge council budget market school winter harbour railway museum garden doctor village teacher "
         "weather festival library station minister island forest farmer factory concert airport journal").split()


def _text(rng: random.Random, paras: int = 3) -> str:
    body = "\n".join(" ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + "." for _ in range(paras))
    return f"Menu | Home | World\n{body}\nFollow us everywhere you go, every single day of the week.\n"


# ---------------------------------------------------------------------------------------------
# encode_row_parts == the dict path
# ---------------------------------------------------------------------------------------------
_keys = st.one_of(st.sampled_from(["id", "text", "url", "site", "dedupe", "body", "key", "meta", "é", "\"q\"", "a\\b", "😀"]), st.text(max_size=6))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
_values = st.recursive(_scalars, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c, max_size=3)), max_leaves=8)
_ids = st.one_of(st.none(), st.text(min_size=1, max_size=8), st.integers(min_value=-(10**12), max_value=10**12))


def _check_parts(doc: Document, res) -> None:
    parts = encode_row_parts(doc.id, doc.meta, res)
    assert parts is not None
    head, tail, rep, removed, flagged = parts
    for cluster in (None, doc.id, "c\"é😀\n"):
        want = dataclasses.replace(res, meta={**res.meta, "cluster": cluster, "canonical": True})
        assert head + dumps_cluster(cluster) + tail == dumps(out_row(doc, want)).encode("utf-8")
    assert rep == "".join(dumps(r) for r in report_rows(res)).encode("utf-8")
    assert removed == res.removed_chars()
    want_flagged: dict[str, int] = {}
    for s in res.spans:
        if not s.removed:
            want_flagged[s.kind] = want_flagged.get(s.kind, 0) + 1
    assert flagged == want_flagged


@settings(max_examples=150, deadline=None)
@given(
    extra=st.dictionaries(_keys, _values, max_size=5),
    raw_id=_ids,
    id_field=st.sampled_from(["id", "doc", "dedupe", "é"]),
    text_field=st.sampled_from(["text", "body", "dedupe"]),
    seed=st.integers(0, 3),
    text_first=st.booleans(),
)
def test_encoded_parts_equal_the_dict_row(extra, raw_id, id_field, text_field, seed, text_first) -> None:
    assume(id_field != text_field)
    rng = random.Random(seed)
    text = _text(rng, 2) + "Ünïcödé ✓ 😀 \"quotes\" \\ back\tslash\n" + "Menu | Home | World\n"
    row = {k: v for k, v in extra.items() if k not in (id_field, text_field)}
    if text_first:
        row = {text_field: text, **row}
    else:
        row[text_field] = text
    if raw_id is not None:
        row[id_field] = raw_id
    doc = row_to_document(row, source="in.jsonl", line=3, fields=FieldMap(id=id_field, text=text_field), max_chars=10**6)
    assert isinstance(doc, Document)
    res = api.clean(doc.text, doc_id=doc.id)
    _check_parts(doc, res)


def test_encoded_parts_of_documents_without_row_meta() -> None:
    """API documents (no ``meta["row"]``) and directory pages (``meta["row"]`` without url)."""
    text = _text(random.Random(1))
    res = api.clean(text, doc_id="a/b.txt")
    _check_parts(Document("a/b.txt", text), res)
    _check_parts(Document("a/b.txt", text, meta={"row": {"id": "a/b.txt", "text": None}, "source": "d", "line": None, "text_field": "text"}), res)


def test_encoded_parts_none_for_values_json_cannot_hold() -> None:
    text = _text(random.Random(2))
    res = api.clean(text, doc_id="x")
    for bad in (object(), {1, 2}, "lone \ud800 surrogate"):
        doc = Document("x", text, meta={"row": {"id": "x", "text": None, "v": bad}, "text_field": "text", "id_field": "id"})
        assert encode_row_parts("x", doc.meta, res) is None
    # what json_default handles is encoded, as the dict path does
    ok = {"t": dt.datetime(2024, 1, 2, 3, 4, 5), "d": decimal.Decimal("1.50"), "b": b"\x00\xff", "dt": dt.timedelta(seconds=3)}
    doc = Document("x", text, meta={"row": {"id": "x", "text": None, **ok}, "text_field": "text", "id_field": "id"})
    _check_parts(doc, res)


# ---------------------------------------------------------------------------------------------
# run_corpus(row_encoder=...)
# ---------------------------------------------------------------------------------------------
def _record(doc_id, meta, result):
    """A row encoder for the tests: what it was given."""
    return (doc_id, meta, result.text, result.spans, dict(result.meta))


def _corpus(n_sites: int = 2, per_site: int = 5, seed: int = 0) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for s in range(n_sites):
        for p in range(per_site):
            docs.append(Document(f"s{s}p{p}", _text(rng), url=f"https://site{s}.test/{p}", meta={"row": {"k": [s, p]}, "n": p}))
    # near-duplicates of the first page on other sites
    for k in range(2):
        t = docs[0].text.replace("Menu | Home | World\n", f"Other header {k}\n")
        docs.append(Document(f"copy{k}", t, url=f"https://mirror{k}.test/x", meta={"n": -k}))
    return docs


@pytest.mark.parametrize("as_list", [True, False])
def test_run_corpus_row_encoder(as_list: bool) -> None:
    docs = _corpus()
    plain = list(run_corpus(list(docs), order="id"))
    got = list(run_corpus(list(docs) if as_list else iter(docs), order="id", row_encoder=_record))
    assert [g.doc_id for g in got] == [p.doc_id for p in plain]
    by_id = {d.id: d for d in docs}
    n_enc = n_res = 0
    for g, p in zip(got, plain):
        if isinstance(g, Encoded):
            n_enc += 1
            assert p.meta["canonical"]
            assert g.cluster == p.meta["cluster"]
            doc_id, meta, text, spans, rmeta = g.value
            assert (doc_id, meta, text, spans) == (p.doc_id, by_id[p.doc_id].meta, p.text, p.spans)
            assert "cluster" not in rmeta and "canonical" not in rmeta
        else:
            n_res += 1
            assert not p.meta["canonical"]
            assert g == p
    assert n_enc and n_res  # both kinds were met


# ---------------------------------------------------------------------------------------------
# the CLI: encoded rows == the dict path, 1 and 2 workers
# ---------------------------------------------------------------------------------------------
def _no_encoding(doc_id, meta, result):
    return None


def _cli_rows() -> list[str]:
    rng = random.Random(7)
    lines = []
    for s in range(2):
        for p in range(5):
            text = _text(rng) + ("Ünïcödé ✓ 😀 \"q\" \\ x\n" if p % 2 else "")
            row: dict = {"extra": {"a": [s, p, None, 1.5]}, "text": text, "url": f"https://www.site{s}.test/{p}"}
            if p != 4:
                row["key"] = f"k{s}{p}"  # an id under another name (--id-field key)
            if p == 0:
                row["id"] = s * 100 + p  # an int id
            elif p == 1:
                row["dedupe"] = {"old": True}  # a field the output replaces in place
            elif p == 2:
                row["id"] = None  # a null id: the reports' id is written
            else:
                row["id"] = f"s{s}p{p}é"
            lines.append(json.dumps(row, ensure_ascii=p % 2 == 0))
    base = json.loads(lines[3])
    for k in range(2):  # near-duplicates, clustered with a canonical one
        cp = dict(base, id=f"copy{k}", url=f"https://mirror{k}.test/x", text=base["text"].replace("Menu | Home | World", f"Mirror {k}"))
        lines.append(json.dumps(cp))
    lines.append(json.dumps({"id": "h1", "html": "<html><head><title>T</title></head><body><p>" + _text(rng) + "</p></body></html>"}))
    lines.append("{not json")
    lines.append(json.dumps({"id": "s0p3é", "text": "a duplicate id"}))
    lines.append(json.dumps({"id": "lone", "text": "x \ud800 y"}))
    return lines


def _run_cli(tmp: Path, tag: str, inp: str, *extra: str) -> dict[str, bytes]:
    out, rep, rej = tmp / f"{tag}.out.jsonl", tmp / f"{tag}.rep.jsonl", tmp / f"{tag}.rej.jsonl"
    r = runner.invoke(app, ["corpus", inp, "--out", str(out), "--report", str(rep), "--rejects", str(rej), *extra])
    assert r.exit_code == 0, r.output
    return {"out": out.read_bytes(), "rep": rep.read_bytes(), "rej": rej.read_bytes(), "stderr": r.stderr.encode()}


def _strip_time(stderr: bytes) -> bytes:
    return b"\n".join(ln.split(b"; ")[0] + b";" + ln.split(b"; ")[1] if ln.startswith(b"dedupe corpus:") else ln for ln in stderr.splitlines())


@pytest.mark.parametrize("flags", [(), ("--order", "input"), ("--drop-near-dups",), ("--id-field", "key", "--text-field", "text")])
def test_cli_encoded_rows_equal_the_dict_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(_cli_rows()) + "\n", encoding="utf-8")
    calls: list[str] = []

    def counting(doc_id, meta, result):
        calls.append(doc_id)
        return encode_row_parts(doc_id, meta, result)

    monkeypatch.setattr(cli_corpus, "encode_row_parts", _no_encoding)
    ref = _run_cli(tmp_path, "ref", str(inp), "--workers", "1", *flags)
    monkeypatch.setattr(cli_corpus, "encode_row_parts", counting)
    one = _run_cli(tmp_path, "one", str(inp), "--workers", "1", *flags)
    assert calls  # the encoded path ran
    monkeypatch.undo()
    two = _run_cli(tmp_path, "two", str(inp), "--workers", "2", *flags)
    for got in (one, two):
        for k in ("out", "rep", "rej"):
            assert got[k] == ref[k], k
        assert _strip_time(got["stderr"]) == _strip_time(ref["stderr"])
    if not flags:
        assert b'"canonical":false' in ref["out"]  # near-duplicates: rows of both kinds


def test_cli_encoded_rows_to_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(_cli_rows()) + "\n", encoding="utf-8")
    r1 = runner.invoke(app, ["corpus", str(inp), "--out", "-", "--quiet"])
    monkeypatch.setattr(cli_corpus, "encode_row_parts", _no_encoding)
    r2 = runner.invoke(app, ["corpus", str(inp), "--out", "-", "--quiet"])
    assert r1.exit_code == r2.exit_code == 0
    assert r1.stdout_bytes == r2.stdout_bytes and r1.stdout_bytes.count(b"\n") >= 10


def test_cli_encoded_rows_of_parquet_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = random.Random(3)
    n = 6
    table = pa.table({
        "id": [f"p{i}" for i in range(n)],
        "text": [_text(rng) for _ in range(n)],
        "url": [f"https://site.test/{i}" for i in range(n)],
        "when": [dt.datetime(2024, 1, 1 + i, 12, 0) for i in range(n)],
        "price": pa.array([decimal.Decimal(f"{i}.25") for i in range(n)], type=pa.decimal128(5, 2)),
        "blob": [bytes([i, 255]) for i in range(n)],
        "day": [dt.date(2020, 1, 1 + i) for i in range(n)],
    })
    pq.write_table(table, tmp_path / "in.parquet")
    monkeypatch.setattr(cli_corpus, "encode_row_parts", _no_encoding)
    ref = _run_cli(tmp_path, "ref", str(tmp_path / "in.parquet"))
    monkeypatch.undo()
    got = _run_cli(tmp_path, "got", str(tmp_path / "in.parquet"))
    assert got["out"] == ref["out"] and got["rep"] == ref["rep"]
    assert b'"when":"2024-01-01T12:00:00"' in got["out"]


# ---------------------------------------------------------------------------------------------
# page identities come from the observe workers
# ---------------------------------------------------------------------------------------------
def _seen_page_ids(docs, workers: int, as_list: bool) -> list:
    got: list = []
    out = list(run_corpus(list(docs) if as_list else iter(docs), workers=workers,
                          on_observe=lambda i, doc_id, sig, pid: got.append((i, doc_id, pid))))
    assert len(out) == len(docs)
    return got


@pytest.mark.parametrize("workers,as_list", [(1, True), (1, False), (2, False)])
def test_page_ids_from_the_workers_equal_page_id(workers: int, as_list: bool) -> None:
    from dedupe.engine.neardup import PAGE_META, PageId, page_id

    rng = random.Random(5)
    heads = [
        None, {"title": "  Fall LEAF\n Bunting "}, {"canonical": "HTTP://www.Ex.com/a/index.html?utm_x=1&id=2#f"},
        {"og_url": "https://ex.com/b/", "title": "Ünïcödé Ｔｉｔｌｅ"}, PageId("ex.com/given", "given"), "not a mapping",
        {"title": 3}, {},
    ]
    docs = []
    for k, head in enumerate(heads * 2):
        meta = {"n": k} if head is None else {PAGE_META: head, "n": k}
        url = [None, "https://WWW.Site.test/p/?utm_source=a", "  ", "http://[bad"][k % 4]
        docs.append(Document(f"d{k}", _text(rng, 1), url=url, site="s" if k % 3 else None, meta=meta))
    got = _seen_page_ids(docs, workers, as_list)
    assert [(i, d) for i, d, _ in got] == [(i, d.id) for i, d in enumerate(docs)]
    assert [pid for _, _, pid in got] == [page_id(d) for d in docs]
    assert all(type(pid) is PageId for _, _, pid in got)


# ---------------------------------------------------------------------------------------------
# the encoded values: appended by the workers to the driver's file, or through the pipe
# ---------------------------------------------------------------------------------------------
def test_records_written_by_appenders_and_by_the_driver() -> None:
    from dedupe.engine import corpus as ec

    rec = ec._Records()
    try:
        path = rec.shared_path()
        if path is None:
            pytest.skip("no /proc")
        rng = random.Random(0)
        chunks = [[bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 9, 3000]))) for _ in range(rng.randrange(1, 6))] for _ in range(12)]
        want: list[bytes] = []
        for k, ch in enumerate(chunks):
            rec.add(ec._append_records(path, ch) if k % 3 else ch)  # a worker's write, or the pipe
            want.extend(ch)
        assert [rec.get(i) for i in range(len(want))] == want
        assert [rec.get(i) for i in reversed(range(len(want)))] == want[::-1]
    finally:
        import os

        for fd in (ec._W.pop("records", None) or {}).values():
            os.close(fd)
        rec.close()


_SCRIPT = '''
import json, sys
from dedupe.engine import corpus as ec
from dedupe.cli.app import app

def run(out, workers):
    code = 0
    try:
        code = app(["corpus", sys.argv[1], "--out", out, "--report", out + ".rep", "--workers", str(workers), "--quiet"], standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    assert not code, code

if __name__ == "__main__":
    calls = []
    orig = ec._Records.add
    ec._Records.add = lambda self, got, *a: (calls.append(type(got).__name__), orig(self, got, *a))[1]
    orig_ext = ec._SigFile.extend
    ec._SigFile.extend = lambda self, m: (calls.append("sigs in place"), orig_ext(self, m))[1]
    run(sys.argv[2] + ".1", 1)
    print("one", sorted(set(calls)))
    calls.clear()
    run(sys.argv[2] + ".2", 2)
    print("two", sorted(set(calls)))
    calls.clear()
    ec._Records.shared_path = lambda self: "/nonexistent/dedupe-records"  # workers cannot write to it
    ec._SigFile.shared_path = lambda self: "/nonexistent/dedupe-sigs"
    run(sys.argv[2] + ".3", 2)
    print("pipe", sorted(set(calls)))
'''


def test_cli_encoded_rows_through_the_pipe_when_workers_cannot_append(tmp_path: Path) -> None:
    import subprocess
    import sys

    if not Path("/proc/self/status").exists():
        pytest.skip("Linux /proc")
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(_cli_rows()) + "\n", encoding="utf-8")
    (tmp_path / "s.py").write_text(_SCRIPT, encoding="utf-8")
    r = subprocess.run([sys.executable, str(tmp_path / "s.py"), str(inp), str(tmp_path / "o")], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "one ['list']" in r.stdout and "two ['sigs in place', 'tuple']" in r.stdout and "pipe ['list']" in r.stdout, r.stdout
    for suffix in ("", ".rep"):
        one = (tmp_path / f"o.1{suffix}").read_bytes()
        assert one and (tmp_path / f"o.2{suffix}").read_bytes() == one and (tmp_path / f"o.3{suffix}").read_bytes() == one


# ---------------------------------------------------------------------------------------------
# a clean chunk's cross-page hits at once
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_hits_rows_range_equals_rows(dtype: str) -> None:
    import numpy as np

    from dedupe.engine.crosspage import Hits

    rng = np.random.default_rng(0)
    n_docs, n = 12, 40
    doc = np.sort(rng.integers(0, n_docs, n)).astype(dtype)
    doc[doc == 5] = 6  # a document without hits inside the range
    st = rng.integers(0, 100, n).astype(dtype)
    en = st + rng.integers(1, 50, n).astype(dtype)
    pages = rng.integers(2, 6, n).astype(np.int32)
    kdoc = np.where(rng.random(n) < 0.4, -1, rng.integers(0, n_docs, n)).astype(np.int32)
    kst, ken = st.copy(), en.copy()
    h = Hits(doc, st, en, pages, kdoc, kst, ken, [f"id{i}" for i in range(n_docs)])
    for lo in range(n_docs + 2):
        for hi in range(lo, n_docs + 3):
            assert h.rows_range(lo, hi) == [h.rows(d) for d in range(lo, hi)], (lo, hi)
            chunk = h.rows_chunk(lo, hi)  # as arrays, the rows built where they are used
            assert pickle.loads(pickle.dumps(chunk)).rows() == h.rows_range(lo, hi), (lo, hi)
            assert len(chunk.kept_ids) == len(set(chunk.kept_ids))
    assert any(h.rows(d) for d in range(n_docs)) and not h.rows(5)


# ---------------------------------------------------------------------------------------------
# clustering with the pairs compared elsewhere (by the pool, a group of pairs at a time)
# ---------------------------------------------------------------------------------------------
def test_cluster_with_compare_many_equals_get_text() -> None:
    """neardup.cluster with compare_many (the counts of each pair's shingle sets, computed
    elsewhere) gives the clusters and scores of the in-process path, asks for the candidate
    pairs once and then only for the (member, canonical) pairs it has not seen; a wrong answer
    is refused."""
    import numpy as np

    from dedupe.config import Config
    from dedupe.engine import neardup

    cfg = Config()
    rng = random.Random(11)
    base = [_text(rng) for _ in range(6)]
    # a chain: 10 ~ 0 ~ 11 (11 = 0 plus more text), so the canonical may not be paired with all
    texts = base + [t.replace("Menu", "Header", 1) for t in base[:4]] + [base[0] + _text(rng, 1)]
    got = [neardup.signature_of(t, cfg) for t in texts]
    sigs = np.stack([g[0] for g in got])
    n_sh = np.array([g[1] for g in got])
    kw = dict(ids=[f"d{i}" for i in range(len(texts))], urls=[None] * len(texts), lengths=[len(t) for t in texts])
    asked: list[list[tuple[int, int]]] = []
    sets = [neardup.shingle_set(t, cfg.signature) for t in texts]

    def many(pairs: np.ndarray) -> np.ndarray:
        asked.append([tuple(p) for p in pairs.tolist()])
        return neardup.pair_counts(sets, pairs)

    one = neardup.cluster(sigs, n_sh, lambda i: texts[i], cfg, **kw)
    two = neardup.cluster(sigs, n_sh, lambda i: pytest.fail("get_text called"), cfg, compare_many=many, **kw)
    assert np.array_equal(one.canonical, two.canonical) and np.array_equal(one.score, two.score)
    assert (one.canonical >= 0).sum() >= 8 and 1 <= len(asked) <= 2
    assert not set(asked[0]) & set(sum(asked[1:], []))  # nothing asked twice
    for i in np.flatnonzero(two.canonical >= 0).tolist():
        c = int(two.canonical[i])
        assert two.score[i] == (1.0 if c == i else neardup.jaccard(sets[i], sets[c]))
    with pytest.raises(ValueError):
        neardup.cluster(sigs, n_sh, lambda i: texts[i], cfg, compare_many=lambda p: np.zeros((0, 3)), **kw)


def test_pair_tasks_cover_every_pair_once_within_the_budget() -> None:
    """The corpus job's groups of candidate pairs (_pair_tasks): every pair exactly once, its
    pages found through the task's own indexes; a task's pages within the budget unless one
    pair alone exceeds it; one task when everything fits."""
    import numpy as np

    from dedupe.engine import corpus as ec

    rng = random.Random(5)
    for trial in range(200):
        n = rng.randint(2, 40)
        pairs = sorted({tuple(sorted(rng.sample(range(n), 2))) for _ in range(rng.randint(1, 60))})
        size = [rng.randint(1, 50) for _ in range(n)]
        budget = rng.choice([1, 30, 100, 10_000])
        tasks = list(ec._pair_tasks(np.array(pairs, dtype=np.int64), size.__getitem__, budget))
        rows = sorted(r for _, _, where in tasks for r in where.tolist())
        assert rows == list(range(len(pairs))), trial
        for docs, local, where in tasks:
            assert len(set(docs)) == len(docs)
            assert [(docs[a], docs[b]) for a, b in local.tolist()] == [pairs[r] for r in where.tolist()]
            if len(where) > 1:
                assert sum(size[d] for d in docs) <= budget
        if budget == 10_000:  # everything fits: one task
            assert len(tasks) == 1



def test_cluster_asks_again_for_a_member_never_paired_with_its_canonical() -> None:
    """A chain 0 ~ 1 ~ 2 whose ends LSH never pairs: compare_many is asked for the candidate
    pairs, then for (0, 2) alone, whose counts give member 2's score."""
    import numpy as np

    from dedupe.config import Config
    from dedupe.engine import neardup

    cfg = Config()
    base = np.arange(1000, 1128, dtype=np.uint32)
    s0, s2 = base.copy(), base.copy()
    s0[64:] = np.arange(5000, 5064)  # shares only the first half with s1 (bands 0-15)
    s2[:64] = np.arange(7000, 7064)  # shares only the second half with s1 (bands 16-31)
    sigs = np.stack([s0, base, s2])
    counts = {(0, 1): (8, 10, 10), (1, 2): (8, 10, 10), (0, 2): (6, 10, 10)}
    asked: list[list[tuple[int, int]]] = []

    def many(pairs: np.ndarray) -> np.ndarray:
        asked.append([tuple(p) for p in pairs.tolist()])
        return np.array([counts[p] for p in asked[-1]], dtype=np.int64).reshape(-1, 3)

    got = neardup.cluster(sigs, np.array([10, 10, 10]), lambda i: pytest.fail("get_text called"), cfg,
                          ids=["d0", "d1", "d2"], urls=[None] * 3, lengths=[30, 20, 10], compare_many=many)
    assert asked == [[(0, 1), (1, 2)], [(0, 2)]]
    assert got.canonical.tolist() == [0, 0, 0] and got.score.tolist() == [1.0, 8 / 12, 6 / 14]
