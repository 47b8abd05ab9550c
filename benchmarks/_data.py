"""Loading the multi-page development sets of ``../shared/data`` for the boilerplate benchmark.

Everything here is benchmark plumbing, not part of the package, except the two functions it takes
from the package's HTML adapter (:mod:`dedupe.io.html`), so the benchmark reads pages exactly as
``dedupe corpus`` does:

* :func:`decode_html` — robust bytes → str (BOM → UTF-8 → declared charset → cp1252 → replace).
* :func:`html_to_text` — all visible text, one block per line (resiliparse
  ``extract_plain_text(main_content=False)``), the "full text" input of the reference rows.
* :func:`load_set` — pages of ``dragnet`` / ``cleanportaleval`` / ``l3s_gn1`` with their site and
  human gold text, as defined in ``../shared/data/README.md``.
* :func:`bow_scores` / :func:`macro_prf` — the bag-of-words metric of that README.
* Extracted texts are cached under ``benchmarks/.cache/`` (gitignored).

The data is read-only and never copied into the repository.
"""

from __future__ import annotations

import gzip
import html as html_lib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from dedupe.io.html import decode_html, html_to_text  # the product's decoder and extractor

HERE = Path(__file__).resolve().parent
DATA = (HERE.parent.parent / "shared" / "data").resolve()
CACHE = HERE / ".cache"

_TOKEN = re.compile(r"\w+")


@dataclass
class Page:
    id: str
    site: str
    html: str
    gold: str




def trafilatura_text(html: str) -> str:
    """trafilatura's default extraction (empty string when it returns None)."""
    import trafilatura

    return trafilatura.extract(html) or ""


def _read_gz(path: Path) -> str:
    with gzip.open(path, "rb") as fh:
        return decode_html(fh.read())


def _rows(name: str) -> list[dict]:
    with open(DATA / name / "index.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _dragnet() -> list[Page]:
    out = []
    for r in _rows("dragnet"):
        # a few gold files are UTF-16 with a BOM or cp1252: same robust decoding as the HTML
        gold = decode_html((DATA / "dragnet" / r["gold"]).read_bytes())
        gold = gold.split("!@#$%^&*()  COMMENTS")[0]
        out.append(Page(r["id"], r["site"], _read_gz(DATA / "dragnet" / r["html"]), gold))
    return out


_CPE_TAG = re.compile(r"^\s*<(p|h|l)>", re.M)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _cleanportaleval() -> list[Page]:
    out = []
    for r in _rows("cleanportaleval"):
        raw = decode_html((DATA / "cleanportaleval" / r["gold"]).read_bytes())
        lines = raw.strip().splitlines()
        if lines and lines[0].startswith("URL:"):
            lines = lines[1:]
        gold = html_lib.unescape(_CPE_TAG.sub("", _HTML_COMMENT.sub("", "\n".join(lines))))
        if not gold.strip():
            continue  # pages without gold text are not scored
        out.append(Page(r["id"], r["site"], _read_gz(DATA / "cleanportaleval" / r["html"]), gold))
    return out


def _l3s() -> list[Page]:
    blocks = {}
    with open(DATA / "l3s_gn1" / "derived_blocks.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            blocks[r["id"]] = r["blocks"]
    out = []
    for r in _rows("l3s_gn1"):
        gold = "\n".join(b["text"] for b in blocks.get(r["id"], []) if b["label"] in ("headline", "fulltext", "supplemental"))
        out.append(Page(r["id"], r["site"], _read_gz(DATA / "l3s_gn1" / r["original"]), gold))
    return out


LOADERS = {"dragnet": _dragnet, "cleanportaleval": _cleanportaleval, "l3s_gn1": _l3s}
#: minimum pages per site kept in each set (README: dragnet and l3s_gn1 sites with >= 3 pages)
MIN_SITE_PAGES = {"dragnet": 3, "cleanportaleval": 1, "l3s_gn1": 3}


#: bump when the text extraction changes (v2: an unclosed <title> no longer swallows the page)
CACHE_VERSION = 2


def load_set(name: str, *, use_cache: bool = True) -> list[dict]:
    """Pages of one set as dicts ``id, site, gold, full, traf`` (full = resiliparse text,
    traf = trafilatura output), restricted to sites with enough pages; cached as JSON."""
    CACHE.mkdir(exist_ok=True)
    cache = CACHE / f"{name}-v{CACHE_VERSION}.json"
    if use_cache and cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    pages = LOADERS[name]()
    per_site = Counter(p.site for p in pages)
    pages = [p for p in pages if per_site[p.site] >= MIN_SITE_PAGES[name]]
    rows = [
        {"id": p.id, "site": p.site, "gold": p.gold, "full": html_to_text(p.html), "traf": trafilatura_text(p.html)}
        for p in pages
    ]
    cache.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return rows


def bow(text: str) -> Counter:
    return Counter(_TOKEN.findall(text.lower()))


def bow_scores(pred: str, gold: str) -> tuple[float | None, float]:
    """(precision or None when ``pred`` has no token, recall) of one page."""
    p, g = bow(pred), bow(gold)
    inter = sum((p & g).values())
    np_, ng = sum(p.values()), sum(g.values())
    prec = inter / np_ if np_ else None
    rec = inter / ng if ng else 1.0
    return prec, rec


def macro_prf(preds: list[str], golds: list[str]) -> dict:
    """Macro P over pages with non-empty output, macro R over all pages, F1 of the two macros."""
    ps, rs = [], []
    empty = 0
    for pred, gold in zip(preds, golds):
        p, r = bow_scores(pred, gold)
        rs.append(r)
        if p is None:
            empty += 1
        else:
            ps.append(p)
    P = sum(ps) / len(ps) if ps else 0.0
    R = sum(rs) / len(rs) if rs else 0.0
    F = 2 * P * R / (P + R) if P + R else 0.0
    return {"P": P, "R": R, "F1": F, "empty": empty, "pages": len(preds)}


def by_site(rows: list[dict]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r["site"]].append(i)
    return dict(groups)
