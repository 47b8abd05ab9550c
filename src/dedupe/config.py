"""Frozen, validated configuration.

Each level has its own dataclass; :class:`Config` bundles them. Invalid values raise
:class:`~dedupe.errors.ConfigError` naming the field. ``Config.fingerprint()`` is a stable
digest of every setting that changes what is hashed, stored in persistent indexes.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

KEEP_POLICIES = ("context", "first")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def _check_type(name: str, default: Any, value: Any) -> None:
    """A setting read from a file has the type of its default (``"false"`` is not a bool, ``true``
    is not a number); ints are accepted where floats are expected."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{name} must be {type(default).__name__}, got {type(value).__name__} {value!r}")


@dataclass(frozen=True, slots=True)
class WithinConfig:
    """Within-page deduplication.

    Attributes:
        enabled: find repeats inside each page. ``False`` leaves only the site level in corpus
            mode (templates, main text, cross-page blocks, near-duplicate documents), and makes
            ``clean`` of one page return it unchanged.
        min_repeat_tokens: a repeat is a run of at least this many normalised tokens that occurs
            two or more times in the page (exact, after NFKC + case folding, ignoring
            punctuation and whitespace).
        min_repeat_chars: a removed run must also hold at least this many non-space characters
            (guards text without spaces, where a token is one character).
        keep_policy: ``"context"`` keeps the copy in coherent context (complete sentences,
            body-text neighbours); ``"first"`` keeps the first copy.
        near_repeat: also find sentences/blocks repeated with small edits.
        near_repeat_threshold: rapidfuzz ``ratio``/100 a pair of blocks must reach.
        near_repeat_min_tokens: blocks shorter than this are never near-repeat candidates.
        near_repeat_num_perm, near_repeat_bands: MinHash / LSH banding for candidates.
        near_repeat_shingle: token n-gram size of the block shingles.
        artefact_evidence: remove a repeat only with evidence that it is an extraction artefact
            (copies back to back; a copy that is a sentence fragment or cut off by an ellipsis;
            a copy glued to such repeats); other repeats are reported as flagged spans
            (``removed=False``). ``False`` removes every repeat but one copy.
    """

    enabled: bool = True
    min_repeat_tokens: int = 8
    min_repeat_chars: int = 20
    keep_policy: str = "context"
    near_repeat: bool = True
    near_repeat_threshold: float = 0.9
    near_repeat_min_tokens: int = 8
    near_repeat_num_perm: int = 32
    near_repeat_bands: int = 8
    near_repeat_shingle: int = 2
    artefact_evidence: bool = True

    def __post_init__(self) -> None:
        _check(self.min_repeat_tokens >= 2, "within.min_repeat_tokens must be >= 2")
        _check(self.min_repeat_chars >= 0, "within.min_repeat_chars must be >= 0")
        _check(self.keep_policy in KEEP_POLICIES, f"within.keep_policy must be one of {KEEP_POLICIES}, got {self.keep_policy!r}")
        _check(0.0 < self.near_repeat_threshold <= 1.0, "within.near_repeat_threshold must be in (0, 1]")
        _check(self.near_repeat_min_tokens >= 2, "within.near_repeat_min_tokens must be >= 2")
        _check(self.near_repeat_shingle >= 1, "within.near_repeat_shingle must be >= 1")
        _check(
            self.near_repeat_num_perm >= 1 and self.near_repeat_bands >= 1 and self.near_repeat_num_perm % self.near_repeat_bands == 0,
            "within.near_repeat_num_perm must be a positive multiple of within.near_repeat_bands",
        )


