"""HTML → text with block structure (one block per line), through resiliparse.

resiliparse (``Resiliparse`` on PyPI, a runtime dependency) is a fast, maintained C++/Cython
HTML parser and text extractor. :func:`html_to_text` keeps all visible text
(``extract_plain_text(main_content=False)``: boilerplate is dedupe's job, not the extractor's),
without alt texts or list bullets, stripped lines, no blank lines: one block per line, the input
corpus mode's line/block rules expect. :func:`read_html` also returns what the page's head says of
its identity (``<title>``, ``<link rel=canonical>``, ``og:url``); :func:`head_meta` is the form a
:class:`~dedupe.models.Document` carries it in (``meta["page"]``, see
:func:`dedupe.engine.neardup.page_id`).

:func:`decode_html` turns bytes into str robustly: BOM → strict UTF-8 → the charset declared in a
``<meta>`` tag (latin-1/ASCII read as cp1252, as browsers do) → cp1252 → UTF-8 with replacement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_LATIN1 = ("latin-1", "latin1", "iso-8859-1", "iso8859-1", "us-ascii", "ascii", "l1")


def check_not_binary(raw: bytes, source: str) -> None:
    """Refuse bytes that are no HTML page: NUL bytes near the start or the end, with no UTF-16
    byte-order mark (UTF-16 text is full of NUL bytes; :func:`decode_html` reads it by its BOM).

    Raises:
        InputError: one line naming ``source``.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return
    if b"\x00" in raw[:65536] or b"\x00" in raw[-65536:]:
        raise InputError(f"{source}: looks like a binary file (NUL bytes), not HTML")


def decode_html(raw: bytes) -> str:
    """Decode HTML bytes: BOM → UTF-8 → declared charset → cp1252 → UTF-8 with replacement.

    >>> decode_html("café".encode("cp1252"))
    'café'
    >>> decode_html(b'<meta charset="koi8-r">' + "мир".encode("koi8-r"))[-3:]
    'мир'
    """
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return raw[len(bom) :].decode(enc, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    m = _META_CHARSET.search(raw[:4096])
    if m:
        enc = m.group(1).decode("ascii", "ignore").lower()
        if enc in _LATIN1:
            enc = "cp1252"
        try:
            return raw.decode(enc)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def _extractor():
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree
    except ImportError:  # pragma: no cover - resiliparse is a runtime dependency
        raise InputError("HTML input needs resiliparse: pip install 'dedupe-spans[html]' (or pip install resiliparse)") from None
    return extract_plain_text, HTMLTree


_TITLE_OPEN = re.compile(r"<title\b[^>]*>", re.I)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.I)
_TITLE_END = re.compile(r"[<\n]")
_HEAD_END = re.compile(r"</head\b|<body\b|<svg\b", re.I)


def close_title(html: str) -> str:
    """``html`` with an unclosed ``<title>`` closed at the end of its first line (or before the
    next tag). A ``<title>`` is raw text up to ``</title>``: left open (truncated or garbled
    archives, e.g. ``<title>BBC SPORTi library-->`` with no end tag), it swallows the whole
    page, and the page comes out with no text at all.

    >>> close_title("<title>News<p>Body</p>")
    '<title>News</title><p>Body</p>'
    >>> close_title("<title>A</title><p>B</p>") == "<title>A</title><p>B</p>"
    True
    >>> close_title("<title>News\\n</head><body><svg><title>icon</title></svg>")[:22]
    '<title>News</title>\\n</'

    """
    m = _TITLE_OPEN.search(html)
    if m is None:
        return html
    close = _TITLE_CLOSE.search(html, m.end())
    # a later </title> ends this title only if the head goes on until it (an inline SVG's
    # <title>icon</title> in the body does not close the page's title)
    if close is not None and not _HEAD_END.search(html, m.end(), close.start()):
        return html
    end = _TITLE_END.search(html, m.end())
    cut = end.start() if end else len(html)
    return html[:cut] + "</title>" + html[cut:]


@dataclass(frozen=True, slots=True)
class HtmlPage:
    """An HTML page read by :func:`read_html`.

    Attributes:
        text: all visible text, one block per line (what :func:`html_to_text` returns).
        title: the document's ``<title>`` (head title; an inline SVG's ``<title>`` is not it),
            whitespace collapsed, or ``None``.
        canonical: the ``href`` of the first non-empty ``<link rel="canonical">``, as written
            (possibly relative), or ``None``.
        og_url: the ``content`` of the first non-empty ``og:url`` ``<meta>`` (``property=`` or
            ``name=``), or ``None``.
    """

    text: str
    title: str | None = None
    canonical: str | None = None
    og_url: str | None = None

    def head_meta(self) -> dict[str, str]:
        """The identity fields that are present, for ``Document.meta["page"]``."""
        return {k: v for k, v in (("title", self.title), ("canonical", self.canonical), ("og_url", self.og_url)) if v}


_WS = re.compile(r"\s+")


def _first(elements: Any, attr: str) -> str | None:
    for e in elements:
        v = _WS.sub(" ", e.getattr(attr) or "").strip()
        if v:
            return v
    return None


def _parse(html: str | bytes) -> Any:
    if isinstance(html, bytes):
        html = decode_html(html)
    _, HTMLTree = _extractor()
    return HTMLTree.parse(close_title(html))


def _text(tree: Any) -> str:
    extract_plain_text, _ = _extractor()
    text = extract_plain_text(tree, main_content=False, alt_texts=False, list_bullets=False)
    lines = (ln.strip() for ln in text.splitlines())
    return "\n".join(ln for ln in lines if ln)


def read_html(html: str | bytes) -> HtmlPage:
    """The visible text of an HTML page (as :func:`html_to_text`) and what its head says of
    its identity: title, canonical link, ``og:url``. One parse for both.

    >>> p = read_html("<html><head><title> Fall  Leaf\\nBunting </title><link rel='Canonical' href='/fall-leaf'>"
    ...               "<meta property='og:url' content='http://ex.com/fall-leaf'></head><body><p>Glue.</p></body></html>")
    >>> p.text, p.title, p.canonical, p.og_url
    ('Glue.', 'Fall Leaf Bunting', '/fall-leaf', 'http://ex.com/fall-leaf')
    >>> p.head_meta()["title"]
    'Fall Leaf Bunting'
    >>> read_html("<p>No head.</p><svg><title>icon</title></svg>").head_meta()
    {}
    """
    tree = _parse(html)
    title = _WS.sub(" ", tree.title or "").strip() or None
    root = tree.head or tree.document
    canonical = og_url = None
    if root is not None:
        canonical = _first(root.query_selector_all('link[rel~="canonical" i]'), "href")
        og_url = _first(root.query_selector_all('meta[property="og:url" i], meta[name="og:url" i]'), "content")
    return HtmlPage(_text(tree), title, canonical, og_url)


def html_to_text(html: str | bytes) -> str:
    """All visible text of an HTML page, one block per line (an unclosed ``<title>`` is closed
    first, see :func:`close_title`).

    >>> html_to_text("<div>Nav <a href='/'>Home</a></div><p>Para one.</p><p>Two<br>lines</p><ul><li>a</li></ul>")
    'Nav Home\\nPara one.\\nTwo\\nlines\\na'
    >>> html_to_text("<html><head><title>Cricket library-->\\n</head><body><p>Match report.</p></body></html>")
    'Match report.'
    """
    return _text(_parse(html))
