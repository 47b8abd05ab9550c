"""The slow normalisation path's expansion tables (one BMP character whose NFKC + case-folded
form is not one character: «ß», «…», «ﬁ», «Ⅻ») equal the per-cluster reference: every BMP
character, and texts with few (copied one by one) and many (one gather) expansions."""

from __future__ import annotations

from dedupe.core.normalize import _normalize_slow, _normalize_slow_reference


def _same(text: str) -> None:
    a, b = _normalize_slow(text), _normalize_slow_reference(text)
    assert a.text == b.text
    assert a.orig_start.tolist() == b.orig_start.tolist() and a.orig_end.tolist() == b.orig_end.tolist()


def test_every_bmp_character_after_a_starter_and_alone():
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    _same("x".join(chars))
    _same("".join(chars[:5000]))
    for c in ("\u0301", "ß", "…", "ﬁ", "Ⅻ", "\u0345", "\ufdfa"):
        _same(c)


def test_few_and_many_expansions():
    _same("Straße…")
    _same("Die Straße und die Größe, groß und gießen. " * 30 + "ﬁn… Ⅻ e\u0301 😀 \u1100\u1161")
    _same("ß" * 17)
    _same("ß" * 16 + "\u0301")


def test_bmp_tables_follow_their_definition():
    import unicodedata

    from dedupe.core.normalize import _UNMAPPED, _bmp_tables

    comb, single = _bmp_tables()
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            assert not comb[cp] and single[cp] == _UNMAPPED
            continue
        m = unicodedata.normalize("NFKC", chr(cp)).casefold()
        assert comb[cp] == (unicodedata.combining(chr(cp)) != 0)
        assert single[cp] == (ord(m) if len(m) == 1 else _UNMAPPED)
