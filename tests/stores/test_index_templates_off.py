"""With templates off (``TemplateConfig(enabled=False)``, ``--no-templates``) a batch through the
index still records its pages: text, identity, raw-text signature, site count.

A review found ``Index.corpus`` recording none of them: observations are buffered until the first
evidence read, and with templates off cleaning reads no evidence, so the buffer was never
written (``idx.clean`` recorded them; ``index reclean`` and ``forget --site`` then found nothing).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedupe.cli.app import app
from dedupe.config import Config, TemplateConfig
from dedupe.stores import open_index

from index_corpus import multi_site

OFF = Config(templates=TemplateConfig(enabled=False))


def rows(path: Path) -> dict:
    """Per stored page: (site, URL, URL key, title key, raw signature bytes)."""
    con = sqlite3.connect(path)
    got = {
        d: (s, u, k, t, bytes(sig))
        for d, s, u, k, t, sig in con.execute(
            "SELECT d.doc_id, s.name, d.url, d.ukey, d.tkey, r.sig FROM docs d "
            "JOIN sites s ON s.site_id = d.site_id JOIN raws r ON r.did = d.did"
        )
    }
    con.close()
    return got


@pytest.mark.parametrize("budget", [1 << 40, 1], ids=["one-transaction", "one-per-page"])
def test_corpus_with_templates_off_records_its_pages_as_clean_does(tmp_path: Path, budget: int) -> None:
    docs = multi_site(pages=4)
    with open_index(tmp_path / "page.db", config=OFF) as idx:
        for d in docs:
            idx.clean(d)
    with open_index(tmp_path / "batch.db", config=OFF) as idx:
        idx.observe_budget = budget
        batch = list(idx.corpus(docs))
        st = idx.store.stats()
        assert st["pages"] == len(docs) and st["raw_signatures"] == len(docs) and st["signatures"] == len(docs)
        assert all(idx.store.get_text(d.id) == d.text for d in docs)
        # each result sees its whole site, this batch included (as with templates on)
        site_pages = idx.store.sites()
        info = idx.store.doc_info([d.id for d in docs])
        assert [r.meta["site_pages"] for r in batch] == [site_pages[info[d.id]["site"]] for d in docs]
        assert site_pages["site0.example"] == 4
        # the pages can be re-cleaned and forgotten
        assert [r.doc_id for r in idx.reclean()] == [d.id for d in docs]
        assert idx.forget(site="site0.example") == 4 and idx.store.stats()["pages"] == len(docs) - 4
    # the same sites, URLs, identities and raw signatures as page by page
    page = rows(tmp_path / "page.db")
    assert len(page) == len(docs)
    with open_index(tmp_path / "batch.db", config=OFF) as idx:
        idx.observe(d for d in docs if d.id.startswith("s0-"))  # what forget removed, back
    assert rows(tmp_path / "batch.db") == page


def test_cli_corpus_no_templates_records_pages(tmp_path: Path) -> None:
    runner = CliRunner()
    docs = multi_site(pages=4)
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"id": d.id, "text": d.text, "url": d.url, "site": d.site}) + "\n" for d in docs))
    db = tmp_path / "nt.db"
    r = runner.invoke(app, ["corpus", str(src), "--out", str(tmp_path / "o.jsonl"), "--index", str(db), "--no-templates", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["index", "stats", str(db), "--json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.stdout)
    assert st["pages"] == len(docs) and st["signatures"] == len(docs)
    r = runner.invoke(app, ["index", "reclean", str(db), "--out", str(tmp_path / "re.jsonl")])
    assert r.exit_code == 0, r.output
    assert sorted(json.loads(x)["id"] for x in (tmp_path / "re.jsonl").read_text().splitlines()) == sorted(d.id for d in docs)
