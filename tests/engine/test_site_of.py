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
          "example", "Exa", "com", "80", "8080", "x", " ", "\t", "\n", "é", "ß", "%41", "user:pw@", "a.b"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=10).map("".join))
def test_fast_host_equals_urlsplit(url: str) -> None:
    assert _url_site(url) == _by_urlsplit(url)


def test_examples() -> None:
    for url in ["https://WWW.Example.com/x", "http://example.com:8080?q", "http://ex.org.", "https://user@h.com/",
                "http://[::1]:80/", "http://exa\tmple.com/", " http://a.b/c ", "https://h.com:80x/", "mailto:x@y.z", "HTTP://A.B#f"]:
        assert _url_site(url) == _by_urlsplit(url), url
