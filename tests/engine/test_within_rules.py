"""Within-page rules: artefact evidence (remove vs flag), periodic runs, the ``excluded`` mask.

Texts are built from distinct random words so that the only repeats are the planted ones.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe import Config, WithinConfig
from dedupe.core.tokenize import tokenize
from dedupe.engine.within import exact_repeats, within_analysis, within_pieces

REMOVE_ALL = Config(within=WithinConfig(artefact_evidence=False))


def words(rng: random.Random, n: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        w = "".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def sentence(ws: list[str]) -> str:
    return ws[0].capitalize() + " " + " ".join(ws[1:]) + "."


def body(rng: random.Random, n_sent: int, n_words: int = 12) -> list[str]:
    ws = words(rng, n_sent * n_words)
    return [sentence(ws[i * n_words : (i + 1) * n_words]) for i in range(n_sent)]


def removed_text(r: dedupe.CleanResult) -> str:
    return " ".join(s.text for s in r.removed_spans)


# ---------------------------------------------------------------- evidence: removed


def test_caption_printed_twice_back_to_back_is_removed() -> None:
    rng = random.Random(1)
    b = body(rng, 6)
    caption = sentence(words(rng, 14))
    text = " ".join(b[:3]) + "\n" + caption + " " + caption + "\n" + " ".join(b[3:])
    r = dedupe.clean(text)
    assert r.text.count(caption) == 1
    assert all(s in r.text for s in b)
    (span,) = r.removed_spans
    assert span.rule.endswith("/adjacent")


def test_teaser_of_fragments_is_removed_and_body_kept() -> None:
    rng = random.Random(2)
    b = body(rng, 8, 16)
    # a teaser stitched from two pieces of body sentences that start mid-sentence
    frag1 = " ".join(b[2].split()[5:15])
    frag2 = " ".join(b[5].split()[3:14])
    title = sentence(words(rng, 9))
    text = title + "\n\n" + "Intro text here. " + frag1 + ". " + frag2 + "\n\n" + " ".join(b)
    r = dedupe.clean(text)
    assert all(s in r.text for s in b), "every body sentence survives whole"
    assert frag1 not in r.text[: r.text.index(b[0])]
    assert {s.rule.rsplit("/", 1)[1] for s in r.removed_spans} <= {"fragment", "joined"}
    assert r.rebuild() == text


def test_truncated_teaser_is_removed() -> None:
    rng = random.Random(3)
    b = body(rng, 6, 14)
    head = " ".join(b[1].split()[:10])  # a capitalised sentence start, cut off with an ellipsis
    text = head + "…\n\n" + " ".join(b)
    r = dedupe.clean(text)
    assert r.text.strip().startswith(b[0][:20])
    assert all(s in r.text for s in b)
    assert any(s.rule.endswith("/truncated") for s in r.removed_spans)


def test_unit_glued_to_a_fragment_is_removed_too() -> None:
    rng = random.Random(4)
    b = body(rng, 8, 14)
    title = sentence(words(rng, 10))
    frag = " ".join(b[4].split()[4:])  # lower-case start, right after the title's full stop
    text = title + " " + frag + "\n\n" + " ".join(b[:2]) + " " + title + " " + " ".join(b[2:])
    r = dedupe.clean(text)
    assert r.text.count(title) == 1 and all(s in r.text for s in b)
    rules = sorted(s.rule.rsplit("/", 1)[1] for s in r.removed_spans)
    assert rules == ["fragment", "joined"] or rules == ["fragment"] and title not in r.text[:50]


# ---------------------------------------------------------------- no evidence: flagged, text unchanged


def test_forum_quote_is_flagged_not_removed() -> None:
    rng = random.Random(5)
    post = " ".join(body(rng, 3))
    reply = sentence(words(rng, 10))
    other = " ".join(body(rng, 2))
    text = f"alice\n{post}\n----\nbob\n{other}\n----\ncarol\nQuote from alice:\n{post}\n{reply}\n"
    r = dedupe.clean(text)
    assert r.text == text
    flagged = [s for s in r.spans if not s.removed]
    assert len(flagged) == 1 and post.rstrip(".") in flagged[0].text  # "alice" + post, also quoted
    assert flagged[0].kept is not None and post.rstrip(".") in text[slice(*flagged[0].kept)]
    # the same page with artefact_evidence=False: one copy goes
    assert dedupe.clean(text, config=REMOVE_ALL).text.count(post) == 1


def test_table_of_contents_and_headings_are_kept() -> None:
    rng = random.Random(6)
    heads = [sentence(words(rng, 9)).rstrip(".") for _ in range(4)]
    toc = "\n".join(f"{i + 1}. {h}" for i, h in enumerate(heads))
    sections = "\n\n".join(f"{i + 1}. {h}\n" + " ".join(body(rng, 3)) for i, h in enumerate(heads))
    text = "Contents\n" + toc + "\n\n" + sections
    r = dedupe.clean(text)
    assert r.text == text and r.removed_spans == ()
    assert len([s for s in r.spans if not s.removed]) == 4


def test_list_items_repeated_far_apart_are_kept() -> None:
    rng = random.Random(7)
    item = "Available from: " + " ".join(words(rng, 8)) + " Plus Postage."
    recs = [" ".join(body(rng, 2)) + "\n" + item for _ in range(3)]
    text = "\n\n".join(recs)
    r = dedupe.clean(text)
    assert r.text == text


def test_flagged_spans_survive_the_report_round_trip() -> None:
    rng = random.Random(8)
    para = " ".join(body(rng, 2))
    text = para + "\n\n" + " ".join(body(rng, 2)) + "\n\n" + para
    r = dedupe.clean(text)
    d = dedupe.api.report(r)
    assert [s["removed"] for s in d["spans"]] == [False]
    assert r.rebuild() == text and dedupe.rebuild(r.text, r.spans) == text


# ---------------------------------------------------------------- periodic runs (task: "X X X")


def test_back_to_back_short_unit_keeps_one_copy() -> None:
    unit = "Breaking news today here now. "
    for m in (3, 4, 7):
        r = dedupe.clean(unit * m)
        assert r.text == unit
        assert r.rebuild() == unit * m
        assert all(s.rule.startswith("periodic-run/5-tokens") for s in r.removed_spans)
        assert all(r.original[slice(*s.kept)] == unit.strip().rstrip(".") for s in r.removed_spans)


def test_two_copies_of_a_short_unit_are_not_a_repeat() -> None:
    unit = "Breaking news today here now. "  # 5 tokens: twice is 5 repeated tokens < 8
    assert dedupe.clean(unit * 2).text == unit * 2


def test_one_word_repeated_is_not_a_unit() -> None:
    text = "It was very very very very very very very very very very good indeed, they said."
    assert dedupe.clean(text).text == text


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 7), st.integers(2, 6), st.integers(0, 5), st.integers(0, 5))
def test_periodic_run_matches_reference(seed: int, d: int, m: int, n_pre: int, n_suf: int) -> None:
    rng = random.Random(seed)
    ws = words(rng, d + n_pre + n_suf)
    unit, pre, suf = ws[:d], ws[d : d + n_pre], ws[d + n_pre :]
    seq = pre + unit * m + suf
    text = " ".join(seq)
    cfg = Config(within=WithinConfig(min_repeat_chars=0))
    r = dedupe.clean(text, config=cfg)
    k = cfg.within.min_repeat_tokens
    # reference: prefix + unit * m + suffix of distinct words comes back as prefix + unit + suffix
    # when the repeated material, (m - 1) * d tokens, reaches k; otherwise unchanged
    expected = pre + unit + suf if (m - 1) * d >= k else seq
    got = [r.text[a:b] for a, b in zip(tokenize(r.text).start.tolist(), tokenize(r.text).end.tolist())]
    assert got == expected
    assert r.rebuild() == text


# ---------------------------------------------------------------- excluded tokens


def tok_range(toks, a: int, b: int) -> tuple[int, int]:
    return int(np.searchsorted(toks.start, a)), int(np.searchsorted(toks.end, b))


def test_excluded_copy_is_never_kept() -> None:
    rng = random.Random(9)
    rep = sentence(words(rng, 12))
    b = body(rng, 4)
    text = rep + "\n" + " ".join(b[:2]) + " " + rep + " " + " ".join(b[2:]) + " " + rep
    toks = tokenize(text)
    excl = np.zeros(len(toks), dtype=bool)
    excl[:12] = True  # the first copy belongs to a template the site level removes
    cfg = WithinConfig(artefact_evidence=False)
    pieces, removed = within_pieces(text, toks, cfg, excluded=excl)
    assert len(pieces) == 1
    p = pieces[0]
    ka, kb = tok_range(toks, *p.kept)
    assert not excl[ka : kb + 1].any()  # the kept copy is a free one (the 2nd), not the template one
    a, b2 = tok_range(toks, p.start, p.end)
    assert not excl[a : b2 + 1].any() and not removed[excl].any()
    # without the mask the first copy is kept (context ties go to the earliest)
    pieces0, _ = within_pieces(text, toks, cfg)
    assert len(pieces0) == 2 and all(k.kept[0] == 0 for k in pieces0)  # type: ignore[index]


def test_every_copy_excluded_gives_nothing() -> None:
    rng = random.Random(10)
    rep = sentence(words(rng, 12))
    text = rep + " " + " ".join(body(rng, 2)) + " " + rep
    toks = tokenize(text)
    excl = np.zeros(len(toks), dtype=bool)
    excl[:3] = True
    excl[-3:] = True
    res = within_analysis(text, toks, WithinConfig(artefact_evidence=False), excluded=excl)
    assert res.pieces == [] and res.flagged == [] and not res.removed.any()


def test_excluded_mask_length_is_checked() -> None:
    toks = tokenize("a b c")
    try:
        within_analysis("a b c", toks, WithinConfig(), excluded=np.zeros(2, dtype=bool))
    except ValueError as e:
        assert "excluded" in str(e)
    else:
        raise AssertionError("a mask of the wrong length must be refused")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["wa", "wb", "wc", "wd"]), max_size=60),
    st.integers(2, 5),
    st.lists(st.booleans(), max_size=60),
    st.sampled_from(["first", "context"]),
)
def test_exact_pass_respects_excluded(ws: list[str], k: int, ex: list[bool], policy: str) -> None:
    text = " ".join(ws)
    toks = tokenize(text)
    n = len(toks)
    excl = np.array((ex + [False] * n)[:n], dtype=bool)
    cfg = WithinConfig(min_repeat_tokens=k, min_repeat_chars=0, keep_policy=policy, near_repeat=False, artefact_evidence=False)
    pieces, removed, _ = exact_repeats(text, toks, cfg, excl)
    assert not (removed & excl).any()
    grams: dict[tuple[str, ...], list[int]] = {}
    for i in range(n - k + 1):
        grams.setdefault(tuple(ws[i : i + k]), []).append(i)
    for p in pieces:
        a, b = tok_range(toks, p.start, p.end)
        ka, kb = tok_range(toks, *p.kept)  # type: ignore[misc]
        assert ws[a : b + 1] == ws[ka : kb + 1]
        assert not excl[a : b + 1].any()
        assert not excl[ka : kb + 1].any(), "a kept copy never touches an excluded token"
        assert not removed[ka : kb + 1].any()
    # a k-gram with a fully free occurrence keeps one intact; a k-gram whose every occurrence
    # touches the mask is left alone (nothing removed only because of it)
    for g, starts in grams.items():
        if len(starts) < 2:
            continue
        free = [s for s in starts if not excl[s : s + k].any()]
        if free:
            assert any(not removed[s : s + k].any() for s in free), g
