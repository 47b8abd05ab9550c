"""Within-page gold negatives: how much repetition that human annotators kept as content would
the default ``dedupe.clean`` remove?

Data (read-only): ``../shared/data/derived_within_page_repeats/repeats.jsonl``.

* Rows whose ``source`` starts with ``"gold main-content text"``: a paragraph (>= 40 chars) that
  occurs >= 2 times inside the human gold text of one page (cleaneval, dragnet, scrapinghub_aeb,
  cleanportaleval). We clean the page's GOLD text and measure, per row, whether any copy loses
  characters (a removed copy is lost content relative to the gold even when another copy is kept)
  and how many of the copies' characters are removed.
* Rows of ``l3s_gn1`` ("annotated block labels"): the page is its labelled blocks, one per line
  (``derived_blocks.jsonl``). We count rows where a copy is removed, separately for repeats whose
  copies are all not-content (removing one is right) and all fulltext (removing one loses content).

Usage::

    python benchmarks/bench_within_gold.py [--data ../shared/data] [--min-tokens N] [--keep first]
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

import dedupe
from dedupe import Config, WithinConfig

ROOT = Path(__file__).resolve().parents[1]
_MARKER = re.compile(r"^\s*<(?:p|h|l)>", re.MULTILINE)


def decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4096].count(b"\x00") > 16:
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_index(data: Path, dataset: str) -> dict[str, dict]:
    out = {}
    with open(data / dataset / "index.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out[str(row["id"])] = row
    return out


def gold_text(data: Path, dataset: str, row: dict, cache: dict) -> str | None:
    if dataset == "scrapinghub_aeb":
        if "gt" not in cache:
            cache["gt"] = json.loads((data / dataset / "ground-truth.json").read_text(encoding="utf-8"))
        item = cache["gt"].get(row["id"])
        return item.get("articleBody") if item else None
    rel = row.get("gold")
    if not rel:
        return None
    path = data / dataset / rel
    if not path.exists():
        return None
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = decode(raw).replace("\r\n", "\n")
    if dataset in ("cleaneval", "cleanportaleval"):
        if text.startswith("URL:"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
        text = _MARKER.sub("", text)
    return text


def occurrences(page: str, snippet: str) -> list[tuple[int, int]]:
    """Where ``snippet`` occurs in ``page``, whitespace-insensitively."""
    words = snippet.replace("\x00", "").split()
    if not words:
        return []
    pat = re.compile(r"\s+".join(re.escape(w) for w in words))
    return [m.span() for m in pat.finditer(page)]


def removed_in(spans, a: int, b: int) -> int:
    return sum(max(0, min(b, s.end) - max(a, s.start)) for s in spans)


def nonspace(s: str) -> int:
    return sum(1 for ch in s if not ch.isspace())


def removed_nonspace(page: str, spans, a: int, b: int) -> int:
    return sum(nonspace(page[max(a, s.start) : min(b, s.end)]) for s in spans if s.start < b and a < s.end)


def run(data: Path, cfg: Config, verbose: bool) -> dict:
    rows = [json.loads(line) for line in open(data / "derived_within_page_repeats" / "repeats.jsonl", encoding="utf-8")]
    gold_rows = [r for r in rows if r["source"].startswith("gold main-content text")]
    l3s_rows = [r for r in rows if r["dataset"] == "l3s_gn1"]

    # ---------------------------------------------------------------- gold rows
    by_page: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in gold_rows:
        by_page[(r["dataset"], str(r["id"]))].append(r)
    indexes: dict[str, dict] = {}
    caches: dict[str, dict] = defaultdict(dict)
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples: list[str] = []
    t0 = time.perf_counter()
    for (ds, pid), prow in sorted(by_page.items()):
        if ds not in indexes:
            indexes[ds] = load_index(data, ds)
        page = gold_text(data, ds, indexes[ds].get(pid, {"id": pid}), caches[ds])
        st = stats[ds]
        st["pages"] += 1
        if page is None:
            st["rows_no_gold"] += len(prow)
            continue
        res = dedupe.clean(page, config=cfg)
        spans = res.removed_spans
        st["page_chars"] += nonspace(page)
        st["page_removed_chars"] += sum(nonspace(s.text) for s in spans)
        for r in prow:
            occ = occurrences(page, r["text"])
            st["rows"] += 1
            if len(occ) < 2:
                st["rows_not_located"] += 1
                if not occ:
                    continue
            chars = sum(nonspace(page[a:b]) for a, b in occ)
            rem = sum(removed_nonspace(page, spans, a, b) for a, b in occ)
            st["row_chars"] += chars
            st["row_removed_chars"] += rem
            any_removed = rem > 0
            half_removed = any(removed_nonspace(page, spans, a, b) * 2 >= nonspace(page[a:b]) for a, b in occ)
            st["rows_any_removed"] += any_removed
            st["rows_copy_half_removed"] += half_removed
            if any_removed and verbose and len(examples) < 40:
                examples.append(f"{ds}/{pid}: {r['text'][:90]!r}")
    elapsed = time.perf_counter() - t0

    # ---------------------------------------------------------------- l3s_gn1 block labels
    blocks: dict[str, list[dict]] = {}
    with open(data / "l3s_gn1" / "derived_blocks.jsonl", encoding="utf-8") as fh:
        for line in fh:
            b = json.loads(line)
            blocks[b["id"]] = b["blocks"]
    l3s: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in l3s_rows:
        bl = blocks.get(r["id"])
        if bl is None:
            continue
        texts = [b["text"] for b in bl]
        page = "\n".join(texts)
        starts = []
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        res = dedupe.clean(page, config=cfg)
        spans = res.removed_spans
        labels = set(r["labels"])
        if labels == {"not-content"}:
            cat = "only not-content"
        elif labels == {"fulltext"}:
            cat = "only fulltext"
        elif labels <= {"fulltext", "headline", "supplemental"}:
            cat = "content (mixed)"
        elif "not-content" in labels and labels & {"fulltext", "headline", "supplemental"}:
            cat = "content + not-content"
        else:
            cat = "other (" + "+".join(sorted(labels)) + ")"
        st = l3s[cat]
        st["rows"] += 1
        removed_copies = 0
        for bi in r["block_indexes"]:
            a, b = starts[bi], starts[bi] + len(texts[bi])
            if removed_nonspace(page, spans, a, b) * 2 >= nonspace(page[a:b]):
                removed_copies += 1
        st["rows_copy_removed"] += removed_copies > 0
        st["copies"] += len(r["block_indexes"])
        st["copies_removed"] += removed_copies
    return {"gold": stats, "l3s": l3s, "examples": examples, "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--min-tokens", type=int, default=None)
    ap.add_argument("--keep", default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="list removed gold rows")
    args = ap.parse_args(argv)
    w = {}
    if args.min_tokens:
        w["min_repeat_tokens"] = args.min_tokens
    if args.keep:
        w["keep_policy"] = args.keep
    cfg = Config(within=WithinConfig(**w))
    out = run(args.data, cfg, args.verbose)
    print(f"dedupe {dedupe.__version__}, within config: {json.dumps(cfg.to_dict()['within'])}")
    print()
    print("Gold negatives (repeated paragraphs annotators kept as content; page = gold text)")
    print("| dataset | pages | rows | rows with a copy losing chars | rows with a copy >= 50% removed | row chars removed | all gold chars removed |")
    print("|---|---|---|---|---|---|---|")
    tot: dict[str, int] = defaultdict(int)
    for ds, st in sorted(out["gold"].items()):
        for k, v in st.items():
            tot[k] += v
    for ds, st in [*sorted(out["gold"].items()), ("**total**", tot)]:
        rows = st["rows"] or 1
        print(
            f"| {ds} | {st['pages']} | {st['rows']} | {st['rows_any_removed']} ({100 * st['rows_any_removed'] / rows:.1f}%) "
            f"| {st['rows_copy_half_removed']} ({100 * st['rows_copy_half_removed'] / rows:.1f}%) "
            f"| {st['row_removed_chars']:,} / {st['row_chars']:,} ({100 * st['row_removed_chars'] / max(st['row_chars'], 1):.1f}%) "
            f"| {st['page_removed_chars']:,} / {st['page_chars']:,} ({100 * st['page_removed_chars'] / max(st['page_chars'], 1):.2f}%) |"
        )
    if tot["rows_not_located"] or tot["rows_no_gold"]:
        print(f"(rows located fewer than 2 times in the gold text: {tot['rows_not_located']}; rows without gold file: {tot['rows_no_gold']})")
    print(f"(chars = non-space characters; clean on {tot['pages']} gold pages took {out['seconds']:.2f} s)")
    print()
    print("l3s_gn1 repeated blocks (page = labelled blocks, one per line); a copy counts as removed at >= 50% of its chars")
    print("| labels of the copies | rows | rows with a copy removed | copies removed / copies |")
    print("|---|---|---|---|")
    for cat, st in sorted(out["l3s"].items(), key=lambda kv: -kv[1]["rows"]):
        print(f"| {cat} | {st['rows']} | {st['rows_copy_removed']} | {st['copies_removed']} / {st['copies']} |")
    if out["examples"]:
        print()
        print("Gold rows that lose characters:")
        for e in out["examples"]:
            print("  " + e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
