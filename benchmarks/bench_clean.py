"""``dedupe.clean`` throughput (MB/s of UTF-8 input, one core) on generated and real pages.

    python benchmarks/bench_clean.py [--pages 300] [--real 300] [--runs 3] [--profile]

* generated: ``benchmarks/gen.py`` pages with planted repeats (teaser of body fragments, repeated
  caption, lead repeated with a word changed, repeated nav, title copy), seed 0;
* real: page text of ``../shared/data`` (dragnet, l3s_gn1, cleanportaleval HTML) extracted with
  resiliparse ``extract_plain_text(main_content=False)``, one block per line (benchmark-only use;
  extraction time is not counted; ``DEDUPE_DATA`` overrides the data folder).

Two APIs, same results (checked before timing): ``dedupe.clean`` one page per call, and
``dedupe.clean_many`` over the whole list (batches of 64 pages). Median of ``--runs`` passes over
all pages, wall clock and CPU time (``time.process_time``); ``--profile`` prints the cProfile top
functions of one ``clean`` pass over the real pages.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen  # noqa: E402
from bench_signatures import machine  # noqa: E402

import dedupe  # noqa: E402
from dedupe.io.html import decode_html, html_to_text  # noqa: E402  (the product's decoder and extractor)

DATA = Path(os.environ.get("DEDUPE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def real_pages(limit: int) -> list[str]:
    out: list[str] = []
    for name, key in (("dragnet", "html"), ("l3s_gn1", "original"), ("cleanportaleval", "html")):
        idx = DATA / name / "index.jsonl"
        if not idx.exists():
            continue
        rows = [json.loads(line) for line in idx.open(encoding="utf-8")]
        for row in rows[: max(1, limit // 3)]:
            path = row.get(key) or row.get("html")
            if not path:
                continue
            try:
                raw = gzip.open(DATA / name / path).read()
            except OSError:
                continue
            text = html_to_text(decode_html(raw))
            if text.strip():
                out.append(text)
    return out


def _single(texts: list[str]) -> list:
    return [dedupe.clean(t) for t in texts]


def _many(texts: list[str]) -> list:
    return dedupe.clean_many(texts)


MODES = {"clean (one page per call)": _single, "clean_many (batch API, same results)": _many}


def bench(texts: list[str], runs: int, fn=_single) -> tuple[float, float, float, float]:
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    fn(texts[:5])  # warm-up: lookup tables, caches
    times, cpus = [], []
    removed = 0
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        results = fn(texts)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        removed = sum(len(t) - len(r.text) for t, r in zip(texts, results))
    dt = statistics.median(times)
    return mb / dt, mb / statistics.median(cpus), len(texts) / dt, removed / max(1, sum(len(t) for t in texts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--real", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    print(f"# machine: {machine()}")
    sets = {
        "generated pages (gen.py, planted repeats)": [p.text for p in gen.pages(args.pages, seed=0)],
        "real pages (dragnet + l3s_gn1 + cleanportaleval, resiliparse text)": real_pages(args.real),
    }
    print("| input | API | pages | mean KB/page | MB/s (wall) | MB per CPU-second | pages/s | chars removed |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, texts in sets.items():
        if not texts:
            print(f"| {label} | | 0 | | | | | |")
            continue
        assert [r.spans for r in _many(texts)] == [r.spans for r in _single(texts)], "clean_many != clean"
        kb = sum(len(t.encode()) for t in texts) / len(texts) / 1e3
        for mode, fn in MODES.items():
            mbs, mbc, pps, frac = bench(texts, args.runs, fn)
            print(f"| {label} | {mode} | {len(texts)} | {kb:.1f} | {mbs:.1f} | {mbc:.1f} | {pps:,.0f} | {frac:.1%} |")
    if args.profile:
        texts = list(sets.values())[1] or list(sets.values())[0]
        prof = cProfile.Profile()
        prof.enable()
        for t in texts:
            dedupe.clean(t)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
