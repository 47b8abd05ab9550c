"""Seeded synthetic text: documents with planted near-duplicates, and pages with planted repeats.

Benchmark-only (not part of the package). Everything is a pure function of the seed, so runs are
reproducible across processes and machines (``random.Random``; never the salted ``hash()``).

Building blocks, reusable by other generators (e.g. a multi-page corpus/site generator):

- :class:`Vocab` — a seeded artificial vocabulary with Zipf-like word frequencies. Words are
  lower-case ASCII letters only, so a regex ``\\w+`` tokeniser and dedupe's tokeniser agree.
- :func:`sentence`, :func:`paragraph`, :func:`document` — text of a given length.
- :func:`edit_words` — scattered word substitutions at a given rate (near-duplicates).
- :func:`near_dup_corpus` — documents plus planted near-duplicate pairs at given edit rates.
- :func:`page_with_repeats` / :func:`pages` — pages whose text repeats inside itself (a teaser
  stitched from body sentences, a repeated caption, a lead repeated with one word changed,
  repeated navigation lines), with the planted copies listed.

>>> texts, pairs = near_dup_corpus(20, words=50, dup_rate=0.2, seed=3)
>>> len(texts), sorted({p.rate for p in pairs})
(24, [0.01, 0.05])
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
_CODAS = ["", "", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"]


@dataclass
class Vocab:
    """A seeded vocabulary of ``size`` distinct words with Zipf(``s``) frequencies.

    >>> v = Vocab(seed=1, size=100)
    >>> v.words == Vocab(seed=1, size=100).words, len(set(v.words))
    (True, 100)
    """

    seed: int = 0
    size: int = 20_000
    s: float = 1.05
    words: list[str] = field(init=False)
    _cum: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = random.Random(f"vocab-{self.seed}")
        seen: set[str] = set()
        words: list[str] = []
        while len(words) < self.size:
            n_syl = rng.choice((1, 1, 1, 2, 2, 2, 2, 3))
            w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n_syl))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        weights = [1.0 / (r + 1) ** self.s for r in range(self.size)]
        self._cum = list(itertools.accumulate(weights))

    def word(self, rng: random.Random) -> str:
        return self.words[bisect.bisect_left(self._cum, rng.random() * self._cum[-1])]

    def sample(self, rng: random.Random, n: int) -> list[str]:
        total = self._cum[-1]
        cum, words = self._cum, self.words
        return [words[bisect.bisect_left(cum, rng.random() * total)] for _ in range(n)]


def sentence(rng: random.Random, vocab: Vocab, n_words: int | None = None) -> str:
    """One capitalised sentence with commas and a full stop."""
    n = n_words or rng.randint(6, 24)
    ws = vocab.sample(rng, n)
    ws[0] = ws[0].capitalize()
    out = []
    for i, w in enumerate(ws):
        out.append(w + ("," if 0 < i < n - 1 and rng.random() < 0.08 else ""))
    return " ".join(out) + rng.choice((".", ".", ".", "!", "?"))


def paragraph(rng: random.Random, vocab: Vocab, n_words: int) -> str:
    """Sentences totalling about ``n_words`` words."""
    out: list[str] = []
    left = n_words
    while left > 0:
        k = min(left, rng.randint(6, 24))
        if 0 < left - k < 4:
            k = left
        out.append(sentence(rng, vocab, k))
        left -= k
    return " ".join(out)


def document(rng: random.Random, vocab: Vocab, n_words: int = 300) -> str:
    """A document of exactly ``n_words`` words in paragraphs of 40–120 words."""
    paras: list[str] = []
    left = n_words
    while left > 0:
        k = min(left, rng.randint(40, 120))
        if 0 < left - k < 10:
            k = left
        paras.append(paragraph(rng, vocab, k))
        left -= k
    return "\n\n".join(paras)


def edit_words(rng: random.Random, vocab: Vocab, text: str, rate: float) -> str:
    """Replace ``round(rate * n_words)`` (at least 1) scattered words with random other words.

    Whitespace and punctuation attached to a word are kept, so only the words change.
    """
    parts = text.split(" ")
    n_edit = max(1, round(rate * len(parts)))
    for i in rng.sample(range(len(parts)), n_edit):
        p = parts[i]
        j = 0
        while j < len(p) and p[j].isalpha():
            j += 1
        new = vocab.word(rng)
        while new == p[:j].lower():
            new = vocab.word(rng)
        parts[i] = (new.capitalize() if p[:1].isupper() else new) + p[j:]
    return " ".join(parts)


@dataclass(frozen=True)
class PlantedPair:
    """``texts[b]`` is ``texts[a]`` with ``rate`` of its words replaced."""

    a: int
    b: int
    rate: float


def near_dup_corpus(
    n_docs: int,
    *,
    words: int = 300,
    dup_rate: float = 0.1,
    edit_rates: tuple[float, ...] = (0.01, 0.05),
    seed: int = 0,
    vocab: Vocab | None = None,
) -> tuple[list[str], list[PlantedPair]]:
    """``n_docs`` original documents plus near-duplicates of ``dup_rate * n_docs`` of them.

    Each chosen original gets one copy per edit rate, appended at the end; the planted pairs say
    which. Documents are about ``words`` words long (±20%).
    """
    rng = random.Random(f"corpus-{seed}")
    vocab = vocab or Vocab(seed=seed)
    texts = [document(rng, vocab, rng.randint(int(words * 0.8), int(words * 1.2))) for _ in range(n_docs)]
    n_src = int(round(dup_rate * n_docs / len(edit_rates))) if edit_rates else 0
    pairs: list[PlantedPair] = []
    for src in rng.sample(range(n_docs), min(n_src, n_docs)):
        for rate in edit_rates:
            texts.append(edit_words(rng, vocab, texts[src], rate))
            pairs.append(PlantedPair(src, len(texts) - 1, rate))
    return texts, pairs


@dataclass(frozen=True)
class Page:
    """A page and the character ranges of the copies planted in it (``(start, end, kind)``)."""

    text: str
    planted: tuple[tuple[int, int, str], ...]


_NAV = ["Home", "News", "World", "Politics", "Business", "Sport", "Culture", "Opinion", "Contact"]


def page_with_repeats(rng: random.Random, vocab: Vocab, *, body_words: int = 600) -> Page:
    """A page with navigation, a teaser made of body sentences, a title + lead, a captioned photo
    whose caption repeats, body paragraphs, a lead repeated with one word changed, and a footer.
    """
    nav = " | ".join(rng.sample(_NAV, 6))
    title = sentence(rng, vocab, rng.randint(6, 12))
    lead = sentence(rng, vocab, rng.randint(18, 30))
    caption = sentence(rng, vocab, rng.randint(10, 16)) + " Photo: " + vocab.word(rng).capitalize() + " Press"
    paras = [paragraph(rng, vocab, rng.randint(50, 110)) for _ in range(max(1, body_words // 80))]
    # teaser: two fragments of body paragraphs, cut mid-sentence
    frags = []
    for p in rng.sample(paras, min(2, len(paras))):
        ws = p.split(" ")
        a = rng.randint(0, max(0, len(ws) - 20))
        frags.append(" ".join(ws[a : a + rng.randint(12, 20)]))
    teaser = "… ".join(frags) + "…"
    lead_edit = edit_words(rng, vocab, lead, 0.05)
    footer = f"© {rng.randint(2000, 2025)} {vocab.word(rng).capitalize()} Media. All rights reserved."
    blocks: list[tuple[str, str]] = [
        (nav, "nav"), (teaser, "teaser"), (title, "title"), (lead, "lead"), (caption, "caption"),
    ]
    for i, p in enumerate(paras):
        blocks.append((p, "body"))
        if i == len(paras) // 2:
            blocks.append((caption, "caption-copy"))
    blocks += [(lead_edit, "lead-near-copy"), ("Related: " + title, "title-copy"), (nav, "nav-copy"), (footer, "footer")]
    text_parts: list[str] = []
    planted: list[tuple[int, int, str]] = []
    pos = 0
    for s, kind in blocks:
        if kind.endswith("copy") or kind == "teaser":
            planted.append((pos, pos + len(s), kind))
        text_parts.append(s)
        pos += len(s) + 1
    return Page("\n".join(text_parts), tuple(planted))


def pages(n: int, *, seed: int = 0, body_words: int = 600, vocab: Vocab | None = None) -> list[Page]:
    """``n`` seeded pages with planted repeats."""
    rng = random.Random(f"pages-{seed}")
    vocab = vocab or Vocab(seed=seed)
    return [page_with_repeats(rng, vocab, body_words=body_words) for _ in range(n)]
