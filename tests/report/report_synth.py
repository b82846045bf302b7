"""A hand-made run-output folder (``results.jsonl``, ``example_scores.jsonl``, ``runs/``, ``shared/``)
for the report tests, built on the analysis tests' example generator.

Two targets (accuracy), a baseline and two intermediate task sets × three max lengths, four
languages, length buckets, two seeds; the first intermediate task has a planted slope on long
documents (none on short ones), the second none. ``results.jsonl`` is recomputed from the example
statistics, so both files agree exactly. Extra rows: English dev results of the intermediate and
target phases, retrieval before/after intermediate training, MLM dev loss of a pretraining phase.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from xstilts.analysis import results_from_examples
from xstilts.pipeline.results import ROW_FIELDS, make_row


def _analysis_synth():
    """``tests/analysis/analysis_synth.py`` (its folder is not on ``sys.path`` from here)."""
    if "analysis_synth" in sys.modules:
        return sys.modules["analysis_synth"]
    path = Path(__file__).resolve().parents[1] / "analysis" / "analysis_synth.py"
    spec = importlib.util.spec_from_file_location("analysis_synth", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["analysis_synth"] = module
    spec.loader.exec_module(module)
    return module


INTERMEDIATES = {("squad",): 3.0, ("hellaswag",): 0.0}  # planted slope on long documents per doubling
MAX_LENS = (128, 256, 512)
LANGUAGES = ("de", "fr", "zh", "ar")
TARGETS = ("xnli", "pawsx")
SEEDS = (1, 2)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write_jsonl(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def synthetic_examples(*, targets=TARGETS, languages=LANGUAGES, intermediates=INTERMEDIATES, max_lens=MAX_LENS,
                       seeds=SEEDS, n=200, split="test") -> list[dict]:
    synth = _analysis_synth()
    rows = []
    for t_index, target in enumerate(targets):
        for k, (inter, slope) in enumerate(list(intermediates.items()) or [(("none",), 0.0)]):
            part = synth.example_rows(languages=languages, target=target, n=n, max_lens=max_lens, seeds=seeds,
                                      intermediate=inter, slope_long=slope, slope_short=0.0, offset=1.0,
                                      split=split, rng_seed=10 + t_index)
            # the same rng seed gives every intermediate set the same baseline: keep it once
            rows += [r for r in part if r["intermediate"] or k == 0]
    for r in rows:
        r["config_hash"] = _hash(r["run_id"])
    return rows


def _phase_rows(run_id: str, seed: int, **fields) -> list[dict]:
    metrics = fields.pop("metrics")
    return [make_row(run_id=run_id, config_hash=_hash(run_id), seed=seed, metric=m, value=v, **fields)
            for m, v in metrics.items()]


def write_synthetic_dir(root: Path, *, examples: list[dict] | None = None, retrieval: bool = True,
                        pretraining: bool = True, truncation_for=(("squad",),), write_examples: bool = True) -> Path:
    """Write the folder; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    examples = synthetic_examples() if examples is None else examples
    results = []
    for r in results_from_examples(examples):
        r.update(xstilts_version="0.1.0", git_sha="0123456789abcdef0123456789abcdef01234567")
        results.append({f: r.get(f) for f in ROW_FIELDS})

    runs: dict[str, dict] = {}
    for r in examples:
        runs.setdefault(r["run_id"], {"intermediate": tuple(r["intermediate"]), "max_len": r["intermediate_max_len"],
                                      "target": r["target"], "seed": r["seed"]})
    shared_done: dict[str, dict] = {}
    retrieval_examples: list[dict] = []
    for run_id, info in sorted(runs.items()):
        inter, max_len, target, seed = info["intermediate"], info["max_len"], info["target"], info["seed"]
        common = dict(intermediate=list(inter), intermediate_max_len=max_len, target=target)
        phases = [{"kind": "pretrained", "model": "synthetic-encoder"}]
        pointers = {}
        if pretraining:
            phases[0]["from_scratch"] = {"corpus_task": "syn_mlm", "languages": list(LANGUAGES)}
            key = f"pretrained-{_hash(f'pre{seed}')[:16]}"
            pointers[0] = key
            if key not in shared_done:
                shared_done[key] = {"rows": 1, "steps": 500, "wall_seconds": 12.5, "vocab_size": 4000,
                                    "train_blocks": 800}
                results += _phase_rows(run_id, seed, phase="pretrained", intermediate=[], intermediate_max_len=None,
                                       target=None, task="syn_mlm", language="+".join(LANGUAGES), split="dev",
                                       n=400, metrics={"loss": 2.5 + 0.1 * seed})
        if retrieval:
            phases.append({"kind": "retrieval_eval", "tasks": ["tatoeba", "bucc2018"]})
        if inter:
            phases.append({"kind": "intermediate", "tasks": list(inter), "max_length": max_len})
            key = f"intermediate-{_hash(f'{inter}{max_len}{seed}')[:16]}"
            pointers[len(phases) - 1] = key
            if key not in shared_done:
                done = {"rows": 1, "steps": 1000, "best_step": 800, "wall_seconds": 30.0 * max_len / 128,
                        "labels": {}}
                if inter in truncation_for:  # as the runner writes it (pipeline/phases/finetune.py train_phase)
                    done["truncation"] = {
                        "tokens_seen": 1000 * max_len, "per_device_train_batch_size": 8,
                        "compute_policy": "equal_steps",
                        "tasks": {inter[0]: {"examples": 2000, "windows_per_example": round(1 + 256 / max_len, 3),
                                             "share_truncated": round(0.6 * 128 / max_len, 4),
                                             "answers_lost": int(4000 / max_len)}}}
                shared_done[key] = done
                task_metrics = ({"exact_match": 60.0 + max_len / 64, "f1": 70.0 + max_len / 64} if inter == ("squad",)
                                else {"accuracy": 55.0 + max_len / 128})
                results += _phase_rows(run_id, seed, phase="intermediate", intermediate=[], intermediate_max_len=max_len,
                                       target=None, task=inter[0], language="en", split="dev", n=500,
                                       metrics=task_metrics)
            if retrieval:
                phases.append({"kind": "retrieval_eval", "tasks": ["tatoeba", "bucc2018"]})
        phases.append({"kind": "target", "task": target})
        key = f"target-{_hash(run_id)[:16]}"
        pointers[len(phases) - 1] = key
        shared_done[key] = {"rows": 1, "steps": 300, "best_step": 300, "wall_seconds": 9.0, "labels": {}}
        results += _phase_rows(run_id, seed, phase="target", **common, task=target, language="en", split="dev", n=300,
                               metrics={"accuracy": 80.0 + len(inter)})
        phases.append({"kind": "zero_shot_eval", "splits": ["test"]})
        if retrieval:
            for lang in ("de", "fr", "zh"):
                before = 40.0 + 2 * LANGUAGES.index(lang)
                retrieval_examples += _tatoeba_examples(run_id, seed, lang, [], None, before)
                results += _phase_rows(run_id, seed, phase="retrieval_eval", intermediate=[], intermediate_max_len=None,
                                       target=None, task="tatoeba", language=lang, split="test", n=1000,
                                       metrics={"accuracy": before})
                results += _phase_rows(run_id, seed, phase="retrieval_eval", intermediate=[], intermediate_max_len=None,
                                       target=None, task="bucc2018", language=lang, split="test", n=900,
                                       metrics={"f1": before + 5, "precision": 60.0, "recall": 50.0, "threshold": 1.1})
                if inter:
                    delta = (max_len / 128) * (1.0 if inter == ("squad",) else -0.5)
                    results += _phase_rows(run_id, seed, phase="retrieval_eval", **{**common, "target": None},
                                           task="tatoeba", language=lang, split="test", n=1000,
                                           metrics={"accuracy": before + delta})
                    retrieval_examples += _tatoeba_examples(run_id, seed, lang, list(inter), max_len, before + delta)
                    results += _phase_rows(run_id, seed, phase="retrieval_eval", **{**common, "target": None},
                                           task="bucc2018", language=lang, split="test", n=900,
                                           metrics={"f1": before + 5 + delta, "precision": 61.0, "recall": 51.0,
                                                    "threshold": 1.2})

        run_dir = root / "runs" / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        config = {"name": run_id, "seed": seed, "data_dir": None, "data_source": "files", "phases": phases, "tasks": {}}
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        for index, key in pointers.items():
            (run_dir / f"{index}-{phases[index]['kind']}.txt").write_text(f"shared/{key}\n")
        for index, phase in enumerate(phases):
            if phase["kind"] in ("retrieval_eval", "zero_shot_eval"):
                (run_dir / f"{index}-{phase['kind']}").mkdir(exist_ok=True)
                (run_dir / f"{index}-{phase['kind']}" / "done.json").write_text(json.dumps({"rows": 1}))
    for key, done in shared_done.items():
        (root / "shared" / key).mkdir(parents=True, exist_ok=True)
        (root / "shared" / key / "done.json").write_text(json.dumps(done, indent=1))

    _write_jsonl(root / "results.jsonl", results)
    if write_examples:
        _write_jsonl(root / "example_scores.jsonl", examples + retrieval_examples)
    return root


