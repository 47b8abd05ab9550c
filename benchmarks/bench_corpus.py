"""Corpus-mode speed and memory: `dedupe corpus` end to end on generated corpora.

For each size (default 25 / 50 / 100 MB of UTF-8 text, :mod:`gen_corpus`, seed 0) and each
worker count (1, 2), runs ``dedupe corpus FILE --out OUT --report REPORT --quiet`` in a fresh
child process (through the command's entry point, :func:`dedupe.cli.main`) and reports wall time
(from the child's first line: the command's imports count), MB/s (input text bytes / wall seconds), peak RSS of the
main process and the largest peak RSS of a worker process (``getrusage``), CPU seconds of the
main process and of the workers (a fairer figure than wall time on a shared machine), pages, removed
characters, near-duplicate clusters (from OUT), and whether OUT and REPORT are byte-identical to
the first worker count's run (sha256).

Run: ``python benchmarks/bench_corpus.py [--sizes 25 50 100] [--workers 1 2]``

First it prints the resident floor (:func:`resident_floor`): the resident size of fresh
interpreters that only import what the driver and the workers' server import before any page is
read, under every peak in the table.

The package's modules are compiled to bytecode first (``compileall``), as an installed package
has them.

``--stages``: instead, one child per size and worker count prints the main process's resident
size at each stage of the corpus job (``/proc/self/status`` VmRSS, and VmHWM = the peak since
the previous line: the peak is reset with ``/proc/self/clear_refs`` after each line; Linux only).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # a child's time runs from here: the command's imports count

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _stop_forkserver() -> None:
    """Workers are forks of multiprocessing's forkserver, not children of this process: stop the
    server (it has reaped its workers) and reap it, so that RUSAGE_CHILDREN counts the workers'
    CPU and peak RSS (and the server's own)."""
    import multiprocessing.forkserver as mf

    server = getattr(mf, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None):
        time.sleep(0.05)  # the server reaps workers that just exited
        server._stop()


def _child(path: str, workers: int, out: str, report: str) -> None:
    # the command as a user runs it: its entry point, its imports included in the time
    from dedupe.cli import main as dedupe_main

    sys.argv = ["dedupe", "corpus", path, "--out", out, "--report", report, "--workers", str(workers), "--quiet"]
    try:
        dedupe_main()
    except SystemExit as exc:
        if exc.code:
            raise
    secs = time.perf_counter() - _T0
    _stop_forkserver()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "secs": secs, "rss_main_mb": me.ru_maxrss / 1024, "rss_worker_mb": kids.ru_maxrss / 1024,
        "cpu_main": me.ru_utime + me.ru_stime, "cpu_workers": kids.ru_utime + kids.ru_stime,
    }))


def _stages_child(path: str, workers: int, out: str, report: str) -> None:
    """Resident size of this process at each stage of ``dedupe corpus`` (see the module doc)."""
    import functools

    from dedupe.cli import corpus as cli_corpus
    from dedupe.cli.app import app
    from dedupe.engine import corpus, crosspage, index, neardup

    t0 = time.perf_counter()

    def log(what: str) -> None:
        got = {}
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS", "VmHWM")):
                    k, v = line.split(":")
                    got[k] = int(v.split()[0]) / 1024
        print(f"| {time.perf_counter() - t0:6.1f} | {what} | {got['VmRSS']:.0f} | {got['VmHWM']:.0f} |", flush=True)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak

    def wrap(owner: object, name: str) -> None:
        f = getattr(owner, name)

        @functools.wraps(f)
        def g(*a: object, **k: object) -> object:
            log(f"before {name}")
            r = f(*a, **k)
            log(f"after {name}")
            return r

        setattr(owner, name, g)

    for owner, name in ((crosspage.BlockTable, "resolve"), (neardup, "page_groups"), (corpus, "_exclusions"),
                        (corpus._Mapper, "share_index"), (neardup, "cluster")):
        wrap(owner, name)
    freeze = index.CountIndex.freeze

    def logged_freeze(self: index.CountIndex, **kw: object) -> index.CountIndex:
        if self._frozen:
            return self
        log("before freeze")
        freeze(self, **kw)  # type: ignore[arg-type]
        log("after freeze")
        return self

    index.CountIndex.freeze = logged_freeze  # type: ignore[method-assign]
    wrap(index.CountIndex, "freeze_shared")
    stage = [""]

    def progress(self: object, st: str, done: int, total: int | None) -> None:
        if st != stage[0]:
            log(f"{st} starts")
            stage[0] = st
        if total and done == total:
            log(f"{st} done")

    cli_corpus._Progress.__call__ = progress  # type: ignore[method-assign]
    print("| s | stage | RSS MB | peak since previous line MB |\n|---|---|---|---|")
    log("imports")
    try:
        app(["corpus", path, "--out", out, "--report", report, "--workers", str(workers), "--quiet"], standalone_mode=False)
    except SystemExit as exc:  # pragma: no cover
        if exc.code:
            raise
    log("end")


