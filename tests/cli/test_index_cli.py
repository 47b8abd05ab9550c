"""`dedupe clean --index`, `dedupe corpus --index` and `dedupe index stats|forget|compact|reclean`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from dedupe.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stores"))
from index_corpus import multi_site  # noqa: E402

runner = CliRunner()


def write_jsonl(path: Path, docs) -> Path:
    path.write_text("".join(json.dumps({"id": d.id, "text": d.text, "url": d.url, "site": d.site}) + "\n" for d in docs))
    return path


def stats(db: Path) -> dict:
    r = runner.invoke(app, ["index", "stats", str(db), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_corpus_index_two_runs_then_stats_reclean_forget_compact(tmp_path: Path) -> None:
    docs = multi_site(pages=4)
    db = tmp_path / "crawl.db"
    day1 = write_jsonl(tmp_path / "day1.jsonl", docs[:6])
    day2 = write_jsonl(tmp_path / "day2.jsonl", docs[6:])
    for day, out in ((day1, "o1.jsonl"), (day2, "o2.jsonl")):
        r = runner.invoke(app, ["corpus", str(day), "--out", str(tmp_path / out), "--index", str(db), "-q"])
        assert r.exit_code == 0, r.output
    rows = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "o2.jsonl").read_text().splitlines()}
    assert rows["mirror-of-s0-p0"]["dedupe"]["cluster"] == "s0-p0"  # stored on day 1
    st = stats(db)
    assert st["pages"] == len(docs) and st["sites"] == 4
    assert st["template_fingerprints"] > 0 and st["clusters"] == 1
    assert st["site_pages"]["site0.example"] == 4

    r = runner.invoke(app, ["index", "reclean", str(db), "--site", "site0.example", "--out", str(tmp_path / "re.jsonl")])
    assert r.exit_code == 0, r.output
    re_rows = [json.loads(x) for x in (tmp_path / "re.jsonl").read_text().splitlines()]
    assert [x["id"] for x in re_rows] == ["s0-p0", "s0-p1", "s0-p2", "s0-p3"]
    assert all("All rights reserved" not in x["text"] for x in re_rows)

    r = runner.invoke(app, ["index", "forget", str(db), "--site", "site1.example", "--id", "mirror-of-s0-p0"])
    assert r.exit_code == 0, r.output
    st = stats(db)
    assert st["pages"] == len(docs) - 5 and "site1.example" not in st["site_pages"]
    r = runner.invoke(app, ["index", "compact", str(db)])
    assert r.exit_code == 0, r.output
    assert stats(db)["pages"] == len(docs) - 5
    r = runner.invoke(app, ["index", "stats", str(db)])
    assert r.exit_code == 0 and "templates" in r.stdout and "clusters" in r.stdout


def test_clean_with_index_learns_the_template(tmp_path: Path) -> None:
    db = tmp_path / "site.db"
    docs = [d for d in multi_site(pages=3) if d.id.startswith("s0-")]
    outs = []
    for d in docs:
        page = tmp_path / f"{d.id}.txt"
        page.write_text(d.text)
        r = runner.invoke(app, ["clean", str(page), "--index", str(db)])
        assert r.exit_code == 0, r.output
        outs.append(r.stdout)
    assert "All rights reserved" in outs[0]  # the first page: nothing to learn from yet
    assert "All rights reserved" not in outs[2]
    assert stats(db)["pages"] == 3


def test_index_errors_exit_5_and_leave_files_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an index\n")
    before = notes.read_bytes()
    for args in (["index", "stats", str(notes)], ["index", "compact", str(notes)], ["index", "forget", str(notes), "--id", "x"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 5, r.output
        assert "not a dedupe index" in r.stderr and "Traceback" not in r.output
    assert notes.read_bytes() == before
    r = runner.invoke(app, ["index", "stats", str(tmp_path / "missing.db")])
    assert r.exit_code == 5 and "not found" in r.stderr
    assert not (tmp_path / "missing.db").exists()
    # an index built with other hashing settings
    db = tmp_path / "i.db"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"signature": {"num_perm": 64}}))
    page = tmp_path / "p.txt"
    page.write_text("Some page text that is long enough to clean here.\n")
    assert runner.invoke(app, ["clean", str(page), "--index", str(db), "--config", str(cfg)]).exit_code == 0
    # without --config the index's own settings apply; a config with other hashing settings is refused
    assert runner.invoke(app, ["clean", str(page), "--index", str(db), "--id", "p"]).exit_code == 0
    before = db.read_bytes()
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"signature": {"num_perm": 128}}))
    r = runner.invoke(app, ["clean", str(page), "--index", str(db), "--config", str(other)])
    assert r.exit_code == 5 and "other hashing settings" in r.stderr
    assert db.read_bytes() == before
    r = runner.invoke(app, ["index", "forget", str(db)])
    assert r.exit_code == 2


def test_clean_with_index_keeps_sites_apart(tmp_path: Path) -> None:
    db = tmp_path / "sites.db"
    docs = [d for d in multi_site(pages=3) if d.id.startswith("s0-")]
    outs = []
    for n, d in enumerate(docs):
        page = tmp_path / f"{d.id}.txt"
        page.write_text(d.text)
        # the last page claims another site: no evidence there, so its template stays
        site = "one.example" if n < 2 else "other.example"
        r = runner.invoke(app, ["clean", str(page), "--index", str(db), "--site", site, "--id", d.id])
        assert r.exit_code == 0, r.output
        outs.append(r.stdout)
    assert "All rights reserved" not in outs[1]
    assert "All rights reserved" in outs[2]
    assert stats(db)["pages"] == 3
