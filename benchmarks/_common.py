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


def score_ci(stats: list[dict], metric: str, *, resamples: int = 1000, seed: int = 0,
             key: str | None = None) -> tuple[float, float, float]:
    """The official score of the examples and its 95% bootstrap CI (resampling examples)."""
    from xstilts.analysis import main_metric_value
    from xstilts.metrics.per_example import metrics_from_sums, stats_matrix

    m = stats_matrix(metric, stats)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(m), size=(resamples, len(m)))
    pick = (lambda d: d[key]) if key else main_metric_value
    point = pick(metrics_from_sums(metric, m.sum(0), len(m)))
    boot = np.asarray(pick(metrics_from_sums(metric, m[idx].sum(1), len(m))))
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(point), float(low), float(high)


def paired_difference_ci(a: list[dict], b: list[dict], metric: str, *, resamples: int = 1000,
                         seed: int = 0) -> tuple[float, float, float]:
    """Score of example rows ``a`` minus that of ``b`` (paired by ``example_id``) and its 95%
    paired-bootstrap CI: one draw of examples serves both, so shared example difficulty cancels."""
    from xstilts.analysis import main_metric_value
    from xstilts.metrics.per_example import metrics_from_sums, stats_matrix

    by_id = {r["example_id"]: r for r in b}
    ids = [r["example_id"] for r in a if r["example_id"] in by_id]
    if len(ids) != len(a) or len(ids) != len(b):
        raise ValueError(f"unpaired examples: {len(a)} vs {len(b)} rows, {len(ids)} shared ids")
    first = {r["example_id"]: r for r in a}
    ma = stats_matrix(metric, [first[i]["stats"] for i in ids])
    mb = stats_matrix(metric, [by_id[i]["stats"] for i in ids])
    idx = np.random.default_rng(seed).integers(0, len(ids), size=(resamples, len(ids)))

    def score(m: np.ndarray, rows=None):
        sums = m.sum(0) if rows is None else m[rows].sum(1)
        return np.asarray(main_metric_value(metrics_from_sums(metric, sums, len(ids))))

    point = float(score(ma) - score(mb))
    low, high = np.percentile(score(ma, idx) - score(mb, idx), [2.5, 97.5])
    return point, float(low), float(high)
