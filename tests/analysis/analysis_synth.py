"""Hand-made ``example_scores`` rows with a known answer, for the analysis tests.

Every example has a difficulty ``u`` in [0, 1) shared by all runs; a run with accuracy ``p`` gets
it right when ``u + noise·z < p`` (z standard normal, fresh per run and example), so a run's
expected accuracy is exactly ``p`` and runs are paired the way real models are (hard examples are
hard for everyone). ``p`` = baseline accuracy + planted gain (+ a per-seed shift).
"""

from __future__ import annotations

import math

import numpy as np

LONG_BUCKETS = ["tokens:>384", "quartile:4", "long:top_quartile", "long:multi_window"]
SHORT_BUCKETS = ["tokens:<=128", "quartile:1"]


def planted_gain(max_len: int, slope: float, offset: float = 0.0) -> float:
    """Gain in accuracy points: ``slope`` per doubling above 128, plus ``offset``."""
    return offset + slope * math.log2(max_len / 128)


def example_rows(
    *,
    languages=("de", "fr", "zh"),
    target: str = "xnli",
    n: int = 600,
    long_fraction: float = 0.5,
    max_lens=(128, 256, 512, 1024),
    seeds=(1,),
    intermediate=("squad",),
    slope_long: float = 2.0,
    slope_short: float = 0.0,
    offset: float = 0.0,
    base_accuracy: float = 0.6,
    noise: float = 0.05,
    seed_shift: dict | None = None,
    split: str = "test",
    rng_seed: int = 0,
    n_multi_window: int | None = None,
    noise_seed: int | None = None,
) -> list[dict]:
    """Rows for the baseline and one condition per max length, per language and seed.

    ``seed_shift[seed]`` adds that many accuracy points to every *condition* run of that seed
    (a seed-level effect the hierarchical bootstrap must see). ``n_multi_window`` limits the
    ``long:multi_window`` bucket to that many of the long examples. ``noise_seed`` draws the runs'
    noise from its own generator: the same ``rng_seed`` then keeps the examples (and their
    difficulty) while the runs differ, as runs of several intermediate tasks on one test set do.
    """
    rng = np.random.default_rng(rng_seed)
    noise_rng = rng if noise_seed is None else np.random.default_rng([rng_seed, noise_seed])
    rows = []
    conditions = [((), None)] + [(tuple(intermediate), L) for L in max_lens]
    for language in languages:
        u = rng.random(n)
        is_long = np.zeros(n, dtype=bool)
        is_long[rng.choice(n, size=int(round(long_fraction * n)), replace=False)] = True
        long_ids = np.flatnonzero(is_long)
        multi = set(long_ids if n_multi_window is None else long_ids[:n_multi_window])
        buckets = [
            [b for b in LONG_BUCKETS if b != "long:multi_window" or i in multi] if is_long[i] else list(SHORT_BUCKETS)
            for i in range(n)
        ]
        for seed in seeds:
            for inter, max_len in conditions:
                if inter:
                    g_long = planted_gain(max_len, slope_long, offset)
                    g_short = planted_gain(max_len, slope_short, offset)
                    shift = (seed_shift or {}).get(seed, 0.0)
                else:
                    g_long = g_short = shift = 0.0
                p = base_accuracy + (np.where(is_long, g_long, g_short) + shift) / 100
                correct = (u + noise * noise_rng.standard_normal(n)) < p
                run_id = f"{target}-{'+'.join(inter) or 'none'}-{max_len}-s{seed}"
                for i in range(n):
                    rows.append({
                        "run_id": run_id, "config_hash": run_id, "phase": "zero_shot_eval",
                        "intermediate": list(inter), "intermediate_max_len": max_len, "target": target,
                        "task": target, "language": language, "split": split, "seed": seed,
                        "metric": "accuracy", "example_id": f"{language}-{i}",
                        "length": 500 if is_long[i] else 100, "buckets": buckets[i],
                        "stats": {"correct": int(correct[i])},
                    })
    return rows


def family_rows(slopes: dict, *, rng_seed: int = 0, **options) -> list[dict]:
    """One baseline and one intermediate task set per entry of ``slopes`` (name → planted slope on
    long documents, none on short ones) on the same examples, each set's runs with their own noise:
    the tests one answer makes, which share the baseline. ``options`` go to :func:`example_rows`."""
    rows = []
    for k, (name, slope) in enumerate(slopes.items()):
        part = example_rows(intermediate=(name,), slope_long=slope, slope_short=0.0, rng_seed=rng_seed,
                            noise_seed=k, **options)
        rows += [r for r in part if r["intermediate"] or k == 0]  # the baseline once (its noise: set 0's)
    return rows
