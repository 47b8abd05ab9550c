"""Caller-supplied boilerplate phrases (templates.phrases)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.config import Config
from dedupe.core.tokenize import tokenize
from dedupe.engine.phrases import compile_phrases, phrase_mask, phrase_pieces
from dedupe.errors import ConfigError


def _removed(text: str, *phrases: str, k: int = 5) -> list[str]:
    pieces, _ = phrase_pieces(text, tokenize(text), compile_phrases(phrases, k))
    return [text[p.start : p.end] for p in pieces]


def test_short_phrase_only_as_a_whole_line() -> None:
    text = "Titre\nPUBLICITÉ\nLa publicité est partout.\n  publicité !\nFin"
    assert _removed(text, "Publicité") == ["PUBLICITÉ", "publicité"]


def test_long_phrase_anywhere_even_glued_mid_line() -> None:
    promo = "Téléchargez l'application France 24"
    text = f"Début de phrase. {promo.upper()} et la suite du texte.\n{promo}\n"
    assert _removed(text, promo) == ["TÉLÉCHARGEZ L'APPLICATION FRANCE 24", promo]


def test_no_partial_or_reordered_match() -> None:
    text = "one two three four five six\nsix five four three two one\n"
    assert _removed(text, "two three four five seven") == []
    assert _removed(text, "two three four five six") == ["two three four five six"]


def test_cjk_phrase_without_spaces() -> None:
    text = "新闻正文第一段。\n广告\n相关广告内容很多。\n"
    assert _removed(text, "广告", k=5) == ["广告"]  # 2 single-character tokens < k: whole line only


def test_digits_are_literal() -> None:
    text = "Publié le 19/06/2024\nPublié le 20/06/2024\n"
    assert _removed(text, "Publié le 19/06/2024") == ["Publié le 19/06/2024"]


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.sampled_from(["ad", "Ad", "news", "Straße", "STRASSE", "x", "東", "京", "."]), max_size=40),
    seps=st.lists(st.sampled_from([" ", "\n", ", "]), min_size=40, max_size=40),
    phrase=st.lists(st.sampled_from(["ad", "news", "strasse", "東", "京"]), min_size=1, max_size=6),
)
def test_mask_equals_brute_force(words: list[str], seps: list[str], phrase: list[str]) -> None:
    text = "".join(w + s for w, s in zip(words, seps))
    toks = tokenize(text)
    p = tokenize(" ".join(phrase)).hashes.tolist()
    k = 3
    got = phrase_mask(text, toks, compile_phrases((" ".join(phrase),), k))
    line = [text.count("\n", 0, s) for s in toks.start.tolist()]
    h = toks.hashes.tolist()
    want = [False] * len(h)
    L = len(p)
    for a in range(len(h) - L + 1):
        if h[a : a + L] != p:
            continue
        if L < k and not (
            line[a] == line[a + L - 1] and (a == 0 or line[a - 1] != line[a]) and (a + L == len(h) or line[a + L] != line[a])
        ):
            continue
        want[a : a + L] = [True] * L
    assert got.tolist() == want


def test_config_checks_phrases() -> None:
    assert Config.from_dict({"templates": {"phrases": ["PUBLICITÉ"]}}).templates.phrases == ("PUBLICITÉ",)
    with pytest.raises(ConfigError, match="no word"):
        Config.from_dict({"templates": {"phrases": ["— !"]}})
    with pytest.raises(ConfigError):
        Config.from_dict({"templates": {"phrases": "PUBLICITÉ"}})
    # phrases change nothing that an index stores
    cfg = Config()
    assert dataclasses.replace(cfg, templates=dataclasses.replace(cfg.templates, phrases=("x",))).fingerprint() == cfg.fingerprint()


# -- wiring: single page, clean_many, corpus mode, CLI -----------------------------------------
from pathlib import Path  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

import dedupe  # noqa: E402
from dedupe.cli.app import app  # noqa: E402
from dedupe.models import Document  # noqa: E402

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_9438c1acc4b3994a.txt"
PROMO = "Emportez l'actualité internationale partout avec vous ! Téléchargez l'application France 24"


def _with_phrases(*phrases: str, **templates: object) -> Config:
    cfg = Config()
    return dataclasses.replace(cfg, templates=dataclasses.replace(cfg.templates, phrases=phrases, **templates))


def test_clean_removes_phrases_on_the_seed_and_stays_lossless() -> None:
    text = SEED.read_text(encoding="utf-8")
    plain = dedupe.clean(text)
    res = dedupe.clean(text, config=_with_phrases(PROMO, "Commentaires", "PUBLICITÉ"))
    got = sorted((s.text, s.kind) for s in res.spans if s.rule == "phrase")
    # the promo (glued mid-line) and «Commentaires» (a line of its own) go; the one-word
    # «PUBLICITÉ» glued into a long line is not a whole line, so it stays
    assert [k for _, k in got] == ["template", "template"]
    assert any(PROMO in t for t, _ in got) and any(t.strip() == "Commentaires" for t, _ in got)
    assert PROMO not in res.text and "PUBLICITÉ" in res.text
    assert dedupe.rebuild(res.text, res.spans) == text
    # the within-page repeats are the same as without phrases
    assert [(s.start, s.end) for s in res.spans if s.kind in ("repeat", "near-repeat")] == [
        (s.start, s.end) for s in plain.spans if s.kind in ("repeat", "near-repeat")
    ]
    assert [r.text for r in dedupe.clean_many([text], config=_with_phrases(PROMO, "Commentaires"))] == [
        dedupe.clean(text, config=_with_phrases(PROMO, "Commentaires")).text
    ]


def test_a_repeat_keeps_its_copy_outside_a_phrase() -> None:
    sent = "the quick brown fox jumps over the lazy dog near the river bank today"
    text = f"Advertisement: {sent}\nIntro line here.\n{sent}\nOutro line here.\n"
    res = dedupe.clean(text, config=_with_phrases(f"Advertisement: {sent}"))
    assert res.text.count(sent) == 1 and "Advertisement" not in res.text
    assert dedupe.rebuild(res.text, res.spans) == text


def test_corpus_mode_applies_phrases_with_templates_off() -> None:
    docs = [Document(f"d{i}", f"Body number {i} of the page, with words.\nCookie notice\nMore text {i}.\n", site="s") for i in range(3)]
    cfg = _with_phrases("Cookie notice", enabled=False)
    out = list(dedupe.clean_corpus(docs, config=cfg))
    assert all("Cookie notice" not in r.text for r in out)
    assert all(any(s.rule == "phrase" for s in r.spans) for r in out)
    assert all(dedupe.rebuild(r.text, r.spans) == d.text for r, d in zip(out, docs))


def test_cli_phrases_file(tmp_path: Path) -> None:
    f = tmp_path / "phrases.txt"
    f.write_text(f"# known boilerplate\n\n{PROMO}\nCommentaires\n", encoding="utf-8")
    runner = CliRunner()
    got = runner.invoke(app, ["clean", str(SEED), "--phrases", str(f)])
    assert got.exit_code == 0, got.output
    assert PROMO not in got.stdout and "Commentaires" not in got.stdout
    missing = runner.invoke(app, ["clean", str(SEED), "--phrases", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 4 and "phrases file not found" in missing.output
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(
        '{"id": "%d", "text": "Page %d body text goes here.\\nCommentaires\\n", "site": "s"}\n' % (i, i) for i in range(2)
    ), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    got = runner.invoke(app, ["corpus", str(rows), "--out", str(out), "--no-templates", "--phrases", str(f), "--quiet"])
    assert got.exit_code == 0, got.output
    assert "Commentaires" not in out.read_text(encoding="utf-8")


def test_index_reclean_with_phrases_and_parquet_out(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    runner = CliRunner()
    db = tmp_path / "idx.db"
    bodies = ("The harbour reopened on Monday after the storms.", "Farmers expect a late harvest after a cold spring.")
    for i, body in enumerate(bodies):  # the notice on one page only: no site evidence for it
        page = tmp_path / f"p{i}.txt"
        page.write_text(body + ("\nCookie notice\n" if i == 0 else "\n"), encoding="utf-8")
        assert runner.invoke(app, ["clean", str(page), "--index", str(db), "--id", f"p{i}"]).exit_code == 0
    f = tmp_path / "known.txt"
    f.write_text("Cookie notice\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    got = runner.invoke(app, ["index", "reclean", str(db), "--out", str(out), "--phrases", str(f), "--dedupe-only"])
    assert got.exit_code == 0, got.output
    rows = pq.read_table(out).to_pylist()
    assert [r["id"] for r in rows] == ["p0", "p1"]
    assert [r["text"].strip() for r in rows] == list(bodies)
    assert dict(rows[0]["dedupe"]["removed_chars"]) == {"template": len("\nCookie notice\n") - 1}
