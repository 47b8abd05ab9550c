"""Near-duplicate documents on real scraped pages: recall of the silver pairs, and what else clusters.

Data: ``../shared/data/derived_silver_near_duplicates/pairs.jsonl`` (85 real syndicated /
re-published pairs). Every page of the datasets those pairs come from (dragnet, l3s_gn1,
cleaneval, cleanportaleval: ~2,900 pages) is read with dedupe's own HTML reader,
:func:`dedupe.io.html.read_html` (all visible text, one block per line, and the head's title,
canonical link and og:url, passed in ``Document.meta["page"]`` as the product's ``html`` rows
pass them), then run through corpus mode with the DEFAULT config, grouped by site (the ``site``
of each dataset's index; ``url`` = the index's ``url``/``url_guess``), so templates are learned
and removed before documents are compared.

Reported:
* recall of the pairs in each band (a pair is found when both pages end in the same cluster),
  with the exact Jaccard of the two CLEANED texts and of the raw page texts for the missed ones;
* the clusters that contain no listed pair ("other clusters"), with a sample printed for
  inspection (ids, sites, Jaccard, the first words of each cleaned text);
* how the signature estimate compares with the exact Jaccard on the verified pairs.

Run: ``python benchmarks/bench_neardup.py [--workers 2] [--sample 15]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = (HERE.parent.parent / "shared" / "data").resolve()
CACHE = HERE / ".cache"
PAIRS = DATA / "derived_silver_near_duplicates" / "pairs.jsonl"
SETS = {"dragnet": "html", "l3s_gn1": "original", "cleaneval": "html", "cleanportaleval": "html"}
BANDS = ("exact-gold", "near-dup(J>=0.8)", "high-overlap(J>=0.5)", "partial(containment>=0.5 or J>=0.3)")


def load_pages() -> list[dict]:
    """All pages of the sets involved: ``id`` (dataset/id), ``site``, ``url``, ``text``, ``head``
    (:meth:`dedupe.io.html.HtmlPage.head_meta`: title, canonical, og_url); cached."""
    from dedupe.io.html import decode_html, read_html

    CACHE.mkdir(exist_ok=True)
    from _data import CACHE_VERSION

    cache = CACHE / f"neardup_pages-v{CACHE_VERSION}-head.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    pages = []
    for ds, field in SETS.items():
        with open(DATA / ds / "index.jsonl", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                with gzip.open(DATA / ds / r[field], "rb") as g:
                    page = read_html(decode_html(g.read()))
                pages.append({"id": f"{ds}/{r['id']}", "site": f"{r['site']}", "url": r.get("url") or r.get("url_guess"),
                              "text": page.text, "head": page.head_meta()})
    cache.write_text(json.dumps(pages, ensure_ascii=False), encoding="utf-8")
    return pages


def _gold_texts(dataset: str) -> dict[str, tuple[str, str]]:
    """``dataset/id -> (site, gold text)`` for every page of one set that has a gold text."""
    from dedupe.io.html import decode_html

    out: dict[str, tuple[str, str]] = {}
    if dataset == "l3s_gn1":
        with open(DATA / dataset / "derived_blocks.jsonl", encoding="utf-8") as fh:
            blocks = {r["id"]: r["blocks"] for r in map(json.loads, fh)}
    with open(DATA / dataset / "index.jsonl", encoding="utf-8") as fh:
        for r in map(json.loads, fh):
            if dataset == "l3s_gn1":
                gold = "\n".join(b["text"] for b in blocks.get(r["id"], []) if b["label"] in ("headline", "fulltext", "supplemental"))
            elif r.get("gold"):
                gold = decode_html((DATA / dataset / r["gold"]).read_bytes())
            else:
                continue
            out[f"{dataset}/{r['id']}"] = (str(r["site"]), gold)
    return out


def _gold_shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    """Word k-grams of the lower-cased ``\\w+`` tokens (the silver pairs' own method)."""
    toks = re.findall(r"\w+", text.lower())
    return {tuple(toks[i : i + k]) for i in range(len(toks) - k + 1)}


def site_wide_check(pairs: list[dict]) -> dict[frozenset, float]:
    """For each same-site pair: the Jaccard of the two GOLD texts once the site's own recurring
    text is taken out (word 5-grams found in at least half of the gold texts of the site, for
    sites with >= 3 gold pages). A pair whose gold overlap is only such text (the site's comment
    guidelines printed under every post, say) is two different documents the silver method
    matched on a site-wide paragraph; the check is the same for every pair and every set."""
    golds: dict[str, tuple[str, str]] = {}
    for ds in sorted({p["a_dataset"] for p in pairs} | {p["b_dataset"] for p in pairs}):
        golds.update(_gold_texts(ds))
    by_site: dict[str, list[set]] = defaultdict(list)
    shingles = {doc: _gold_shingles(g) for doc, (_, g) in golds.items()}
    for doc, (site, _) in golds.items():
        by_site[f"{doc.split('/')[0]}|{site}"].append(shingles[doc])
    site_wide: dict[str, set] = {}
    for key, sets in by_site.items():
        if len(sets) >= 3:
            counts: dict[tuple, int] = defaultdict(int)
            for s in sets:
                for sh in s:
                    counts[sh] += 1
            site_wide[key] = {sh for sh, c in counts.items() if 2 * c >= len(sets)}
    out = {}
    for p in pairs:
        a, b = f"{p['a_dataset']}/{p['a_id']}", f"{p['b_dataset']}/{p['b_id']}"
        if a not in golds or b not in golds or golds[a][0] != golds[b][0] or p["a_dataset"] != p["b_dataset"]:
            continue
        wide = site_wide.get(f"{p['a_dataset']}|{golds[a][0]}", set())
        sa, sb = shingles[a] - wide, shingles[b] - wide
        out[frozenset((a, b))] = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=15, help="other clusters printed for inspection")
    ap.add_argument("--threshold", type=float, default=None, help="override neardup.threshold (default: the config default)")
    ap.add_argument("--containment", type=float, default=None, help="override neardup.containment (0 = Jaccard only)")
    ap.add_argument("--no-head", action="store_true", help="leave out the head's title/canonical/og:url (text, url and site only)")
    args = ap.parse_args()

    import numpy as np

    from dedupe import Config, Document, clean_corpus
    import dataclasses

    from dedupe.core.minhash import EMPTY
    from dedupe.engine.neardup import PAGE_META, candidates, containment, jaccard, shingle_set, signature_of

    cfg = Config()
    if args.threshold is not None:
        cfg = dataclasses.replace(cfg, neardup=dataclasses.replace(cfg.neardup, threshold=args.threshold))
    if args.containment is not None:
        cfg = dataclasses.replace(cfg, neardup=dataclasses.replace(cfg.neardup, containment=args.containment))
    pairs = [json.loads(x) for x in PAIRS.read_text(encoding="utf-8").splitlines() if x.strip()]
    t0 = time.perf_counter()
    pages = load_pages()
    t_load = time.perf_counter() - t0
    # the identity an ``html`` row gets from dedupe.io.jsonl (meta["page"], see neardup.page_id)
    docs = [Document(p["id"], p["text"], url=p["url"], site=p["site"], meta={PAGE_META: p["head"]} if p["head"] and not args.no_head else {})
            for p in pages]
    t0 = time.perf_counter()
    results = {r.doc_id: r for r in clean_corpus(docs, config=cfg, workers=args.workers)}
    t_run = time.perf_counter() - t0
    raw = {p["id"]: p["text"] for p in pages}
    site = {p["id"]: p["site"] for p in pages}
    mb = sum(len(p["text"].encode()) for p in pages) / 1e6
    print(f"{len(pages)} pages ({mb:.1f} MB of text) from {', '.join(SETS)}; HTML->text {t_load:.1f}s (cached after the first run); "
          f"corpus mode {t_run:.1f}s with {args.workers} workers; threshold {cfg.neardup.threshold}, containment {cfg.neardup.containment} "
          f"(smaller >= {cfg.neardup.containment_min_shingles} shingles, >= {cfg.neardup.containment_min_ratio} of the larger), "
          f"{cfg.signature.num_perm} perms, {cfg.neardup.bands} bands (+{cfg.neardup.containment_bands} for containment); "
          f"page identity from the HTML head: {'off (--no-head)' if args.no_head else 'on'}")

    def jc(a: str, b: str) -> float:
        return jaccard(shingle_set(a, cfg.signature), shingle_set(b, cfg.signature))

    listed = set()
    print("\n## Recall of the silver pairs (found = same cluster)")
    print("| band | pairs | found | recall |\n|---|---|---|---|")
    missed = []
    for band in BANDS:
        rows = [p for p in pairs if p["band"] == band]
        found = 0
        for p in rows:
            a, b = f"{p['a_dataset']}/{p['a_id']}", f"{p['b_dataset']}/{p['b_id']}"
            listed.add(frozenset((a, b)))
            ca, cb = results[a].meta["cluster"], results[b].meta["cluster"]
            ok = ca is not None and ca == cb
            found += ok
            if not ok:
                missed.append((band, a, b, p["jaccard"], jc(results[a].text, results[b].text), jc(raw[a], raw[b]), len(results[a].text), len(results[b].text)))
        print(f"| {band} | {len(rows)} | {found} | {found / max(len(rows), 1):.3f} |")
    main_bands = [p for p in pairs if p["band"] in BANDS[:3]]
    found_main = sum(
        1 for p in main_bands
        if results[f"{p['a_dataset']}/{p['a_id']}"].meta["cluster"] is not None
        and results[f"{p['a_dataset']}/{p['a_id']}"].meta["cluster"] == results[f"{p['b_dataset']}/{p['b_id']}"].meta["cluster"]
    )
    print(f"| exact + near-dup + high-overlap | {len(main_bands)} | {found_main} | {found_main / len(main_bands):.3f} |")
    # the same three bands once pairs whose gold overlap is only the site's own recurring text
    # (same check for every pair, see site_wide_check) are set aside
    rest = site_wide_check(main_bands)
    floor = 0.5  # the high-overlap band's own floor
    relabelled = [p for p in main_bands if rest.get(frozenset((f"{p['a_dataset']}/{p['a_id']}", f"{p['b_dataset']}/{p['b_id']}")), 1.0) < floor]
    kept = [p for p in main_bands if p not in relabelled]
    found_kept = sum(
        1 for p in kept
        if results[f"{p['a_dataset']}/{p['a_id']}"].meta["cluster"] is not None
        and results[f"{p['a_dataset']}/{p['a_id']}"].meta["cluster"] == results[f"{p['b_dataset']}/{p['b_id']}"].meta["cluster"]
    )
    print(f"| same, without pairs whose gold J < {floor} once site-wide gold text is out ({len(relabelled)} set aside) | {len(kept)} | {found_kept} | {found_kept / max(len(kept), 1):.3f} |")
    for p in relabelled:
        a, b = f"{p['a_dataset']}/{p['a_id']}", f"{p['b_dataset']}/{p['b_id']}"
        print(f"  set aside: {a} / {b} ({p['a_site']}): gold J {p['jaccard']:.3f}, without the site's recurring gold text {rest[frozenset((a, b))]:.3f}")
    if missed:
        print("\nMissed pairs: band, a, b, gold J, cleaned J, raw-page J, cleaned chars a/b")
        for m in missed:
            if m[0] != BANDS[3]:
                print(f"  {m[0]:<22} {m[1]:<45} {m[2]:<45} gold {m[3]:.3f} cleaned {m[4]:.3f} raw {m[5]:.3f} chars {m[6]}/{m[7]}")
        n_partial = sum(1 for m in missed if m[0] == BANDS[3])
        print(f"  (+ {n_partial} partial-band pairs not clustered: they mostly share a paragraph, not the document)")

    clusters: dict[str, list[str]] = defaultdict(list)
    for r in results.values():
        if r.meta["cluster"] is not None:
            clusters[r.meta["cluster"]].append(r.doc_id)
    other = []
    for canon, members in sorted(clusters.items()):
        ms = set(members)
        if not any(pair <= ms for pair in listed):
            other.append((canon, sorted(members)))
    n_in = sum(len(m) for m in clusters.values())
    print(f"\n## Clusters: {len(clusters)} in all ({n_in} pages); {len(other)} contain no listed pair")
    sizes = sorted((len(m) for _, m in other), reverse=True)
    print(f"sizes of the other clusters: {sizes[:30]}{' ...' if len(sizes) > 30 else ''}")
    print(f"\n### Sample of other clusters (first {args.sample} by canonical id)")
    for canon, members in other[: args.sample]:
        print(f"- cluster {canon} ({len(members)} pages)")
        for m in members[:4]:
            r = results[m]
            score = next((s.score for s in r.spans if s.kind == "near-duplicate-doc"), 1.0)
            words = " ".join(r.text.split()[:18])
            print(f"    {m:<48} site={site[m]:<28} J={score:.3f} chars={len(r.text):>6} | {words}")

    # members joined by the containment rule (Jaccard with the canonical below the threshold)
    joined = [(canon, m) for canon, members in sorted(clusters.items()) for m in sorted(members) if m != canon
              and next(s.score for s in results[m].spans if s.kind == "near-duplicate-doc") < cfg.neardup.threshold]
    print(f"\n### Members below the Jaccard threshold (joined by containment >= {cfg.neardup.containment}): {len(joined)}")
    for canon, m in joined:
        a, b = shingle_set(results[canon].text, cfg.signature), shingle_set(results[m].text, cfg.signature)
        print(f"  {m:<48} -> {canon:<48} J={jaccard(a, b):.3f} containment={containment(a, b):.3f} shingles {len(b)}/{len(a)}")

    # cost of the candidate passes (the whole cluster step runs on these signatures)
    sig_all = [signature_of(results[p["id"]].text, cfg) for p in pages]
    sigs = np.stack([s for s, _ in sig_all])
    n_sh = np.array([k for _, k in sig_all])
    ok = np.flatnonzero((n_sh >= cfg.neardup.min_shingles) & (sigs[:, 0] != EMPTY))
    for label, nd in (("Jaccard only (32x4 bands)", dataclasses.replace(cfg.neardup, containment=0.0)), ("+ containment (and 64x2 bands)", cfg.neardup)):
        t0 = time.perf_counter()
        cand = candidates(sigs[ok], n_sh[ok], nd)
        t_c = time.perf_counter() - t0
        print(f"candidates {label}: {len(cand)} pairs to verify exactly ({t_c * 1000:.0f} ms for LSH + prefilter)")

    # signature estimate vs exact Jaccard, on the cluster members
    est_err = []
    for canon, members in clusters.items():
        sc, _ = signature_of(results[canon].text, cfg)
        for m in members:
            if m == canon:
                continue
            sm, _ = signature_of(results[m].text, cfg)
            est = float((sc == sm).mean())
            exact = next(s.score for s in results[m].spans if s.kind == "near-duplicate-doc")
            est_err.append(abs(est - exact))
    if est_err:
        e = np.array(est_err)
        print(f"\nMinHash estimate vs exact Jaccard on {len(e)} clustered pairs: mean |err| {e.mean():.3f}, max {e.max():.3f}")


if __name__ == "__main__":
    sys.exit(main())
