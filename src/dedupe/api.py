"""The facade ETL code imports: ``dedupe.clean`` and friends."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from ._version import __version__
from .config import Config
from .core.tokenize import tokenize, tokenize_batch
from .engine import phrases
from .engine.assemble import assemble
from .engine.phrases import phrase_pieces
from .engine.within import flagged_spans, within_analysis, within_analysis_many
from .errors import InputError
from .engine.corpus import run_corpus
from .engine.index import IndexStore
from .io.jsonl import as_document
from .models import CleanResult, Document

if TYPE_CHECKING:
    import numpy as np

    from .core.spans import Piece
    from .core.tokenize import Tokens
    from .engine.indexing import Index


def clean(text: str, *, config: Config | None = None, doc_id: str = "") -> CleanResult:
    """Clean one page: remove repeated and near-repeated spans, keep one canonical copy of each.

    Args:
        text: the page text.
        config: settings (defaults: :class:`~dedupe.config.Config`).
        doc_id: id carried into the result.

    Returns:
        a :class:`~dedupe.models.CleanResult`: cleaned text plus every removed span with offsets
        into ``text``, the reason, the kept copy and a score.

    Raises:
        InputError: ``text`` is not a str or is longer than ``config.max_doc_chars``.

    >>> r = clean("Breaking news today here now. " * 3)
    >>> r.text
    'Breaking news today here now. '
    >>> r.rebuild() == "Breaking news today here now. " * 3
    True
    """
    cfg = config or Config()
    if not isinstance(text, str):
        raise InputError(f"text must be a str, got {type(text).__name__}")
    if len(text) > cfg.max_doc_chars:
        raise InputError(f"document has {len(text):,} characters, more than max_doc_chars={cfg.max_doc_chars:,}")
    toks = tokenize(text)
    pp, pm = _phrases(text, toks, cfg)
    res = within_analysis(text, toks, cfg.within, excluded=pm)
    return assemble(doc_id, text, pp + res.pieces, flagged_spans(text, res.flagged))


def _phrases(text: str, toks: "Tokens", cfg: Config) -> "tuple[list[Piece], np.ndarray | None]":
    """The caller's ``templates.phrases`` on one page: (pieces, token mask), or ``([], None)``."""
    if not cfg.templates.phrases:
        return [], None
    return phrase_pieces(text, toks, phrases.for_config(cfg.templates))


def clean_many(texts: "Iterable[str]", *, config: Config | None = None) -> list[CleanResult]:
    """Clean many pages: the same results as ``[clean(t, config=config) for t in texts]``,
    faster on batches of pages (tokenising, sentence splitting and the MinHash/LSH candidate
    search of the near-repeat pass run over ~64 pages at a time).

    Raises:
        InputError: a text is not a str or is longer than ``config.max_doc_chars`` (nothing is
            cleaned).

    >>> [r.text for r in clean_many(["One two three.", "Breaking news today here now. " * 3])]
    ['One two three.', 'Breaking news today here now. ']
    """
    cfg = config or Config()
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text {i}: text must be a str, got {type(text).__name__}")
        if len(text) > cfg.max_doc_chars:
            raise InputError(f"text {i}: document has {len(text):,} characters, more than max_doc_chars={cfg.max_doc_chars:,}")
    out: list[CleanResult] = []
    i = 0
    while i < len(texts):
        j, size = i, 0  # batches of up to 64 pages and about 1M characters
        while j < len(texts) and j - i < 64 and (size == 0 or size + len(texts[j]) <= 1_000_000):
            size += len(texts[j])
            j += 1
        batch = texts[i:j]
        toks_list = tokenize_batch(batch)
        ph = [_phrases(text, toks, cfg) for text, toks in zip(batch, toks_list)]
        masks = [pm for _, pm in ph] if cfg.templates.phrases else None
        for text, (pp, _), res in zip(batch, ph, within_analysis_many(batch, toks_list, cfg.within, masks)):
            out.append(assemble("", text, pp + res.pieces, flagged_spans(text, res.flagged)))
        i = j
    return out


