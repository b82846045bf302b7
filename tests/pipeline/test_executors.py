"""Executor settings: the sbatch script submitit writes from `grid.slurm`, the `accelerate launch`
command of multi-GPU nodes, requeueing, the executor registry and worker environments."""

from __future__ import annotations

import pytest

from xstilts.errors import UnknownNameError
from xstilts.pipeline.executors import EXECUTORS, get_executor
from xstilts.pipeline.executors.local import threads_for, worker_env
from xstilts.pipeline.executors.slurm import NodeJob, SlurmSpec, _accelerate_launch_command, executor_for

SPEC = dict(cluster="slurm", partition="gpu", account="lab", qos="high", gpus_per_node=4, cpus_per_task=16,
            mem_gb=128, timeout_min=600, additional_parameters={"constraint": "a100"}, setup=["module load cuda/12.4"],
            array_parallelism=7)


def test_registry_names_every_executor():
    assert set(EXECUTORS) == {"inline", "local", "slurm"}
    with pytest.raises(UnknownNameError, match="did you mean 'slurm'"):
        get_executor("slurn")


def test_grid_slurm_settings_become_sbatch_options(tmp_path, monkeypatch):
    # submitit refuses to build a Slurm executor where there is no `srun`; this one only has to exist.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    executor = executor_for(tmp_path / "out", SlurmSpec(**SPEC))
    script = executor._executor._make_submission_file_text("CMD", "uid")
    for option in ("--partition=gpu", "--account=lab", "--qos=high", "--gpus-per-node=4", "--cpus-per-task=16",
                   "--mem=128GB", "--time=600", "--constraint=a100", "--ntasks-per-node=1", "--signal=USR2@"):
        assert f"#SBATCH {option}" in script, option
    assert "module load cuda/12.4" in script
    assert executor._executor.parameters["array_parallelism"] == 7


def test_multi_gpu_nodes_run_under_accelerate_launch(monkeypatch):
    one_machine = _accelerate_launch_command(SlurmSpec(**SPEC), "/grid", "target-abc")
    assert one_machine[1:4] == ["-m", "accelerate.commands.launch", "--num_processes"] and one_machine[4] == "4"
    assert "--multi_gpu" in one_machine and one_machine[-5:] == ["xstilts", "grid", "node", "/grid", "target-abc"]
    fsdp = _accelerate_launch_command(SlurmSpec(**SPEC, accelerate_config="fsdp.yaml"), "/grid", "n")
    assert "--config_file" in fsdp and "--multi_gpu" not in fsdp
    monkeypatch.setenv("SLURM_NODEID", "1")
    monkeypatch.setenv("MASTER_ADDR", "node17")
    two = _accelerate_launch_command(SlurmSpec(**{**SPEC, "nodes": 2}), "/grid", "n")
    assert two[two.index("--num_processes") + 1] == "8" and two[two.index("--num_machines") + 1] == "2"
    assert two[two.index("--machine_rank") + 1] == "1" and two[two.index("--main_process_ip") + 1] == "node17"


def test_a_preempted_job_is_requeued_with_the_same_nodes():
    job = NodeJob("/grid", {"retries": 1})
    again = job.checkpoint(["a", "b"])
    assert again.args == (["a", "b"],) and isinstance(again.function, NodeJob) and again.function.out == "/grid"


def test_local_workers_share_cores_or_take_a_gpu_each():
    assert worker_env(0, 2, gpus=0, cores=2)["OMP_NUM_THREADS"] == "1"
    assert worker_env(1, 4, gpus=0, cores=16)["XSTILTS_THREADS"] == "4"
    assert worker_env(3, 4, gpus=4, cores=16)["CUDA_VISIBLE_DEVICES"] == "3"
    assert worker_env(0, 2, gpus=0, cores=2)["XSTILTS_CORES"] == "2"
    assert "XSTILTS_CORES" not in worker_env(0, 2, gpus=1, cores=2)


def test_a_node_alone_takes_every_core_and_shares_them_otherwise():
    # the pretraining every run waits on: nothing else can start before it ends
    alone = {"pretrained": "ready", "a": "waiting", "b": "waiting", "old": "done", "bad": "failed"}
    assert threads_for(alone, share=1, cores=2) == 2
    assert threads_for({**alone, "a": "ready"}, share=1, cores=2) == 1  # another worker may take it
    assert threads_for({**alone, "a": "running"}, share=1, cores=2) == 1  # another worker runs it
