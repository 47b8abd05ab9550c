"""``encode_row_parts`` (the ``dedupe`` object formatted directly) equals its reference
``_encode_row_parts_generic`` (``out_row`` through the JSON encoder) for any row, meta and spans,
plain or of other types."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.io import jsonl
from dedupe.models import CleanResult, Span

strs = st.one_of(st.text(max_size=12), st.sampled_from(["", '"', "\\n", "\x00", "é東😀", "\ud800", "dedupe", "text", "id"]))
vals = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**20), st.floats(allow_nan=False), strs, st.lists(st.integers(), max_size=3))
odd = st.one_of(st.none(), st.booleans(), st.integers(0, 5), st.floats(allow_nan=False))


@st.composite
def results(draw):
    orig = draw(st.text(max_size=40))
    spans = []
    for _ in range(draw(st.integers(0, 5))):
        plain = draw(st.booleans())
        a, b = draw(st.integers(0, 40)), draw(st.integers(0, 40))
        spans.append(Span(
            a if plain else draw(st.one_of(st.just(a), odd)), b, "x",
            draw(st.sampled_from(["repeat", "template", "near-repeat", "cross-page", "é\"k"])) if plain else draw(st.one_of(strs, odd)),
            "r", draw(st.sampled_from([1.0, 0.5, 0.12345])), None, None, draw(st.booleans()) if plain else draw(odd), None,
        ))
    meta = draw(st.sampled_from([{}, {"cluster": None}, {"canonical": True}, {"cluster": "c"}, {"canonical": False}, {"canonical": 0}]))
    return CleanResult(draw(strs), orig, draw(st.one_of(st.text(max_size=30), strs, st.just("a\"\\\n\x1f\u2028 é"))), tuple(spans), meta)


@st.composite
def metas(draw):
    if draw(st.booleans()):
        return None
    text_field = draw(st.sampled_from(["text", "body"]))
    id_field = draw(st.sampled_from(["id", "key"]))
    row = draw(st.dictionaries(st.one_of(strs, st.sampled_from(["dedupe", text_field, id_field])), vals, max_size=5))
    if draw(st.booleans()):
        row[text_field] = None
    m = {"row": row, "source": "s", "line": 1}
    if draw(st.booleans()):
        m["text_field"] = text_field
        m["id_field"] = id_field
    return m


@settings(max_examples=500, deadline=None)
@given(strs, metas(), results())
def test_direct_row_parts_equal_the_encoders(doc_id, meta, result):
    assert jsonl.encode_row_parts(doc_id, meta, result) == jsonl._encode_row_parts_generic(doc_id, meta, result)


def test_a_plain_row():
    res = CleanResult("d1", "Nav\nBody text", "Body text", (Span(0, 4, "Nav\n", "template", "span-kgram", 1.0, site_pages=3),), {})
    meta = {"row": {"id": "d1", "text": None, "url": "u", "dedupe": 1, "z": [1]}, "text_field": "text", "id_field": "id"}
    head, tail, report, removed, flagged = jsonl.encode_row_parts("d1", meta, res)
    assert head + b"null" + tail == (jsonl.dumps({**meta["row"], "text": "Body text", "dedupe": {
        "original_chars": 13, "cleaned_chars": 9, "removed_chars": {"template": 4}, "flagged_spans": {},
        "cluster": None, "canonical": True}})).encode()
    assert removed == {"template": 4} and flagged == {}
