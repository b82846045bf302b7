"""Training and evaluation under 2 real processes (torchrun, gloo on CPU) give what 1 process gives.

``ddp_script.py`` trains a tiny encoder at a global batch of 8 rows (8 on one process, 4 + 4 on
two), evaluates on 13 classification and 7 tagging dev rows (uneven shards, ragged token-level
outputs) and early-stops on the dev metric; this test runs it both ways and compares.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xstilts.config import TrainingArgs
from xstilts.training.loop import TrainStream, total_steps

SCRIPT = Path(__file__).with_name("ddp_script.py")


def _launch(out: Path, processes: int, *, cpu_flag: bool = True) -> subprocess.CompletedProcess:
    out.mkdir(parents=True)
    # One thread per process (2 cores here); CPU even where a GPU exists, so both runs use the same kernels.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"}
    if processes == 1:  # a plain process: no process group at all, the path every single-device run takes
        cmd = [sys.executable, str(SCRIPT), str(out)]
    else:  # --standalone: torchrun picks a free port itself
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               str(SCRIPT), str(out)]
        if cpu_flag:
            env["ACCELERATE_USE_CPU"] = "1"  # what `accelerate launch --cpu` sets
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _run(out: Path, processes: int) -> dict:
    done = _launch(out, processes)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


@pytest.mark.slow
def test_two_gloo_processes_train_and_evaluate_like_one(tmp_path):
    one, two = _run(tmp_path / "one", 1), _run(tmp_path / "two", 2)
    assert one["processes"] == 1 and two["processes"] == 2
    single, (main, other) = one["per_process"][0], two["per_process"]

    # The global batch's loss at every step. Not bit-equal: padding widths (8 rows vs 4 + 4) and the
    # gradient all-reduce change float32 summation order, a few ulps per step that Adam carries on
    # (measured: at most 1.2e-7 absolute over 27 steps). 1e-4 relative leaves room for other CPUs
    # and is still far below what a wrong row, weight or schedule does (1e-2 and more).
    assert len(two["losses"]) == len(one["losses"]) == single["steps"]
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-4)

    # The same decisions on both processes, and the same as one process: evaluations, early stop,
    # best step (its weights reloaded everywhere: the final metric is the best one).
    for key in ("history", "best_step", "steps", "tokens_seen", "metrics", "tag_metrics"):
        assert main[key] == other[key] == single[key], key
    assert single["steps"] < 42 and single["metrics"]["accuracy"] == max(h["accuracy"] for h in single["history"])
    assert single["tokens_seen"] > 0

    # Dev outputs: every row exactly once, in row order (13 classification rows, 7 ragged tagging rows).
    assert two["n_predicted"] == one["n_predicted"] == 13
    assert two["predictions"] == one["predictions"] and len(set(one["predictions"])) > 1
    np.testing.assert_allclose(two["logits"], one["logits"], atol=1e-5)
    assert two["tag_predictions"] == one["tag_predictions"]
    assert [len(r) for r in two["tag_logits"]] == [len(r) for r in one["tag_logits"]] == [11, 3, 4, 5, 4, 11, 12]
    for a, b in zip(two["tag_logits"], one["tag_logits"]):
        np.testing.assert_allclose(a, b, atol=1e-5)

    # Written once: logs and prediction files by the main process only (result.json is created
    # exclusively by the script's main process, so a second writer would have failed the run).
    assert other["log"] == [] and other["writes"] == []
    assert main["writes"] == single["writes"] == [".xnli.tsv.PID.tmp", ".udpos.tsv.PID.tmp"]  # unique per process
    assert [line for line in main["log"] if not line.startswith("step ")] == \
           [line for line in single["log"] if not line.startswith("step ")]
    for name in ("xnli.tsv", "udpos.tsv"):
        assert (tmp_path / "two" / "pred" / name).read_text() == (tmp_path / "one" / "pred" / name).read_text()
    assert sorted(p.name for p in (tmp_path / "two" / "pred").iterdir()) == ["udpos.tsv", "xnli.tsv"]
    # Each process's RNG stream is checkpointed (dropout masks differ per process); one process's
    # checkpoint keeps its single rng.pt.
    assert "rng.1.pt" in main["checkpoint_files"] and "optimizer.pt" in main["checkpoint_files"]
    assert "rng.1.pt" not in single["checkpoint_files"] and "rng.pt" in single["checkpoint_files"]
    # The finished phase's checkpoint keeps its weights and state, not the optimizer's moments.
    assert sorted(p.name for p in (tmp_path / "two" / "train" / "checkpoint").iterdir()) == \
        ["model.safetensors", "state.json"]


@pytest.mark.slow
def test_a_launch_accelerate_does_not_see_is_refused(tmp_path):
    """On CPU without ``--cpu``, accelerate initialises the process group but reports one process:
    both processes would write checkpoints as "main". ``train`` refuses instead."""
    done = _launch(tmp_path / "run", 2, cpu_flag=False)
    assert done.returncode != 0
    assert "2 processes launched but accelerate sees 1" in done.stdout + done.stderr
    assert not (tmp_path / "run" / "train" / "checkpoint").exists()


def test_an_epoch_is_counted_in_global_batches():
    feats = type("F", (), {"__len__": lambda self: 49})()
    args = TrainingArgs(per_device_train_batch_size=4, num_train_epochs=2)
    assert total_steps(args, [TrainStream("x", feats)], num_processes=2) == 14
    assert total_steps(args.model_copy(update={"per_device_train_batch_size": 8}), [TrainStream("x", feats)]) == 14
