"""Run a model over features, decode, score with the official-equal metric, and write predictions
in the file format XTREME's evaluate.py reads.

Each format's ``ADAPTER`` (:class:`xstilts.formats.base.Adapter`, in the format's module) says how
decoded predictions and gold examples become the objects evaluate.py's readers would return, and
how a prediction file is written; whether outputs are per token is the format's ``TOKEN_LEVEL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from xstilts.formats import get_format
from xstilts.formats.base import MODEL_INPUTS, Adapter, Features, collate
from xstilts.metrics import get_metric
from xstilts.tasks import Task
from xstilts.training import distributed


@torch.no_grad()
def predict(model, head: str, features: Features, *, batch_size: int, pad_token_id: int,
            device=None, progress: bool = False, desc: str = "eval") -> dict[str, list | np.ndarray]:
    """Model outputs for every feature row, in row order (length-sorted batches for speed).

    Under several processes (an initialised process group) this is a collective that every
    process must call: each runs every N-th row of the length-sorted order, so shards differ by
    at most one row and hold the same mix of lengths (equal work, batches still of like lengths),
    and every process gets all rows back (:func:`~xstilts.training.distributed.gather_rows`), so
    decoding and metrics are the same everywhere.
    """
    from tqdm.auto import tqdm

    rank, processes = distributed.world()
    device = device or next(model.parameters()).device
    token_level = get_format(model.specs[head].format).TOKEN_LEVEL  # ragged rows, one value per token
    lengths = np.array([np.asarray(r).shape[-1] for r in features["input_ids"]])
    order = np.argsort(-lengths, kind="stable")
    mine = order[rank::processes]
    cols = [c for c in MODEL_INPUTS if c in features]
    collected: dict[str, list] = {}
    was_training = model.training
    model.eval()
    for start in tqdm(range(0, len(mine), batch_size), desc=desc, disable=not progress or rank != 0, leave=False):
        rows = mine[start:start + batch_size]
        batch = collate([{c: features[c][int(i)] for c in cols} for i in rows], pad_token_id)
        batch = {k: torch.as_tensor(v).to(device) for k, v in batch.items()}
        outputs = model(head, batch)
        for name, value in outputs.items():
            value = value.float().cpu().numpy()
            for j, i in enumerate(rows):
                item = value[j][: lengths[i]] if token_level else value[j]
                collected.setdefault(name, [None] * len(order))[i] = item
    model.train(was_training)
    if processes > 1:
        collected = distributed.gather_rows({k: [v[i] for i in mine] for k, v in collected.items()}, mine, len(order))
    return {k: (v if token_level else np.stack(v)) for k, v in collected.items()}


def adapter(task: Task) -> Adapter:
    """How ``task``'s format is decoded, scored against gold and written (its module's ``ADAPTER``)."""
    found = get_format(task.format).ADAPTER
    if found is None:
        raise ValueError(f"{task.name}: format {task.format} is not scored by evaluate (it has no adapter)")
    return found


@dataclass
class EvalResult:
    metrics: dict[str, float] | None  # None when the split has no labels
    n: int
    predictions: Any
    by_bucket: dict[str, tuple[int, dict[str, float]]] | None = None  # bucket → (n, metrics)


def _subset(predictions: Any, examples: Sequence, idx: np.ndarray) -> Any:
    if isinstance(predictions, dict):  # QA: {question id: answer}
        return {examples[i].id: predictions[examples[i].id] for i in idx}
    return [predictions[i] for i in idx]


def score(task: Task, examples: Sequence, predictions: Any, language: str) -> dict[str, float]:
    """The task's official-equal metric (plus the format's extra numbers, e.g. token accuracy for
    tagging) on these examples."""
    found = adapter(task)
    gold = found.gold(examples)
    metrics = get_metric(task.metric)(gold, predictions, language)
    return metrics | found.extra(task, gold, predictions)


def evaluate(model, head: str, task: Task, examples: Sequence, features: Features, *, settings: dict,
             language: str, batch_size: int, pad_token_id: int, predictions_path: Path | None = None,
             progress: bool = False, buckets: dict[str, np.ndarray] | None = None) -> EvalResult:
    """Predict, decode, write the prediction file (if asked) and score with the task's metric —
    on all examples and, given ``buckets`` (name → example indices), on each non-empty bucket."""
    found = adapter(task)
    outputs = predict(model, head, features, batch_size=batch_size, pad_token_id=pad_token_id,
                      progress=progress, desc=f"eval {task.name}-{language}")
    predictions = found.decode(task, examples, features, outputs, settings)
    if predictions_path is not None:
        # Every process holds the same predictions; one writer keeps the file (and its .tmp) whole.
        if distributed.is_main():
            predictions_path.parent.mkdir(parents=True, exist_ok=True)
            # Unique per process: two writers never rename each other's half-written file.
            tmp = predictions_path.with_name(f".{predictions_path.name}.{os.getpid()}.tmp")
            found.write(predictions, tmp)
            tmp.replace(predictions_path)
        distributed.barrier()  # so that on return the file is there for every process
    if not found.labelled(examples):
        return EvalResult(None, len(examples), predictions)
    by_bucket = {}
    for name, idx in (buckets or {}).items():
        if len(idx):
            sub = [examples[i] for i in idx]
            by_bucket[name] = (len(idx), score(task, sub, _subset(predictions, examples, idx), language))
    return EvalResult(score(task, examples, predictions, language), len(examples), predictions, by_bucket)