@dataclass(frozen=True, slots=True)
class SignatureConfig:
    """Document signatures (MinHash), datasketch-compatible (``scheme="affine32"``).

    Attributes:
        shingle_size: word n-gram size; text without spaces uses character-token n-grams of
            ``char_shingle_size``.
        num_perm: number of permutations (signature length).
        seed: permutation seed, as datasketch's ``MinHash(seed=...)``.
    """

    shingle_size: int = 5
    char_shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1

    def __post_init__(self) -> None:
        _check(self.shingle_size >= 1, "signature.shingle_size must be >= 1")
        _check(self.char_shingle_size >= 1, "signature.char_shingle_size must be >= 1")
        for name in ("num_perm", "seed"):  # whole numbers (1.0 or True would reach numpy's and the kernel's checks)
            v = getattr(self, name)
            _check(not isinstance(v, bool) and hasattr(type(v), "__index__"), f"signature.{name} must be an integer, got {type(v).__name__}")
            object.__setattr__(self, name, operator.index(v))  # a plain int (a numpy one would not go to JSON)
        _check(1 <= self.num_perm <= 4096, "signature.num_perm must be in [1, 4096]")
        _check(0 <= self.seed < 2**32, "signature.seed must be in [0, 2**32)")


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """Site templates (cross-page boilerplate) and main-text selection.

    Attributes:
        enabled: learn and remove site templates in corpus mode.
        min_pages: a span/line is template only if at least this many of the site's pages hold it.
        min_fraction: ... and at least this fraction of the site's pages.
        main_text: second level: locate each page's main text and remove what lies outside it
            (reported as ``off-main``). Switch off for deduplication without main-text selection.
        span_tokens: k of the span fingerprints (token k-grams) counted across a site's pages;
            whole lines shorter than this are fingerprinted as lines.
        mask_digits: digits are masked before fingerprinting (``Publié le : 19/06/2024`` and
            ``Publié le : 02/07/2024`` match).
        line_cost: main text: every line (or segment of a line between template spans) costs
            this many tokens, so short link-like lines weigh little or nothing.
        template_penalty: main text: each template token inside a run costs this many tokens.
        list_penalty: main text: weight per token of free blocks inside a list region (between
            repeats of a template marker on the same page, e.g. "Reply" under each comment).
        list_min_repeats: a template line repeated this many times on a page marks a list region.
        template_unit_cap: main text: a template unit (one line, or one template stretch of a
            line) costs at most this many tokens, so one promo line never splits an article.
        headline_window: main text: the nearest free line (3-40 tokens) before the main run,
            across at most this many template units (byline, date, a share bar), is kept as the headline. 0 = off.
        restore_below: main text: a long template unit (>= 2 * span_tokens tokens) inside the
            main run, held by fewer than this fraction of the site's pages, is kept (an
            article's own headline or paragraph shown as a teaser on other pages). 0 = never.
        phrases: boilerplate phrases the caller knows (``--phrases FILE``: one per line). Each
            is tokenised like page text (case, accents' composition, punctuation and spacing
            ignored; digits literal) and removed from every page as ``template`` with rule
            ``phrase``, in single-page and corpus mode, even when ``enabled`` is off: a phrase of
            at least ``span_tokens`` tokens wherever it occurs, a shorter one only where it is a
            whole line (see :mod:`dedupe.engine.phrases`).
    """

    enabled: bool = True
    min_pages: int = 2
    min_fraction: float = 0.0
    main_text: bool = True
    span_tokens: int = 5
    mask_digits: bool = True
    line_cost: float = 6.0
    template_penalty: float = 2.0
    list_penalty: float = -0.5
    list_min_repeats: int = 3
    restore_below: float = 0.5
    template_unit_cap: int = 8
    headline_window: int = 8
    phrases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.min_pages >= 2, "templates.min_pages must be >= 2")
        _check(0.0 <= self.min_fraction <= 1.0, "templates.min_fraction must be in [0, 1]")
        _check(2 <= self.span_tokens <= 64, "templates.span_tokens must be in [2, 64]")
        _check(self.line_cost >= 0, "templates.line_cost must be >= 0")
        _check(self.template_penalty >= 0, "templates.template_penalty must be >= 0")
        _check(self.list_min_repeats >= 2, "templates.list_min_repeats must be >= 2")
        _check(self.template_unit_cap >= 0, "templates.template_unit_cap must be >= 0 (0 = no cap)")
        _check(self.headline_window >= 0, "templates.headline_window must be >= 0")
        _check(isinstance(self.phrases, tuple), "templates.phrases must be a tuple of str (a list in a config file)")
        for p in self.phrases:
            _check(isinstance(p, str) and any(ch.isalnum() for ch in p), f"templates.phrases: {p!r} has no word to match")


