"""Corpus mode, two source trees side by side: alternating runs, CPU of the driver and of the workers.

    python benchmarks/ab_corpus.py CORPUS.jsonl --tree before=/tmp/old/src --tree after=src [--workers 2] [--runs 3]

Each run is ``dedupe corpus CORPUS --workers N`` through the command's entry point
(``dedupe.cli.main``; the time includes its imports) in a fresh interpreter whose ``PYTHONPATH`` is the
tree's ``src`` (the worker forkserver inherits it, so the workers run that tree too; build the
tree's C kernels first, e.g. ``python setup.py build_ext --inplace`` in a checkout). The forkserver
is stopped and reaped before the children's CPU is read: the workers are its children, and a
script that does not reap it misses their CPU. Runs alternate between the trees (A B A B ...), so a
machine that slows down or speeds up during the runs shifts both sides alike; the table shows each
tree's range over its runs and whether every run wrote the same OUT and REPORT bytes. Each tree's
package is compiled to bytecode first (``compileall``), as an installed package has it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RUNNER = r"""
import time
w = time.perf_counter()  # the command's imports count, as for a user
import json, resource, sys
from dedupe.cli import main
src, out, workers = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv = ["dedupe", "corpus", src, "--out", out, "--report", out + ".rep", "--workers", workers, "--quiet"]
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
wall = time.perf_counter() - w
import multiprocessing.forkserver as mf
server = getattr(mf, "_forkserver", None)
if server is not None and getattr(server, "_forkserver_pid", None):
    server._stop()  # the workers are the forkserver's children: reap it to count their CPU
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "main": me.ru_utime + me.ru_stime, "workers": kids.ru_utime + kids.ru_stime}))
"""


def digest(path: str) -> str:
    h = hashlib.sha256()
    for p in (path, path + ".rep"):
        with open(p, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:8]


def run(tree: Path, corpus: str, workers: int, out: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    got = subprocess.run([sys.executable, "-c", RUNNER, corpus, out, str(workers)], env=env, capture_output=True, text=True, check=True)
    res = json.loads(got.stdout.strip().splitlines()[-1])
    res["sha"] = digest(out)
    return res


def span(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", help="a JSONL corpus (e.g. from benchmarks/gen_corpus.py)")
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH of a tree's src directory (give two or more)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="runs per tree, alternating")
    args = ap.parse_args()
    trees = [(name, Path(path).resolve()) for name, path in (t.split("=", 1) for t in args.tree)]
    for _, tree in trees:  # bytecode compiled, as an installed package has it (see bench_corpus.compile_bytecode)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "dedupe")], check=True, stdout=subprocess.DEVNULL)
    mb = os.path.getsize(args.corpus) / 1e6
    results: dict[str, list[dict]] = {name: [] for name, _ in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            for name, tree in trees:
                res = run(tree, args.corpus, args.workers, os.path.join(tmp, f"{name}-{r}.jsonl"))
                results[name].append(res)
                print(f"run {r + 1} {name}: wall {res['wall']:.2f} s, main {res['main']:.2f} + workers {res['workers']:.2f} CPU-s, out {res['sha']}", file=sys.stderr, flush=True)
    shas = {res["sha"] for rs in results.values() for res in rs}
    print(f"# {args.corpus}: {mb:.1f} MB, --workers {args.workers}, {args.runs} alternating runs per tree; load at the end {os.getloadavg()[0]:.1f}")
    print("| tree | wall s | MB/s | CPU s main | CPU s workers |")
    print("|---|---|---|---|---|")
    for name, rs in results.items():
        walls = [x["wall"] for x in rs]
        print(f"| {name} | {span(walls)} | {span([mb / w for w in walls])} | {span([x['main'] for x in rs])} | {span([x['workers'] for x in rs])} |")
    print(f"same output in every run: {'yes' if len(shas) == 1 else 'NO (' + ', '.join(sorted(shas)) + ')'}")


if __name__ == "__main__":
    main()
