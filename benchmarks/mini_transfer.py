"""Zero-shot transfer with real multilingual weights vs. a random-initialised model of the same shape.

    python benchmarks/mini_transfer.py qa|nli [--out DIR] [--set KEY=VALUE ...]

Builds the shared mini multilingual encoder (multilingual-e5-small, XLM-R vocabulary) and a copy of
its architecture with random weights, runs the same experiment config (``configs/mini_qa_xquad.yaml``
or ``configs/mini_nli_xnli.yaml``) on both with ``xstilts run``'s code, and prints one table:
zero-shot scores per language for each encoder, and wall times. Needs ``$XSTILTS_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import build_mini_encoder

HERE = Path(__file__).resolve().parent
CONFIGS = {"qa": HERE.parent / "configs" / "mini_qa_xquad.yaml", "nli": HERE.parent / "configs" / "mini_nli_xnli.yaml"}


def build_encoders(cache: Path) -> tuple[Path, Path]:
    mini = build_mini_encoder(cache)
    random_dir = cache / "mini-e5-random-init"
    if not (random_dir / "model.safetensors").exists():
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        torch.manual_seed(0)
        config = AutoConfig.from_pretrained(mini)
        AutoModel.from_config(config).save_pretrained(random_dir)
        AutoTokenizer.from_pretrained(mini).save_pretrained(random_dir)
    return mini, random_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=sorted(CONFIGS))
    parser.add_argument("--out", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    from xstilts.config import load_config
    from xstilts.pipeline.results import latest_rows
    from xstilts.pipeline.runner import run_experiment

    cache = Path(os.environ.get("XSTILTS_TEST_CACHE", Path(tempfile.gettempdir()) / "xstilts-test-cache"))
    mini, random_dir = build_encoders(cache)
    out = Path(args.out or tempfile.mkdtemp(prefix=f"xstilts-{args.experiment}-"))
    table: dict[str, dict] = defaultdict(dict)
    walls = {}
    for label, model in (("pretrained", mini), ("random-init", random_dir)):
        cfg = load_config(CONFIGS[args.experiment], [f"phases.0.model={model}", f"name={args.experiment}-{label}", *args.overrides])
        start = time.perf_counter()
        run_experiment(cfg, out, progress=False)
        walls[label] = time.perf_counter() - start
        for row in latest_rows(out / "results.jsonl"):
            if row["run_id"] == cfg.run_id and row["phase"] == "zero_shot_eval" and row["bucket"] == "all":
                table[(row["language"], row["split"], row["metric"])][label] = row["value"]
    print(f"results: {out}/results.jsonl")
    print(f"{'lang':<5} {'split':<5} {'metric':<12} {'pretrained':>10} {'random-init':>11} {'gain':>7}")
    for (lang, split, metric), v in sorted(table.items()):
        p, r = v.get("pretrained", float("nan")), v.get("random-init", float("nan"))
        print(f"{lang:<5} {split:<5} {metric:<12} {p:>10.2f} {r:>11.2f} {p - r:>7.2f}")
    print("wall seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in walls.items()))


if __name__ == "__main__":
    main()
