"""Seeded test corpora for the index tests (not a test module)."""

from __future__ import annotations

import random
from pathlib import Path

from dedupe.models import Document

SEED_PAGE = Path(__file__).resolve().parents[2] / "seeds" / "000_9438c1acc4b3994a.txt"

WORDS = (
    "river market council budget school winter harbour museum festival railway garden bridge "
    "village doctor teacher farmer engine storm island forest village valley mountain energy "
    "station library theatre election minister treaty border summit program satellite navy "
    "concert airport journal painter surgeon hospital stadium cathedral orchestra village "
    "district parliament coalition pension reform tariff vaccine clinic archive novel poet"
).split()

MOTS = (
    "gouvernement ministre président sommet accord frontière élection réforme budget hôpital "
    "école agriculteurs tempête village marché conseil musée festival pont forêt montagne "
    "énergie gare bibliothèque théâtre traité armée satellite concert aéroport journal "
    "peintre chirurgien stade cathédrale orchestre quartier parlement coalition retraite"
).split()


def sentence(rng: random.Random, words: list[str] = WORDS, n: int = 14) -> str:
    return " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."


def paragraph(rng: random.Random, k: int = 4, words: list[str] = WORDS) -> str:
    return " ".join(sentence(rng, words) for _ in range(k))


def multi_site(seed: int = 0, n_sites: int = 3, pages: int = 5) -> list[Document]:
    """Sites with a navigation line, a footer, an app promo, short markers and a dated line whose
    digits change; a background paragraph on two sites (cross-page); a within-page repeat; and
    a near-duplicate copy of one article on another site."""
    rng = random.Random(seed)
    shared = paragraph(rng, 2)
    docs: list[Document] = []
    for s in range(n_sites):
        nav = f"Home | World | Business | Sport | Culture | Site{s} Weather"
        promo = f"Get the Site{s} app on your phone and never miss a story again, download it now."
        footer = f"Copyright site {s}. All rights reserved. Follow us on every network today."
        for p in range(pages):
            body = [paragraph(rng) for _ in range(3)]
            if p == 1 and s < 2:
                body.insert(1, shared)
            if p == 2:
                body.append(body[0].split(". ")[0] + ".")
            dated = f"Published {rng.randint(1, 28):02d}/06/2024 - {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
            lines = [nav, sentence(rng), dated, "ADVERTISEMENT", *body[:2], promo, *body[2:], "Comments", footer]
            docs.append(Document(f"s{s}-p{p}", "\n".join(lines) + "\n", url=f"https://www.site{s}.example/a/{p}"))
    src = docs[0].text.split("\n")
    body = [ln for ln in src if len(ln) > 200]
    near = "\n".join(["Mirror chrome line here"] + [b.replace("river", "stream", 1) for b in body]) + "\n"
    docs.append(Document("mirror-of-s0-p0", near, site="mirror.example"))
    return docs


def france24_pages(n_other: int = 3, seed: int = 0) -> list[Document]:
    """The seed page and ``n_other`` pages sharing its template: the glued navigation, the dated
    line, «Par : FRANCE 24 Suivre PUBLICITÉ», the app promo and «Commentaires», other bodies."""
    seed_text = SEED_PAGE.read_text(encoding="utf-8")
    rng = random.Random(seed)
    nav = (
        "France 24 - Infos, news & actualités - L'information internationale en direct France Europe "
        "Afrique Amériques Asie-Pacifique Moyen-Orient Retour à l'accueil / Asie-Pacifique"
    )
    promo = "Emportez l'actualité internationale partout avec vous ! Téléchargez l'application France 24"
    docs = [Document("f24-seed", seed_text, url="https://www.france24.com/fr/asie-pacifique/seed", site="france24.com")]
    for i in range(n_other):
        title = sentence(rng, MOTS, 10)
        lead = paragraph(rng, 2, MOTS)
        day, hh, mm = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
        dated = f"Publié le : {day:02d}/05/2024 - {hh:02d}:{mm:02d} Modifié le : {day:02d}/05/2024 - {hh + 0:02d}:{(mm + 7) % 60:02d} 3 mn"
        body1 = paragraph(rng, 5, MOTS)
        body2 = paragraph(rng, 4, MOTS)
        text = (
            f"{title}\n\n{lead} {nav} {title} {lead} {dated} Par : FRANCE 24 Suivre PUBLICITÉ {body1} "
            f"{promo} {body2} Avec AFP\n\nCommentaires"
        )
        docs.append(Document(f"f24-{i}", text, url=f"https://www.france24.com/fr/asie-pacifique/{i}", site="france24.com"))
    return docs
