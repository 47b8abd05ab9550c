"""Text → 128-permutation MinHash signature, end to end: dedupe vs datasketch vs rensa, one run.

    python benchmarks/bench_signatures.py [--docs 2000] [--words 300] [--runs 5] [--seed 0]

Corpus: benchmarks/gen.py, ``--docs`` originals of ~``--words`` words plus planted near-duplicates
(one copy at 1% and one at 5% scattered word edits for 10% of the originals). Every path starts from
the page text and ends with a 128-permutation signature per document, in this one process:

* dedupe: ``signatures_for_texts`` (tokenise, shingle, MinHash, all numpy, batched);
* datasketch 2.0 ``MinHash.update`` per shingle, ``update_batch``, ``MinHash.bulk``;
* rensa ``RMinHash.update`` per document and its bulk ``digest_matrix_from_token_sets``;

the peers fed by Python shingling (``re.findall(r"\\w+", text.lower())``, word 5-grams joined by
spaces; datasketch needs bytes, so ``.encode()``). The generated words are ASCII letters, so the
peers' shingles are the same shingles as dedupe's (checked: distinct-shingle counts per document).
Timings are medians over ``--runs`` rounds, paths interleaved within each round. Quality: mean
|estimated − exact Jaccard| on the planted pairs, and recall of the planted pairs with the
project's default LSH banding (``NearDupConfig.bands``) and threshold (estimated Jaccard ≥
``NearDupConfig.threshold``). Memory: tracemalloc peak of the streaming signature path
(``iter_signatures``) per batch size, on the corpus and on the corpus repeated 4 times.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen  # noqa: E402

from dedupe.config import NearDupConfig, SignatureConfig  # noqa: E402
from dedupe.core.minhash import band_keys, candidate_pairs  # noqa: E402
from dedupe.core.shingle import shingle_hashes  # noqa: E402
from dedupe.core.tokenize import tokenize_many  # noqa: E402
from dedupe.engine.signatures import iter_signatures, signatures_for_texts  # noqa: E402

NUM_PERM = 128
WORD = re.compile(r"\w+")


def py_shingles(text: str, k: int) -> list[str]:
    w = WORD.findall(text.lower())
    if len(w) < k:
        return [" ".join(w)] if w else []
    return [" ".join(w[i : i + k]) for i in range(len(w) - k + 1)]


def machine() -> str:
    model = "?"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc), {model}, Python {platform.python_version()}, numpy {np.__version__}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()

    import datasketch
    import rensa
    from datasketch import MinHash
    from rensa import RMinHash

    cfg = SignatureConfig(num_perm=NUM_PERM)
    k = cfg.shingle_size
    texts, pairs = gen.near_dup_corpus(args.docs, words=args.words, dup_rate=0.1, seed=args.seed)
    n = len(texts)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"# machine: {machine()}")
    print(f"# datasketch {datasketch.__version__}, rensa {getattr(rensa, '__version__', '0.5')}")
    print(f"# corpus: {n} docs ({args.docs} originals + {len(pairs)} planted near-duplicates), {mb:.2f} MB UTF-8, "
          f"word {k}-grams, {NUM_PERM} permutations, seed {args.seed}")

    # ---- same shingles? (distinct-shingle count per document)
    toks = tokenize_many(texts)
    sh, off = shingle_hashes(toks.hashes, toks.offsets, k)
    ours = [len(np.unique(sh[off[i] : off[i + 1]])) for i in range(n)]
    theirs = [len(set(py_shingles(t, k))) for t in texts]
    mismatch = sum(a != b for a, b in zip(ours, theirs))
    print(f"# shingle sets: {mismatch} of {n} documents differ in distinct-shingle count between dedupe and Python shingling")

    # ---- paths
    results: dict[str, np.ndarray] = {}

    def p_dedupe() -> None:
        results["dedupe"] = signatures_for_texts(texts, cfg, batch_size=args.batch)

    def p_ds_update() -> None:
        out = []
        for t in texts:
            m = MinHash(num_perm=NUM_PERM, seed=1)
            for s in py_shingles(t, k):
                m.update(s.encode())
            out.append(m.hashvalues)
        results["ds_update"] = np.array(out)

    def p_ds_batch() -> None:
        out = []
        for t in texts:
            m = MinHash(num_perm=NUM_PERM, seed=1)
            m.update_batch([s.encode() for s in py_shingles(t, k)])
            out.append(m.hashvalues)
        results["ds_batch"] = np.array(out)

    def p_ds_bulk() -> None:
        ms = MinHash.bulk([[s.encode() for s in py_shingles(t, k)] for t in texts], num_perm=NUM_PERM, seed=1)
        results["ds_bulk"] = np.array([m.hashvalues for m in ms])

    def p_rensa() -> None:
        out = []
        for t in texts:
            m = RMinHash(num_perm=NUM_PERM, seed=1)
            m.update(py_shingles(t, k))
            out.append(m.digest())
        results["rensa"] = np.array(out, dtype=np.uint32)

    def p_rensa_bulk() -> None:
        mat = RMinHash.digest_matrix_from_token_sets([py_shingles(t, k) for t in texts], num_perm=NUM_PERM, seed=1)
        results["rensa_bulk"] = np.array(mat.to_rows(), dtype=np.uint32)

    def p_shingling_only() -> None:
        for t in texts:
            py_shingles(t, k)

    paths = [
        ("dedupe signatures_for_texts", "dedupe", p_dedupe),
        ("datasketch MinHash.update per shingle", "ds_update", p_ds_update),
        ("datasketch MinHash.update_batch", "ds_batch", p_ds_batch),
        ("datasketch MinHash.bulk", "ds_bulk", p_ds_bulk),
        ("rensa RMinHash.update per doc", "rensa", p_rensa),
        ("rensa digest_matrix_from_token_sets (bulk)", "rensa_bulk", p_rensa_bulk),
        ("(Python shingling alone, no hashing)", "shingling", p_shingling_only),
    ]
    times: dict[str, list[float]] = {key: [] for _, key, _ in paths}
    cpu: dict[str, list[float]] = {key: [] for _, key, _ in paths}
    for r in range(args.runs):
        order = paths[r % len(paths):] + paths[: r % len(paths)]
        for _, key, fn in order:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
            cpu[key].append(time.process_time() - c0)
    med = {key: statistics.median(v) for key, v in times.items()}
    print()
    print(f"| path (text → {NUM_PERM}-perm signature) | docs/s | MB/s | CPU s / wall s | dedupe speed-up |")
    print("|---|---:|---:|---:|---:|")
    for label, key, _ in paths:
        ratio = med[key] / med["dedupe"]
        cpu_ratio = statistics.median(cpu[key]) / med[key]
        print(f"| {label} | {n / med[key]:,.0f} | {mb / med[key]:.1f} | {cpu_ratio:.2f} | "
              f"{'—' if key == 'dedupe' else f'{ratio:.1f}×'} |")

    # ---- compatibility: does dedupe equal datasketch fed dedupe's own shingle hash? (tests check it
    #      exactly; here only the shape) and quality on the planted pairs
    exact = {}
    sets = [set(py_shingles(t, k)) for t in texts]
    for p in pairs:
        a, b = sets[p.a], sets[p.b]
        exact[(p.a, p.b)] = len(a & b) / len(a | b)
    nd = NearDupConfig()
    print()
    print(f"| signatures | rate | mean exact J | mean abs(est − exact) | LSH recall ({nd.bands} bands) | recall at est ≥ {nd.threshold} |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, label in (("dedupe", "dedupe"), ("ds_bulk", "datasketch bulk"), ("rensa_bulk", "rensa bulk")):
        sig = results[key].astype(np.uint32)
        cand = candidate_pairs(band_keys(sig, nd.bands))
        cset = {(int(i), int(j)) for i, j in cand}
        for rate in sorted({p.rate for p in pairs}):
            ps = [p for p in pairs if p.rate == rate]
            est = np.array([(sig[p.a] == sig[p.b]).mean() for p in ps])
            ex = np.array([exact[(p.a, p.b)] for p in ps])
            found = np.array([(min(p.a, p.b), max(p.a, p.b)) in cset for p in ps])
            print(f"| {label} | {rate:.0%} | {ex.mean():.3f} | {np.abs(est - ex).mean():.4f} | "
                  f"{found.mean():.3f} | {(found & (est >= nd.threshold)).mean():.3f} |")
        print(f"| {label} | all candidate pairs | {len(cset)} | | | |")

    # ---- memory of the streaming signature path vs batch size (tracemalloc peak, numpy included)
    print()
    print("| batch size | peak MB, corpus | peak MB, corpus ×4 | docs/s |")
    print("|---:|---:|---:|---:|")
    for bs in (16, 64, 256, 1024, 4096):
        row = []
        for reps in (1, 4):
            stream = itertools.chain.from_iterable(itertools.repeat(texts, reps))
            tracemalloc.start()
            t0 = time.perf_counter()
            for _ in iter_signatures(stream, cfg, batch_size=bs):
                pass
            dt = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            row.append((peak / 1e6, n * reps / dt))
        print(f"| {bs} | {row[0][0]:.1f} | {row[1][0]:.1f} | {row[0][1]:,.0f} |")
    print("\n(docs/s in the memory table are under tracemalloc, which slows allocation-heavy code.)")


if __name__ == "__main__":
    main()
