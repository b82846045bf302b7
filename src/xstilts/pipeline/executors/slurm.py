"""``slurm``: every node a Slurm job, through submitit.

The driver submits the nodes that are ready as one job array (at most ``workers`` jobs in flight,
and Slurm's own ``array_parallelism``; more ready nodes than that share jobs), waits, and submits
what became ready; so a node is submitted once its inputs are done. Each job claims its nodes like
any worker (a second driver's job finds them claimed or done and moves on). A job hit by its time limit or preempted is requeued by
submitit (:class:`NodeJob` is ``Checkpointable``) and resumes from the phase's last checkpoint. A
node of a grid asking for several GPUs per node runs under ``accelerate launch`` (DDP by default;
FSDP or DeepSpeed through ``accelerate_config``, accelerate's own config file).

``cluster: local`` runs the same jobs as local processes through submitit's LocalExecutor — how
the tests exercise this module without a cluster; ``cluster: null`` lets submitit pick Slurm when
``sbatch`` is present.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from xstilts.pipeline.executors import register
from xstilts.pipeline.grid import GridSpec, grid_dir, run_node, states


class SlurmSpec(BaseModel):
    """The ``grid.slurm`` section of a study or grid (submitit's parameter names where they exist)."""

    model_config = ConfigDict(extra="forbid")
    cluster: str | None = None  # None: Slurm if available; "local": submitit's LocalExecutor (tests)
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus_per_node: int = Field(1, ge=0)
    cpus_per_task: int = Field(8, ge=1)
    mem_gb: float | None = None
    timeout_min: int = Field(24 * 60, ge=1)
    nodes: int = Field(1, ge=1)  # > 1: multi-node accelerate launch (accelerate's Slurm example)
    array_parallelism: int = Field(64, ge=1)
    additional_parameters: dict[str, Any] = {}  # extra sbatch options, e.g. {"constraint": "a100"}
    setup: list[str] = []  # shell lines run before each job (module load, conda activate)
    accelerate_config: str | None = None  # accelerate's config file: FSDP, DeepSpeed, mixed precision


class NodeJob:
    """A submitit job running some ready nodes in turn; requeued with the same arguments on timeout
    or preemption (finished nodes are then skipped, the interrupted one resumes)."""

    def __init__(self, out: str, spec: dict):
        self.out, self.spec = out, spec

    def __call__(self, node_ids: list[str]) -> dict[str, str]:
        from xstilts.pipeline import graph as graphs

        grid_spec = GridSpec.model_validate(self.spec)
        slurm = SlurmSpec.model_validate(grid_spec.slurm)
        _set_threads(slurm.cpus_per_task)
        graph, _ = graphs.load(grid_dir(self.out) / "graph.json")
        worker = f"slurm-{os.environ.get('SLURM_JOB_ID') or os.environ.get('SUBMITIT_LOCAL_JOB_ID') or os.getpid()}"
        launcher = _accelerate_launcher(slurm, self.out) if slurm.gpus_per_node * slurm.nodes > 1 else None
        if slurm.nodes > 1 and int(os.environ.get("SLURM_NODEID", "0")) > 0:
            return {node_id: _follow(graph.nodes[node_id], self.out, grid_spec, worker, launcher) for node_id in node_ids}
        # "busy": a live worker (another driver's job) holds it; the driver resubmits it if that
        # worker dies and its claim expires.
        return {node_id: run_node(graph, self.out, graph.nodes[node_id], grid_spec, worker=worker, launcher=launcher)
                for node_id in node_ids}

    def checkpoint(self, node_ids: list[str]):
        import submitit

        return submitit.helpers.DelayedSubmission(NodeJob(self.out, self.spec), node_ids)


def _follow(node, out: str, spec: GridSpec, worker: str, launcher) -> str:
    """The other machines of a multi-node job: join the launch once this job's first machine has
    claimed the node (the claim is the job's, held by that machine); leave it if another job has."""
    from xstilts.pipeline import claims
    from xstilts.pipeline.grid import claim_path

    deadline = time.time() + spec.lease_seconds
    while time.time() < deadline:
        if node.done(out):
            return "skipped"
        holder = claims.alive(claim_path(out, node), spec.lease_seconds)
        if holder is not None:
            if holder["owner"] != worker:
                return "busy"
            launcher(node, out)
            return "done"
        time.sleep(spec.poll_seconds)
    return "busy"


def _set_threads(cpus: int) -> None:
    import torch

    torch.set_num_threads(max(1, cpus))


def _accelerate_launch_command(slurm: SlurmSpec, out: str, node_id: str) -> list[str]:
    """``accelerate launch`` of one node on every GPU of the allocation (multi-node: rank and
    master address from Slurm's environment, as in accelerate's Slurm examples)."""
    processes = slurm.gpus_per_node * slurm.nodes
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
           "--num_machines", str(slurm.nodes)]
    if slurm.accelerate_config:
        cmd += ["--config_file", slurm.accelerate_config]
    elif processes > 1:
        cmd += ["--multi_gpu"]
    if slurm.nodes > 1:
        cmd += ["--machine_rank", os.environ.get("SLURM_NODEID", "0"),
                "--main_process_ip", os.environ.get("MASTER_ADDR") or _first_host(),
                "--main_process_port", os.environ.get("MASTER_PORT", "29500"),
                "--rdzv_backend", "c10d"]
    return cmd + ["-m", "xstilts", "grid", "node", out, node_id]


