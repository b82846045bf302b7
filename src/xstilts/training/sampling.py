"""Multi-task sampling and the order of batches — both pure functions of (seed, position).

Nothing here keeps hidden RNG state: which task a micro-batch comes from is drawn from a
generator seeded by ``(seed, micro_batch_index)``, and a task's batch order in epoch ``e`` from
``(seed, task_index, e)``. A checkpoint therefore only needs each task's (epoch, cursor) to resume
on exactly the same data order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Rows per "megabatch" (in batches) that are sorted by length before cutting batches, as HF's
# group_by_length: batches hold similar lengths (little padding) but the order stays random.
MEGABATCH_BATCHES = 50


def task_probabilities(sizes: dict[str, int], sampler: str, *, temperature: float = 2.0,
                       examples_cap: int | None = None) -> dict[str, float]:
    """Sampling probability per task: proportional, uniform, temperature (n^(1/T)) or capped proportional."""
    names = list(sizes)
    n = np.array([sizes[k] for k in names], dtype=np.float64)
    if sampler == "proportional":
        w = n
    elif sampler == "uniform":
        w = np.ones_like(n)
    elif sampler == "temperature":
        w = n ** (1.0 / temperature)
    elif sampler == "examples_cap":
        if not examples_cap:
            raise ValueError("sampler 'examples_cap' needs examples_cap > 0")
        w = np.minimum(n, examples_cap)
    else:
        raise ValueError(f"unknown sampler {sampler!r}")
    if w.sum() <= 0:
        raise ValueError(f"no training data in any task: {sizes}")
    return dict(zip(names, (w / w.sum()).tolist()))


def choose_task(probabilities: dict[str, float], seed: int, micro_batch: int) -> str:
    names = list(probabilities)
    if len(names) == 1:
        return names[0]
    rng = np.random.default_rng([seed, micro_batch])
    return names[int(rng.choice(len(names), p=list(probabilities.values())))]


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, task_index: int, epoch: int) -> list[np.ndarray]:
    """The batches (row indices) of one epoch: shuffled, length-grouped within megabatches."""
    rng = np.random.default_rng([seed, task_index, epoch])
    order = rng.permutation(len(lengths))
    mega = batch_size * MEGABATCH_BATCHES
    batches = []
    for start in range(0, len(order), mega):
        chunk = order[start:start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class TaskCursor:
    """Where one task's data order stands: (epoch, next batch). Serialisable into a checkpoint."""

    task_index: int
    epoch: int = 0
    cursor: int = 0
    _batches: tuple[int, list[np.ndarray]] | None = field(default=None, repr=False, compare=False)

    def state(self) -> dict:
        return {"task_index": self.task_index, "epoch": self.epoch, "cursor": self.cursor}

    def next_batch(self, lengths: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
        batches = self._epoch(lengths, batch_size, seed)
        if self.cursor >= len(batches):
            self.epoch, self.cursor = self.epoch + 1, 0
            batches = self._epoch(lengths, batch_size, seed)
        batch = batches[self.cursor]
        self.cursor += 1
        return batch

    def _epoch(self, lengths: np.ndarray, batch_size: int, seed: int) -> list[np.ndarray]:
        # Memoised: recomputing the permutation for every batch would cost O(n log n) per step.
        if self._batches is None or self._batches[0] != self.epoch:
            self._batches = (self.epoch, epoch_batches(lengths, batch_size, seed, self.task_index, self.epoch))
        return self._batches[1]
