"""Run a model over features, decode, score with the official-equal metric, and write predictions
in the file format XTREME's evaluate.py reads.

One small table (:data:`ADAPTERS`) says, per format, how decoded predictions and gold examples
become the objects evaluate.py's readers would return, and how a prediction file is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from xstilts.formats import get_format
from xstilts.formats.base import Features, collate
from xstilts.metrics import get_metric
from xstilts.tasks import Task
from xstilts.training import distributed

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TOKEN_LEVEL = {"span_qa", "tagging"}  # outputs with one value per token: kept ragged per row


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
    fmt = model.specs[head].format
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
                item = value[j][: lengths[i]] if fmt in TOKEN_LEVEL else value[j]
                collected.setdefault(name, [None] * len(order))[i] = item
    model.train(was_training)
    if processes > 1:
        collected = distributed.gather_rows({k: [v[i] for i in mine] for k, v in collected.items()}, mine, len(order))
    return {k: (v if fmt in TOKEN_LEVEL else np.stack(v)) for k, v in collected.items()}


# ------------------------------------------------------------------ per-format adapters


def _squad_dataset(examples) -> list[dict]:
    """QA examples as the SQuAD ``data`` list the official scorers read (one paragraph each)."""
    return [{"title": ex.title, "paragraphs": [{"context": ex.context, "qas": [{
        "id": ex.id, "question": ex.question, "is_impossible": ex.is_impossible,
        "answers": [{"text": a.text, "answer_start": a.start} for a in ex.answers]}]}]} for ex in examples]


@dataclass(frozen=True)
class Adapter:
    decode: Callable[[Task, Sequence, Features, dict, dict], Any]
    gold: Callable[[Sequence], Any]
    labelled: Callable[[Sequence], bool]
    write: Callable[[Any, Path], None]
    extension: str


def _lines(values, path: Path) -> None:
    path.write_text("".join(f"{v}\n" for v in values), encoding="utf-8")


def _tag_lines(sentences, path: Path) -> None:
    path.write_text("".join("".join(f"{t}\n" for t in s) + "\n" for s in sentences), encoding="utf-8")


def _qa_decode(task, examples, features, outputs, settings):
    return get_format("span_qa").decode(
        examples, features, outputs, max_answer_length=settings["max_answer_length"],
        version_2_with_negative=bool(task.options.get("version_2_with_negative", False)),
        null_score_diff_threshold=float(task.options.get("null_score_diff_threshold", 0.0)),
    ).predictions


ADAPTERS: dict[str, Adapter] = {
    "classification": Adapter(
        decode=lambda task, ex, f, o, s: get_format("classification").decode(ex, f, o, task.labels),
        gold=lambda ex: [e.label for e in ex],
        labelled=lambda ex: all(e.label is not None for e in ex),
        write=_lines, extension="tsv"),
    "multiple_choice": Adapter(
        decode=lambda task, ex, f, o, s: [str(i) for i in get_format("multiple_choice").decode(ex, f, o)],
        gold=lambda ex: [str(e.label) for e in ex],
        labelled=lambda ex: all(e.label is not None for e in ex),
        write=_lines, extension="tsv"),
    "tagging": Adapter(
        decode=lambda task, ex, f, o, s: get_format("tagging").decode(ex, f, o, s["labels"]),
        gold=lambda ex: [list(e.tags) for e in ex],
        labelled=lambda ex: all(e.tags is not None for e in ex),
        write=_tag_lines, extension="tsv"),
    "span_qa": Adapter(
        decode=_qa_decode,
        gold=_squad_dataset,
        labelled=lambda ex: any(e.answers or e.is_impossible for e in ex),
        write=lambda preds, path: path.write_text(json.dumps(preds, ensure_ascii=False), encoding="utf-8"),
        extension="json"),
}


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
    """The task's official-equal metric (plus token accuracy for tagging) on these examples."""
    adapter = ADAPTERS[task.format]
    gold = adapter.gold(examples)
    metrics = get_metric(task.metric)(gold, predictions, language)
    if task.format == "tagging" and task.metric == "seqeval":
        # POS/NER token accuracy as an extra, separately named number (XTREME reports F1 only).
        metrics["token_accuracy"] = get_metric("tagging_accuracy")(gold, predictions)["accuracy"]
    return metrics


def evaluate(model, head: str, task: Task, examples: Sequence, features: Features, *, settings: dict,
             language: str, batch_size: int, pad_token_id: int, predictions_path: Path | None = None,
             progress: bool = False, buckets: dict[str, np.ndarray] | None = None) -> EvalResult:
    """Predict, decode, write the prediction file (if asked) and score with the task's metric —
    on all examples and, given ``buckets`` (name → example indices), on each non-empty bucket."""
    adapter = ADAPTERS[task.format]
    outputs = predict(model, head, features, batch_size=batch_size, pad_token_id=pad_token_id,
                      progress=progress, desc=f"eval {task.name}-{language}")
    predictions = adapter.decode(task, examples, features, outputs, settings)
    if predictions_path is not None:
        # Every process holds the same predictions; one writer keeps the file (and its .tmp) whole.
        if distributed.is_main():
            predictions_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = predictions_path.with_suffix(predictions_path.suffix + ".tmp")
            adapter.write(predictions, tmp)
            tmp.replace(predictions_path)
        distributed.barrier()  # so that on return the file is there for every process
    if not adapter.labelled(examples):
        return EvalResult(None, len(examples), predictions)
    by_bucket = {}
    for name, idx in (buckets or {}).items():
        if len(idx):
            sub = [examples[i] for i in idx]
            by_bucket[name] = (len(idx), score(task, sub, _subset(predictions, examples, idx), language))
    return EvalResult(score(task, examples, predictions, language), len(examples), predictions, by_bucket)
