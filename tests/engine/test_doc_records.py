"""The corpus driver's page records keep each text as its code units (the text kernel's
``raw_str``): decoded with or without the kernel, every str comes back equal, lone surrogates
included (a pair of lone surrogates must not become one astral character)."""

from __future__ import annotations

import pytest

from dedupe.engine import corpus as ec
from dedupe.models import Document

TEXTS = ["", "plain ascii", "Publié le : 19/06", "€ and — and ’", "東京 world", "𝄞 astral", "\ud800\udc00 two lone", "a\udfffb", "ÿ" * 3]


@pytest.mark.parametrize("text", TEXTS)
def test_records_give_back_the_text_with_and_without_the_kernel(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = Document("d", text, url="https://x.test/a", site="x")
    blob = ec._encode_doc(doc, with_meta=True)
    for kernel in (ec._TEXT_K, None):
        monkeypatch.setattr(ec, "_TEXT_K", kernel)
        back, _ = ec._decode_doc_meta(blob)
        assert back.text == text and len(back.text) == len(text)
        assert ec._doc_text(blob) == text and ec._decode_doc(blob) == Document("d", text, "https://x.test/a", "x")


def test_records_written_without_the_kernel_hold_the_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ec, "_TEXT_K", None)
    blob = ec._encode_doc(Document("d", "é€"))
    import pickle

    assert pickle.loads(blob)[1] == "é€" and ec._doc_text(blob) == "é€"


def test_astral_texts_stay_utf8_and_bad_code_units_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    if ec._TEXT_K is None:
        pytest.skip("text kernel not built")
    blob = ec._encode_doc(Document("d", "emoji 😀 in a long text"))
    assert pickle.loads(blob)[1] == "emoji 😀 in a long text"  # 4 bytes a character as code units: kept as str
    with pytest.raises(ValueError):
        ec._TEXT_K.from_raw(4, b"\xff\xff\xff\xff")
    with pytest.raises(ValueError):
        ec._TEXT_K.from_raw(2, b"abc")