def report(result: CleanResult, config: Config | None = None) -> dict:
    """The JSON-ready span report of one result: version, config, spans and counts.

    Together with ``result.text`` it rebuilds the original (see :func:`dedupe.rebuild`).
    """
    cfg = config or Config()
    return {
        "dedupe_version": __version__,
        "config": cfg.to_dict(),
        "doc_id": result.doc_id,
        "original_chars": len(result.original),
        "cleaned_chars": len(result.text),
        "removed_chars": result.removed_chars(),
        "spans": [s.to_dict() for s in result.spans],
    }


def _as_documents(docs: "Iterable[Document | Mapping[str, Any]]", max_chars: int) -> "Iterator[Document]":
    for n, d in enumerate(docs, start=1):
        yield as_document(d, max_chars=max_chars, n=n)


def clean_corpus(
    docs: "Iterable[Document | Mapping[str, Any]]",
    *,
    config: Config | None = None,
    workers: int = 1,
    dedupe_only: bool = False,
    index: "IndexStore | None" = None,
    order: str = "input",
    progress: "Callable[[str, int, int | None], None] | None" = None,
) -> "Iterator[CleanResult]":
    """Clean many pages: site templates, main text, within-page repeats, cross-page duplicates,
    near-duplicate documents.

    Args:
        docs: :class:`~dedupe.models.Document` objects or dicts ``{"id", "text" | "html",
            "url"?, "site"?}``; ids must be unique. A list is read twice; any other iterable is
            spilled to a temporary file.
        config: settings (defaults: :class:`~dedupe.config.Config`).
        workers: processes for per-document work; the output does not depend on it.
        dedupe_only: no main-text selection (templates and repeats are still removed).
        index: an index store holding evidence from earlier runs (default: a fresh in-memory one).
        order: ``"input"`` or ``"id"`` (sorted by id: independent of the input order).
        progress: called as ``progress(stage, done, total)`` (see :func:`dedupe.engine.corpus.run_corpus`).

    Returns:
        an iterator of :class:`~dedupe.models.CleanResult`, one per document, with ``meta``
        ``cluster`` (canonical id of its near-duplicate cluster, or None), ``canonical`` and
        ``removed_chars``.

    Raises:
        InputError: a bad document (missing/non-str text, duplicate id, over ``max_doc_chars``).

    >>> rs = list(clean_corpus([{"id": "a", "text": "One two three."}, {"id": "b", "text": "Four five."}]))
    >>> [(r.doc_id, r.text, r.meta["canonical"]) for r in rs]
    [('a', 'One two three.', True), ('b', 'Four five.', True)]
    """
    cfg = config or Config()
    if isinstance(docs, (list, tuple)):
        docs = list(_as_documents(docs, cfg.max_doc_chars))
    else:
        docs = _as_documents(docs, cfg.max_doc_chars)
    return run_corpus(docs, cfg, index=index, workers=workers, dedupe_only=dedupe_only, order=order, progress=progress)


def open_index(path: "str | os.PathLike[str]", *, config: Config | None = None, store_text: bool = True, dedupe_only: bool = False) -> "Index":
    """Open (or create) a persistent index: corpus mode that remembers earlier pages.

    Args:
        path: the SQLite index file (created when missing).
        config: settings; default the ones stored in the index (or the defaults for a new one).
            An index refuses settings that change its hashes (shingles, permutations, bands).
        store_text: keep each page's original and cleaned text (Zstandard) so earlier pages can be
            re-cleaned and near-duplicates verified exactly (new indexes only).
        dedupe_only: no main-text selection.

    Returns:
        an :class:`~dedupe.engine.indexing.Index` (a context manager): ``observe(docs)``,
        ``clean(doc)``, ``corpus(docs)``, ``reclean(ids | site=...)``, ``stats()``, ``forget(...)``.

    Raises:
        IndexStoreError: ``path`` is not a dedupe index or is damaged (nothing is written).
        IndexConfigMismatch: the index was built with other hashing settings.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d, open_index(os.path.join(d, "crawl.db")) as idx:
    ...     idx.clean({"id": "a", "text": "Some page text here.", "site": "example.org"}).text
    'Some page text here.'
    """
    from .stores import open_index as _open

    return _open(path, config=config, store_text=store_text, dedupe_only=dedupe_only)