#: what each floor probe imports before its resident size is read, and the interpreter's flags
#: (see :func:`resident_floor`); ``-S``: without the site-packages' start-up (``.pth`` files a
#: machine may add, e.g. one importing certifi: part of every process's floor there)
FLOOR_PROBES = (
    ("an interpreter without site (-S)", "", ["-S"]),
    ("an interpreter", "", []),
    ("with numpy", "import numpy", []),
    ("the command's driver after its imports", "import dedupe.cli.app, dedupe.engine.corpus", []),
    ("the workers' server after its preload", "import dedupe.engine.corpus, dedupe.core._warm", []),
)


def resident_floor() -> list[tuple[str, float]]:
    """The resident size (VmRSS, MB) of fresh interpreters that only import what a process of a
    corpus run imports before it reads any page: the floor under every peak in the table (Linux)."""
    out = []
    for name, imports, flags in FLOOR_PROBES:
        code = f"{imports}\nfor line in open('/proc/self/status'):\n    if line.startswith('VmRSS'): print(int(line.split()[1]) / 1024)"
        got = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True)
        if got.returncode == 0 and got.stdout.strip():
            out.append((name, float(got.stdout.split()[-1])))
    return out


def compile_bytecode(package: Path) -> None:
    """Compile the package's modules to bytecode before timing, as an installed package has them:
    with ``PYTHONDONTWRITEBYTECODE`` set (as on the machines these figures come from) Python
    never writes its cache, so every run would compile ~40 modules again (~0.08 s of start-up)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[25, 50, 100])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stages", action="store_true", help="resident size at each stage of the job (Linux)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--stages-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2], args.child[3])
        return
    if args.stages_child:
        _stages_child(args.stages_child[0], int(args.stages_child[1]), args.stages_child[2], args.stages_child[3])
        return
    sys.path.insert(0, str(HERE))
    from gen_corpus import generate

    import dedupe

    compile_bytecode(Path(dedupe.__file__).parent)
    tmp = Path(tempfile.mkdtemp(prefix="dedupe-bench-"))
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; load average at start {os.getloadavg()[0]:.1f}")
    floor = resident_floor()
    if floor:
        print("resident size before any page (MB): " + "; ".join(f"{name} {mb:.1f}" for name, mb in floor))
    if not args.stages:
        print("| corpus MB | pages | workers | seconds | MB/s | CPU s main + workers | peak RSS main (MB) | peak RSS worker (MB) | removed % | clusters | same output |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mb in args.sizes:
        path = tmp / f"corpus{mb:g}.jsonl"
        n_bytes = 0
        pages = 0
        with open(path, "w", encoding="utf-8") as fh:
            for row in generate(mb, args.seed):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n_bytes += len(row["text"].encode("utf-8"))
                pages += 1
        first_digest = None
        for w in args.workers:
            out, rep = tmp / "out.jsonl", tmp / "rep.jsonl"
            if args.stages:
                print(f"\n{mb:g} MB, {w} worker(s):", flush=True)
                subprocess.run([sys.executable, __file__, "--stages-child", str(path), str(w), str(out), str(rep)], check=True)
                continue
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(w), str(out), str(rep)],
                capture_output=True, text=True, check=True,
            )
            m = json.loads(proc.stdout.strip().splitlines()[-1])
            orig = cleaned = 0
            clusters = set()
            with open(out, encoding="utf-8") as fh:
                for line in fh:
                    d = json.loads(line)["dedupe"]
                    orig += d["original_chars"]
                    cleaned += d["cleaned_chars"]
                    if d["cluster"] is not None:
                        clusters.add(d["cluster"])
            import hashlib  # here, not at the top: a child would carry OpenSSL (~3.5 MB) in its peak

            h = hashlib.sha256()
            for f in (out, rep):
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            digest = h.hexdigest()
            first_digest = first_digest or digest
            print(
                f"| {n_bytes / 1e6:.1f} | {pages:,} | {w} | {m['secs']:.1f} | {n_bytes / 1e6 / m['secs']:.2f} | "
                f"{m['cpu_main']:.1f} + {m['cpu_workers']:.1f} | {m['rss_main_mb']:.0f} | {m['rss_worker_mb']:.0f} | {100 * (orig - cleaned) / orig:.1f} | {len(clusters)} | "
                f"{'yes' if digest == first_digest else 'NO'} |",
                flush=True,
            )
        path.unlink()
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
