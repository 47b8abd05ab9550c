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


# ---------------------------------------------------------------- positives: planted artefacts

_WORD = re.compile(r"\S+")


def _cover(spans, a: int, b: int) -> float:
    """Share of [a, b) covered by ``spans``."""
    return sum(max(0, min(b, s.end) - max(a, s.start)) for s in spans) / max(1, b - a)


def _handled(spans, a: int, b: int) -> bool:
    """The planted copy [a, b) or its original is cut by ``spans``: at least half of [a, b) is
    covered by the spans or by their kept copies (the policy may keep the planted copy and cut
    the original instead: the page then holds one copy either way)."""
    kept = [s for s in spans if s.kept is not None]
    by_kept = sum(max(0, min(b, s.kept[1]) - max(a, s.kept[0])) for s in kept) / max(1, b - a)
    return _cover(spans, a, b) >= 0.5 or by_kept >= 0.5


def plant(page: str, rng: "random.Random") -> "tuple[str, list[tuple[int, int, str]], list[str]] | None":
    """Extraction artefacts planted into a real (gold) article, the way extractors produce them.

    Returns (text, planted copies as (start, end, kind), body sentences that must survive) or
    None when the page is too short. Kinds: ``doubled`` (a paragraph printed twice back to
    back), ``teaser`` (two fragments of body sentences, cut mid-sentence, glued after the title
    at the top), ``title+lead`` (title and first paragraph printed again after a navigation line,
    with nothing else suggesting an artefact: expected to be flagged, not removed).
    """
    paras = [p.strip() for p in page.split("\n") if len(_WORD.findall(p)) >= 12]
    if len(paras) < 4:
        return None
    sents = [x for p in paras for x in re.split(r"(?<=[.!?])\s+", p) if len(_WORD.findall(x)) >= 16]
    if len(sents) < 2:
        return None
    title = " ".join(_WORD.findall(paras[0])[:9]).rstrip(".,;:") + "."
    frags = []
    for x in rng.sample(sents, 2):
        ws = _WORD.findall(x)
        i = next((j for j in range(3, len(ws) - 10) if ws[j][:1].islower()), None)
        if i is None:
            return None
        frags.append(" ".join(ws[i : i + rng.randint(9, 14)]).rstrip(".,;:") + ".")
    d = rng.randrange(1, len(paras))
    parts: list[tuple[str, str]] = [(title, "keep"), (" ".join(frags), "teaser"), ("Home | News | World | Sport", "keep"),
                                    (title, "title+lead"), (paras[0], "title+lead"), ("Published 19/06/2024 by Staff", "keep")]
    for i, p in enumerate(paras):
        parts.append((p, "keep"))
        if i == d:
            parts.append((p, "doubled"))
    text, pos, planted = "", 0, []
    for i, (t, kind) in enumerate(parts):
        sep = " " if kind == "doubled" or (i == 1) else ("\n" if i else "")
        text += sep
        pos += len(sep)
        if kind != "keep":
            if planted and planted[-1][2] == kind and kind == "title+lead":
                planted[-1] = (planted[-1][0], pos + len(t), kind)
            else:
                planted.append((pos, pos + len(t), kind))
        text += t
        pos += len(t)
    return text, planted, [x for p in paras for x in re.split(r"(?<=[.!?])\s+", p) if len(x) > 20]


def positives(data: Path, cfg: Config, n_pages: int) -> dict[str, dict[str, int]]:
    """Planted artefacts in dragnet gold articles and in ``gen.pages``: removed / flagged / missed."""
    import random

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gen  # noqa: E402

    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rng = random.Random("plant-0")
    idx = load_index(data, "dragnet")
    done = 0
    for pid in sorted(idx):
        if done >= n_pages:
            break
        page = gold_text(data, "dragnet", idx[pid], {})
        got = plant(page, rng) if page else None
        if got is None:
            continue
        text, planted, sentences = got
        done += 1
        res = dedupe.clean(text, config=cfg)
        flagged = [s for s in res.spans if not s.removed]
        for a, b, kind in planted:
            st = out["dragnet+" + kind]
            st["n"] += 1
            if _handled(res.removed_spans, a, b):
                st["removed"] += 1
            elif _handled(flagged, a, b):
                st["flagged"] += 1
        st = out["dragnet body sentences"]
        for x in sentences:
            st["n"] += 1
            st["removed"] += x not in res.text  # a body sentence lost (must stay 0)
    for pg in gen.pages(n_pages, seed=0):
        res = dedupe.clean(pg.text, config=cfg)
        flagged = [s for s in res.spans if not s.removed]
        for a, b, kind in pg.planted:
            if kind == "nav-copy":
                continue  # 6 words: below min_repeat_tokens by construction
            st = out["gen+" + kind]
            st["n"] += 1
            if _handled(res.removed_spans, a, b):
                st["removed"] += 1
            elif _handled(flagged, a, b):
                st["flagged"] += 1
    seed = (ROOT / "seeds" / "000_9438c1acc4b3994a.txt").read_text(encoding="utf-8")
    res = dedupe.clean(seed, config=cfg)
    st = out["seed page: repeat groups (4)"]
    st["n"] = 4
    st["removed"] = len(res.removed_spans)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--min-tokens", type=int, default=None)
    ap.add_argument("--keep", default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="list removed gold rows")
    ap.add_argument("--positives", type=int, default=200, help="pages per positive set (0: skip)")
    ap.add_argument("--remove-all", action="store_true", help="artefact_evidence=False (remove every repeat)")
    args = ap.parse_args(argv)
    w = {}
    if args.min_tokens:
        w["min_repeat_tokens"] = args.min_tokens
    if args.keep:
        w["keep_policy"] = args.keep
    if args.remove_all:
        w["artefact_evidence"] = False
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
    if args.positives:
        pos = positives(args.data, cfg, args.positives)
        print()
        print(f"Positives: planted artefacts ({args.positives} dragnet gold articles with planted copies; {args.positives} gen.py pages; the seed)")
        print("| planted copy | n | one copy removed | flagged only | neither |")
        print("|---|---|---|---|---|")
        for kind, st in sorted(pos.items()):
            n = st["n"] or 1
            rest = st["n"] - st["removed"] - st["flagged"]
            print(f"| {kind} | {st['n']} | {st['removed']} ({100 * st['removed'] / n:.1f}%) | {st['flagged']} | {rest} |")
        print("(dragnet body sentences: 'removed' = sentences of the article missing from the output)")
    if out["examples"]:
        print()
        print("Gold rows that lose characters:")
        for e in out["examples"]:
            print("  " + e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
