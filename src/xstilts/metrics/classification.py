"""Accuracy as XTREME's evaluate.py computes it (XNLI, PAWS-X, Tatoeba and the English tasks).

Labels are compared as they are — strings from the label files, already stripped by the reader —
never parsed into numbers or classes, and the denominator is the number of *predictions*.
"""

from __future__ import annotations

from typing import Sequence

from xstilts.errors import DataError


def accuracy(gold: Sequence, predictions: Sequence, language: str | None = None) -> dict[str, float]:
    """``{"accuracy": 100 × #equal pairs / #predictions}``; pairs beyond the shorter list are ignored."""
    if not predictions:
        raise DataError(None, "no predictions to score")
    correct = sum(int(p == g) for p, g in zip(predictions, gold))
    return {"accuracy": float(correct) / len(predictions) * 100}
