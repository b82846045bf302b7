"""XTREME's averaging: per-task means over languages, group scores and the overall score.

Equal to the averaging block of evaluate.py ``evaluate``:

* per task, ``avg_<m>`` is the plain mean of metric ``m`` over the task's languages;
* ``avg_metric`` is ``(avg_exact_match + avg_f1) / 2`` for the QA group, else ``avg_f1`` when the
  task has F1, else ``avg_accuracy``;
* a group's score is the mean ``avg_metric`` of its tasks, reported only when all of them are
  present; ``all_task`` is the mean over every task, reported only when all are present.

Scores come in evaluate.py's layout, ``{metric: {language: value}}`` per task;
:func:`by_metric` turns per-language results (``{language: {metric: value}}``) into it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from xstilts.errors import DataError
from xstilts.tasks.catalog import XTREME_GROUPS, XTREME_LANGUAGES

Scores = Mapping[str, Mapping[str, float]]  # metric → language → value


def by_metric(per_language: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``{language: {metric: v}}`` → ``{metric: {language: v}}`` (language order kept)."""
    out: dict[str, dict[str, float]] = {}
    for language, metrics in per_language.items():
        for metric, value in metrics.items():
            out.setdefault(metric, {})[language] = value
    return out


def task_averages(scores: Scores, *, qa: bool) -> dict[str, float]:
    """``avg_<m>`` for every metric and ``avg_metric`` (``qa``: the task is in the QA group)."""
    averages = {f"avg_{m}": sum(by_language.values()) / len(by_language) for m, by_language in scores.items()
                if by_language}
    if qa:
        averages["avg_metric"] = (averages["avg_exact_match"] + averages["avg_f1"]) / 2
    elif "avg_f1" in averages:
        averages["avg_metric"] = averages["avg_f1"]
    elif "avg_accuracy" in averages:
        averages["avg_metric"] = averages["avg_accuracy"]
    return averages


def summarise_task(task: str, scores: Scores, group2task: Mapping[str, Sequence[str]] = XTREME_GROUPS) -> dict:
    """evaluate.py's ``detailed_scores[task]``: the per-language scores plus their averages."""
    summary: dict = {m: dict(by_language) for m, by_language in scores.items()}
    summary.update(task_averages(scores, qa=task in group2task.get("qa", ())))
    return summary


def xtreme_scores(
    per_task: Mapping[str, Scores],
    task2langs: Mapping[str, Sequence[str]] = XTREME_LANGUAGES,
    group2task: Mapping[str, Sequence[str]] = XTREME_GROUPS,
) -> tuple[dict[str, float], dict[str, dict]]:
    """``(overall_scores, detailed_scores)`` as evaluate.py ``evaluate`` returns them.

    ``per_task`` holds the tasks that were scored; each must have every language of
    ``task2langs`` (evaluate.py stops on a missing file), and tasks outside ``task2langs`` are
    ignored as there.
    """
    detailed: dict[str, dict] = {}
    for task, langs in task2langs.items():
        if task not in per_task:
            continue
        scores = per_task[task]
        for metric, by_language in scores.items():
            missing = [lang for lang in langs if lang not in by_language]
            if missing:
                raise DataError(None, f"no {metric!r} score for language(s) {', '.join(missing)}", record=task)
        # Only the task's own languages count, in evaluate.py's order.
        ordered = {m: {lang: by_language[lang] for lang in langs} for m, by_language in scores.items()}
        detailed[task] = summarise_task(task, ordered, group2task)
        if "avg_metric" not in detailed[task]:
            raise DataError(None, "no exact_match+f1, f1 or accuracy score to average", record=task)

    overall: dict[str, float] = {}
    if set(task2langs) == set(detailed):
        overall["all_task"] = sum(detailed[t]["avg_metric"] for t in task2langs) / len(task2langs)
    for group, tasks in group2task.items():
        if all(t in detailed for t in tasks):
            overall[group] = sum(detailed[t]["avg_metric"] for t in tasks) / len(tasks)
    return overall, detailed


def main_metric_value(task_metrics: Mapping[str, float]):
    """XTREME's per-task number: (EM+F1)/2 for QA, else F1, else accuracy (``exact`` for SQuAD v2
    without F1). Works element-wise on numpy arrays too."""
    if "exact_match" in task_metrics and "f1" in task_metrics:
        return (task_metrics["exact_match"] + task_metrics["f1"]) / 2
    for key in ("f1", "accuracy", "exact"):
        if key in task_metrics:
            return task_metrics[key]
    raise KeyError(f"no main metric (exact_match+f1, f1, accuracy) in {sorted(task_metrics)}")
