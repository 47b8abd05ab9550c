"""Frozen result records that flow through dedupe.

Every offset is a half-open Python ``str`` index into the ORIGINAL text of a document:
``Span(start, end, ...)`` means exactly ``original[start:end]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

#: Kinds of removed or flagged spans.
KIND_REPEAT = "repeat"
KIND_NEAR_REPEAT = "near-repeat"
KIND_TEMPLATE = "template"
KIND_OFF_MAIN = "off-main"
KIND_CROSS_PAGE = "cross-page"
KIND_NEAR_DUP_DOC = "near-duplicate-doc"
KINDS = (KIND_REPEAT, KIND_NEAR_REPEAT, KIND_TEMPLATE, KIND_OFF_MAIN, KIND_CROSS_PAGE, KIND_NEAR_DUP_DOC)


@dataclass(frozen=True, slots=True)
class Document:
    """One input page.

    Args:
        id: caller's identifier, unique within a run.
        text: the page text (already extracted from HTML, or to be extracted from ``html``).
        url: optional URL; its host is the site when ``site`` is not given.
        site: optional site key that groups pages sharing a template.
        meta: any other fields of the input row, passed through untouched.
    """

    id: str
    text: str
    url: str | None = None
    site: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Span:
    """A removed (or flagged) span of a document's original text.

    Attributes:
        start, end: half-open offsets into the original text; ``text == original[start:end]``.
        text: the removed characters, including any whitespace or punctuation the tidy pass took.
        kind: one of :data:`KINDS`.
        rule: the rule that fired, e.g. ``"exact-run>=8"``, ``"near-block"``.
        score: confidence or similarity in [0, 1].
        kept: offsets ``(start, end)`` of the canonical copy, or ``None`` when there is none.
        kept_doc: id of the document that holds the canonical copy (``None`` = same document).
        removed: ``False`` for spans that are only reported (flagged), not cut.
        site_pages: for template / cross-page spans, how many of the site's pages hold it.
    """

    start: int
    end: int
    text: str
    kind: str
    rule: str
    score: float
    kept: tuple[int, int] | None = None
    kept_doc: str | None = None
    removed: bool = True
    site_pages: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "kind": self.kind,
            "rule": self.rule,
            "score": round(float(self.score), 4),
            "kept": list(self.kept) if self.kept is not None else None,
        }
        if self.kept_doc is not None:
            d["kept_doc"] = self.kept_doc
        if not self.removed:
            d["removed"] = False
        if self.site_pages is not None:
            d["site_pages"] = self.site_pages
        return d


@dataclass(frozen=True, slots=True)
class CleanResult:
    """The outcome of cleaning one document.

    Attributes:
        doc_id: the document id (``""`` for :func:`dedupe.clean` on a bare string).
        original: the input text, untouched.
        text: the cleaned text: ``original`` with every removed span cut out.
        spans: removed and flagged spans, sorted by ``start``; removed spans are disjoint.
        meta: extra per-document facts (cluster id, canonical flag, …) set by corpus mode.
    """

    doc_id: str
    original: str
    text: str
    spans: tuple[Span, ...]
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def removed_spans(self) -> tuple[Span, ...]:
        return tuple(s for s in self.spans if s.removed)

    def removed_chars(self) -> dict[str, int]:
        """Characters removed, by kind."""
        out: dict[str, int] = {}
        for s in self.spans:
            if s.removed:
                out[s.kind] = out.get(s.kind, 0) + (s.end - s.start)
        return out

    def rebuild(self) -> str:
        """Rebuild the original text from the cleaned text and the removed spans."""
        return rebuild(self.text, self.removed_spans)


def rebuild(cleaned: str, spans: "Iterable[Span | Mapping[str, Any]]") -> str:
    """Insert removed spans back into cleaned text; inverse of cutting them out.

    Works from the report alone: each span carries its text and its offset in the original.
    ``spans``: :class:`Span` objects, or the span dicts of a JSON report (``start``, ``end``,
    ``text``, ``removed``: what ``dedupe clean --format json`` and ``api.report`` write).

    >>> rebuild("a c", [Span(2, 4, "b ", "repeat", "r", 1.0)])
    'a b c'
    >>> rebuild("a c", [{"start": 2, "end": 4, "text": "b ", "removed": True}])
    'a b c'
    """
    cuts = []
    for s in spans:
        if isinstance(s, Span):
            if s.removed:
                cuts.append((s.start, s.end, s.text))
        elif s.get("removed", True):
            cuts.append((int(s["start"]), int(s["end"]), str(s["text"])))
    parts: list[str] = []
    pos_clean = 0  # position in cleaned
    pos_orig = 0  # position in original
    for start, end, text in sorted(cuts, key=lambda c: c[0]):
        take = start - pos_orig
        parts.append(cleaned[pos_clean : pos_clean + take])
        parts.append(text)
        pos_clean += take
        pos_orig = end
    parts.append(cleaned[pos_clean:])
    return "".join(parts)
