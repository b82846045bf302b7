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


def build_mini_encoder(cache: Path) -> Path:
    """The shared mini multilingual encoder (multilingual-e5-small, XLM-R vocabulary), built once
    into ``cache`` by shared/tools/build_mini_multilingual_encoder.py."""
    import os
    import subprocess
    import sys

    mini = cache / "mini-e5"
    if not (mini / "model.safetensors").exists():
        tools = Path(os.environ.get("XSTILTS_TOOLS_DIR", HERE.parent.parent / "shared" / "tools"))
        subprocess.run([sys.executable, str(tools / "build_mini_multilingual_encoder.py"), str(mini)], check=True)
    return mini


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


def _mean_score(metric: str, matrices: list[np.ndarray], draws: np.ndarray | None = None, key: str | None = None):
    """The mean over runs of their main metric (per draw when ``draws`` is given): several runs over
    the same examples, e.g. control encoders that differ only in their init, count as one."""
    return np.mean([_main_scores(metric, m, draws, key) for m in matrices], axis=0)


def score(runs: list, metric: str) -> float:
    """The official score of example rows (one run's, or the mean over several runs' — see
    :func:`score_ci`), without an interval."""
    runs = _several(runs)
    return float(_mean_score(metric, _aligned(runs[0], runs, metric)))


def score_ci(runs: list, metric: str, *, resamples: int = 1000, seed: int = 0,
             key: str | None = None) -> tuple[float, float, float]:
    """The official score of example rows and its 95% bootstrap CI (resampling examples). ``runs``:
    the rows of one run, or a list of several runs' rows (same examples): the mean of their scores,
    every draw shared by all of them."""
    runs = _several(runs)
    ms = _aligned(runs[0], runs, metric)
    draws = np.random.default_rng(seed).integers(0, len(runs[0]), size=(resamples, len(runs[0])))
    low, high = np.percentile(_mean_score(metric, ms, draws, key), [2.5, 97.5])
    return float(_mean_score(metric, ms, key=key)), float(low), float(high)


def paired_difference_ci(a: list[dict], b: list, metric: str, *, resamples: int = 1000,
                         seed: int = 0, key: str | None = None) -> tuple[float, float, float]:
    """Score of example rows ``a`` minus that of ``b`` (one run's rows, or several runs' whose scores
    are averaged; paired by ``example_id``) and its 95% paired-bootstrap CI: one draw of examples
    serves all, so shared example difficulty cancels."""
    ma, others = _aligned(a, [a], metric), _aligned(a, _several(b), metric)
    draws = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    diff = _mean_score(metric, ma, draws, key) - _mean_score(metric, others, draws, key)
    low, high = np.percentile(diff, [2.5, 97.5])
    return float(_mean_score(metric, ma, key=key) - _mean_score(metric, others, key=key)), float(low), float(high)


def _several(runs: list) -> list[list[dict]]:
    """``runs`` as a list of runs' rows (one run's rows are a list of dicts)."""
    return runs if runs and isinstance(runs[0], list) else [runs]


def _aligned(a: list[dict], runs: list[list[dict]], metric: str) -> list[np.ndarray]:
    """Each run's statistics matrix in the example order of ``a`` (paired by ``example_id``)."""
    from xstilts.metrics.per_example import stats_matrix

    out = []
    for run in runs:
        by_id = {r["example_id"]: r for r in run}
        if len(a) != len(run) or any(r["example_id"] not in by_id for r in a):
            raise ValueError(f"unpaired examples: {len(a)} vs {len(run)} rows")
        out.append(stats_matrix(metric, [by_id[r["example_id"]]["stats"] for r in a]))
    return out


def ratio_summary(ours: list[float], theirs: list[float]) -> dict[str, float]:
    """Min, median and max of the paired ratios ``ours[i] / theirs[i]`` of alternating repetitions."""
    import statistics

    ratios = sorted(a / b for a, b in zip(ours, theirs))
    return {"ratio_min": ratios[0], "ratio_median": statistics.median(ratios), "ratio_max": ratios[-1]}
