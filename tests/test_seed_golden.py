"""Golden test on the reference page ``seeds/000_9438c1acc4b3994a.txt`` (issue 2, acceptance 1).

The page starts with a garbled teaser stitched together from copies of body text (title, lead,
two runs that start mid-sentence), followed by the article body. The body sentences are taken
by splitting the ORIGINAL body with a simple regex (not from any output of dedupe), and each must
appear exactly once and whole in the cleaned text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dedupe
from dedupe import Config, WithinConfig

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_9438c1acc4b3994a.txt"

TITLE = "Ouverture en grande pompe du sommet entre Vladimir Poutine et Kim Jong-un en Corée du Nord"
LEAD = (
    "Le président russe, Vladimir Poutine, arrivé dans la nuit de mardi à mercredi, en Corée du Nord, "
    "et Kim Jong-un ont assisté à une grande cérémonie sur la place principale de la capitale Pyongyang, "
    "à l'ouverture d'un sommet bilatéral. Les deux hommes ont pour objectif de renforcer les liens "
    "commerciaux et sécuritaires entre leurs pays."
)
CAPTION = (
    "Le dirigeant nord-coréen Kim Jong-un (à droite) salue le président russe, Vladimir Poutine, "
    "sur la place Kim Il-sung à Pyongyang, le 19 juin 2024."
)
HEADING = "Invincibilité et la durabilité\" des relations bilatérales"
SEPTEMBER = (
    "En septembre dernier, Kim Jong-un s'était rendu en train blindé dans l'Extrême-Orient russe "
    "pour un sommet avec le chef du Kremlin axé sur l'espace."
)
RUN_TRAIN = ("rendu en train blindé", "Sergueï Lavrov.")
RUN_ALIM = ("et alimentaire. Selon les Occidentaux", "un cadeau majeur à Pyongyang.")
BODY_START = "France 24 - Infos"  # first words of the article body, after the teaser


@pytest.fixture(scope="module")
def original() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def result(original: str) -> dedupe.CleanResult:
    return dedupe.clean(original)


def squash(s: str) -> str:
    return " ".join(s.split())


def body_of(text: str) -> str:
    start = text.index(BODY_START)
    return text[start:]


def body_sentences(text: str) -> list[str]:
    """Sentences of the original body: split after . ! ? (plus closing quote) before whitespace."""
    parts = re.split(r'(?<=[.!?])["»]?\s+', body_of(text))
    return [p.strip() for p in parts if len(p.strip()) >= 3]


def test_fixture_is_the_reference_page(original: str) -> None:
    # the things the golden test relies on really are repeated in the input
    assert original.count(TITLE) == 2
    assert original.count(LEAD) == 2
    assert original.count(CAPTION) == 2
    assert original.count(SEPTEMBER) == 1
    assert original.index(BODY_START) > original.index(RUN_ALIM[1])  # teaser precedes the body


def test_title_lead_caption_once(result: dedupe.CleanResult) -> None:
    assert result.text.count(TITLE) == 1
    assert result.text.count(LEAD) == 1
    assert result.text.count(CAPTION) == 1


def test_every_body_sentence_once_and_whole(original: str, result: dedupe.CleanResult) -> None:
    sentences = body_sentences(original)
    assert len(sentences) > 25
    missing = [s for s in sentences if result.text.count(s) != 1]
    assert missing == []
    assert SEPTEMBER in result.text


def test_teaser_removed_and_body_kept_verbatim(original: str, result: dedupe.CleanResult) -> None:
    # the whole body (everything from BODY_START) survives except the second caption copy
    body = body_of(original)
    assert body.replace(CAPTION + " ", "", 1) in result.text or body.replace(" " + CAPTION, "", 1) in result.text
    # the teaser's mid-sentence runs are gone from the top of the page
    head = result.text[: result.text.index(BODY_START)]
    assert RUN_TRAIN[0] not in head
    assert RUN_ALIM[0] not in head


def test_short_heading_and_section_kept(original: str, result: dedupe.CleanResult) -> None:
    assert HEADING in result.text
    assert result.text.count(HEADING) == 1
    section = original[original.index("Préoccupations occidentales") : original.index("Emportez l'actualité")]
    assert section in result.text


def _group(result: dedupe.CleanResult, original: str, first_words: str, last_words: str):
    """The removed spans covering a run that starts with first_words and ends with last_words."""
    out = []
    for s in result.removed_spans:
        assert s.text == original[s.start : s.end]
        if first_words in s.text and last_words in s.text:
            out.append(s)
    return out


@pytest.mark.parametrize(
    "first_words,last_words",
    [
        (TITLE[:40], LEAD[-40:]),  # title + lead
        (CAPTION[:40], CAPTION[-30:]),  # caption
        RUN_TRAIN,
        RUN_ALIM,
    ],
)
def test_four_repeat_groups_reported(original: str, result: dedupe.CleanResult, first_words: str, last_words: str) -> None:
    found = _group(result, original, first_words, last_words)
    assert len(found) == 1, [s.text[:60] for s in result.removed_spans]
    span = found[0]
    assert span.kind == "repeat"
    assert span.kept is not None
    ks, ke = span.kept
    kept_text = original[ks:ke]
    # the kept copy lies in the body, survives in the output, and matches the removed copy
    assert ks >= original.index(BODY_START)
    assert kept_text in result.text
    assert kept_text.startswith(first_words) and kept_text.endswith(last_words.rstrip("."))
    # same words as the removed copy (whitespace may differ: the teaser breaks lines)
    core = squash(span.text).rstrip(".")
    assert core in squash(kept_text) or squash(kept_text).rstrip(".") in core
    # kept offsets are not inside any removed span
    assert not any(r.start < ke and ks < r.end for r in result.removed_spans)


def test_exactly_the_four_groups(original: str, result: dedupe.CleanResult) -> None:
    assert len(result.removed_spans) == 4
    assert result.rebuild() == original


def test_first_policy_keeps_the_teaser(original: str, result: dedupe.CleanResult) -> None:
    first = dedupe.clean(original, config=Config(within=WithinConfig(keep_policy="first")))
    assert first.rebuild() == original
    # `first` keeps the garbled teaser at the top and cuts the body copies instead
    assert first.text.startswith(original[:200])
    assert SEPTEMBER not in first.text  # the body sentence loses its repeated tail
    assert sum(1 for s in body_sentences(original) if first.text.count(s) != 1) >= 3
    assert first.text != result.text
