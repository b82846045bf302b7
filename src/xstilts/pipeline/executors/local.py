"""``local``: N worker processes on this machine, each with its share of the CPU threads or its own
GPU (``CUDA_VISIBLE_DEVICES``). Two trainings that each take every core of a 2-core machine run
about 6× slower than one after the other; a fair share of threads keeps workers from fighting.
A node that is the only one running or ready (the pretraining every run waits on) takes every
core: nothing else can start before it ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from xstilts.pipeline.executors import register
from xstilts.pipeline.grid import grid_dir, states
from xstilts.settings import cpu_cores


def worker_env(index: int, workers: int, gpus: int, cores: int) -> dict[str, str]:
    """The environment of worker ``index`` of ``workers``: its GPU, or its share of the cores."""
    env = dict(os.environ)
    threads = max(1, cores // workers)
    env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "XSTILTS_THREADS": str(threads)}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    else:  # CPU workers may take every core for a node that runs alone (set_threads_for)
        env["XSTILTS_CORES"] = str(cores)
    return env


def threads_for(state: dict[str, str], share: int, cores: int) -> int:
    """A worker's threads for the node it is about to claim: every core when no other node is
    running or ready, else its share. A node only becomes ready when another ends, so a node that
    starts alone stays alone until it ends, and its cores are not fought over."""
    busy = sum(s in ("running", "ready") for s in state.values())
    return cores if busy <= 1 else share


def set_threads_for(state: dict[str, str]) -> None:
    """``before_node`` of a local worker (``xstilts grid work`` under this executor's environment)."""
    import torch

    torch.set_num_threads(threads_for(state, int(os.environ["XSTILTS_THREADS"]), int(os.environ["XSTILTS_CORES"])))


def _gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover - a broken CUDA install: run on CPU
        return 0


@register("local")
def run(graph, out, spec, *, workers: int = 2, echo=print, progress: bool = False):  # progress: workers log to files
    logs = grid_dir(out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    gpus, cores = _gpus(), cpu_cores()
    if gpus and workers > gpus:
        echo(f"warning: {workers} workers share {gpus} GPU(s)")
    host = socket.gethostname()
    procs = []
    for i in range(workers):
        name = f"local{i}-{host}-{os.getpid()}"
        log = open(logs / f"{name}.log", "ab")
        cmd = [sys.executable, "-m", "xstilts", "grid", "work", str(Path(out)), "--worker", name]
        procs.append((name, log, subprocess.Popen(cmd, env=worker_env(i, workers, gpus, cores),
                                                  stdout=log, stderr=subprocess.STDOUT)))
        echo(f"started worker {name} (log {logs / f'{name}.log'})")
    seen = states(graph, out, spec)
    while any(proc.poll() is None for _, _, proc in procs):  # tell what ends, as the inline executor does
        time.sleep(min(spec.poll_seconds, 2.0))
        now = states(graph, out, spec)
        for node_id, state in now.items():
            if state != seen[node_id] and state in ("done", "failed", "blocked"):
                echo(f"{node_id}: {state}")
        seen = now
    for name, log, proc in procs:
        log.close()
        if proc.returncode != 0:
            echo(f"worker {name} exited with {proc.returncode} (see {logs / f'{name}.log'})")
    return states(graph, out, spec)