def _first_host() -> str:
    """The allocation's first machine: the rendezvous host of a multi-node launch."""
    nodelist = os.environ.get("SLURM_JOB_NODELIST")
    if not nodelist:
        return "localhost"
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True)
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.split() else "localhost"


def _accelerate_launcher(slurm: SlurmSpec, out: str):
    def launch(node, _out) -> None:
        subprocess.run(_accelerate_launch_command(slurm, out, node.id), check=True)

    return launch


def executor_for(out: str | Path, slurm: SlurmSpec):
    import submitit

    folder = grid_dir(out) / "logs" / "submitit" / "%j"
    executor = submitit.AutoExecutor(folder=folder, cluster=slurm.cluster)
    executor.update_parameters(
        name="xstilts", timeout_min=slurm.timeout_min, cpus_per_task=slurm.cpus_per_task,
        # One task per machine: each runs `accelerate launch`, which starts a process per GPU.
        gpus_per_node=slurm.gpus_per_node, nodes=slurm.nodes, tasks_per_node=1, mem_gb=slurm.mem_gb,
        slurm_partition=slurm.partition, slurm_account=slurm.account, slurm_qos=slurm.qos,
        slurm_array_parallelism=slurm.array_parallelism,
        slurm_additional_parameters=slurm.additional_parameters or None, slurm_setup=slurm.setup or None)
    return executor


@register("slurm")
def run(graph, out, spec: GridSpec, *, workers: int = 64, echo=print, progress: bool = False):  # jobs log to files
    slurm = SlurmSpec.model_validate(spec.slurm)
    executor = executor_for(out, slurm)
    job_fn = NodeJob(str(Path(out)), spec.model_dump(mode="json"))
    in_flight: dict[str, Any] = {}  # node id → the job that runs it
    while True:
        state = states(graph, out, spec)
        for job in {id(j): j for j in in_flight.values()}.values():
            if job.done():
                ids = [k for k, j in in_flight.items() if j is job]
                for k in ids:
                    in_flight.pop(k)
                try:
                    echo(f"[slurm job {job.job_id}] " + ", ".join(f"{k}: {v}" for k, v in job.result().items()))
                except Exception as err:  # the job itself died (node errors are recorded by run_node)
                    echo(f"[slurm job {job.job_id}] {', '.join(ids)}: job failed: {str(err).splitlines()[0]}")
        if not in_flight and all(s in ("done", "failed", "blocked") for s in state.values()):
            return state
        ready = [n.id for n in graph if state[n.id] == "ready" and n.id not in in_flight]
        jobs_free = workers - len({id(j) for j in in_flight.values()})
        if ready and jobs_free > 0:
            # At most `workers` jobs in flight: ready nodes beyond that share jobs (one after another).
            chunks = [ready[i::min(jobs_free, len(ready))] for i in range(min(jobs_free, len(ready)))]
            jobs = executor.map_array(job_fn, chunks)
            for chunk, job in zip(chunks, jobs):
                in_flight.update(dict.fromkeys(chunk, job))
            echo(f"submitted {len(jobs)} job(s) for {len(ready)} node(s): {', '.join(j.job_id for j in jobs)}")
        elif not in_flight and not any(s == "running" for s in state.values()):
            # Nothing ready, nothing running: what is left waits on failed nodes (reported as blocked).
            return state
        time.sleep(spec.poll_seconds)
