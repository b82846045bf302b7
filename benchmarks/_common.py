"""Shared by the benchmark scripts: the demo world and configs, and bootstrap CIs of scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs"


def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn``, in seconds (the least disturbed by the machine)."""
    import time

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ensure_world(directory: Path, seed: int = 0, size: str = "demo", overrides: dict | None = None) -> float:
    """Generate the world if absent; returns the seconds it took (0 if it was there)."""
    import time

    from xstilts.world import generate

    if (directory / "manifest.json").exists():
        return 0.0
    start = time.perf_counter()
    generate(directory, seed=seed, size=size, **(overrides or {}))
    return time.perf_counter() - start


def _main_scores(metric: str, m: np.ndarray, draws: np.ndarray | None = None, key: str | None = None):
    """The main metric of per-example statistics ``m`` (rows: examples), or of each bootstrap draw
    (``draws``: resamples × examples, indices into ``m``)."""
    from xstilts.analysis import main_metric_value
    from xstilts.metrics.per_example import metrics_from_sums

    sums = m.sum(0) if draws is None else m[draws].sum(1)
    pick = (lambda d: d[key]) if key else main_metric_value
    return np.asarray(pick(metrics_from_sums(metric, sums, len(m))))


def score_ci(stats: list[dict], metric: str, *, resamples: int = 1000, seed: int = 0,
             key: str | None = None) -> tuple[float, float, float]:
    """The official score of the examples and its 95% bootstrap CI (resampling examples)."""
    from xstilts.metrics.per_example import stats_matrix

    m = stats_matrix(metric, stats)
    draws = np.random.default_rng(seed).integers(0, len(m), size=(resamples, len(m)))
    low, high = np.percentile(_main_scores(metric, m, draws, key), [2.5, 97.5])
    return float(_main_scores(metric, m, key=key)), float(low), float(high)


def paired_difference_ci(a: list[dict], b: list[dict], metric: str, *, resamples: int = 1000,
                         seed: int = 0) -> tuple[float, float, float]:
    """Score of example rows ``a`` minus that of ``b`` (paired by ``example_id``) and its 95%
    paired-bootstrap CI: one draw of examples serves both, so shared example difficulty cancels."""
    from xstilts.metrics.per_example import stats_matrix

    by_id = {r["example_id"]: r for r in b}
    if len(a) != len(b) or any(r["example_id"] not in by_id for r in a):
        raise ValueError(f"unpaired examples: {len(a)} vs {len(b)} rows")
    ma = stats_matrix(metric, [r["stats"] for r in a])
    mb = stats_matrix(metric, [by_id[r["example_id"]]["stats"] for r in a])
    draws = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    low, high = np.percentile(_main_scores(metric, ma, draws) - _main_scores(metric, mb, draws), [2.5, 97.5])
    return float(_main_scores(metric, ma) - _main_scores(metric, mb)), float(low), float(high)
