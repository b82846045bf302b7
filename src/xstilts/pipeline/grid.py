"""Running a run graph: claim a ready node, run it, record the outcome — from any number of workers.

The grid folder is the only shared state::

    OUT/grid/graph.json                the runs (the graph is rebuilt from them) and the grid settings
    OUT/grid/claims/<node>.claim       who runs a node now (:mod:`xstilts.pipeline.claims`)
    OUT/grid/nodes/<node>.json         every attempt: worker, host, times, error and traceback
    OUT/grid/logs/                     worker logs (local workers, submitit jobs)

A node is done when its phase's ``done.json`` exists (the runner writes it last), so a node is
never run twice by workers that check after claiming, and a re-run of the whole grid skips what
is done. A failed node is retried up to ``retries`` times, its errors kept; nodes that need a node
that failed for good are ``blocked``. Workers pull ready nodes, so two drivers (or a driver and
workers started by hand on other machines) share one grid without coordinating.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xstilts.pipeline import claims
from xstilts.pipeline.graph import Graph, Node

State = Literal["done", "running", "ready", "waiting", "failed", "blocked"]


class Retention(BaseModel):
    """What a finished training phase keeps on disk. Its ``model/`` (the selected weights) always
    stays while a node that needs it is pending."""

    model_config = ConfigDict(extra="forbid")
    # The last checkpoint (weights + optimizer states), to continue training a finished phase later.
    last_checkpoint: bool = False
    # The best checkpoint's weights (equal to ``model/``, which a finished phase loads them into).
    best_checkpoint: bool = False
    # Models of finished training phases once every node that needs them is done (False deletes
    # them; a later grid that needs one trains it again, identically).
    unused_models: bool = True


class GridSpec(BaseModel):
    """How a grid runs: retries, claim leases, what stays on disk, and the Slurm settings."""

    model_config = ConfigDict(extra="forbid")
    retries: int = Field(1, ge=0)  # further attempts of a failed node
    lease_seconds: float = Field(300.0, gt=0)  # a claim without heartbeat for this long has expired
    poll_seconds: float = Field(5.0, gt=0)
    retention: Retention = Retention()
    slurm: dict = {}  # xstilts.pipeline.executors.slurm.SlurmSpec (checked here, typed there)

    @field_validator("slurm")
    @classmethod
    def _slurm_spec(cls, value: dict) -> dict:
        from xstilts.pipeline.executors.slurm import SlurmSpec

        SlurmSpec.model_validate(value)  # a typo in grid.slurm fails when the grid is read
        return value


def grid_dir(out: str | Path) -> Path:
    return Path(out) / "grid"


def _safe(node_id: str) -> str:
    return node_id.replace("/", "_")


def claim_path(out: str | Path, node: Node) -> Path:
    return grid_dir(out) / "claims" / f"{_safe(node.id)}.claim"


def attempts(out: str | Path, node: Node) -> list[dict]:
    path = grid_dir(out) / "nodes" / f"{_safe(node.id)}.json"
    return json.loads(path.read_text(encoding="utf-8"))["attempts"] if path.exists() else []


def _record(out: str | Path, node: Node, attempt: dict) -> None:
    from xstilts.pipeline.runner import _write_text

    path = grid_dir(out) / "nodes" / f"{_safe(node.id)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_text(path, json.dumps({"id": node.id, "attempts": attempts(out, node) + [attempt]}, indent=1))


def states(graph: Graph, out: str | Path, spec: GridSpec) -> dict[str, State]:
    """Every node's state, from the grid folder alone."""
    # A pruned model is needed again when a node after it must run (dependents first).
    again: dict[str, bool] = {}
    for node in reversed(list(graph)):
        again[node.id] = _pruned(out, node) and any(not d.done(out) or again[d.id] for d in graph.dependents(node.id))
    result: dict[str, State] = {}
    for node in graph:  # topological order: needs are decided first
        failures = [a for a in attempts(out, node) if a.get("error")]
        if node.done(out) and not again[node.id]:
            result[node.id] = "done"
        elif claims.alive(claim_path(out, node), spec.lease_seconds):
            result[node.id] = "running"
        elif any(result[n] in ("failed", "blocked") for n in node.needs):
            result[node.id] = "blocked"
        elif len(failures) > spec.retries:
            result[node.id] = "failed"
        elif all(result[n] == "done" for n in node.needs):
            result[node.id] = "ready"
        else:
            result[node.id] = "waiting"
    return result


def _pruned(out: str | Path, node: Node) -> bool:
    """Its model was deleted by the retention policy once every node needing it was done. A node
    added later that needs it makes it ready again: it is trained anew (identically)."""
    return (node.folder(out) / "pruned.json").exists()


def finished(state: dict[str, State]) -> bool:
    return all(s in ("done", "failed", "blocked") for s in state.values())


