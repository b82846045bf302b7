"""Wall time and disk of the 12-run tiny grid (configs/grid_tiny.yaml) by executor and worker count.

    .venv/bin/python benchmarks/grid_workers.py [--repeats 3] [--workers 1 2] [--steps 6]

Each measurement is a fresh grid folder on one world generated once, run through
`xstilts grid run` in a subprocess; configurations alternate (inline, local ×1, local ×2, ...)
within each repeat so that a slow moment of the machine hits all of them. Prints the median wall
time per configuration, its ratio to `local` with 1 worker (all the cores, one node at a time),
and the disk the grid folder holds at the end (models kept, features cache, results).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
GRID = HERE.parent / "configs" / "grid_tiny.yaml"


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=6,
                        help="max_steps of every fine-tuning phase (6 as in the tests: nodes of ~0.3 s; "
                             "more steps show what workers gain on nodes with real work)")
    args = parser.parse_args()
    from xstilts.world import generate

    root = Path(tempfile.mkdtemp(prefix="xstilts-grid-bench-"))
    try:
        generate(root / "world", seed=0, size="tiny")
        preset = {**yaml.safe_load(GRID.read_text()), "world": None, "data_dir": str(root / "world")}
        fast = {**preset["intermediate_training"], "max_steps": args.steps, "eval_steps": args.steps}
        preset["intermediate_training"] = fast
        preset["target_training"] = {t: fast for t in preset["target_training"]}
        (root / "grid.yaml").write_text(yaml.safe_dump(preset))
        configs = [("inline", 1)] + [("local", w) for w in args.workers]
        times: dict[tuple, list[float]] = {c: [] for c in configs}
        disk: dict[tuple, int] = {}
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        for repeat in range(args.repeats):
            for executor, workers in configs:
                out = root / f"{executor}-{workers}-{repeat}"
                cmd = [sys.executable, "-m", "xstilts", "grid", "run", str(root / "grid.yaml"), "--out", str(out),
                       "--no-report", "--executor", executor, "--workers", str(workers)]
                started = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[(executor, workers)].append(time.perf_counter() - started)
                disk[(executor, workers)] = _du(out)
                shutil.rmtree(out)
        base = statistics.median(times[("local", 1)]) if ("local", 1) in times else None
        print(f"12-run tiny grid (29 nodes), {args.steps} steps per fine-tuning phase, {args.repeats} repeats, "
              f"{os.cpu_count()} CPUs")
        print(f"{'executor':10} {'workers':>7} {'median s':>9} {'runs (s)':>24} {'vs local×1':>10} {'disk':>9}")
        for (executor, workers), ts in times.items():
            median = statistics.median(ts)
            ratio = f"{base / median:.2f}×" if base else "-"
            print(f"{executor:10} {workers:>7} {median:>9.1f} {' '.join(f'{t:.1f}' for t in ts):>24} {ratio:>10} "
                  f"{disk[(executor, workers)] / 1e6:>7.1f}MB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
