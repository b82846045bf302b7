"""Score a prediction file against a gold file exactly as XTREME's evaluate.py does.

The task declaration names the metric (:mod:`xstilts.tasks.catalog`); the metric fixes the
label-file format; the format fixes the readers and whether predictions must pair 1:1 with gold
(evaluate.py asserts equal lengths for every task except QA and BUCC). This replaces evaluate.py's
task → reader table with a metric → format table, so a new task needs no change here. Unlike
evaluate.py, a gold or predicted label outside the task's label set (``perhaps`` in XNLI, ``1`` where
names are expected, ``B-MISC`` in PAN-X) is a DataError naming the file, the line and the value.

Bad input never becomes a plausible number; each of these is a DataError naming the file (and
the line and field where the format has lines):

* no predictions at all: an empty (or blank) file, ``{}``, ``[]``;
* a file cut off inside its last line (see :func:`~xstilts.data.label_files.check_last_line` for
  how each format tells that from a hand-written file without a final newline), or a JSON
  document that does not parse;
* a Tatoeba line that is not a sentence index, or (when the gold is a whole test file) an index
  past the last source sentence; a BUCC id that cannot be in the sentence pools;
* QA prediction ids that are not questions of the gold file (evaluate.py ignores them), and gold
  questions without a prediction (evaluate.py scores them 0 after a warning per question) —
  unless ``allow_missing``: then a missing question scores exact match 0 and F1 0 and stays in
  the denominator, exactly as evaluate.py, and the result's ``missing`` counts them. SQuAD v2.0
  has no such rule (its official script fails), and the line-aligned formats (labels, tags,
  indices) have no ids to tell which line is missing, so there a count mismatch stays an error;
  BUCC has nothing to miss (a gold pair not predicted is what recall counts).

>>> score("xnli", "de", ["entailment", "neutral"], ["entailment", "contradiction"])["metrics"]
{'accuracy': 50.0}
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from xstilts.data.label_files import (
    LabelFile,
    check_indices,
    check_labels,
    check_last_line,
    check_pairs,
    pair_id_shapes,
    read_indices,
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
    # Content checks of (task, gold, predictions) beyond the readers': values, ids, a cut last line.
    check: Callable[[Task, LabelFile, LabelFile], None] | None = None


def _label_check(field: str) -> Callable[[Task, LabelFile, LabelFile], None]:
    """Labels (tags) in the task's label set, and a last line without newline only if it is one."""
    def check(task: Task, gold: LabelFile, predictions: LabelFile) -> None:
        if task.labels is not None:
            complete, why = set(task.labels).__contains__, f"is not one of the task's {field}s"
        else:  # an open label set (multiple choice): only a one-character value cannot have been cut short
            complete = lambda value: len(value) == 1  # noqa: E731
            why = f"a longer {field} cut short cannot be told from a whole one"
        for f in (gold, predictions):
            check_last_line(f, complete, field, why, decidable=task.labels is not None)
            check_labels(f, task.labels, field)
    return check


def _check_indices(task: Task, gold: LabelFile, predictions: LabelFile) -> None:
    # A Tatoeba index cut short is still an index (998 -> 99): the missing newline decides.
    for f in (gold, predictions):
        check_last_line(f, lambda value: False, "index", "a sentence index cut short cannot be told from a whole one",
                        decidable=False)
    check_indices(gold)
    # A whole Tatoeba test file has one gold line per English sentence, holding the index of its
    # source sentence; the English side is the source side reordered, so the gold is a
    # permutation of 0..n-1 and every prediction must be below n. A gold that is not (a subset,
    # such as XTREME's mock data) leaves the number of source sentences unknown.
    n = len(gold.items)
    whole = sorted(int(v) for v in gold.items) == list(range(n))
    check_indices(predictions, n if whole else None,
                  f"the gold file {_name(gold)} has {n} lines, one per sentence pair" if whole else None)


def _check_pairs(task: Task, gold: LabelFile, predictions: LabelFile) -> None:
    # The gold's own id shapes judge its last line: an id cut short there breaks the shape.
    shapes = pair_id_shapes(gold)
    check_pairs(gold, shapes, _name(gold))
    check_pairs(predictions, shapes, _name(gold))


FORMATS: dict[str, LabelFormat] = {
    "labels": LabelFormat("labels", read_labels, read_labels, len, True, "label", check=_label_check("label")),
    "tags": LabelFormat("tags", read_tags, read_tags, len, True, "sentence", aligned_within=True,
                        check=_label_check("tag")),
    # Tatoeba: per sorted English sentence, the index of its source sentence (accuracy on the text).
    "indices": LabelFormat("indices", read_indices, read_indices, len, True, "line", check=_check_indices),
    "squad": LabelFormat("squad", read_squad_gold, read_squad_predictions,
                         lambda data: sum(1 for _ in iter_questions(data)), False, "question"),
    # BUCC recall divides by the distinct gold pairs.
    "pairs": LabelFormat("pairs", read_pairs, read_pairs, lambda pairs: len(set(pairs)), False, "pair",
                         check=_check_pairs),
}
# (task format, metric) → label-file format, where the metric alone does not fix it: retrieval
# scored by accuracy (Tatoeba) predicts sentence indices, not labels.
TASK_FORMATS: dict[tuple[str, str], str] = {("retrieval", "accuracy"): "indices"}
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
        return FORMATS[TASK_FORMATS.get((task.format, task.metric)) or METRIC_FORMATS[task.metric]]
    except KeyError:
        raise UnknownNameError(f"label-file metric (task {task.name!r} uses)", task.metric,
                               list(METRIC_FORMATS)) from None


