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


def test_one_long_comment_does_not_break_the_comment_list() -> None:
    rng = random.Random(4)
    pages, articles, longs = [], [], []
    for _ in range(4):
        art = [_para(rng, 40), _para(rng, 40)]
        long_c = [_para(rng, 60) for _ in range(3)]  # one comment of 180 tokens, more than a list gap
        lines = [*NAV, _para(rng, 8), *art, "Comments"]
        for c in range(10):
            lines += [f"{_word(rng)} says:", *(long_c if c == 4 else [_para(rng, 30)]), "Reply"]
        lines += FOOTER
        pages.append("\n".join(lines) + "\n")
        articles.append(art)
        longs.append(long_c)
    for res, art, long_c in zip(_clean_site(pages), articles, longs):
        for para in art:
            assert para in res.text
        # the long comment sits between two "Reply" markers of a list whose median gap is short
        assert not any(p in res.text for p in long_c)


def test_repeated_short_free_lines_mark_a_comment_list() -> None:
    # comments stamped with a time line that is on no other page (no template marker at all)
    def comment(rng: random.Random, i: int, d: int, month: str, c: str) -> list[str]:
        return [f"{_word(rng)} wrote :", c, f"{i}:{d}5 pm {month} {i + 1}, 201{d}"]

    _assert_article_kept_comments_dropped(random.Random(5), 10, comment)


def _assert_article_kept_comments_dropped(rng: random.Random, n_comments: int, comment_lines) -> None:
    """Four pages of a site: nav, a short line, a two-paragraph article, then ``n_comments``
    comments laid out by ``comment_lines(rng, i, page, month, text)``, footer. The article must
    stay on every page and every comment must go."""
    pages, articles, comments = [], [], []
    for d in range(4):
        art = [_para(rng, 40), _para(rng, 40)]
        com = [_para(rng, 30) for _ in range(n_comments)]
        lines = [*NAV, _para(rng, 8), *art]
        month = ["March", "June", "May", "July"][d]
        for i, c in enumerate(com):
            lines += comment_lines(rng, i, d, month, c)
        lines += FOOTER
        pages.append("\n".join(lines) + "\n")
        articles.append(art)
        comments.append(com)
    for res, art, com in zip(_clean_site(pages), articles, comments):
        for para in art:
            assert para in res.text
        assert sum(c in res.text for c in com) == 0


def test_article_on_two_pages_of_a_site_is_kept_on_both() -> None:
    # one article crawled under two URLs of an 8-page site (other teasers around it): its
    # paragraphs are on 2 of 8 pages, template by count, yet they form the page's main text
    rng = random.Random(6)
    shared = [_para(rng, 40) for _ in range(4)]
    pages = []
    for i in range(8):
        body = shared if i in (0, 1) else [_para(rng, 40) for _ in range(4)]
        teasers = [_para(rng, 6) for _ in range(8)]
        pages.append("\n".join([*NAV, *teasers, *body, *FOOTER]) + "\n")
    res = _clean_site(pages)
    for r in res[:2]:
        for para in shared:
            assert para in r.text
    # the same paragraphs on most of the site's pages are a template, and go
    pages_many = ["\n".join([*NAV, *(_para(rng, 6) for _ in range(8)), *shared, _para(rng, 40), *FOOTER]) + "\n" for _ in range(8)]
    for r in _clean_site(pages_many):
        assert not any(p in r.text for p in shared)


def test_comment_headers_with_varying_names_mark_a_list() -> None:
    # "Posted by: <name> | <time> <month> <day>, <year>" under each comment: the name varies, the
    # month differs from page to page (no template evidence), the dated tail repeats on the page
    def comment(rng: random.Random, i: int, d: int, month: str, c: str) -> list[str]:
        return [c, f"Posted by: {_word(rng).title()} {_word(rng).title()} | {i}:{d}5 pm {month} {i + 10}, 201{d}"]

    _assert_article_kept_comments_dropped(random.Random(7), 8, comment)


def test_article_between_a_dated_byline_and_dated_links_is_not_a_list_item() -> None:
    rng = random.Random(8)
    pages, articles = [], []
    for d in range(4):
        art = [_para(rng, 30) for _ in range(3)]
        month = ["March", "June", "May", "July"][d]
        links = [x for i in range(6) for x in (_para(rng, 6), f"by {_word(rng).title()} on {month} {i + 2}, 2007")]
        lines = [*NAV, _para(rng, 8), f"by {_word(rng).title()} on {month} {d + 20}, 2007", *art, "Past Coverage", *links, *FOOTER]
        pages.append("\n".join(lines) + "\n")
        articles.append((art, links[::2]))
    for res, (art, titles) in zip(_clean_site(pages), articles):
        for para in art:
            assert para in res.text
        assert not any(t in res.text for t in titles)


def test_headline_joins_across_a_dateline_with_a_free_place_name() -> None:
    rng = random.Random(9)
    pages, titles = [], []
    for d in range(4):
        title = _para(rng, 7)
        titles.append(title)
        lines = [*NAV, title, f"Published 1{d}/06/2024 - 0{d}:15", f"Filed under World News from {_word(rng).title()}",
                 _para(rng), _para(rng), *FOOTER]
        pages.append("\n".join(lines) + "\n")
    for res, title in zip(_clean_site(pages), titles):
        assert title in res.text


def test_headline_joins_across_byline_date_and_a_five_button_share_bar() -> None:
    rng = random.Random(10)
    pages, titles = [], []
    for d in range(4):
        title = _para(rng, 7)
        titles.append(title)
        lines = [*NAV, title, "By Staff Reporter", f"Published 1{d}/06/2024 - 0{d}:15", "Share this with friends",
                 "Twitter", "Facebook", "Reddit", "Pinterest", _para(rng), _para(rng), *FOOTER]
        pages.append("\n".join(lines) + "\n")
    for res, title in zip(_clean_site(pages), titles):
        assert title in res.text
    cfg6 = Config(templates=dataclasses.replace(TemplateConfig(), headline_window=6))
    assert not any(t in r.text for r, t in zip(_clean_site(pages, cfg6), titles))
