"""Build a :class:`~dedupe.models.CleanResult` from raw removal pieces."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..core.spans import Piece, finish_pieces
from ..models import CleanResult, Span


def assemble(doc_id: str, text: str, pieces: Iterable[Piece], flagged: Iterable[Span] = (), meta: Mapping[str, Any] | None = None) -> CleanResult:
    """Tidy the pieces, cut them out of ``text`` and return the result with its span report.

    ``flagged`` spans are reported but not removed (e.g. cross-page duplicates in report-only mode).
    """
    done = finish_pieces(text, pieces)
    spans = [
        Span(p.start, p.end, text[p.start : p.end], p.kind, p.rule, p.score, p.kept, p.kept_doc, True, p.site_pages)
        for p in done
    ]
    parts: list[str] = []
    pos = 0
    for s in spans:
        parts.append(text[pos : s.start])
        pos = s.end
    parts.append(text[pos:])
    all_spans = sorted([*spans, *flagged], key=lambda s: (s.start, s.end, not s.removed))
    return CleanResult(doc_id, text, "".join(parts), tuple(all_spans), dict(meta or {}))
