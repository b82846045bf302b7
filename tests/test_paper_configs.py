"""Every config in configs/paper/ passes a dry run, and runs end to end shrunk by ``--set`` overrides
to a tiny encoder on the synthetic world (the same keys and structure, a few steps each)."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.pipeline.results import read_rows
from xstilts.tasks import get_task

PAPER = Path(__file__).resolve().parents[1] / "configs" / "paper"
CONFIGS = sorted(PAPER.glob("*.yaml"))
FAST = {"max_steps": 2, "per_device_train_batch_size": 8, "learning_rate": 1.0e-3, "eval_steps": 2,
        "logging_steps": 2, "max_eval_examples": 16, "max_train_examples": 64, "num_train_epochs": 1}
TINY_ENCODER = {"from_scratch": {
    "seed": 0, "languages": ["en", "xa", "xb", "xc"], "corpus_task": "syn_mlm", "tokenizer": {"vocab_size": 600},
    "model": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
    "max_length": 128, "training": {"max_steps": 4, "per_device_train_batch_size": 16, "eval_steps": 4}}}


# The synthetic world's task of each format and its languages: what a real config shrinks onto.
SYN = {"classification": "syn_nli", "span_qa": "syn_longqa", "multiple_choice": "syn_story", "tagging": "syn_tags",
       "mlm": "syn_mlm"}
WORLD_LANGUAGES = ["en", "xa", "xb", "xc"]


def _is_study(path: Path) -> bool:
    return "study" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def _flow(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()


def test_there_are_paper_configs():
    assert any(p.name == "xstilts.yaml" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_dry_run(path, tmp_path):
    if _is_study(path):
        args = ["study", "seqlen", "--preset", str(path), "--out", str(tmp_path / "o"), "--dry-run"]
    else:
        args = ["run", str(path), "--out", str(tmp_path / "o"), "--dry-run"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "run graph:" in result.output
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_the_full_grid_is_every_condition_by_every_target(tmp_path):
    result = CliRunner().invoke(app, ["study", "seqlen", "--preset", str(PAPER / "xstilts.yaml"),
                                      "--out", str(tmp_path), "--dry-run"])
    assert result.exit_code == 0, result.output
    # 7 trained targets × (baseline + 9 tasks + the mixture); BUCC and Tatoeba in every run's retrieval_eval.
    assert "77 runs" in result.output and "10 intermediate" in result.output


def _shrink(path: Path, out: Path) -> list[str]:
    """--set overrides that keep the file's structure and put it on the synthetic world."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if _is_study(path):
        inter = list(dict.fromkeys("+".join(dict.fromkeys(SYN[get_task(t).format] for t in entry.split("+")))
                                   for entry in raw["intermediate_tasks"]))
        inter = sorted(inter, key=lambda e: ("+" not in e, e))[:2]  # a mixture first, if the file has one
        sets = {"seeds": [0], "world": {"seed": 0, "size": "tiny", "overrides": {"translations": True}},
                "pretrained": TINY_ENCODER, "intermediate_tasks": inter, "max_lengths": [64], "doc_stride_ratio": 0.25,
                "intermediate_training": FAST, "targets": ["syn_xnli"], "target_training": {"syn_xnli": FAST},
                "tasks": {}, "zero_shot_eval": {"splits": ["test"], "max_examples": 16}}
        if raw.get("retrieval_eval") is not None:
            sets["retrieval_eval"] = {"tasks": ["syn_tatoeba"]}
        if (raw.get("mixture") or {}).get("mlm"):
            sets["mixture"] = {**raw["mixture"], "mlm": {**raw["mixture"]["mlm"], "languages": WORLD_LANGUAGES,
                                                        "max_examples_per_language": 100}}
        if "intermediate_source_languages" in raw:
            sets["intermediate_source_languages"] = [s if s == "en" else WORLD_LANGUAGES
                                                     for s in raw["intermediate_source_languages"]]
        return [f"{k}={_flow(v)}" for k, v in sets.items()]
    # An experiment config written for the synthetic world: a tiny world, encoder and step budget.
    sets = {"data_dir": str(_tiny_world(out.parent)), "name": raw["name"]}
    for i, phase in enumerate(raw["phases"]):
        if phase.get("from_scratch") is not None:
            sets[f"phases.{i}.from_scratch"] = TINY_ENCODER["from_scratch"]
        if "training" in phase:
            sets[f"phases.{i}.training"] = FAST
        if phase["kind"] == "zero_shot_eval":
            sets[f"phases.{i}.max_examples"] = 16
    return [f"{k}={_flow(v)}" for k, v in sets.items()]


def _tiny_world(folder: Path) -> Path:
    from xstilts.world import generate

    world = folder / "world"
    generate(world, seed=0, size="tiny", translations=True)  # for the translate-train baseline
    return world


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_runs_end_to_end_shrunk_to_the_synthetic_world(path, tmp_path):
    out = tmp_path / "out"
    sets = [a for s in _shrink(path, out) for a in ("--set", s)]
    if _is_study(path):
        args = ["study", "seqlen", "--preset", str(path), "--out", str(out), "--no-progress", *sets]
    else:
        args = ["run", str(path), "--out", str(out), "--no-progress", *sets]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(read_rows(out / "results.jsonl"))
    zero_shot = [r for r in rows if r["phase"] == "zero_shot_eval"]
    assert zero_shot and {r["language"] for r in zero_shot} >= {"xa", "xb"}
    if _is_study(path):
        conditions = {"+".join(r["intermediate"] or ()) for r in zero_shot}
        shrunk = yaml.safe_load(dict(a.split("=", 1) for a in sets[1::2])["intermediate_tasks"])
        assert "" in conditions and set(shrunk) <= conditions  # the baseline and every (mixed) condition
        if any(s != "en" for s in yaml.safe_load(path.read_text(encoding="utf-8")).get("intermediate_source_languages",
                                                                                      ["en"])):
            assert any("[en+xa+xb+xc]" in c for c in conditions)  # and the translate-train one
        if yaml.safe_load(path.read_text(encoding="utf-8")).get("retrieval_eval") is not None:
            assert any(r["phase"] == "retrieval_eval" for r in rows)
        assert (out / "report" / "index.html").exists()
