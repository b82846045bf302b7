"""Score a prediction file against a gold file exactly as XTREME's evaluate.py does.

The task declaration names the metric (:mod:`xstilts.tasks.catalog`); the metric fixes the
label-file format; the format fixes the readers and whether predictions must pair 1:1 with gold
(evaluate.py asserts equal lengths for every task except QA and BUCC). This replaces evaluate.py's
task → reader table with a metric → format table, so a new task needs no change here. Unlike
evaluate.py, a gold or predicted label outside the task's label set (``perhaps`` in XNLI, ``1`` where
names are expected, ``B-MISC`` in PAN-X) is a DataError naming the file, the line and the value.

>>> score("xnli", "de", ["entailment", "neutral"], ["entailment", "contradiction"])["metrics"]
{'accuracy': 50.0}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from xstilts.data.label_files import (
    LabelFile,
    check_labels,
    read_labels,
    read_pairs,
    read_squad_gold,
    read_squad_predictions,
    read_tags,
)
from xstilts.errors import DataError, UnknownNameError
from xstilts.metrics import get_metric
from xstilts.metrics.qa import iter_questions
from xstilts.tasks import Task, get_task


@dataclass(frozen=True)
class LabelFormat:
    """One label-file format: its readers, how to count gold examples, and the pairing rule."""

    name: str
    read_gold: Callable[[Path], LabelFile]
    read_predictions: Callable[[Path], LabelFile]
    count: Callable[[Any], int]
    aligned: bool  # predictions pair 1:1 with gold items (evaluate.py asserts equal counts)
    unit: str
    # Items are sequences that must also pair 1:1 inside (tags of a sentence): evaluate.py does
    # not check this, and seqeval would silently misalign every later chunk.
    aligned_within: bool = False
    # What a label is called in errors, for formats whose items come from the task's label set.
    label_field: str | None = None


FORMATS: dict[str, LabelFormat] = {
    "labels": LabelFormat("labels", read_labels, read_labels, len, True, "label", label_field="label"),
    "tags": LabelFormat("tags", read_tags, read_tags, len, True, "sentence", aligned_within=True,
                        label_field="tag"),
    "squad": LabelFormat("squad", read_squad_gold, read_squad_predictions,
                         lambda data: sum(1 for _ in iter_questions(data)), False, "question"),
    # BUCC recall divides by the distinct gold pairs.
    "pairs": LabelFormat("pairs", read_pairs, read_pairs, lambda pairs: len(set(pairs)), False, "pair"),
}
# Metric name → label-file format.
METRIC_FORMATS: dict[str, str] = {
    "accuracy": "labels",
    "seqeval": "tags",
    "tagging_accuracy": "tags",
    "squad": "squad",
    "squad_v2": "squad",
    "mlqa": "squad",
    "bucc2018": "pairs",
}


def label_format(task: Task) -> LabelFormat:
    """The label-file format of ``task``'s metric; a metric without label files (perplexity) raises."""
    try:
        return FORMATS[METRIC_FORMATS[task.metric]]
    except KeyError:
        raise UnknownNameError(f"label-file metric (task {task.name!r} uses)", task.metric,
                               list(METRIC_FORMATS)) from None


def score_files(task: str, language: str, gold_path: str | Path, predictions_path: str | Path) -> dict:
    """Read both files in the task's label format and score them; see :func:`score` for the result."""
    spec = get_task(task)
    fmt = label_format(spec)
    _check_language(spec, language)
    gold = fmt.read_gold(Path(gold_path))
    predictions = fmt.read_predictions(Path(predictions_path))
    return _score(spec, fmt, language, gold, predictions)


def score(task: str, language: str | None, gold: Any, predictions: Any) -> dict:
    """Score in-memory gold and predictions (as the label-file readers return their ``items``).

    Returns ``{"task", "language", "n", "metrics"}``: ``n`` counts the gold examples scored (lines,
    sentences, questions or distinct gold pairs), ``metrics`` is the official scorer's dict.
    ``language`` matters to MLQA only; ``None`` skips the language check elsewhere.
    """
    spec = get_task(task)
    fmt = label_format(spec)
    if language is not None:
        _check_language(spec, language)
    return _score(spec, fmt, language, LabelFile(None, gold), LabelFile(None, predictions))


def _check_language(task: Task, language: str) -> None:
    if language not in task.languages:
        raise UnknownNameError(f"language of task {task.name!r}", language, task.languages)


def _score(task: Task, fmt: LabelFormat, language: str | None, gold: LabelFile, predictions: LabelFile) -> dict:
    if fmt.label_field is not None:
        for f in (gold, predictions):
            check_labels(f, task.labels, fmt.label_field)
    if fmt.aligned:
        _check_aligned(fmt, gold, predictions)
    metrics = get_metric(task.metric)(gold.items, predictions.items, language)
    return {"task": task.name, "language": language, "n": fmt.count(gold.items), "metrics": metrics}


def _check_aligned(fmt: LabelFormat, gold: LabelFile, predictions: LabelFile) -> None:
    n_gold, n_pred = len(gold.items), len(predictions.items)
    if n_gold != n_pred:
        first_unpaired = min(n_gold, n_pred)
        raise DataError(predictions.path,
                        f"{_count(n_pred, fmt.unit)}, but the gold file {_name(gold)} has {n_gold}",
                        line=predictions.line_of(first_unpaired),
                        record=None if predictions.lines else f"{fmt.unit} {first_unpaired + 1}")
    if not fmt.aligned_within:
        return
    for i, (g, p) in enumerate(zip(gold.items, predictions.items)):
        if len(g) != len(p):
            raise DataError(predictions.path,
                            f"{_count(len(p), 'tag')}, but sentence {i + 1} of the gold file {_name(gold)} "
                            f"has {len(g)}",
                            line=predictions.line_of(i),
                            record=None if predictions.lines else f"sentence {i + 1}")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _name(f: LabelFile) -> str:
    return str(f.path) if f.path is not None else "<input>"
