"""Seed across pages (issue 3 acceptance): the France 24 template learnt from >= 3 pages.

The seed page plus three pages written for this test that share its template — the navigation
glued mid-line, the dated line (other digits), «Par : FRANCE 24 Suivre PUBLICITÉ», the app
promo inside the body and «Commentaires» — but have other bodies, leads and captions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dedupe.config import Config
from dedupe.core.tokenize import tokenize
from dedupe.engine.assemble import assemble
from dedupe.engine.index import MemoryIndex
from dedupe.engine.site import site_pieces
from dedupe.engine.templates import doc_fingerprints
from dedupe.engine.within import within_pieces

try:  # repeats reported but not removed (flagged) are reported too, where the engine has them
    from dedupe.engine.within import within_analysis
except ImportError:  # pragma: no cover - older within.py
    within_analysis = None
from dedupe.models import KIND_NEAR_REPEAT, KIND_REPEAT, KIND_TEMPLATE

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_9438c1acc4b3994a.txt"
NAV = (
    "France 24 - Infos, news & actualités - L'information internationale en direct France Europe "
    "Afrique Amériques Asie-Pacifique Moyen-Orient Retour à l'accueil / Asie-Pacifique"
)
PROMO = "Emportez l'actualité internationale partout avec vous ! Téléchargez l'application France 24"

ARTICLES = [
    dict(
        title="Les agriculteurs bretons manifestent contre la baisse des prix du lait",
        lead="Plusieurs centaines d'éleveurs ont bloqué mardi les accès à deux laiteries près de Rennes pour dénoncer des prix d'achat qu'ils jugent intenables.",
        caption="Des tracteurs bloquent l'entrée d'une laiterie près de Rennes, le 11 mars 2024.",
        credit="Damien Meyer, AFP",
        date=("11/03/2024 - 09:12", "11/03/2024 - 14:40"),
        body1="Les manifestants réclament une révision des contrats signés avec les industriels et une meilleure prise en compte des coûts de production. Selon la chambre d'agriculture, le prix moyen payé aux producteurs a reculé de près de quinze pour cent en un an, alors que les charges liées à l'alimentation du bétail et à l'énergie restent élevées.",
        body2="Le ministre de l'Agriculture doit recevoir les représentants des syndicats jeudi. Les éleveurs préviennent qu'ils poursuivront le mouvement tant qu'aucun engagement écrit ne sera pris sur les prix.",
    ),
    dict(
        title="Au Chili, les incendies de forêt menacent la région de Valparaiso",
        lead="Attisés par des vents violents et une chaleur inhabituelle, les feux ont déjà parcouru des milliers d'hectares et forcé l'évacuation de plusieurs quartiers.",
        caption="Un pompier lutte contre les flammes sur les hauteurs de Viña del Mar, le 3 février 2024.",
        credit="Javier Torres, AFP",
        date=("03/02/2024 - 22:05", "04/02/2024 - 06:31"),
        body1="Les autorités ont décrété l'état d'urgence et mobilisé l'armée pour soutenir les équipes de secours, épuisées après plusieurs nuits de lutte. Les habitants des collines, où les maisons de bois sont nombreuses, ont été les premiers touchés par l'avancée rapide des flammes.",
        body2="Les météorologues annoncent une baisse des températures en fin de semaine, ce qui pourrait faciliter le travail des pompiers. Une enquête a été ouverte pour déterminer l'origine des premiers foyers.",
    ),
    dict(
        title="Le télescope James Webb observe une galaxie d'une étonnante jeunesse",
        lead="Des astronomes européens décrivent dans la revue Nature une galaxie formée moins de quatre cents millions d'années après le Big Bang.",
        caption="Une image en fausses couleurs de la galaxie lointaine prise par le télescope James Webb.",
        credit="NASA, ESA, CSA",
        date=("27/05/2024 - 17:48", "28/05/2024 - 08:02"),
        body1="La lumière de cet objet a voyagé pendant plus de treize milliards d'années avant d'atteindre les instruments du télescope spatial. Son éclat surprend les chercheurs, qui ne s'attendaient pas à trouver des étoiles aussi nombreuses si tôt dans l'histoire de l'univers.",
        body2="D'autres observations sont prévues l'an prochain pour mesurer plus finement la composition chimique de ses étoiles et préciser son âge.",
    ),
]


def _page(a: dict) -> str:
    published, modified = a["date"]
    flat = (
        f"{NAV} {a['title']} {a['lead']} Publié le : {published} Modifié le : {modified} 3 mn "
        f"{a['caption']} {a['caption']} © {a['credit']} Par : FRANCE 24 Suivre PUBLICITÉ "
        f"{a['body1']} {PROMO} {a['body2']} Avec AFP"
    )
    return f"{a['title']}\n\n{a['lead']}\n\n{flat}\n\nCommentaires\n"


def _pages() -> dict[str, str]:
    pages = {"seed": SEED.read_text(encoding="utf-8")}
    for i, a in enumerate(ARTICLES):
        pages[f"p{i}"] = _page(a)
    return pages


def _clean(pages: dict[str, str], cfg: Config):
    index = MemoryIndex()
    toks = {d: tokenize(t) for d, t in pages.items()}
    for d, t in pages.items():
        index.observe("france24.com", d, doc_fingerprints(t, toks[d], cfg.templates))
    out = {}
    for d, t in pages.items():
        sp, _ = site_pieces(t, toks[d], index, "france24.com", cfg)
        if within_analysis is not None:
            wa = within_analysis(t, toks[d], cfg.within)
            removed, reported = wa.pieces, wa.pieces + wa.flagged
        else:
            removed, _ = within_pieces(t, toks[d], cfg.within)
            reported = removed
        out[d] = (sp, reported, assemble(d, t, sp + removed))
    return out


@pytest.mark.parametrize("main_text", [False, True])
def test_template_removed_from_every_page_and_repeats_still_reported(main_text: bool) -> None:
    import dataclasses

    cfg = Config(templates=dataclasses.replace(Config().templates, main_text=main_text))
    pages = _pages()
    results = _clean(pages, cfg)
    for d, (sp, wp, res) in results.items():
        text = pages[d]
        tpl_text = " ".join(text[p.start : p.end] for p in sp if p.kind == KIND_TEMPLATE)
        for marker in (NAV, PROMO, "PUBLICITÉ", "Commentaires"):
            assert marker in tpl_text, (d, marker)
            assert marker not in res.text, (d, marker)
        assert all(p.site_pages is not None and p.site_pages >= 2 for p in sp if p.kind == KIND_TEMPLATE)
        # the dated line matches across pages although its digits differ
        assert "Publié le" not in res.text and "Modifié le" not in res.text, d
        # within-page repeats: the lead and the caption are still reported (removed or flagged)
        rep = [p for p in wp if p.kind in (KIND_REPEAT, KIND_NEAR_REPEAT)]
        rep_text = " ".join(text[p.start : p.end] for p in rep)
        if d == "seed":
            assert "Le dirigeant nord-coréen Kim Jong-un (à droite) salue" in rep_text
            assert "Les deux hommes ont pour objectif de renforcer" in rep_text
        else:
            a = ARTICLES[int(d[1:])]
            assert a["caption"][:40] in rep_text
            assert a["lead"][:40] in rep_text
    # the bodies stay
    for i, a in enumerate(ARTICLES):
        res = results[f"p{i}"][2]
        for sentence in (a["body1"].split(". ")[0], a["body2"].split(". ")[0]):
            assert sentence in res.text
    seed_res = results["seed"][2]
    assert "Il s'agit de la première visite en Corée du Nord de Vladimir Poutine depuis 24 ans" in seed_res.text
    assert "Préoccupations occidentales" in seed_res.text


def test_two_pages_of_another_site_do_not_share_evidence() -> None:
    pages = _pages()
    cfg = Config()
    index = MemoryIndex()
    for i, (d, t) in enumerate(pages.items()):
        index.observe(f"site{i}", d, doc_fingerprints(t, tokenize(t), cfg.templates))
    t = pages["p0"]
    sp, mask = site_pieces(t, tokenize(t), index, "site1", cfg)
    assert not [p for p in sp if p.kind == KIND_TEMPLATE]
    assert mask.dtype == np.bool_
