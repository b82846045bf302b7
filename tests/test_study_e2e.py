"""`xstilts study seqlen` end to end on a tiny world: grid → shared phases → analysis → report."""

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.pipeline.results import read_rows

pytestmark = pytest.mark.slow

FAST = {"max_steps": 6, "per_device_train_batch_size": 8, "learning_rate": 1.0e-3, "eval_steps": 6,
        "logging_steps": 6, "max_eval_examples": 16}


def test_tiny_seqlen_study_runs_and_reports(tmp_path):
    preset = {
        "study": "seqlen", "name": "tiny", "seeds": [0],
        "world": {"seed": 0, "size": "tiny"},
        "pretrained": {"from_scratch": {
            "seed": 0, "languages": ["en", "xa", "xb", "xc"], "corpus_task": "syn_mlm",
            "tokenizer": {"vocab_size": 600},
            "model": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
            "max_length": 128, "training": {"max_steps": 10, "per_device_train_batch_size": 16, "eval_steps": 10}}},
        "intermediate_tasks": ["syn_longqa", "syn_nli"],
        "max_lengths": [64, 96, 128],
        "doc_stride_ratio": 0.25,
        "intermediate_training": FAST,
        "targets": ["syn_qa"],
        "target_training": {"syn_qa": FAST},
        "head_init": "intermediate",
        "zero_shot_eval": {"splits": ["test"]},
        "tasks": {"syn_qa": {"max_length": 96, "doc_stride": 24}},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(preset))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["study", "seqlen", "--preset", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "7 runs" in result.output
    index = out / "report" / "index.html"
    assert result.output.strip().endswith(str(index)) and index.exists()
    # One pretrained encoder and one model per intermediate condition, shared across runs.
    assert len([d for d in out.glob("shared/pretrained-*") if d.is_dir()]) == 1
    assert len([d for d in out.glob("shared/intermediate-*") if d.is_dir()]) == 6
    rows = [r for r in read_rows(out / "results.jsonl") if r["phase"] == "zero_shot_eval" and r["bucket"] == "all"]
    assert {r["language"] for r in rows} == {"en", "xa", "xb", "xc"}
    assert {r["intermediate_max_len"] for r in rows} == {None, 64, 96, 128}
    assert all(r["compute_policy"] in (None, "equal_steps") for r in rows)
    html = index.read_text()
    assert "no significant effect" in html or "significant" in html
