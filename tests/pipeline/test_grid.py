"""A 12-run grid on the synthetic world through every executor, two drivers at once, and a worker
killed mid-node: real subprocesses, identical results tables, every node done exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.pipeline import graph as graphs
from xstilts.pipeline.grid import grid_dir
from xstilts.pipeline.results import KEY_FIELDS, latest_rows, read_rows

pytestmark = pytest.mark.slow

GRID = Path(__file__).resolve().parents[2] / "configs" / "grid_tiny.yaml"


@pytest.fixture(scope="module")
def grid_yaml(tmp_path_factory):
    """configs/grid_tiny.yaml on one world generated once: 12 runs, 29 nodes."""
    from xstilts.world import generate

    root = tmp_path_factory.mktemp("grid")
    generate(root / "world", seed=0, size="tiny")
    preset = {**yaml.safe_load(GRID.read_text()), "world": None, "data_dir": str(root / "world")}
    path = root / "grid.yaml"
    path.write_text(yaml.safe_dump(preset))
    return path


def _env() -> dict:
    # Each subprocess driver gets one thread: two of them share the 2 cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "XSTILTS_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "xstilts", *args]


def _table(out) -> dict:
    return {tuple(json.dumps(r[k]) for k in KEY_FIELDS): r["value"] for r in latest_rows(out / "results.jsonl")}


def _successes(out) -> dict[str, int]:
    counts = {}
    for path in (grid_dir(out) / "nodes").glob("*.json"):
        record = json.loads(path.read_text())
        counts[record["id"]] = sum(1 for a in record["attempts"] if not a.get("error"))
    return counts


@pytest.fixture(scope="module")
def reference(grid_yaml, tmp_path_factory):
    out = tmp_path_factory.mktemp("inline") / "out"
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["grid", "run", str(grid_yaml), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    print(f"inline: {time.perf_counter() - started:.1f}s")
    return out


def test_plan_counts_nodes_and_shares_training(grid_yaml):
    result = CliRunner().invoke(app, ["grid", "plan", str(grid_yaml), "--nodes"])
    assert result.exit_code == 0, result.output
    # 1 pretrained (one seed for all), 2 tasks × 2 seeds intermediate, 12 targets, 12 evaluations
    assert "29 nodes (1 pretrained, 12 target, 12 zero_shot_eval, 4 intermediate) for 12 runs" in result.output
    assert result.output.count("needs pretrained-") == 4 + 4  # the baselines' targets, the intermediates


def test_polling_node_states_does_not_rehash_the_data(grid_yaml, tmp_path, monkeypatch):
    # A driver polls every node's state each second; a run id hashes data fingerprints, so the
    # graph computes each once (at build) and states() must not compute them again.
    import xstilts.config
    from xstilts.pipeline.grid import GridSpec, states
    from xstilts.study import expand, load_preset

    graph = graphs.build([(c, "") for c in expand(load_preset(str(grid_yaml)))])
    expected = {n.id: n.folder(tmp_path) for n in graph}
    monkeypatch.setattr(xstilts.config, "resolve", lambda *a, **k: pytest.fail("resolve() called while polling"))
    assert set(states(graph, tmp_path, GridSpec()).values()) == {"ready", "waiting"}
    assert {n.id: n.folder(tmp_path) for n in graph} == expected


def test_local_and_submitit_executors_give_the_inline_table(grid_yaml, reference, tmp_path):
    table = _table(reference)
    assert len(table) > 500 and all(n == 1 for n in _successes(reference).values())
    assert len(_successes(reference)) == 29
    # Default retention: finished phases keep their model, not the checkpoint with optimizer states.
    assert len(list(reference.glob("shared/*/model"))) == 17 and not list(reference.glob("shared/*/checkpoint"))
    for executor in ("local", "slurm"):
        out = tmp_path / executor
        started = time.perf_counter()
        proc = subprocess.run(_cli("grid", "run", str(grid_yaml), "--out", str(out), "--no-report",
                                   "--executor", executor, "--workers", "2"),
                              env=_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        print(f"{executor}: {time.perf_counter() - started:.1f}s")
        assert _table(out) == table, executor
        assert len(_successes(out)) == 29 and all(n == 1 for n in _successes(out).values())
    assert list((tmp_path / "slurm" / "grid" / "logs" / "submitit").iterdir())  # submitit's own job folders


def test_two_drivers_at_once_run_every_node_once(grid_yaml, reference, tmp_path):
    out = tmp_path / "out"
    # Also: models deleted once every node needing them is done (retention.unused_models: false).
    cmd = _cli("grid", "run", str(grid_yaml), "--out", str(out), "--no-report",
               "--set", "grid.retention.unused_models=false")
    drivers = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    logs = [d.communicate(timeout=600)[0] for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], logs
    ran = [sum(line.endswith(": done") for line in log.splitlines()) for log in logs]
    assert sum(ran) == 29 and min(ran) > 0  # both worked, no node twice
    assert all(n == 1 for n in _successes(out).values()) and len(_successes(out)) == 29
    rows = list(read_rows(out / "results.jsonl"))
    assert len(rows) == len(list(read_rows(reference / "results.jsonl")))  # no row appended twice
    assert _table(out) == _table(reference)
    assert not list(out.glob("shared/*/model/**/*.safetensors")) and len(list(out.glob("shared/*/pruned.json"))) == 17
    status = CliRunner().invoke(app, ["grid", "status", str(out)])
    assert status.exit_code == 0 and "29 nodes: 29 done" in status.output, status.output

    # A node needing a deleted model again (here: an evaluation whose result was removed) makes its
    # chain of pruned training phases ready again; they retrain to the same numbers.
    graph, _ = graphs.load(grid_dir(out) / "graph.json")
    evaluation = next(n for n in graph if n.kind == "zero_shot_eval" and "syn_nli" in n.id)
    (evaluation.folder(out) / "done.json").unlink()
    status = CliRunner().invoke(app, ["grid", "status", str(out)])
    assert "25 done, 1 ready, 3 waiting" in status.output, status.output  # pretrained first
    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sum(line.endswith(": done") for line in again.stdout.splitlines()) == 4
    assert _table(out) == _table(reference)


def test_killed_worker_claim_expires_and_another_finishes(grid_yaml, reference, tmp_path):
    out = tmp_path / "out"
    cmd = _cli("grid", "run", str(grid_yaml), "--out", str(out), "--no-report")
    victim = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    claims_dir = grid_dir(out) / "claims"
    deadline, target = time.time() + 300, None
    while time.time() < deadline and target is None:  # wait until it holds an intermediate node
        held = [p for p in claims_dir.glob("intermediate-*.claim")] if claims_dir.exists() else []
        target = held[0] if held else None
        time.sleep(0.05)
    assert target is not None, "the worker never claimed an intermediate node"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert target.exists()  # a dead worker's claim stays behind ...
    status = CliRunner().invoke(app, ["grid", "status", str(out), "--json"])
    held = [r for r in json.loads(status.output) if r["id"] == target.name[:-len(".claim")]]
    assert held[0]["state"] in ("running", "ready")  # running until its lease runs out
    finisher = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert finisher.returncode == 0, finisher.stdout + finisher.stderr
    assert list(claims_dir.glob(target.name + ".expired-*"))  # ... until it expires and is taken over
    assert _table(out) == _table(reference)
    assert len(_successes(out)) == 29 and all(n == 1 for n in _successes(out).values())


def test_failed_node_is_retried_kept_and_blocks_what_needs_it(tmp_path, tiny_model_dir, data_dir, monkeypatch):
    monkeypatch.setenv("XSTILTS_DATA_DIR", str(data_dir))
    config = {"name": "fails", "seed": 1, "phases": [
        {"kind": "pretrained", "model": str(tiny_model_dir)},
        {"kind": "target", "task": "xnli", "training": {"max_steps": 2}},
        {"kind": "zero_shot_eval", "splits": ["dev"], "languages": ["de"]}],
        # An empty English training slice: the target node fails when it runs (not at planning).
        "tasks": {"xnli": {"train": {"task": "anli", "split": "dev", "start": 10**6},
                           "dev": {"task": "anli", "split": "dev", "start": 3150}}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["grid", "run", str(path), "--out", str(out)])
    assert result.exit_code == 2 and "2 node(s) not done" in result.output, result.output
    records = {r["kind"] if "kind" in r else r["what"].split()[0]: r for r in
               json.loads(CliRunner().invoke(app, ["grid", "status", str(out), "--json"]).output)}
    assert records["target"]["state"] == "failed" and records["target"]["attempts"] == 2  # 1 retry
    assert "no English training examples" in records["target"]["error"]
    assert records["zero_shot_eval"]["state"] == "blocked"
    status = CliRunner().invoke(app, ["grid", "status", str(out)]).output
    assert "failed" in status and "after 2 attempt(s): ConfigError" in status and "log " in status
