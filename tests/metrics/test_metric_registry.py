"""The metric table: every name a task declares resolves, unknown names fail with a suggestion."""

from __future__ import annotations

import pytest

from xstilts.errors import UnknownNameError
from xstilts.metrics import METRICS, get_metric
from xstilts.tasks import all_tasks


def test_every_label_scored_task_metric_is_registered() -> None:
    declared = {t.metric for t in all_tasks()} - {"perplexity"}  # MLM has no label files
    assert declared <= set(METRICS)


def test_uniform_signature() -> None:
    assert get_metric("accuracy")(["a", "b"], ["a", "c"], None) == {"accuracy": 50.0}
    assert get_metric("bucc2018")(["s\tt"], ["s\tt"], language="de")["f1"] == 100.0


def test_unknown_metric_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'seqeval'"):
        get_metric("seqevel")
