"""Boilerplate benchmark on real multi-page sets (issue 3, acceptance "Real pages").

For dragnet (sites with >= 3 pages), cleanportaleval (69 pages with gold, grouped by site) and
l3s_gn1 (hosts with >= 3 pages), every page's visible text (resiliparse, one block per line) is
grouped by site and cleaned through the product path, :func:`dedupe.clean_corpus` (every page
observed first, copies of one page excluded from each other's evidence, then each page gets its
site templates, (level 2) off-main pieces and within-page repeats). The cleaned text is scored against the human gold
with the bag-of-words macro P/R/F1 of ``../shared/data/README.md``. Reference rows (full text,
drop lines on >= 50% of the site's pages, trafilatura, trafilatura + 50%) are computed in the
same run. One default config for every set.

    python benchmarks/bench_boilerplate.py            # table + losses (about 1-2 min with cache)
    python benchmarks/bench_boilerplate.py --json out.json

The first run extracts text and trafilatura output from the HTML into benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data  # noqa: E402

from dedupe import clean_corpus  # noqa: E402
from dedupe.config import Config, TemplateConfig  # noqa: E402
from dedupe.models import KIND_TEMPLATE  # noqa: E402

SETS = ("dragnet", "cleanportaleval", "l3s_gn1")
_W = re.compile(r"\w+")


def drop_frequent_lines(texts: list[str], sites: list[str], fraction: float = 0.5) -> list[str]:
    """Baseline: drop lines present on >= ``fraction`` of the site's pages (exact, stripped)."""
    pages: Counter = Counter(sites)
    df: dict[str, Counter] = {}
    for t, s in zip(texts, sites):
        df.setdefault(s, Counter()).update({ln.strip() for ln in t.splitlines() if ln.strip()})
    out = []
    for t, s in zip(texts, sites):
        need = fraction * pages[s]
        out.append("\n".join(ln for ln in t.splitlines() if ln.strip() and not (pages[s] > 1 and df[s][ln.strip()] >= need)))
    return out


def run_engine(texts: list[str], sites: list[str], cfg: Config, within: bool = True) -> list:
    """Corpus cleaning through the product path, :func:`dedupe.clean_corpus` (observe every page,
    copies of one page on a site excluded from each other's evidence, then clean each page).
    ``within=False``: the site level alone (``within.enabled=False``, CLI ``--no-within``)."""
    if not within:
        cfg = dataclasses.replace(cfg, within=dataclasses.replace(cfg.within, enabled=False))
    docs = [{"id": str(i), "text": t, "site": s} for i, (t, s) in enumerate(zip(texts, sites))]
    return list(clean_corpus(docs, config=cfg))


def with_templates(**kw) -> Config:
    return Config(templates=dataclasses.replace(TemplateConfig(), **kw))


def lost_content(rows: list[dict], results: list) -> tuple[int, int, Counter]:
    """Template spans (>= 3 tokens) whose words occur verbatim in the page's gold text."""
    n_spans = n_lost = 0
    examples: Counter = Counter()
    for r, res in zip(rows, results):
        gold = " " + " ".join(_W.findall(r["gold"].lower())) + " "
        for s in res.spans:
            if s.kind != KIND_TEMPLATE:
                continue
            words = _W.findall(s.text.lower())
            if len(words) < 3:
                continue
            n_spans += 1
            if " " + " ".join(words) + " " in gold:
                n_lost += 1
                examples[" ".join(words)[:70]] += 1
    return n_spans, n_lost, examples


def fmt(m: dict) -> str:
    return f"{m['P']:.3f} / {m['R']:.3f} / **{m['F1']:.3f}** ({m['empty']})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="*", default=list(SETS))
    ap.add_argument("--json", help="write all figures here")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--quick", action="store_true", help="only the engine rows")
    args = ap.parse_args()

    systems: dict[str, dict[str, dict]] = {}
    losses = {}
    timing = {}
    for name in args.sets:
        rows = _data.load_set(name, use_cache=not args.no_cache)
        golds = [r["gold"] for r in rows]
        sites = [r["site"] for r in rows]
        full = [r["full"] for r in rows]
        traf = [r["traf"] for r in rows]
        singles = [f"{s}#{i}" for i, s in enumerate(sites)]

        def score(name_: str, preds: list[str]) -> None:
            systems.setdefault(name_, {})[name] = _data.macro_prf(preds, golds)

        if not args.quick:
            score("full text, nothing removed", full)
            score("drop lines on >= 50% of the site's pages", drop_frequent_lines(full, sites))
            score("trafilatura (HTML-aware), default", traf)
            score("trafilatura, then drop lines on >= 50%", drop_frequent_lines(traf, sites))
        t0 = time.perf_counter()
        res_tpl = run_engine(full, sites, with_templates(main_text=False))
        t1 = time.perf_counter()
        res_main = run_engine(full, sites, Config())
        t2 = time.perf_counter()
        timing[name] = {"templates_s": round(t1 - t0, 2), "templates+main_s": round(t2 - t1, 2), "chars": sum(map(len, full))}
        score("dedupe: templates only (within on)", [r.text for r in res_tpl])
        score("dedupe: templates + main text (within on)", [r.text for r in res_main])
        if not args.quick:
            # the gold keeps text a page repeats; this row shows what within-page repeat removal costs
            score("site level only (--no-within): templates + main text", [r.text for r in run_engine(full, sites, Config(), within=False)])
            score("dedupe on trafilatura output: templates only", [r.text for r in run_engine(traf, sites, with_templates(main_text=False))])
            score("dedupe on trafilatura output: templates + main text", [r.text for r in run_engine(traf, sites, Config())])
            score("dedupe on trafilatura output: site level only (--no-within)", [r.text for r in run_engine(traf, sites, Config(), within=False)])
            score("single-page sites (each page alone): main text off", [r.text for r in run_engine(full, singles, with_templates(main_text=False))])
            score("single-page sites (each page alone): main text on", [r.text for r in run_engine(full, singles, Config())])
        losses[name] = lost_content(rows, res_tpl)

    order = list(systems)
    print("| system | " + " | ".join(f"{n} P / R / F1 (empty)" for n in args.sets) + " |")
    print("|---|" + "---|" * len(args.sets))
    for sysname in order:
        print(f"| {sysname} | " + " | ".join(fmt(systems[sysname][n]) for n in args.sets) + " |")
    print()
    for name in args.sets:
        n_spans, n_lost, ex = losses[name]
        print(f"{name}: {n_lost} of {n_spans} template spans (>= 3 words) occur verbatim in the page's gold text")
        for text, c in ex.most_common(8):
            print(f"    {c:3d} × {text}")
    print()
    print("timing:", json.dumps(timing))
    if args.json:
        Path(args.json).write_text(json.dumps({"systems": systems, "timing": timing,
                                               "losses": {k: [v[0], v[1], v[2].most_common(30)] for k, v in losses.items()}}, indent=1))


if __name__ == "__main__":
    main()
