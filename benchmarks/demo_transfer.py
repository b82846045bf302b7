"""Does zero-shot transfer emerge in the synthetic world? Pretrained tiny MLM vs. a control whose
encoder was not pretrained (same tokenizer and shape, random weights), on every target task.

    python benchmarks/demo_transfer.py [--out DIR] [--resamples 1000] [--control-inits 3]

Runs configs/demo_world.yaml's pretraining and intermediate phase once per encoder, then each
target (syn_xnli, syn_qa, syn_pos) and syn_tatoeba retrieval (bare encoder and after the
intermediate task), and prints per target and language the score with a 95% bootstrap CI
(resampling test examples) for the pretrained encoder and for the control — the mean over
``--control-inits`` controls that differ only in their init seed, because the init moves the
control's scores more than test sampling does — their difference with a paired-bootstrap CI (one
draw of examples for all), the difference from each control init, and chance.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
import tempfile
from pathlib import Path

from _common import CONFIGS, ensure_world, paired_difference_ci, score, score_ci

TARGETS = {"syn_xnli": "accuracy", "syn_qa": "(EM+F1)/2", "syn_pos": "F1"}
CHANCE = {"syn_xnli": "33.3", "syn_qa": "~0", "syn_pos": "see note", "syn_tatoeba": "0.2"}


def configs(world: Path, pretrain: bool, seed: int = 0):
    """(label, target, config) per target for one encoder: pretrained, or a control at init ``seed``."""
    import yaml

    from xstilts.config import load_config

    raw = yaml.safe_load((CONFIGS / "demo_world.yaml").read_text())
    raw["data_dir"] = str(world)
    raw["phases"][0]["from_scratch"]["pretrain"] = pretrain
    if seed:
        raw["phases"][0]["from_scratch"]["seed"] = seed
    label = "pretrained" if pretrain else f"control{seed or ''}"
    out = []
    for target in TARGETS:
        r = json.loads(json.dumps(raw))
        r["name"] = f"transfer-{label}-{target}"
        target_phase = next(p for p in r["phases"] if p["kind"] == "target")
        target_phase["task"] = target
        target_phase["head_init"] = "syn_longqa" if target == "syn_qa" else "fresh"
        if target != "syn_qa":
            target_phase["training"] = {**target_phase["training"], "max_steps": 1000}
        out.append((label, target, load_config(raw=r)))
    return out


def compare(pretrained: list[dict], controls: list[list[dict]], resamples: int) -> str:
    """Table cells: both scores with their 95% CIs (the control's: mean over inits), the difference
    with a paired CI, and the difference from each control init."""
    metric = pretrained[0]["metric"]
    cells = []
    for rows in (pretrained, controls):
        p, lo, hi = score_ci(rows, metric, resamples=resamples)
        cells.append(f"{p:6.1f} [{lo:5.1f}, {hi:5.1f}]")
    p, lo, hi = paired_difference_ci(pretrained, controls, metric, resamples=resamples)
    cells.append(f"{p:+6.1f} [{lo:+5.1f}, {hi:+5.1f}]")
    each = " ".join(f"{score(pretrained, metric) - score(c, metric):+5.1f}" for c in controls)
    return " ".join(f"{c:>24}" for c in cells) + f"  {each:>20}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--control-inits", type=int, default=3)
    args = parser.parse_args()
    from xstilts.pipeline.results import read_rows
    from xstilts.pipeline.runner import run_experiment

    out = Path(args.out or tempfile.mkdtemp(prefix="xstilts-demo-transfer-"))
    ensure_world(out / "world")
    runs: dict[tuple[str, str], str] = {}
    encoders = [(True, 0)] + [(False, seed) for seed in range(args.control_inits)]
    for pretrain, seed in encoders:
        for label, target, cfg in configs(out / "world", pretrain, seed):
            run_experiment(cfg, out, progress=False)
            runs[(label, target)] = cfg.run_id
    controls = [f"control{seed or ''}" for seed in range(args.control_inits)]
    # Test rows by run, language, phase and whether the run's intermediate phase came before them.
    examples: dict[tuple, list[dict]] = defaultdict(list)
    for e in read_rows(out / "example_scores.jsonl"):
        if e["split"] == "test":
            examples[(e["run_id"], e["language"], e["phase"], bool(e["intermediate"]))].append(e)

    def rows(label: str, target: str, lang: str, phase: str, after: bool = True) -> list[dict]:
        return examples[(runs[(label, target)], lang, phase, after)]

    print(f"{'target':<12} {'lang':<5} {'pretrained [95% CI]':>24} {f'control, {len(controls)} inits':>24} "
          f"{'difference [paired CI]':>24}  {'vs. each control init':>20} {'chance':>8}")
    for target, metric_name in TARGETS.items():
        for lang in ("en", "xa", "xb", "xc"):
            cells = compare(rows("pretrained", target, lang, "zero_shot_eval"),
                            [rows(c, target, lang, "zero_shot_eval") for c in controls], args.resamples)
            print(f"{target:<12} {lang:<5} {cells} {CHANCE[target]:>8}   ({metric_name})")
    # Retrieval: the bare encoder and the one after the intermediate task (rows of the syn_xnli runs).
    for after in (False, True):
        for lang in ("xa", "xb", "xc"):
            cells = compare(rows("pretrained", "syn_xnli", lang, "retrieval_eval", after),
                            [rows(c, "syn_xnli", lang, "retrieval_eval", after) for c in controls], args.resamples)
            print(f"{'syn_tatoeba':<12} {lang:<5} {cells} {CHANCE['syn_tatoeba']:>8}"
                  f"   (accuracy, {'after syn_longqa' if after else 'pretrained only'})")
    print(f"results: {out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
