"""Two `xstilts run` of one config on one --out at once: one works on each phase, the other waits
and reuses it; every phase runs once, no result row is written twice, the numbers are those of a
single run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from xstilts.pipeline.results import KEY_FIELDS, read_rows

pytestmark = pytest.mark.slow

FAST = {"per_device_train_batch_size": 8, "max_steps": 6, "eval_steps": 3, "learning_rate": 3e-4,
        "logging_steps": 3, "per_device_eval_batch_size": 16}


def _config(model_dir) -> dict:
    return {
        "name": "twice", "seed": 2,
        "phases": [
            {"kind": "pretrained", "model": str(model_dir)},
            {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 2, "languages": ["de"], "max_length": 24},
            {"kind": "target", "task": "xnli", "training": FAST},
            {"kind": "zero_shot_eval", "splits": ["dev", "test"], "languages": ["de"], "max_examples": 64},
        ],
        "tasks": {"xnli": {"train": {"task": "anli", "split": "dev", "stop": 48},
                           "dev": {"task": "anli", "split": "dev", "start": 3100, "stop": 3120}, "max_length": 48}},
    }


def _start(cfg, out, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xstilts", "run", str(cfg), "--out", str(out), "--no-progress"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_runs_of_one_config_at_once_do_each_phase_once(tmp_path, tiny_model_dir, data_dir):
    env = {**os.environ, "XSTILTS_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(tiny_model_dir)))
    single = _start(cfg, tmp_path / "single", env)
    assert single.wait(timeout=600) == 0, single.stdout.read()

    out = tmp_path / "twice"
    runs = [_start(cfg, out, env) for _ in range(2)]
    logs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], logs
    rows = list(read_rows(out / "results.jsonl"))
    keys = [tuple(json.dumps(r[k]) for k in KEY_FIELDS) for r in rows]
    assert len(keys) == len(set(keys))  # no row written twice
    reference = {tuple(json.dumps(r[k]) for k in KEY_FIELDS): r["value"] for r in read_rows(tmp_path / "single" / "results.jsonl")}
    assert dict(zip(keys, (r["value"] for r in rows))) == reference
    (run_dir,) = (out / "runs").iterdir()
    log = (run_dir / "log.txt").read_text()
    assert "in use by PID" in log  # the second one said why it waited
    assert log.count("training xnli") == 1 and not list(out.rglob("*.tmp")) and not list(out.rglob("*.claim"))
