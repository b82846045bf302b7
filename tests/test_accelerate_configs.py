"""The accelerate configs docs/gpu.md points to are valid for accelerate's own loader."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "accelerate").glob("*.yaml"))
EXPECTED = {"1gpu": ("NO", 1, 1), "8gpu": ("MULTI_GPU", 8, 1), "multinode": ("MULTI_GPU", 16, 2)}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_accelerate_reads_it(path):
    config = load_config_from_file(str(path))
    kind, processes, machines = EXPECTED[path.stem]
    assert (config.distributed_type.value, config.num_processes, config.num_machines) == (kind, processes, machines)
    assert config.mixed_precision == "bf16"


def test_every_config_is_checked():
    assert {p.stem for p in CONFIGS} == set(EXPECTED)
