"""Main text by position (engine/maintext.py): robustness cases from the field notes."""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from dedupe.config import Config, TemplateConfig
from dedupe.core.tokenize import tokenize
from dedupe.engine.assemble import assemble
from dedupe.engine.index import MemoryIndex
from dedupe.engine.maintext import _best_run, main_text_pieces
from dedupe.engine.site import site_pieces
from dedupe.engine.templates import doc_fingerprints
from dedupe.models import KIND_OFF_MAIN

NAV = ["Home", "World", "Business", "Sport", "Culture", "Weather", "Opinion", "Video"]
FOOTER = ["About us", "Contact", "Privacy policy", "Terms of use", "Copyright Example Media Group, all rights reserved"]
SHARE = ["Share this article", "Facebook", "Twitter", "Email"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))


def _para(rng: random.Random, n: int = 45) -> str:
    return " ".join(_word(rng) for _ in range(n)).capitalize() + "."


def _clean_site(pages: list[str], cfg: Config | None = None) -> list:
    cfg = cfg or Config()
    index = MemoryIndex()
    toks = [tokenize(t) for t in pages]
    for i, (t, tk) in enumerate(zip(pages, toks)):
        index.observe("s", str(i), doc_fingerprints(t, tk, cfg.templates))
    out = []
    for i, (t, tk) in enumerate(zip(pages, toks)):
        pieces, mask = site_pieces(t, tk, index, "s", cfg)
        assert mask.shape == (len(tk),)
        out.append(assemble(str(i), t, pieces))
    return out


def test_best_run_is_kadane_with_earliest_tie() -> None:
    assert _best_run(np.array([-1.0, 3, -1, 3, -10, 5])) == (1, 3, 5.0)
    assert _best_run(np.array([2.0, -5, 2])) == (0, 0, 2.0)


def test_template_lines_inside_the_article_do_not_split_it() -> None:
    rng = random.Random(1)
    pages, bodies = [], []
    for _ in range(4):
        p = [_para(rng) for _ in range(5)]
        bodies.append(p)
        lines = [*NAV, _para(rng, 9), *SHARE, p[0], "Advertisement", p[1], p[2], *SHARE, p[3],
                 "Get our app: never miss a story again, download it for free today", p[4], *SHARE,
                 "Related stories", *(_para(rng, 7) for _ in range(4)), *FOOTER]
        pages.append("\n".join(lines) + "\n")
    for res, body in zip(_clean_site(pages), bodies):
        for para in body:
            assert para in res.text
        for line in NAV + FOOTER + ["Advertisement", "Share this article"]:
            assert line not in res.text.splitlines()
        assert "Related stories" not in res.text
    # with main text off, the per-page teasers after "Related stories" stay
    res_off = _clean_site(pages, Config(templates=dataclasses.replace(TemplateConfig(), main_text=False)))
    assert not any(s.kind == KIND_OFF_MAIN for r in res_off for s in r.spans)


def test_long_comment_section_after_a_short_article_is_off_main() -> None:
    rng = random.Random(2)
    pages, articles, comments = [], [], []
    for _ in range(4):
        art = [_para(rng, 40), _para(rng, 40)]
        com = []
        lines = [*NAV, _para(rng, 8), *art, "Comments", "Leave a reply"]
        for _ in range(10):
            c = _para(rng, 35)
            com.append(c)
            lines += [f"{_word(rng)} says:", c, "Reply"]
        lines += FOOTER
        pages.append("\n".join(lines) + "\n")
        articles.append(art)
        comments.append(com)
    for res, art, com in zip(_clean_site(pages), articles, comments):
        for para in art:
            assert para in res.text
        # ten comments outweigh the article, yet they are not taken as the main text
        assert sum(c in res.text for c in com) == 0
        off = [s for s in res.spans if s.kind == KIND_OFF_MAIN]
        assert any(com[3] in s.text for s in off)


def test_no_positive_run_removes_nothing() -> None:
    t = "a\nb\nc\n"
    toks = tokenize(t)
    pieces, mask, restored = main_text_pieces(t, toks, np.zeros(len(toks), dtype=bool), TemplateConfig())
    assert pieces == [] and not mask.any() and not restored.any()


def test_headline_joins_the_run_across_byline_and_date() -> None:
    rng = random.Random(3)
    pages, titles = [], []
    for d in range(4):
        title = _para(rng, 9)
        titles.append(title)
        lines = [*NAV, title, "By Staff Reporter", f"Published 1{d}/06/2024 - 0{d}:15", *SHARE,
                 _para(rng), _para(rng), *FOOTER]
        pages.append("\n".join(lines) + "\n")
    for res, title in zip(_clean_site(pages), titles):
        assert title in res.text
    cfg0 = Config(templates=dataclasses.replace(TemplateConfig(), headline_window=0))
    assert not any(t in r.text for r, t in zip(_clean_site(pages, cfg0), titles))
