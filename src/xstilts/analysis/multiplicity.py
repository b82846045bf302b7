"""Family-wise error control for the tests one statement (the answer, a table, a figure) makes.

Holm's step-down procedure (Holm 1979): sort the ``m`` p-values, multiply the ``i``-th smallest
by ``m − i + 1``, make the sequence non-decreasing and cap it at 1. Rejecting every test whose
adjusted p is below ``alpha`` keeps the chance of *any* false rejection at most ``alpha``, whatever
the dependence between the tests (the answer's tests share a baseline, so they are dependent), and
it rejects everything Bonferroni rejects.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given.

    A NaN p-value (a test that could not be computed) stays NaN and is not counted in the
    family: it makes no claim, so it costs the others nothing.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out.tolist()
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[finite].tolist()}")
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out.tolist()


def rejected(adjusted: Sequence[float], alpha: float) -> list[bool]:
    """Which tests are called: adjusted p strictly below ``alpha`` (NaN: never)."""
    return [bool(math.isfinite(a) and a < alpha) for a in adjusted]


def smallest_bootstrap_p(n_resamples: int) -> float:
    """The smallest two-sided p-value ``n_resamples`` bootstrap replicates can give (every
    replicate on one side of 0; :func:`xstilts.analysis.bootstrap.bootstrap_p_value`)."""
    return min(1.0, 2.0 / (n_resamples + 1))


def resamples_needed(n_tests: int, alpha: float) -> int:
    """The fewest bootstrap resamples with which Holm over ``n_tests`` can call anything: the
    smallest p must be below ``alpha / n_tests``."""
    n = max(1, math.ceil(2.0 * n_tests / alpha) - 1)
    while smallest_bootstrap_p(n) * n_tests >= alpha:  # float rounding at the boundary
        n += 1
    return n


__all__ = ["holm", "rejected", "resamples_needed", "smallest_bootstrap_p"]