@contextmanager
def exclusive(out: str | Path, name: str, spec: GridSpec):
    """Run a block in one driver at a time (e.g. generating the data a study reads): the others
    wait for the claim, then find the work done."""
    claim = claims.Claim(grid_dir(out) / "claims" / f"{name}.claim",
                         owner=f"driver-{socket.gethostname()}-{os.getpid()}", lease=spec.lease_seconds)
    while not claim.acquire():
        time.sleep(spec.poll_seconds)
    try:
        yield
    finally:
        claim.release()


# ------------------------------------------------------------------ running one node


def run_node(graph: Graph, out: str | Path, node: Node, spec: GridSpec, *, worker: str,
             launcher: Callable[[Node], None] | None = None) -> str:
    """Claim ``node``, run it unless done, record the attempt, release. Returns ``done``,
    ``failed``, ``skipped`` (already done) or ``busy`` (a live worker holds it)."""
    claim = claims.Claim(claim_path(out, node), owner=worker, lease=spec.lease_seconds)
    if not claim.acquire():
        return "busy"
    try:
        if node.done(out) and _pruned(out, node):  # needed again after its model was deleted
            folder = node.folder(out)
            (folder / "done.json").replace(folder / "done.before-pruning.json")
            (folder / "pruned.json").unlink()
        if node.done(out):  # finished by another worker between our look and our claim
            return "skipped"
        attempt = {"worker": worker, "host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
                   "log": str(Path(out) / node.where / "runs" / node.run_id / "log.txt")}
        try:
            (launcher or _run_inline)(node, out)
        except Exception as err:  # recorded, retried up to spec.retries; the worker goes on
            _record(out, node, {**attempt, "ended": time.time(), "error": f"{type(err).__name__}: {err}",
                                "traceback": traceback.format_exc(limit=20)[-4000:]})
            return "failed"
        _record(out, node, {**attempt, "ended": time.time(), "error": None})
        retain(graph, out, node, spec.retention)
        return "done"
    finally:
        claim.release()


def _run_inline(node: Node, out: str | Path, progress: bool = False) -> None:
    from xstilts.pipeline.runner import run_experiment

    base = Path(out) / node.where if node.where else Path(out)
    run_experiment(node.config, base, progress=progress, upto=node.index)


def work(graph: Graph, out: str | Path, spec: GridSpec, *, worker: str, echo=print,
         launcher: Callable[[Node], None] | None = None,
         before_node: Callable[[dict[str, State]], None] | None = None) -> dict[str, State]:
    """Pull ready nodes until none is left to run (done, failed or blocked everywhere).
    ``before_node(state)`` runs before each claim (a local worker sizes its threads there)."""
    while True:
        state = states(graph, out, spec)
        if finished(state):
            return state
        ran = False
        for node in graph:
            if state[node.id] != "ready":
                continue
            if before_node is not None:
                before_node(state)
            outcome = run_node(graph, out, node, spec, worker=worker, launcher=launcher)
            if outcome != "busy":
                echo(f"[{worker}] {node.id}: {outcome}")
                ran = True
                break  # states changed: look again from the top
        if not ran:
            time.sleep(spec.poll_seconds)


# ------------------------------------------------------------------ disk


def retain(graph: Graph, out: str | Path, node: Node, retention: Retention) -> None:
    """Apply the retention policy after ``node`` finished: to itself (if a training node) and to
    the training nodes it needed, whose dependents may all be done now."""
    if node.training:
        folder = node.folder(out)
        if not retention.last_checkpoint:
            shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        if not retention.best_checkpoint:
            shutil.rmtree(folder / "best", ignore_errors=True)
    if retention.unused_models:
        return
    for need in node.needs:
        parent = graph.nodes[need]
        if parent.done(out) and not _pruned(out, parent) and all(d.done(out) for d in graph.dependents(need)):
            from xstilts.pipeline.runner import _write_text

            # done.json stays (the runs that trained on it read its labels); the marker says the
            # model is gone. Two workers finishing the last two dependents at once both write it.
            _write_text(parent.folder(out) / "pruned.json", json.dumps({"after": node.id, "at": time.time()}))
            for weights in (parent.folder(out) / "model").rglob("*.safetensors"):
                weights.unlink(missing_ok=True)  # the weights; a from-scratch tokenizer stays for the runs


def disk_usage(out: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())


# ------------------------------------------------------------------ status


def status(graph: Graph, out: str | Path, spec: GridSpec) -> list[dict]:
    """One record per node: state, holder of a live claim, last error, where the logs are."""
    state = states(graph, out, spec)
    records = []
    for node in graph:
        tries = attempts(out, node)
        last_error = next((a for a in reversed(tries) if a.get("error")), None)
        holder = claims.alive(claim_path(out, node), spec.lease_seconds)
        records.append({
            "id": node.id, "what": node.label(), "state": state[node.id], "runs": len(node.runs),
            "attempts": len(tries), "error": last_error["error"] if last_error else None,
            "worker": (f"{holder['owner']} (pid {holder['pid']} on {holder['host']})" if holder else
                       (tries[-1]["worker"] if tries else None)),
            "log": str(Path(out) / node.where / "runs" / node.run_id / "log.txt"),
        })
    return records
