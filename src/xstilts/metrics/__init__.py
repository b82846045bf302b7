"""Metrics equal to XTREME's official scorers, keyed by the names task declarations use.

Every metric has evaluate.py's ``METRIC_FUNCTION`` signature, ``fn(gold, predictions,
language=None) -> dict[str, float]``, returns scores on the 0–100 scale under the official key
names, and is a pure function of its inputs (gold and predictions as evaluate.py's readers return
them; see :mod:`xstilts.data.label_files`).

>>> get_metric("accuracy")(["a", "b"], ["a", "c"])
{'accuracy': 50.0}
"""

from __future__ import annotations

from typing import Callable

from xstilts.errors import UnknownNameError
from xstilts.metrics.bucc import bucc_f1
from xstilts.metrics.classification import accuracy
from xstilts.metrics.qa import mlqa_em_f1, squad_em_f1, squad_v2
from xstilts.metrics.tagging import chunk_prf, tagging_accuracy

Metric = Callable[..., dict[str, float]]

METRICS: dict[str, Metric] = {
    "accuracy": accuracy,                  # xnli, pawsx, tatoeba, English classification / choice
    "squad": squad_em_f1,                  # xquad, tydiqa, SQuAD v1.1
    "squad_v2": squad_v2,                  # SQuAD v2.0 (exact/f1/HasAns_*/NoAns_*)
    "mlqa": mlqa_em_f1,                    # mlqa: language-specific normalisation
    "seqeval": chunk_prf,                  # udpos, panx: seqeval 0.0.12 chunk F1
    "bucc2018": bucc_f1,                   # extracted sentence-id pairs
    "tagging_accuracy": tagging_accuracy,  # token accuracy (ccg; an extra number for POS)
}


def get_metric(name: str) -> Metric:
    """The metric called ``name``; an unknown name raises with "did you mean" suggestions."""
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownNameError("metric", name, list(METRICS)) from None


__all__ = ["METRICS", "Metric", "get_metric"]
