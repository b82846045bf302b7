"""XTREME averaging rules beyond the golden mock: QA metric, partial task sets, missing languages."""

from __future__ import annotations

import pytest

from xstilts.errors import DataError
from xstilts.metrics.aggregate import by_metric, task_averages, xtreme_scores

TASK2LANGS = {"xnli": ["de", "fr"], "udpos": ["de"], "xquad": ["de"]}
GROUPS = {"classification": ["xnli"], "tagging": ["udpos"], "qa": ["xquad"]}


def test_avg_metric_rules() -> None:
    assert task_averages({"exact_match": {"de": 40.0}, "f1": {"de": 60.0}}, qa=True)["avg_metric"] == 50.0
    assert task_averages({"f1": {"de": 60.0}, "accuracy": {"de": 1.0}}, qa=False)["avg_metric"] == 60.0
    assert task_averages({"accuracy": {"de": 10.0, "fr": 20.0}}, qa=False) == {
        "avg_accuracy": 15.0, "avg_metric": 15.0}


def test_groups_and_all_task_only_when_complete() -> None:
    per_task = {"xnli": by_metric({"de": {"accuracy": 50.0}, "fr": {"accuracy": 70.0}}),
                "udpos": {"f1": {"de": 80.0}, "precision": {"de": 0.0}, "recall": {"de": 0.0}}}
    overall, detailed = xtreme_scores(per_task, TASK2LANGS, GROUPS)
    assert overall == {"classification": 60.0, "tagging": 80.0}
    assert detailed["xnli"] == {"accuracy": {"de": 50.0, "fr": 70.0}, "avg_accuracy": 60.0, "avg_metric": 60.0}
    per_task["xquad"] = {"exact_match": {"de": 20.0}, "f1": {"de": 40.0}}
    overall, _ = xtreme_scores(per_task, TASK2LANGS, GROUPS)
    assert overall == {"all_task": (60.0 + 80.0 + 30.0) / 3, "classification": 60.0, "tagging": 80.0, "qa": 30.0}


def test_a_missing_language_is_an_error() -> None:
    with pytest.raises(DataError, match="'xnli'.*fr"):
        xtreme_scores({"xnli": {"accuracy": {"de": 50.0}}}, TASK2LANGS, GROUPS)
