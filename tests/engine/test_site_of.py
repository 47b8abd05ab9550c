"""The site key read off a URL: the fast path for plain http(s) URLs equals urlsplit's host."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings, strategies as st

from dedupe.engine.corpus import _url_site


def _by_urlsplit(url: str) -> str:  # the definition (the code before the fast path)
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        host = ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


PIECES = ["http", "https", "HTTP", "ftp", "://", ":", "/", "//", "?", "#", "@", "[", "]", "::1", ".", "-", "www.", "WWW.",
          "example", "Exa", "com", "80", "8080", "x", " ", "\t", "\n", "é", "ß", "%41", "user:pw@", "a.b", "ſ", "httpſ"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=10).map("".join))
def test_fast_host_equals_urlsplit(url: str) -> None:
    assert _url_site(url) == _by_urlsplit(url)


def test_examples() -> None:
    for url in ["https://WWW.Example.com/x", "http://example.com:8080?q", "http://ex.org.", "https://user@h.com/",
                "http://[::1]:80/", "http://exa\tmple.com/", " http://a.b/c ", "https://h.com:80x/", "mailto:x@y.z", "HTTP://A.B#f",
                "httpſ://Example.com/a", "HTTPſ://h.com"]:
        assert _url_site(url) == _by_urlsplit(url), url


def _page_key_by_urlsplit(url: str | None) -> str | None:  # the definition (page_key before its fast path)
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return url.strip()
    if host.startswith("www."):
        host = host[4:]
    path = parts.path
    for tail in ("index.html", "index.htm", "index.php"):
        if path.endswith("/" + tail):
            path = path[: -len(tail)]
    path = path.rstrip("/")
    query = "&".join(q for q in parts.query.split("&") if q and not q.lower().startswith("utm_"))
    return f"{host}{path}" + (f"?{query}" if query else "")


KEY_PIECES = PIECES + ["&", "utm_source=x", "id=3", "index.html", "/index.php", "p/", "\r", "é/", "=", "%20"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(KEY_PIECES), max_size=12).map("".join))
def test_page_key_fast_path_equals_urlsplit(url: str) -> None:
    from dedupe.engine.neardup import page_key

    assert page_key(url) == _page_key_by_urlsplit(url)
    assert page_key("http://" + url) == _page_key_by_urlsplit("http://" + url)


def test_page_key_examples() -> None:
    from dedupe.engine.neardup import _PLAIN_PAGE_URL, page_key

    urls = ["https://WWW.Example.com/x/index.html?utm_a=1&id=2#f?g", "http://h.com?x#y", "http://h.com:80/p/?q=1&&utm_b",
            "http://h.com/p#f", "http://h.com/p\t/q", "http://user@h.com/p", "http://[::1]/x", "https://h.com:8x/p",
            " http://a.b/c/ ", "http://h.com./é?é=1", "HTTP://H.COM", "http:/h.com/p", "ftp://h.com/p",
            "http://h.com/p?a\tb=1", "http://h.com/p?q#a\nb", "http://h.com/p\r?q", "http://h\n.com/p",
            "httpſ://h.com/p", "HTTPſ://Example.com/a"]
    for url in urls:
        assert page_key(url) == _page_key_by_urlsplit(url), url
    assert _PLAIN_PAGE_URL.match("https://www.Example.com/x/index.html?utm_a=1&id=2#f?g")  # the fast path is taken
