"""``local``: N worker processes on this machine, each with its share of the CPU threads or its own
GPU (``CUDA_VISIBLE_DEVICES``). Two trainings that each take every core of a 2-core machine run
about 6× slower than one after the other; a fair share of threads keeps workers from fighting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from xstilts.pipeline.executors import register
from xstilts.pipeline.grid import grid_dir, states


def worker_env(index: int, workers: int, gpus: int, cores: int) -> dict[str, str]:
    """The environment of worker ``index`` of ``workers``: its GPU, or its share of the cores."""
    env = dict(os.environ)
    threads = max(1, cores // workers)
    env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "XSTILTS_THREADS": str(threads)}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    return env


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
    gpus, cores = _gpus(), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if gpus and workers > gpus:
        echo(f"warning: {workers} workers share {gpus} GPU(s)")
    host = socket.gethostname()
    procs = []
    for i in range(workers):
        name = f"local{i}-{host}-{os.getpid()}"
        log = open(logs / f"{name}.log", "ab")
        cmd = [sys.executable, "-m", "xstilts", "grid", "work", str(Path(out)), "--worker", name]
        procs.append((name, log, subprocess.Popen(cmd, env=worker_env(i, workers, gpus, cores or 1),
                                                  stdout=log, stderr=subprocess.STDOUT)))
        echo(f"started worker {name} (log {logs / f'{name}.log'})")
    for name, log, proc in procs:
        code = proc.wait()
        log.close()
        if code != 0:
            echo(f"worker {name} exited with {code} (see {logs / f'{name}.log'})")
    return states(graph, out, spec)
