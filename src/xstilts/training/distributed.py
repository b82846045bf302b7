"""The few collectives evaluation needs when several processes share one run (``accelerate launch``
or ``torchrun``).

They read ``torch.distributed`` directly rather than an ``Accelerator``, so that
:func:`xstilts.pipeline.evaluation.predict` works under any launcher and, when no process group is
initialised (a plain single-process run), never touches ``torch.distributed`` at all.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, number of processes); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def gather_rows(local: dict[str, list], rows: Sequence[int], n: int) -> dict[str, list]:
    """Every process's per-row values (``local[name][j]`` belongs to row ``rows[j]``) on every
    process, as one list of ``n`` per name in row order.

    Values travel as pickled objects together with their row indices (``all_gather_object``), not
    as padded tensors: token-level outputs are ragged, shapes and dtypes stay exactly as predicted,
    and placing by index makes order, uneven shards and empty shards need no special case.
    Evaluation outputs are small next to the forward passes that made them.
    """
    parts: list = [None] * world()[1]
    dist.all_gather_object(parts, (np.asarray(rows, dtype=np.int64), local))
    out: dict[str, list] = {}
    seen = np.zeros(n, dtype=np.int64)
    for idx, values in parts:
        seen[idx] += 1
        for name, column in values.items():
            target = out.setdefault(name, [None] * n)
            for i, value in zip(idx, column):
                target[int(i)] = value
    if (seen != 1).any():
        raise RuntimeError(f"gathered rows: {int((seen == 0).sum())} missing, {int((seen > 1).sum())} duplicated")
    return out
