"""HTML → text with block structure (one block per line), through resiliparse.

resiliparse (``Resiliparse`` on PyPI, a runtime dependency) is a fast, maintained C++/Cython
HTML parser and text extractor. :func:`html_to_text` keeps all visible text
(``extract_plain_text(main_content=False)``: boilerplate is dedupe's job, not the extractor's),
without alt texts or list bullets, stripped lines, no blank lines: one block per line, the input
corpus mode's line/block rules expect.

:func:`decode_html` turns bytes into str robustly: BOM → strict UTF-8 → the charset declared in a
``<meta>`` tag (latin-1/ASCII read as cp1252, as browsers do) → cp1252 → UTF-8 with replacement.
"""

from __future__ import annotations

import re

from ..errors import InputError

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_LATIN1 = ("latin-1", "latin1", "iso-8859-1", "iso8859-1", "us-ascii", "ascii", "l1")


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


def html_to_text(html: str | bytes) -> str:
    """All visible text of an HTML page, one block per line (an unclosed ``<title>`` is closed
    first, see :func:`close_title`).

    >>> html_to_text("<div>Nav <a href='/'>Home</a></div><p>Para one.</p><p>Two<br>lines</p><ul><li>a</li></ul>")
    'Nav Home\\nPara one.\\nTwo\\nlines\\na'
    >>> html_to_text("<html><head><title>Cricket library-->\\n</head><body><p>Match report.</p></body></html>")
    'Match report.'
    """
    extract_plain_text, HTMLTree = _extractor()
    if isinstance(html, bytes):
        html = decode_html(html)
    html = close_title(html)
    tree = HTMLTree.parse(html)
    text = extract_plain_text(tree, main_content=False, alt_texts=False, list_bullets=False)
    lines = (ln.strip() for ln in text.splitlines())
    return "\n".join(ln for ln in lines if ln)