@dataclass(frozen=True, slots=True)
class NearDupConfig:
    """Near-duplicate documents (MinHash + LSH on the cleaned text, verified).

    Attributes:
        enabled: find near-duplicate documents in corpus mode.
        threshold: exact Jaccard similarity (of the shingle sets of the cleaned texts) a pair
            must reach. 0.5: with boilerplate removed, copies with edits stay above it (5%
            scattered word edits already bring word 5-gram Jaccard down to 0.61-0.73), and on the
            ~2,900 real pages of benchmarks/bench_neardup.py it formed no cluster that 0.7 did
            not. LSH (32 bands x 4 rows) proposes a pair at J = 0.5 / 0.6 / 0.7 with
            probability 0.87 / 0.99 / 1.0.
        bands: LSH bands; ``signature.num_perm`` must be a multiple of it.
        canonical: which member of a cluster is canonical: ``first`` (input order), ``longest``,
            ``url`` (smallest URL).
        drop: drop non-canonical documents from the output (default: keep them, flagged).
        min_shingles: documents whose cleaned text has fewer distinct shingles are never
            clustered (an empty or near-empty page is not a near-duplicate of another).
        containment: a pair below ``threshold`` is also joined when at least this fraction of
            the smaller page's shingles is in the larger one (a syndicated copy that kept reader
            comments or extra boxes: cleaned Jaccard 0.30-0.49 on the real pages of
            benchmarks/bench_neardup.py, containment 0.80-0.97). 0 = off (Jaccard only).
        containment_min_ratio: ... only when the smaller page has at least this fraction of the
            larger one's shingles, so a short page quoted inside a much longer, otherwise
            unrelated page (a digest, a round-up) is not joined to it. 0.25: the larger copy may
            carry up to three times the article's size in comments and boxes.
        containment_min_shingles: ... and only when the smaller page has at least this many
            distinct shingles (about as many words): short texts are contained by chance
            (a caption, a standard paragraph).
        containment_bands: LSH bands of the extra candidate pass of the containment rule
            (``signature.num_perm`` must be a multiple of it; 64 bands of 2 rows propose a pair
            at J = 0.2 / 0.3 with probability 0.93 / 0.998). Only pairs whose exact sizes pass
            the two floors above are kept from this pass.
    """

    enabled: bool = True
    threshold: float = 0.5
    bands: int = 32
    canonical: str = "longest"
    drop: bool = False
    min_shingles: int = 5
    containment: float = 0.8
    containment_min_ratio: float = 0.25
    containment_min_shingles: int = 50
    containment_bands: int = 64

    def __post_init__(self) -> None:
        _check(0.0 < self.threshold <= 1.0, "neardup.threshold must be in (0, 1]")
        _check(self.bands >= 1, "neardup.bands must be >= 1")
        _check(self.min_shingles >= 1, "neardup.min_shingles must be >= 1")
        _check(self.canonical in ("first", "longest", "url"), "neardup.canonical must be first, longest or url")
        _check(0.0 <= self.containment <= 1.0, "neardup.containment must be in [0, 1] (0 = off)")
        _check(0.0 <= self.containment_min_ratio <= 1.0, "neardup.containment_min_ratio must be in [0, 1]")
        _check(self.containment_min_shingles >= 1, "neardup.containment_min_shingles must be >= 1")
        _check(self.containment_bands >= 1, "neardup.containment_bands must be >= 1")


CROSSPAGE_POLICIES = ("first", "longest", "url")