def _tatoeba_examples(run_id: str, seed: int, lang: str, intermediate: list, max_len, accuracy: float,
                      n: int = 1000) -> list[dict]:
    """Per-query Tatoeba rows whose mean is ``accuracy``; the queries answered right are a prefix of one
    fixed order per language, so a better encoder gets right a superset of a worse one's."""
    order = np.random.default_rng(LANGUAGES.index(lang)).permutation(n)
    right = set(order[: int(round(accuracy * n / 100))].tolist())
    common = {"run_id": run_id, "config_hash": _hash(run_id), "phase": "retrieval_eval", "intermediate": intermediate,
              "intermediate_max_len": max_len, "target": None, "task": "tatoeba", "language": lang, "split": "test",
              "seed": seed, "metric": "accuracy"}
    return [{**common, "example_id": str(i), "length": 10, "buckets": [], "stats": {"correct": int(i in right)}}
            for i in range(n)]


def minimal_examples() -> list[dict]:
    """One condition (a baseline run of one target), one language, no length buckets."""
    rows = synthetic_examples(targets=("xnli",), languages=("de",), intermediates={}, max_lens=(), seeds=(1,), n=50)
    for r in rows:
        r["buckets"] = []
    return rows


MINI_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
MINI_INTERMEDIATES = {("squad_v1",): 3.0, ("hellaswag",): 0.0, ("squad_v1", "hellaswag"): 1.5}


