"""Seeded generator of multi-site corpora for the corpus-mode benchmark (JSONL).

Every site has a language (English, French, German or Chinese) and a template: a navigation
line, a dated line whose digits change per page («Publié le : 19/06/2024 - 01:54»), short
markers, an app promo and a footer, plus a per-site sidebar of rotating headlines. Bodies are
random sentences over a large per-language vocabulary (so unrelated pages share no long runs).
Planted: within-page repeats (a run of a page's body copied as a teaser, ~30% of pages) and
near-duplicate documents (~3% of pages re-published on another site of the same language with
~2% of words changed).

Run: ``python benchmarks/gen_corpus.py --mb 25 --seed 0 --out /tmp/corpus25.jsonl``
"""

from __future__ import annotations

import argparse
import json
import random

LANGS = ("en", "fr", "de", "zh")
SYLL = {
    "en": "ba be bi bo bu ca ce co da de di do fa fe fi ga go ha he hi ho ja ka la le li lo ma me mi mo na ne no pa pe pi po ra re ri ro sa se si so ta te ti to va ve wa we ya".split(),
    "fr": "la le de ré mé pa ti on an en ou ai eu oi é è ê ç au ch qu tr pl cr fr gr bl".split(),
    "de": "ab an be ch de ei en er ge he ie in le me ne nd ng ß ü ö ä sch st tr un ve zu".split(),
}
TEMPLATES = {
    "en": ("Home | World | Politics | Business | Sport | Culture | Sign in", "Published: {d}/{m}/2024 - {h}:{mi}", "ADVERTISEMENT", "Comments",
           "Take the news with you everywhere! Download the {s} app now.", "© {s} 2024. All rights reserved. Terms of use | Privacy | Cookies"),
    "fr": ("Accueil | Monde | Politique | Économie | Sport | Culture | Se connecter", "Publié le : {d}/{m}/2024 - {h}:{mi}", "PUBLICITÉ", "Commentaires",
           "Emportez l'actualité internationale partout avec vous ! Téléchargez l'application {s}", "© {s} 2024. Tous droits réservés. Mentions légales | Cookies"),
    "de": ("Startseite | Welt | Politik | Wirtschaft | Sport | Kultur | Anmelden", "Veröffentlicht am {d}.{m}.2024 um {h}:{mi} Uhr", "ANZEIGE", "Kommentare",
           "Nachrichten überall dabei! Laden Sie jetzt die {s}-App herunter.", "© {s} 2024. Alle Rechte vorbehalten. Impressum | Datenschutz"),
    "zh": ("首页 | 国际 | 政治 | 财经 | 体育 | 文化 | 登录", "发布时间：2024年{m}月{d}日 {h}:{mi}", "广告", "评论",
           "随时随地获取国际新闻！立即下载{s}客户端。", "© {s} 2024 版权所有 使用条款 | 隐私政策"),
}
CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def _vocab(rng: random.Random, lang: str, n: int = 6000) -> list[str]:
    if lang == "zh":
        return CJK
    syl = SYLL[lang]
    return ["".join(rng.choice(syl) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def _sentence(rng: random.Random, lang: str, vocab: list[str]) -> str:
    if lang == "zh":
        return "".join(rng.choice(vocab) for _ in range(rng.randint(12, 40))) + "。"
    words = [rng.choice(vocab) for _ in range(rng.randint(8, 24))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, lang: str, vocab: list[str]) -> str:
    sep = "" if lang == "zh" else " "
    return sep.join(_sentence(rng, lang, vocab) for _ in range(rng.randint(2, 6)))


def _edit(rng: random.Random, text: str, lang: str, vocab: list[str], rate: float) -> str:
    if lang == "zh":
        chars = list(text)
        for i in range(len(chars)):
            if "\u4e00" <= chars[i] <= "\u9fff" and rng.random() < rate:
                chars[i] = rng.choice(vocab)
        return "".join(chars)
    words = text.split(" ")
    for i in range(len(words)):
        if rng.random() < rate:
            words[i] = rng.choice(vocab)
    return " ".join(words)


def generate(mb: float, seed: int = 0, pages_per_site: int = 40):
    """Yield JSONL rows ``{"id", "url", "text"}`` until about ``mb`` MB of text."""
    rng = random.Random(seed)
    vocabs = {lang: _vocab(random.Random(f"{seed}-{lang}"), lang) for lang in LANGS}
    target = int(mb * 1e6)
    total = 0
    site_no = 0
    recent: dict[str, list[str]] = {lang: [] for lang in LANGS}
    while total < target:
        lang = LANGS[site_no % len(LANGS)]
        vocab = vocabs[lang]
        sname = f"site{site_no}-{lang}.example"
        nav, dated, marker, comments, promo, footer = TEMPLATES[lang]
        sidebar = [_sentence(rng, lang, vocab) for _ in range(12)]
        for p in range(pages_per_site):
            if total >= target:
                break
            if recent[lang] and rng.random() < 0.03:
                body = [_edit(rng, para, lang, vocab, 0.02) for para in rng.choice(recent[lang])]
            else:
                body = [_paragraph(rng, lang, vocab) for _ in range(rng.randint(4, 12))]
                recent[lang] = (recent[lang] + [body])[-50:]
            lines = [nav, dated.format(d=rng.randint(1, 28), m=rng.randint(1, 12), h=rng.randint(0, 23), mi=f"{rng.randint(0, 59):02d}"), body[0][:80]]
            if rng.random() < 0.3:  # a teaser made of copies of body text
                src = body[min(1, len(body) - 1)]
                a = rng.randint(0, max(0, len(src) - 120))
                lines.append(src[a : a + 120] + "…")
            lines += [*body[:2], marker, *body[2:], promo.format(s=sname), comments]
            lines += rng.sample(sidebar, 5)
            lines.append(footer.format(s=sname))
            text = "\n".join(lines) + "\n"
            total += len(text.encode("utf-8"))
            yield {"id": f"{sname}/{p}", "url": f"https://www.{sname}/news/{p}", "text": text}
        site_no += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in generate(args.mb, args.seed):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
