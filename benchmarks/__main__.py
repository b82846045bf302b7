"""Every benchmark against its peer, in one command: one table and one JSON file.

    python -m benchmarks [--quick] [--only train_throughput,scaling,...] [--json FILE]

Runs, in order (each prints its own table as it goes, then the suite prints a summary):

* ``train_throughput`` — xstilts' ``train()`` vs the HF Trainer on the same batches (pairs, multiple
  choice, QA windows; tiny XLM-R config and the shared mini encoder): real tokens/s, final losses;
* ``scaling`` — seconds per training step at max length 128 … 1024, the a + b·L + c·L² fit, MFU
  against the dense matmul peak measured in the same run (fp32, bf16);
* ``eval_throughput`` — evaluation (featurize + forward + decode, n-best QA) vs HF's QA pipeline
  steps and ``Trainer.predict``;
* ``feature_cache`` — build rate, warm reload and peak RSS at 400k pairs vs HF ``datasets``;
* ``retrieval_vs_faiss`` — Tatoeba / BUCC-style neighbours at 100k × 100k vs faiss-cpu (when installed);
* ``demo_budget`` — ``xstilts demo`` by stage (prepare, pretraining, runs, report) against 5 minutes.

The same command runs on a GPU (torch picks the device). Ratios are xstilts / peer over alternating
repetitions (min / median / max); for times (``_s``) lower is better, for rates higher. ``--quick``
runs each at its smallest size: a smoke test that everything runs, not a measurement.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts import ``_common`` as a top-level module

SUITE = ("train_throughput", "scaling", "eval_throughput", "feature_cache", "retrieval_vs_faiss", "demo_budget")


def summary_line(row: dict) -> str:
    ratio = (f"{row['ratio_min']:.2f}/{row['ratio_median']:.2f}/{row['ratio_max']:.2f}"
             if "ratio_median" in row else "")
    numbers = ", ".join(f"{k} {v:,.4g}" for k, v in row.items()
                        if isinstance(v, float) and not k.startswith("ratio_"))[:110]
    return f"{row.get('benchmark', ''):<19} {str(row.get('case', '')):<26} {ratio:>16}  {numbers}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes: does everything run (not a measurement)")
    parser.add_argument("--only", default=",".join(SUITE), help=f"comma-separated subset of {', '.join(SUITE)}")
    parser.add_argument("--json", type=Path, default=Path("benchmark-results.json"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SUITE))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)} (known: {', '.join(SUITE)})")
    import torch

    results = {"quick": args.quick, "python": platform.python_version(), "torch": torch.__version__,
               "device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
               "threads": torch.get_num_threads(), "benchmarks": {}}
    for name in names:
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        rows = importlib.import_module(name).run(quick=args.quick)
        results["benchmarks"][name] = {"seconds": time.perf_counter() - started, "rows": rows}
        args.json.write_text(json.dumps(results, indent=1, default=str))  # what is done survives a later failure
    print(f"\n== summary ({'quick: not a measurement' if args.quick else 'medians'}); ratio = xstilts / peer, "
          f"min/median/max")
    for name, done in results["benchmarks"].items():
        for row in done["rows"]:
            print(summary_line({"benchmark": name, **row}))
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
