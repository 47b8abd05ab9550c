"""Fingerprints (engine/templates.py) and template thresholds (engine/site.py)."""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from dedupe.config import Config, TemplateConfig
from dedupe.core.tokenize import tokenize
from dedupe.engine.index import MemoryIndex
from dedupe.engine.site import site_pieces, template_threshold
from dedupe.engine.templates import doc_fingerprints, line_units, masked_hashes
from dedupe.models import KIND_OFF_MAIN, KIND_TEMPLATE

CFG = TemplateConfig()


def fps(text: str, cfg: TemplateConfig = CFG) -> set[int]:
    return set(doc_fingerprints(text, tokenize(text), cfg).tolist())


def test_digit_masking_matches_dates_and_can_be_switched_off() -> None:
    a, b = "Publié le : 19/06/2024 - 01:54 Modifié le", "Publié le : 02/07/2025 - 18:10 Modifié le"
    assert fps(a) == fps(b)
    off = dataclasses.replace(CFG, mask_digits=False)
    assert fps(a, off) != fps(b, off)
    # letters still count
    assert fps(a) != fps("Publié la : 19/06/2024 - 01:54 Modifié le")


def test_short_whole_lines_are_fingerprinted_but_not_the_same_word_mid_line() -> None:
    page1 = "Un long paragraphe d'article sur la politique européenne et ses suites\nPUBLICITÉ\nFin"
    page2 = "Un autre texte qui parle de sport et de football pendant tout l'été\nPUBLICITÉ\nSuite"
    glued = "Un autre texte qui parle de sport PUBLICITÉ et de football pendant tout l'été"
    common = fps(page1) & fps(page2)
    assert len(common) == 1  # only the short line «PUBLICITÉ» (no 5-gram is shared)
    assert not (fps(glued) & common)
    # lines of k tokens or more are covered by k-grams, not as lines
    t = "one two three four five six\nshort line"
    first, end, _ = line_units(t, tokenize(t), masked_hashes(tokenize(t), CFG), CFG.span_tokens)
    assert [(int(a), int(b)) for a, b in zip(first, end)] == [(6, 8)]


def test_fingerprints_sorted_unique_and_deterministic() -> None:
    t = "Home | News | Sport\nHome | News | Sport\nA body sentence that goes on for a while here."
    f = doc_fingerprints(t, tokenize(t), CFG)
    assert f.dtype == np.uint64
    assert (np.diff(f.astype(np.float64)) > 0).all() or len(f) <= 1
    assert np.array_equal(f, np.unique(f))
    assert np.array_equal(f, doc_fingerprints(t, tokenize(t), CFG))


NAV = "Home | World | Business | Sport | Culture | Weather"
FOOT = "Copyright Example News. All rights reserved. Follow us on every network today."


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))


def _site(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pages = []
    for _ in range(n):
        body = "\n".join(" ".join(_word(rng) for _ in range(40)).capitalize() + "." for _ in range(3))
        pages.append(f"{NAV}\nMenu\n{body}\nSuivre\n{FOOT}\n")
    return pages


def _run(pages: list[str], cfg: Config, order: list[int] | None = None) -> list[list[tuple]]:
    index = MemoryIndex()
    for i in order or range(len(pages)):
        index.observe("s", f"d{i}", doc_fingerprints(pages[i], tokenize(pages[i]), cfg.templates))
    out = []
    for t in pages:
        sp, _ = site_pieces(t, tokenize(t), index, "s", cfg)
        out.append(sorted((p.start, p.end, p.kind, p.rule, p.site_pages) for p in sp))
    return out


def _tpl_text(page: str, pieces: list[tuple]) -> str:
    return " ".join(page[s:e] for s, e, kind, *_ in pieces if kind == KIND_TEMPLATE)


def test_threshold_counts_the_page_itself() -> None:
    assert template_threshold(1, 2, 0.0) == 2
    assert template_threshold(10, 2, 0.5) == 5
    assert template_threshold(3, 2, 0.5) == 2
    pages = _site(2)
    cfg = Config(templates=dataclasses.replace(CFG, main_text=False))
    got = _run(pages, cfg)
    for p, pieces in zip(pages, got):
        tpl = _tpl_text(p, pieces)
        assert NAV in tpl and FOOT[:-1] in tpl and "Menu" in tpl and "Suivre" in tpl
    # min_pages=3: two pages are not enough
    cfg3 = Config(templates=dataclasses.replace(CFG, main_text=False, min_pages=3))
    assert all(not pieces for pieces in _run(pages, cfg3))
    # min_fraction: a line on 2 of 4 pages is not on >= 75% of them
    pages4 = _site(4, seed=1)
    pages4[2] = pages4[2].replace("Suivre", "Partager")
    pages4[3] = pages4[3].replace("Suivre", "Imprimer")
    cfg75 = Config(templates=dataclasses.replace(CFG, main_text=False, min_fraction=0.75))
    got = _run(pages4, cfg75)
    assert "Suivre" not in _tpl_text(pages4[0], got[0]) and NAV in _tpl_text(pages4[0], got[0])
    got2 = _run(pages4, Config(templates=dataclasses.replace(CFG, main_text=False)))
    assert "Suivre" in _tpl_text(pages4[0], got2[0])


def test_result_independent_of_observation_order() -> None:
    pages = _site(5, seed=2)
    cfg = Config()
    assert _run(pages, cfg) == _run(pages, cfg, order=[4, 2, 0, 3, 1])


def test_single_page_site_has_no_template_but_main_text_still_runs() -> None:
    page = _site(1)[0]
    got = _run([page], Config())[0]
    assert not [p for p in got if p[2] == KIND_TEMPLATE]
    # main text still drops the short menu lines around the three paragraphs
    off = " ".join(page[s:e] for s, e, kind, *_ in got if kind == KIND_OFF_MAIN)
    assert "Menu" in off and NAV in off
    assert all(line in "".join(page[a:b] for a, b in _kept(page, got)) for line in page.splitlines()[2:5])
    assert not _run([page], Config(templates=dataclasses.replace(CFG, main_text=False)))[0]


def test_common_phrase_on_two_articles_is_not_template() -> None:
    rng = random.Random(5)
    pages = []
    for i in range(8):
        a = " ".join(_word(rng) for _ in range(20))
        b = " ".join(_word(rng) for _ in range(20))
        phrase = " there is a lot of " if i < 2 else " "
        pages.append(f"{NAV}\n{a.capitalize()}{phrase}{b}.\n{FOOT}\n")
    got = _run(pages, Config(templates=dataclasses.replace(CFG, main_text=False)))
    assert "there is a lot of" not in _tpl_text(pages[0], got[0])
    assert NAV in _tpl_text(pages[0], got[0])


def _kept(page: str, pieces: list[tuple]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for s, e, *_ in sorted(pieces):
        out.append((pos, s))
        pos = max(pos, e)
    out.append((pos, len(page)))
    return out
