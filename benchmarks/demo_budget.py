"""Time budget of the offline demo on this machine: world generation + pretraining + one full run.

    python benchmarks/demo_budget.py [--out DIR]

Generates the demo world (seed 0), then runs configs/demo_world.yaml (pretrain a tiny MLM from
scratch → syn_longqa → syn_qa → zero-shot in four languages, with Tatoeba-style retrieval before
and after intermediate training) and prints the seconds of each step against the 6-minute budget.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import CONFIGS, ensure_world

BUDGET_SECONDS = 360


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from xstilts.config import load_config
    from xstilts.pipeline.runner import run_experiment

    out = Path(args.out or tempfile.mkdtemp(prefix="xstilts-demo-budget-"))
    rows = [("generate world (demo)", ensure_world(out / "world"))]
    cfg = load_config(CONFIGS / "demo_world.yaml", [f"data_dir={out / 'world'}"])
    start = time.perf_counter()
    run_dir = run_experiment(cfg, out, progress=False)
    total_run = time.perf_counter() - start
    for marker in sorted(run_dir.glob("*.txt")):
        if marker.name == "log.txt":
            continue
        info = json.loads((out / marker.read_text().strip() / "done.json").read_text())
        rows.append((f"{marker.stem} (train)", info.get("wall_seconds", 0.0)))
    rows.append(("whole run (incl. tokenization, evaluation, loading)", total_run))
    total = rows[0][1] + total_run
    print(f"{'step':<55} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:<55} {seconds:>8.1f}")
    print(f"{'TOTAL (generation + run)':<55} {total:>8.1f}   budget {BUDGET_SECONDS} s: "
          f"{'OK' if total <= BUDGET_SECONDS else 'OVER'}")
    print(f"results: {out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