@dataclass(frozen=True, slots=True)
class CorpusConfig:
    """Corpus-mode settings beyond templates and near-duplicate documents.

    Attributes:
        crosspage: find cross-page duplicate blocks (lines of at least ``crosspage_min_tokens``
            tokens held by two or more documents, across sites too, that no other rule removed).
        crosspage_min_tokens: shortest block considered, in tokens.
        crosspage_remove: remove such blocks from every page but the canonical one (default:
            report them only, as flagged ``cross-page`` spans).
        crosspage_policy: canonical page of a block: ``first`` (input order), ``longest`` (the
            longest document), ``url`` (smallest URL); ties go to the smallest document id.
        dup_pages_threshold: pages of one site whose RAW texts have an estimated Jaccard of at
            least this, and that nothing tells apart (URL, else canonical link / og:url, else
            the HTML title; see ``neardup.page_id``), are copies of one page (a re-crawl); they
            do not count as template evidence for each other, so their shared body is not taken
            for a template. Pages under two different URLs, or without URL under two different
            titles, are two pages, however alike (see ``neardup.page_groups``).
    """

    crosspage: bool = True
    crosspage_min_tokens: int = 10
    crosspage_remove: bool = False
    crosspage_policy: str = "longest"
    dup_pages_threshold: float = 0.8

    def __post_init__(self) -> None:
        _check(0.0 < self.dup_pages_threshold <= 1.0, "corpus.dup_pages_threshold must be in (0, 1]")
        _check(self.crosspage_min_tokens >= 1, "corpus.crosspage_min_tokens must be >= 1")
        _check(self.crosspage_policy in CROSSPAGE_POLICIES, f"corpus.crosspage_policy must be one of {CROSSPAGE_POLICIES}")


@dataclass(frozen=True, slots=True)
class Config:
    """All settings of a dedupe run.

    >>> Config().within.min_repeat_tokens
    8
    """

    within: WithinConfig = field(default_factory=WithinConfig)
    signature: SignatureConfig = field(default_factory=SignatureConfig)
    templates: TemplateConfig = field(default_factory=TemplateConfig)
    neardup: NearDupConfig = field(default_factory=NearDupConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    max_doc_chars: int = 10_000_000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            want = f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
            if want is not None:
                _check(isinstance(getattr(self, f.name), type(want)), f"{f.name} must be a {type(want).__name__}, got {type(getattr(self, f.name)).__name__}")
        _check(isinstance(self.max_doc_chars, int) and not isinstance(self.max_doc_chars, bool), f"max_doc_chars must be int, got {type(self.max_doc_chars).__name__}")
        _check(self.max_doc_chars >= 1, "max_doc_chars must be >= 1")
        _check(
            self.signature.num_perm % self.neardup.bands == 0,
            "signature.num_perm must be a multiple of neardup.bands",
        )
        _check(
            self.signature.num_perm % self.neardup.containment_bands == 0,
            "signature.num_perm must be a multiple of neardup.containment_bands",
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Build a Config from a (possibly partial) nested dict, e.g. parsed from JSON."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            sub = f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
            if dataclasses.is_dataclass(sub):
                if not isinstance(value, dict):
                    raise ConfigError(f"{f.name} must be an object")
                known = {x.name for x in dataclasses.fields(sub)}
                unknown = set(value) - known
                if unknown:
                    raise ConfigError(f"unknown setting(s) in {f.name}: {sorted(unknown)}")
                for name, v in value.items():
                    _check_type(f"{f.name}.{name}", getattr(sub, name), v)
                value = dataclasses.replace(sub, **{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
            else:
                _check_type(f.name, f.default, value)
            kwargs[f.name] = value
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {sorted(unknown)}")
        return cls(**kwargs)

    def fingerprint(self) -> str:
        """Stable digest of the settings that change what is hashed and stored (tokenisation,
        signatures and their LSH bands, template fingerprints)."""
        payload = {
            "signature": dataclasses.asdict(self.signature),
            "bands": self.neardup.bands,
            "tokenizer": 2,  # 2: case folding (was lower-casing): other token hashes
            "templates": {"span_tokens": self.templates.span_tokens, "mask_digits": self.templates.mask_digits, "scheme": 1},
        }
        import hashlib  # here: the OpenSSL library behind it is ~3.5 MB resident in every process

        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
