"""``python -m benchmarks``: the suite runner runs real benchmarks (at their smallest) and writes JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_suite_runs_training_and_scaling_quick_and_writes_rows(tmp_path):
    env = {**os.environ, "XSTILTS_BENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "train_throughput,scaling",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    training = results["benchmarks"]["train_throughput"]["rows"]
    assert training[0]["case"] == "pairs/tiny" and training[0]["xstilts_tokens"] == training[0]["trainer_tokens"] > 0
    assert training[0]["ratio_min"] <= training[0]["ratio_median"] <= training[0]["ratio_max"]
    scaling = results["benchmarks"]["scaling"]["rows"]
    assert any(r["case"] == "matmul-fp32" and r["flops_per_second"] > 0 for r in scaling)
    # the step is train()'s: the encoder attends with xstilts' CPU dropout (not SDPA left on after a failed import)
    assert {r["attention"] for r in scaling if "max_length" in r} == {"xstilts_sdpa"}
    assert "summary" in done.stdout and "pairs/tiny" in done.stdout


def test_unknown_benchmark_is_refused():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "unknown benchmark(s) nope" in done.stderr