def every_bucket(rows: list[dict]) -> list[dict]:
    """Put each example in one bucket of every family the pipeline writes (fixed token ranges,
    per-language quartiles, the long buckets), as a real run's example scores have them: the
    short half splits into quartiles 1–2, the long half into 3–4 (the planted gain stays on long)."""
    for r in rows:
        i = int(str(r["example_id"]).rsplit("-", 1)[-1])
        long = "quartile:4" in r["buckets"]
        half = i % 2
        quartile = 3 + half if long else 1 + half
        tokens = ("tokens:257-384", "tokens:>384")[half] if long else ("tokens:<=128", "tokens:129-256")[half]
        extra = [b for b in r["buckets"] if b == "long:multi_window"] + (["long:top_quartile"] if quartile == 4 else [])
        r["buckets"] = [tokens, f"quartile:{quartile}", *extra]
        r["length"] = (100, 200, 300, 500)[quartile - 1]
    return rows


def mini_study_examples(*, n: int = 120, seeds=(1, 2)) -> list[dict]:
    """Example scores shaped like the real "mini" study: squad_v1, hellaswag and both together at
    max lengths 128/256/384, zero-shot XQuAD in twelve languages, every bucket family — so the
    report's figures get as many rows, columns and legend entries as they will for real."""
    return every_bucket(synthetic_examples(targets=("xquad",), languages=MINI_LANGUAGES, seeds=seeds, n=n,
                                           max_lens=(128, 256, 384), intermediates=MINI_INTERMEDIATES))
