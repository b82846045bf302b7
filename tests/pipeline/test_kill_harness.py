"""kill -9 at random moments, 20 times: every interrupted run, re-run to the end, gives results,
example scores and prediction files identical to an uninterrupted run.

Four runs are each killed five times (SIGKILL to the process group, at a uniformly random moment
of the work after the process has started logging) and re-started after every kill; the fifth
re-start runs to the end. The moments land in every phase (the test reports where)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from xstilts.pipeline.results import KEY_FIELDS, latest_rows

pytestmark = pytest.mark.slow

FAST = {"per_device_train_batch_size": 4, "max_steps": 12, "eval_steps": 4, "save_steps": 1, "learning_rate": 3e-4,
        "logging_steps": 2, "per_device_eval_batch_size": 16}
CHAINS, KILLS_PER_CHAIN = 4, 5


def _config(model_dir) -> dict:
    return {
        "name": "kill", "seed": 7,
        "phases": [
            {"kind": "pretrained", "model": str(model_dir)},
            {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 2, "languages": ["de"], "max_length": 24},
            {"kind": "intermediate", "tasks": ["hellaswag"], "training": FAST},
            {"kind": "target", "task": "xnli", "training": FAST},
            {"kind": "zero_shot_eval", "splits": ["dev", "test"], "languages": ["de"], "max_examples": 48},
        ],
        "tasks": {
            "hellaswag": {"train": {"split": "dev", "stop": 32}, "dev": {"split": "dev", "start": 32, "stop": 40},
                          "max_length": 40},
            "xnli": {"train": {"task": "anli", "split": "dev", "stop": 48},
                     "dev": {"task": "anli", "split": "dev", "start": 3100, "stop": 3116}, "max_length": 40},
        },
    }


def _outputs(out) -> dict:
    """Everything a study reads from a run folder, as comparable values."""
    key = lambda r, fields: tuple(json.dumps(r.get(k)) for k in fields)  # noqa: E731
    results = {key(r, KEY_FIELDS): r["value"] for r in latest_rows(out / "results.jsonl")}
    examples = {}
    for line in (out / "example_scores.jsonl").read_text().splitlines():
        r = json.loads(line)
        examples[key(r, ("run_id", "phase", "intermediate", "task", "language", "split", "example_id"))] = r["stats"]
    predictions = {str(p.relative_to(out)): p.read_bytes() for p in out.glob("runs/*/*/predictions/**/*") if p.is_file()}
    return {"results": results, "examples": examples, "predictions": predictions}


def test_kill_nine_at_twenty_random_moments_changes_no_number(tmp_path, tiny_model_dir, data_dir):
    env = {**os.environ, "XSTILTS_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(tiny_model_dir)))
    cmd = lambda out: [sys.executable, "-m", "xstilts", "run", str(cfg), "--out", str(out), "--no-progress"]  # noqa: E731

    started = time.perf_counter()
    subprocess.run(cmd(tmp_path / "reference"), env=env, check=True, capture_output=True, timeout=600)
    whole = time.perf_counter() - started
    reference = _outputs(tmp_path / "reference")
    assert len(reference["results"]) > 20 and reference["predictions"] and reference["examples"]

    rng = random.Random(13)
    landed: Counter = Counter()
    for chain in range(CHAINS):
        out = tmp_path / f"chain{chain}"
        for _ in range(KILLS_PER_CHAIN):
            proc = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            logs = list(out.glob("runs/*/log.txt"))
            before = logs[0].read_text().count(": pretrained →") if logs else 0
            deadline = time.time() + 120
            while time.time() < deadline and proc.poll() is None:  # until this process has started working
                logs = list(out.glob("runs/*/log.txt"))
                if logs and logs[0].read_text().count(": pretrained →") > before:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0, whole * 0.8))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                log = (list(out.glob("runs/*/log.txt")) or [None])[0]
                last = log.read_text().splitlines()[-1] if log else "before the log"
                landed[last.split(" ", 2)[-1].split(":")[0].split(" ")[0]] += 1
            else:
                landed["after the end"] += 1
        final = subprocess.run(cmd(out), env=env, capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stdout + final.stderr
        got = _outputs(out)
        for part in ("results", "examples", "predictions"):
            assert got[part] == reference[part], f"chain {chain}: {part} differ"
    print(f"20 kills landed at: {dict(landed)}")
    assert sum(landed.values()) == CHAINS * KILLS_PER_CHAIN
    assert landed["after the end"] < CHAINS * KILLS_PER_CHAIN // 2  # most kills hit a running process
