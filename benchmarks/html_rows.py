"""A JSONL corpus of HTML rows for the corpus-mode benchmarks: the dragnet pages of
``../shared/data`` (read there, never copied into the project) as ``{"id", "html", "url",
"site"}`` rows, in the set's order, repeated under new ids until the file reaches the size asked.

    python benchmarks/html_rows.py /tmp/html_rows.jsonl --mb 60
    python benchmarks/ab_corpus.py /tmp/html_rows.jsonl --tree before=/tmp/old/src --tree after=src

HTML rows are converted to text when they are read (``io.html.read_html``): with ``--workers``
> 1 the pool's workers read and convert them, otherwise the main process does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATA, _read_gz, _rows  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=60.0, help="size of the file to write (MB)")
    args = ap.parse_args()
    pages = [(r["id"], r["site"], _read_gz(DATA / "dragnet" / r["html"])) for r in _rows("dragnet")]
    limit, size, rep = args.mb * 1e6, 0, 0
    with open(args.out, "w", encoding="utf-8") as fh:
        while size < limit:
            for pid, site, html in pages:
                line = json.dumps({"id": f"{rep}-{pid}", "html": html, "url": f"https://{site}/{pid}", "site": site}, ensure_ascii=False) + "\n"
                fh.write(line)
                size += len(line.encode("utf-8"))
                if size >= limit:
                    break
            rep += 1
    print(f"{args.out}: {size / 1e6:.1f} MB of HTML rows ({len(pages)} dragnet pages, {rep} pass(es))")


if __name__ == "__main__":
    main()
