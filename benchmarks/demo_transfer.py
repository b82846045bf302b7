"""Does zero-shot transfer emerge in the synthetic world? Pretrained tiny MLM vs. a control whose
encoder was not pretrained (same tokenizer and shape, random weights), on every target task.

    python benchmarks/demo_transfer.py [--out DIR] [--resamples 1000]

Runs configs/demo_world.yaml's pretraining and intermediate phase once per encoder, then each
target (syn_xnli, syn_qa, syn_pos) and syn_tatoeba retrieval (bare encoder and after the
intermediate task), and prints per target and language
the score with a 95% bootstrap CI (resampling test examples) for both encoders, their difference
with a paired-bootstrap CI (one draw of examples for both), and chance. The CIs do not cover the
control's random initialisation, which moves retrieval more than test sampling does: bare-encoder
syn_tatoeba is also scored for CONTROL_INITS controls that differ only in their init seed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import CONFIGS, ensure_world, paired_difference_ci, score_ci

TARGETS = {"syn_xnli": "accuracy", "syn_qa": "(EM+F1)/2", "syn_pos": "F1"}
LABELS = ("pretrained", "control")
CHANCE = {"syn_xnli": "33.3", "syn_qa": "~0", "syn_pos": "see note", "syn_tatoeba": "0.2"}
CONTROL_INITS = 5  # seeds 0 (the control above) .. 4; retrieval needs no training, so they are cheap


def configs(world: Path, pretrain: bool):
    import yaml

    from xstilts.config import load_config

    raw = yaml.safe_load((CONFIGS / "demo_world.yaml").read_text())
    raw["data_dir"] = str(world)
    raw["phases"][0]["from_scratch"]["pretrain"] = pretrain
    label = "pretrained" if pretrain else "control"
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


def control_retrieval_configs(world: Path, seeds) -> list:
    """Not-pretrained encoders that differ only in their init seed, scored on syn_tatoeba."""
    import yaml

    from xstilts.config import load_config

    raw = yaml.safe_load((CONFIGS / "demo_world.yaml").read_text())
    pretrained = raw["phases"][0]
    pretrained["from_scratch"] = {**pretrained["from_scratch"], "pretrain": False}
    out = []
    for seed in seeds:
        phase = json.loads(json.dumps(pretrained))
        phase["from_scratch"]["seed"] = seed
        out.append(load_config(raw={**raw, "name": f"transfer-control-init{seed}", "data_dir": str(world),
                                    "phases": [phase, {"kind": "retrieval_eval", "tasks": ["syn_tatoeba"]}]}))
    return out


def accuracy(rows: list[dict], run_id: str, lang: str) -> float:
    """Tatoeba accuracy of one run and language from its per-query example rows."""
    hits = [e["stats"]["correct"] for e in rows if e["run_id"] == run_id and e["language"] == lang]
    return 100 * sum(hits) / len(hits)


def compare(rows: dict[str, list[dict]], resamples: int) -> str:
    """Table cells: each encoder's score with its 95% CI, then their difference with a paired CI."""
    metric = rows["pretrained"][0]["metric"]
    cells = []
    for label in LABELS:
        p, lo, hi = score_ci([e["stats"] for e in rows[label]], metric, resamples=resamples)
        cells.append(f"{p:6.1f} [{lo:5.1f}, {hi:5.1f}]")
    p, lo, hi = paired_difference_ci(rows["pretrained"], rows["control"], metric, resamples=resamples)
    cells.append(f"{p:+6.1f} [{lo:+5.1f}, {hi:+5.1f}]")
    return " ".join(f"{c:>24}" for c in cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    from xstilts.pipeline.results import read_rows
    from xstilts.pipeline.runner import run_experiment

    out = Path(args.out or tempfile.mkdtemp(prefix="xstilts-demo-transfer-"))
    ensure_world(out / "world")
    runs = {}
    for pretrain in (True, False):
        for label, target, cfg in configs(out / "world", pretrain):
            run_experiment(cfg, out, progress=False)
            runs[(label, target)] = cfg.run_id
    examples = list(read_rows(out / "example_scores.jsonl"))
    print(f"{'target':<12} {'lang':<5} {'pretrained [95% CI]':>24} {'control [95% CI]':>24} "
          f"{'difference [paired CI]':>24} {'chance':>8}")
    for target, metric_name in TARGETS.items():
        for lang in ("en", "xa", "xb", "xc"):
            cells = compare({label: [e for e in examples if e["run_id"] == runs[(label, target)]
                                     and e["language"] == lang and e["split"] == "test"
                                     and e["phase"] == "zero_shot_eval"] for label in LABELS}, args.resamples)
            print(f"{target:<12} {lang:<5} {cells} {CHANCE[target]:>8}   ({metric_name})")
    # Retrieval: the bare encoder and the one after the intermediate task (rows of the syn_xnli runs).
    retrieval = [e for e in examples if e["phase"] == "retrieval_eval" and e["task"] == "syn_tatoeba"]
    for after in (False, True):
        for lang in ("xa", "xb", "xc"):
            cells = compare({label: [e for e in retrieval if e["run_id"] == runs[(label, "syn_xnli")]
                                     and e["language"] == lang and bool(e["intermediate"]) == after]
                             for label in LABELS}, args.resamples)
            print(f"{'syn_tatoeba':<12} {lang:<5} {cells} {CHANCE['syn_tatoeba']:>8}"
                  f"   (accuracy, {'after syn_longqa' if after else 'pretrained only'})")
    inits = []
    for cfg in control_retrieval_configs(out / "world", range(1, CONTROL_INITS)):
        run_experiment(cfg, out, progress=False)
        inits.append(cfg.run_id)
    bare = [e for e in read_rows(out / "example_scores.jsonl")
            if e["phase"] == "retrieval_eval" and e["task"] == "syn_tatoeba" and not e["intermediate"]]
    print(f"\nsyn_tatoeba, bare encoder: the control at {CONTROL_INITS} random inits (seed 0 is the one above)")
    for lang in ("xa", "xb", "xc"):
        controls = [accuracy(bare, run_id, lang) for run_id in [runs[("control", "syn_xnli")], *inits]]
        print(f"{'syn_tatoeba':<12} {lang:<5} pretrained {accuracy(bare, runs[('pretrained', 'syn_xnli')], lang):5.1f}"
              f"   control mean {sum(controls) / len(controls):5.1f}, min {min(controls):5.1f}, "
              f"max {max(controls):5.1f}   ({', '.join(f'{c:.1f}' for c in controls)})")
    print(f"results: {out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
