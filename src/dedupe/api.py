"""The facade ETL code imports: ``dedupe.clean`` and friends."""

from __future__ import annotations

from ._version import __version__
from .config import Config
from .core.tokenize import tokenize
from .engine.assemble import assemble
from .engine.within import within_pieces
from .errors import InputError
from .models import CleanResult


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
    pieces, _ = within_pieces(text, toks, cfg.within)
    return assemble(doc_id, text, pieces)


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