def score_files(task: str, language: str, gold_path: str | Path, predictions_path: str | Path, *,
                allow_missing: bool = False) -> dict:
    """Read both files in the task's label format and score them; see :func:`score` for the result."""
    spec = get_task(task)
    fmt = label_format(spec)
    _check_language(spec, language)
    gold = fmt.read_gold(Path(gold_path))
    _check_not_blank(Path(predictions_path))
    predictions = fmt.read_predictions(Path(predictions_path))
    return _score(spec, fmt, language, gold, predictions, allow_missing)


def score(task: str, language: str | None, gold: Any, predictions: Any, *, allow_missing: bool = False) -> dict:
    """Score in-memory gold and predictions (as the label-file readers return their ``items``).

    Returns ``{"task", "language", "n", "metrics"}``: ``n`` counts the gold examples scored (lines,
    sentences, questions or distinct gold pairs), ``metrics`` is the official scorer's dict.
    ``language`` matters to MLQA only; ``None`` skips the language check elsewhere.
    ``allow_missing``: QA questions without a prediction score 0 instead of being an error (see
    the module docstring); the result then also has ``missing``, their number.
    """
    spec = get_task(task)
    fmt = label_format(spec)
    if language is not None:
        _check_language(spec, language)
    return _score(spec, fmt, language, LabelFile(None, gold), LabelFile(None, predictions), allow_missing)


def missing_warning(result: dict, predictions_path: str | Path | None = None) -> str | None:
    """The line to print when ``allow_missing`` scored missing QA predictions as 0; None if none were missing."""
    missing = result.get("missing")
    if not missing:
        return None
    where = f"{predictions_path}: " if predictions_path is not None else ""
    return (f"warning: {where}no prediction for {missing} of the {result['n']} questions: each scored 0 "
            "(exact match 0, F1 0, still counted in the denominator, as XTREME's evaluate.py does)")


def _check_language(task: Task, language: str) -> None:
    if language not in task.languages:
        raise UnknownNameError(f"language of task {task.name!r}", language, task.languages)


def _check_not_blank(path: Path) -> None:
    """An empty or blank prediction file says "no predictions" (the readers call it an empty file)."""
    try:
        data = path.read_bytes()
    except OSError:
        return  # the reader names the problem
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if not data.strip():
        raise DataError(path, f"no predictions in {path}: the file is {'empty' if not data else 'blank'}")


def _score(task: Task, fmt: LabelFormat, language: str | None, gold: LabelFile, predictions: LabelFile,
           allow_missing: bool = False) -> dict:
    for f, what in ((gold, "gold labels"), (predictions, "predictions")):
        if not f.items:
            raise DataError(f.path, f"no {what} in {_name(f)}")
    if fmt.check is not None:
        fmt.check(task, gold, predictions)
    if fmt.aligned:
        _check_aligned(fmt, gold, predictions)
    missing = _check_ids(task, fmt, gold, predictions, allow_missing)
    metrics = get_metric(task.metric)(gold.items, predictions.items, language)
    result = {"task": task.name, "language": language, "n": fmt.count(gold.items)}
    if allow_missing:
        result["missing"] = missing
    return result | {"metrics": metrics}


def _check_ids(task: Task, fmt: LabelFormat, gold: LabelFile, predictions: LabelFile, allow_missing: bool) -> int:
    """QA: every prediction id is a gold question, and every gold question has a prediction unless
    ``allow_missing``; returns the number missing (0 for the other formats)."""
    if fmt.name != "squad":
        return 0
    question_ids = [q.id for q in iter_questions(gold.items)]
    known = set(question_ids)
    extra = [qid for qid in predictions.items if qid not in known]
    if extra:
        is_ = "id is not a question" if len(extra) == 1 else "ids are not questions"
        raise DataError(predictions.path, f"{len(extra)} prediction {is_} of the gold file {_name(gold)} "
                        f"(first: {_first(extra)}): are these predictions for another file?")
    missing = [qid for qid in question_ids if qid not in predictions.items]
    if not missing:
        return 0
    message = f"no prediction for {len(missing)} of the {len(question_ids)} questions (first: {_first(missing)})"
    if task.metric == "squad_v2":
        raise DataError(predictions.path, f"{message}; SQuAD v2.0 scores every question (its official script fails "
                        "on a missing one), so --allow-missing does not apply")
    if not allow_missing:
        raise DataError(predictions.path, f"{message}; --allow-missing scores each as 0 (exact match and F1), as "
                        "XTREME's evaluate.py does after a warning")
    return len(missing)


def _first(ids: list[str], k: int = 5) -> str:
    return ", ".join(repr(i) for i in ids[:k]) + (", ..." if len(ids) > k else "")


def _check_aligned(fmt: LabelFormat, gold: LabelFile, predictions: LabelFile) -> None:
    n_gold, n_pred = len(gold.items), len(predictions.items)
    if n_gold != n_pred:
        first_unpaired = min(n_gold, n_pred)
        cut = ("; its last line has no newline: the file looks cut off"
               if n_pred < n_gold and predictions.unterminated else "")
        raise DataError(predictions.path,
                        f"{_count(n_pred, fmt.unit)}, but the gold file {_name(gold)} has {n_gold}{cut}",
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
