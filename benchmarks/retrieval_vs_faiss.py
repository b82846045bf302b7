"""Nearest-neighbour search for retrieval: xstilts' search vs. faiss-cpu on the same embeddings.

    pip install faiss-cpu      # optional; the benchmark's peer
    python benchmarks/retrieval_vs_faiss.py [--n 20000] [--dim 384] [--k 4] [--repeats 3] [--json FILE]

Tatoeba-style: for each of ``n`` queries, the most cosine-similar of ``n`` candidates
(``tatoeba_predict`` vs. ``IndexFlatIP`` on L2-normalised rows, k = 1); BUCC-style: the k nearest
neighbours both ways that margin scoring needs (``knn`` vs. ``IndexFlatIP.search``, k = ``--k``).
The embeddings are random unit vectors with planted translation pairs (each query a noisy copy of
one candidate), so the right neighbour is known and near-ties are rare. The two sides alternate;
the script prints the median seconds, the xstilts / faiss time ratio (min / median / max), the
share of identical neighbours and xstilts' peak traced memory (numpy's allocations; faiss's own
are not traced).

Each search is timed twice on the xstilts side: ``numpy``, the numpy search (``XSTILTS_FAISS=0``),
and ``faiss``, xstilts' default with faiss installed — faiss plus the one extra neighbour and the
numpy re-search of near-tied rows that keep numpy's neighbours and tie order: its ratio is the cost
of that bookkeeping. Both run on the same thread count as raw faiss (xstilts gives faiss
``torch.get_num_threads()``, set here to it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import tracemalloc
from pathlib import Path
from unittest import mock

import numpy as np
from _common import ratio_summary


def embeddings(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    candidates = rng.standard_normal((n, dim), dtype=np.float32)
    queries = candidates[rng.permutation(n)] + 0.5 * rng.standard_normal((n, dim), dtype=np.float32)
    return queries, candidates


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(quick: bool = False, *, n: int = 100_000, dim: int = 384, k: int = 4, repeats: int = 3, echo=print) -> list[dict]:
    """The table's rows (skipped, with a note, where faiss is not installed); ``quick``: 2,000 × 2,000."""
    try:
        import faiss
    except ImportError:
        echo("retrieval: faiss-cpu is not installed (pip install faiss-cpu): no peer, skipped")
        return []
    import torch

    from xstilts.formats.retrieval import knn, normalize, tatoeba_predict

    if quick:
        n, repeats = 2000, 1
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)  # what xstilts hands faiss
    faiss.omp_set_num_threads(threads)
    queries, candidates = embeddings(n, dim)
    q, c = normalize(queries), normalize(candidates)

    def faiss_search(k: int):
        index = faiss.IndexFlatIP(c.shape[1])
        index.add(c)
        return index.search(q, k)

    def numpy_only(fn):
        def call():
            with mock.patch.dict(os.environ, {"XSTILTS_FAISS": "0"}):
                return fn()
        return call

    searches = {
        "tatoeba (k=1)": (lambda: tatoeba_predict(candidates, queries), lambda: faiss_search(1)[1][:, 0]),
        f"knn (k={k})": (lambda: knn(q, c, k)[1], lambda: faiss_search(k)[1]),
    }
    echo(f"n = {n:,} queries × {n:,} candidates, dim {dim}, {threads} threads")
    echo(f"{'search':<14} {'xstilts':>7} {'xstilts s':>10} {'faiss s':>9} {'ratio min/med/max':>19} "
         f"{'same neighbours':>16} {'xstilts peak MB':>16}")
    rows = []
    try:
        for search, (ours_fn, faiss_fn) in searches.items():
            # The numpy row keeps the case name it had before xstilts searched with faiss.
            for backend, case, fn in (("numpy", search, numpy_only(ours_fn)),
                                      ("faiss", f"{search}, faiss", ours_fn)):
                ours, theirs, same, peak = alternate(fn, faiss_fn, repeats)
                # Ratio of times: below 1 is faster than faiss.
                row = {"benchmark": "retrieval_vs_faiss", "case": case, "search": search, "backend": backend,
                       "n": n, "dim": dim, "xstilts_s": statistics.median(ours), "faiss_s": statistics.median(theirs),
                       **ratio_summary(ours, theirs), "same_neighbours": same, "xstilts_peak_mb": peak / 2**20}
                rows.append(row)
                echo(f"{search:<14} {backend:>7} {row['xstilts_s']:>10.2f} {row['faiss_s']:>9.2f} "
                     f"{row['ratio_min']:>9.2f}/{row['ratio_median']:.2f}/{row['ratio_max']:.2f} {same:>16.4%} "
                     f"{row['xstilts_peak_mb']:>16.0f}")
    finally:
        torch.set_num_threads(torch_threads)
    return rows


def alternate(ours_fn, faiss_fn, repeats: int):
    """Seconds of each side over ``repeats`` alternating calls, the share of identical results (last
    call) and xstilts' peak traced bytes."""
    ours, theirs, same, peak = [], [], None, 0
    for rep in range(repeats):
        for side in (("xstilts", "faiss") if rep % 2 == 0 else ("faiss", "xstilts")):
            if side == "xstilts":
                tracemalloc.start()
                seconds, mine = timed(ours_fn)
                peak = max(peak, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
                ours.append(seconds)
            else:
                seconds, found = timed(faiss_fn)
                theirs.append(seconds)
        same = float(np.mean(np.asarray(mine) == np.asarray(found)))
    return ours, theirs, same, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = run(n=args.n, dim=args.dim, k=args.k, repeats=args.repeats, echo=lambda line: print(line, flush=True))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
