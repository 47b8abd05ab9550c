"""Text without spaces (Chinese, Japanese) and other scripts: tokens and repeats (issue 2, point 5).

Only CJK / multilingual behaviour is tested here; the tokenizer's own speed work is tested elsewhere.
"""

from __future__ import annotations

import pytest

import dedupe
from dedupe import Config, WithinConfig
from dedupe.core.tokenize import tokenize

ZH_REPEAT = "北京市政府今天宣布了新的城市交通管理规定。"  # 20 characters + 。
ZH_BODY = [
    "据报道，该规定将于下个月开始实施，涉及公共汽车和地铁线路的调整。",
    "市民可以通过官方网站查询详细内容，并提出意见和建议。",
    "专家认为，这项措施有助于缓解早晚高峰时段的拥堵问题。",
]
JA_REPEAT = "東京都は本日、新しい防災計画を発表しました。"
JA_BODY = [
    "計画には避難所の増設や非常食の備蓄が含まれています。",
    "住民説明会は来週の土曜日に区役所で開かれる予定です。",
]


# these tests are about matching (scripts, case, accents), not about which repeats count as
# extraction artefacts: remove every repeat (see WithinConfig.artefact_evidence)
ALL = Config(within=WithinConfig(artefact_evidence=False))


def tokens_of(text: str) -> list[str]:
    t = tokenize(text)
    return [text[a:b] for a, b in zip(t.start.tolist(), t.end.tolist())]


def test_chinese_is_one_token_per_character() -> None:
    assert tokens_of("北京市政府") == ["北", "京", "市", "政", "府"]
    assert len(tokens_of(ZH_REPEAT)) == 20  # punctuation 。 is not a token


def test_japanese_kana_and_kanji_split_per_character() -> None:
    toks = tokens_of("東京都は本日")
    assert toks == ["東", "京", "都", "は", "本", "日"]
    # half-width katakana is NFKC-normalised to full-width, offsets still point into the original
    t = "ﾆｭｰｽ速報"
    got = tokens_of(t)
    assert "".join(got) in (t, t.replace("ｰ", ""))
    assert all(g in t for g in got)


def test_mixed_scripts_keep_words_whole() -> None:
    assert tokens_of("iPhone发布会2024年 Straße café") == ["iPhone", "发", "布", "会", "2024", "年", "Straße", "café"]


def test_full_width_latin_matches_ascii() -> None:
    a, b = tokenize("ＡＢＣ"), tokenize("abc")
    assert a.hashes.tolist() == b.hashes.tolist()
    assert (int(a.start[0]), int(a.end[0])) == (0, 3)


def test_chinese_page_with_a_repeated_sentence() -> None:
    text = ZH_REPEAT + "\n" + "".join(ZH_BODY[:2]) + ZH_REPEAT + ZH_BODY[2]
    r = dedupe.clean(text, config=ALL)
    assert r.text.count(ZH_REPEAT) == 1
    for s in ZH_BODY:
        assert s in r.text
    assert len(r.removed_spans) == 1 and r.removed_spans[0].kind == "repeat"
    assert r.rebuild() == text


def test_japanese_page_with_a_repeated_sentence() -> None:
    text = JA_REPEAT + JA_BODY[0] + "\n\n" + JA_BODY[1] + JA_REPEAT
    r = dedupe.clean(text, config=ALL)
    assert r.text.count(JA_REPEAT) == 1
    assert all(s in r.text for s in JA_BODY)
    assert r.rebuild() == text


def test_cjk_without_repeats_is_untouched() -> None:
    text = "".join(ZH_BODY) + "\n" + "".join(JA_BODY)
    r = dedupe.clean(text)
    assert r.spans == () and r.text == text


def test_short_common_cjk_phrases_survive() -> None:
    # 「中华人民共和国」 is 7 characters (< min_repeat_chars=20): repeated, but kept everywhere
    phrase = "中华人民共和国国务院"
    assert len(phrase) < WithinConfig().min_repeat_chars
    text = f"{phrase}发布通知。各地要认真落实。{phrase}强调，要加强监督检查工作。{phrase}办公厅印发文件。"
    r = dedupe.clean(text)
    assert r.text == text and r.spans == ()
    # the same text with the char floor off shows the phrase really is a repeat of >= 8 tokens
    loose = dedupe.clean(text, config=Config(within=WithinConfig(min_repeat_chars=0, artefact_evidence=False)))
    assert loose.text.count(phrase) == 1


def test_accents_and_case_match_but_offsets_are_original() -> None:
    import unicodedata

    s1 = "Die Brücke führt über den breiten Fluss zur alten Stadt Köln."
    s2 = unicodedata.normalize("NFD", s1.upper())  # other case, decomposed accents: longer string
    assert len(s2) > len(s1)
    text = s1 + " Zwischen den Sätzen steht etwas anderes hier. " + s2
    r = dedupe.clean(text, config=ALL)
    assert r.rebuild() == text
    assert len(r.removed_spans) == 1
    sp = r.removed_spans[0]
    assert sp.text == text[sp.start : sp.end]
    assert sp.text == s2[: len(sp.text)] or sp.text.strip(" .") == s2.strip(" .")


def test_sharp_s_matches_its_upper_case() -> None:
    s1 = "Die Straße führt über den großen Fluss zur alten Stadt."
    text = s1 + " Zwischen den Sätzen steht etwas anderes hier. " + s1.upper()
    assert len(dedupe.clean(text, config=ALL).removed_spans) == 1
