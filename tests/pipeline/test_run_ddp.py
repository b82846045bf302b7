"""`xstilts run` under 2 processes (torchrun, gloo on CPU) gives the 1-process run's numbers at the
same global batch, and writes every row, prediction file and ``done.json`` once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from xstilts.pipeline.results import read_rows

pytestmark = pytest.mark.slow


def _config(model_dir, per_device: int) -> dict:
    # Dropout 0: with dropout, each process draws its own masks and the runs differ by design.
    fast = {"per_device_train_batch_size": per_device, "max_steps": 6, "eval_steps": 3, "learning_rate": 3e-4,
            "logging_steps": 3, "per_device_eval_batch_size": 16, "dropout": 0.0}
    return {
        "name": "ddp", "seed": 5,
        "phases": [
            {"kind": "pretrained", "model": str(model_dir)},
            {"kind": "intermediate", "tasks": ["hellaswag"], "training": fast},
            {"kind": "retrieval_eval", "tasks": ["tatoeba"], "layer": 2, "languages": ["de"], "max_length": 24},
            {"kind": "target", "task": "xnli", "training": fast},
            {"kind": "zero_shot_eval", "splits": ["dev"], "languages": ["de"], "max_examples": 61},
        ],
        "tasks": {
            "hellaswag": {"train": {"split": "dev", "stop": 40}, "dev": {"split": "dev", "start": 40, "stop": 53},
                          "max_length": 48},
            "xnli": {"train": {"task": "anli", "split": "dev", "stop": 48},
                     "dev": {"task": "anli", "split": "dev", "start": 3100, "stop": 3113}, "max_length": 48},
        },
    }


def _run(tmp_path, model_dir, data_dir, processes: int):
    cfg = tmp_path / f"c{processes}.yaml"
    cfg.write_text(yaml.safe_dump(_config(model_dir, 8 // processes)))  # global batch 8 either way
    out = tmp_path / f"out{processes}"
    env = {**os.environ, "XSTILTS_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "ACCELERATE_USE_CPU": "1", "TOKENIZERS_PARALLELISM": "false"}
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m"]
                if processes > 1 else [sys.executable, "-m"])
    proc = subprocess.run(launcher + ["xstilts", "run", str(cfg), "--out", str(out), "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_two_processes_give_one_process_numbers_and_write_once(tmp_path, tiny_model_dir, data_dir):
    one, two = (_run(tmp_path, tiny_model_dir, data_dir, n) for n in (1, 2))
    rows1, rows2 = list(read_rows(one / "results.jsonl")), list(read_rows(two / "results.jsonl"))
    key = lambda r: (r["phase"], r["task"], r["language"], r["split"], r["bucket"], r["metric"])
    assert sorted(map(key, rows1)) == sorted(map(key, rows2))  # same rows, none duplicated
    assert len(rows2) == len({key(r) for r in rows2})
    v1, v2 = {key(r): r["value"] for r in rows1}, {key(r): r["value"] for r in rows2}
    for k in v1:
        if k[-1] in ("loss", "tokens_seen"):
            # float32 sums in another order (padding widths, all-reduce): a few ulps per step.
            assert v2[k] == pytest.approx(v1[k], rel=1e-4), k
        else:  # accuracy, retrieval: decisions on near-identical logits are identical
            assert v2[k] == v1[k], k
    (run1,), (run2,) = list((one / "runs").iterdir()), list((two / "runs").iterdir())
    preds1 = sorted(p.relative_to(run1) for p in run1.rglob("predictions/**/*") if p.is_file())
    preds2 = sorted(p.relative_to(run2) for p in run2.rglob("predictions/**/*") if p.is_file())
    assert preds1 == preds2 and preds1
    for p in preds1:
        assert (run1 / p).read_text() == (run2 / p).read_text(), p
    assert not list(two.rglob("*.tmp"))
    log = (run2 / "log.txt").read_text().splitlines()
    assert sum("finished" in line for line in log) == 1  # one process logs
