"""A run killed mid-training (SIGKILL to a real subprocess) resumes to exactly the same numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from xstilts.pipeline.results import read_rows

pytestmark = pytest.mark.slow


def _config(model_dir) -> dict:
    return {
        "name": "resume", "seed": 11,
        "phases": [
            {"kind": "pretrained", "model": str(model_dir)},
            {"kind": "target", "task": "xnli",
             "training": {"per_device_train_batch_size": 4, "max_steps": 24, "eval_steps": 8, "save_steps": 2,
                          "learning_rate": 3e-4, "logging_steps": 4, "gradient_accumulation_steps": 2}},
            {"kind": "zero_shot_eval", "splits": ["dev"]},
        ],
        "tasks": {"xnli": {"train": {"task": "anli", "split": "dev", "stop": 96},
                           "dev": {"task": "anli", "split": "dev", "start": 3150}, "max_length": 48}},
    }


def _run(cfg, out, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xstilts.cli", "run", str(cfg), "--out", str(out), "--no-progress"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _values(out) -> dict:
    return {(r["phase"], r["task"], r["language"], r["split"], r["metric"]): r["value"] for r in read_rows(out / "results.jsonl")}


def test_killed_run_resumes_to_identical_metrics(tmp_path, data_dir, tiny_model_dir):
    env = {**os.environ, "XSTILTS_DATA_DIR": str(data_dir)}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(tiny_model_dir)))

    reference = _run(cfg, tmp_path / "uninterrupted", env)
    assert reference.wait(timeout=600) == 0, reference.stdout.read()

    out = tmp_path / "interrupted"
    proc = _run(cfg, out, env)
    killed_at = None
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        states = list(out.glob("shared/target-*/checkpoint/state.json"))
        if states:
            try:
                state = json.loads(states[0].read_text())
            except (OSError, json.JSONDecodeError):
                state = {}
            if 6 <= state.get("step", 0) < 20:
                proc.send_signal(signal.SIGKILL)
                killed_at = state["step"]
                break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed_at is not None, "the run finished before it could be killed mid-training"
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.jsonl").exists() or not any(r["phase"] == "zero_shot_eval" for r in read_rows(out / "results.jsonl"))

    resumed = _run(cfg, out, env)
    log = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, log
    run_log = next(out.glob("runs/*/log.txt")).read_text()
    assert "resumed from step" in run_log

    expected, got = _values(tmp_path / "uninterrupted"), _values(out)
    assert expected and got == expected  # exactly equal, not approximately
    assert any(k[0] == "zero_shot_eval" for k in got)
