"""Paired bootstrap over examples (and seeds) of gains over the no-intermediate baseline.

Input is ``example_scores.jsonl``: one row per run × phase × task × language × split × example with
the per-example statistics of :mod:`xstilts.metrics.per_example`. A *unit* is one target × task ×
language × split (one test file). Within a unit, examples are paired across conditions, seeds and
the baseline by ``example_id``; only ids present in every cell a computation needs are used.

One bootstrap replicate:

1. **Seeds** (when there are several): draw as many seed numbers as there are, with replacement,
   once for all units (a seed is a run-level factor: one intermediate checkpoint serves every
   target and language).
2. **Examples**: in every unit, draw examples with replacement *within strata* — the groups of
   examples that fall in the same set of the requested buckets — so each bucket keeps its size
   and a bucket never comes up empty; the same draw serves every condition, the baseline and
   every bucket, which keeps all comparisons paired. ``seed_design="crossed"`` (default) uses one
   example draw for all drawn seeds: the test set is the same for every seed, so example effects
   are shared across seeds and must not average out over them. ``"nested"`` draws examples
   afresh for every drawn seed (seeds, then examples within each).
3. Each unit's official metric is recomputed from the weighted sums of the statistics (one matrix
   product per stratum, vectorised over replicates), turned into the main metric, and the gain is
   condition − baseline per drawn seed, averaged over the drawn seeds.

Averages over languages and tasks (XTREME's plain means) are then taken per replicate, so their
intervals account for every unit. Intervals are percentile intervals of the replicates; every
random number comes from one ``numpy.random.Generator`` seeded from ``seed`` and the cell, so
results are reproducible and a cell's interval does not change when other runs are added.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from xstilts.analysis.tables import (
    ALL, AVERAGE, ZERO_SHOT_PHASE, Condition, condition_of, condition_order, latest_examples, main_metric_value,
    natural_order,
)
from xstilts.errors import ConfigError, DataError
from xstilts.metrics.per_example import metrics_from_sums, stat_fields

DEFAULT_RESAMPLES = 1000
SEED_DESIGNS = ("crossed", "nested")
BUCKET_ORDER = ("all", "tokens:<=128", "tokens:129-256", "tokens:257-384", "tokens:>384", "quartile:1",
                "quartile:2", "quartile:3", "quartile:4", "long:top_quartile", "long:multi_window")
_BLOCK = 1 << 22  # draws held in memory at once (rows × examples of one stratum)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    @property
    def includes_zero(self) -> bool:
        return bool(self.low <= 0.0 <= self.high)

    def as_dict(self) -> dict:
        return asdict(self)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``confidence`` percentile interval of bootstrap replicates along ``axis``."""
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.asarray(replicates, dtype=np.float64), [alpha, 1.0 - alpha], axis=axis)
    return low, high


def bootstrap_p_value(replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value for "the statistic is 0": twice the smaller share of replicates
    on either side of 0 (ties count on both sides), with the +1 correction, capped at 1.

    It inverts the percentile interval: the (1 − p) interval just reaches 0, so a 95% interval
    excludes 0 exactly when p < 0.05 (up to the +1 correction).
    """
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    tail = min(int(np.sum(r <= 0.0)), int(np.sum(r >= 0.0)))
    return float(min(1.0, 2.0 * (tail + 1) / (r.size + 1)))


def estimate(point: float, replicates: np.ndarray, confidence: float) -> Estimate:
    low, high = percentile_interval(replicates, confidence)
    return Estimate(float(point), float(low), float(high))


def make_rng(seed: int, *key) -> np.random.Generator:
    """A Generator for ``seed`` and a cell key (stable across processes: no ``hash()``)."""
    digest = hashlib.sha256(repr(key).encode("utf-8")).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def bucket_sort_key(name: str) -> tuple:
    return (BUCKET_ORDER.index(name), "") if name in BUCKET_ORDER else (len(BUCKET_ORDER), name)


# ---------------------------------------------------------------- the indexed example table


class UnitKey(NamedTuple):
    """One test file: the target the model was trained for, the task scored, language, split."""

    target: str | None
    task: str
    language: str
    split: str


class ExampleTable:
    """Example-score rows indexed as unit → condition → seed → example id → row.

    Re-runs collapse (the last row of run × phase × task × language × split × example wins), and
    so do two runs of the same condition and seed (the later one's examples win).
    """

    def __init__(self, rows: Iterable[Mapping], *, phase: str | None = ZERO_SHOT_PHASE):
        self.cells: dict[UnitKey, dict[Condition, dict[object, dict[object, Mapping]]]] = {}
        self.metric: dict[UnitKey, str] = {}
        self._buckets: dict[UnitKey, set[str]] = {}
        for row in latest_examples(rows, phase=phase):
            key = UnitKey(row.get("target"), row["task"], row["language"], row["split"])
            self._buckets.setdefault(key, {ALL}).update(row.get("buckets", ()))
            metric = self.metric.setdefault(key, row["metric"])
            if metric != row["metric"]:
                raise DataError(None, f"unit {tuple(key)} has examples scored with {metric!r} and {row['metric']!r}")
            by_cond = self.cells.setdefault(key, {})
            by_cond.setdefault(condition_of(row), {}).setdefault(row.get("seed"), {})[row["example_id"]] = row
        if not self.cells:
            raise DataError(None, f"no example scores (phase {phase!r})")

    def units(self) -> list[UnitKey]:
        return sorted(self.cells, key=lambda k: tuple(str(x) for x in k))

    def conditions(self) -> list[Condition]:
        return sorted({c for by_cond in self.cells.values() for c in by_cond}, key=condition_order)

    def seeds(self, key: UnitKey, condition: Condition) -> set:
        return set(self.cells[key].get(condition, {}))

    def buckets(self, keys: Iterable[UnitKey]) -> list[str]:
        """Every bucket name some example of these units is in (``all`` included), in a fixed order."""
        names = {ALL}.union(*(self._buckets[k] for k in keys))
        return sorted(names, key=bucket_sort_key)

    def align(self, key: UnitKey, slots: Sequence[Condition], seeds: Sequence, buckets: Sequence[str]) -> "UnitArrays":
        """The unit's statistics for ``slots`` (baseline first) × ``seeds`` on the examples all of
        those cells have; bucket membership is read from the baseline's first seed."""
        cells = self.cells[key]
        id_sets = [set(cells[c][s]) for c in slots for s in seeds]
        ids = sorted(set.intersection(*id_sets), key=natural_order)
        if not ids:
            raise DataError(None, "no example is scored in every condition and seed", record=str(tuple(key)))
        metric = self.metric[key]
        fields = stat_fields(metric)
        stats = np.empty((len(slots), len(seeds), len(ids), len(fields) + 1))
        for c, slot in enumerate(slots):
            for j, seed in enumerate(seeds):
                rows = cells[slot][seed]
                try:
                    stats[c, j, :, :-1] = [[rows[i]["stats"][f] for f in fields] for i in ids]
                except KeyError as e:
                    raise DataError(None, f"example statistics lack field {e.args[0]!r} (metric {metric!r})",
                                    record=str(tuple(key))) from None
        stats[..., -1] = 1.0  # the example count, for mean-type metrics
        ref = cells[slots[0]][seeds[0]]
        masks = np.array([[b == ALL or b in ref[i].get("buckets", ()) for i in ids] for b in buckets], dtype=bool)
        return UnitArrays(key, metric, tuple(ids), stats, masks.reshape(len(buckets), len(ids)),
                          max(len(s) for s in id_sets) - len(ids))


@dataclass
class UnitArrays:
    """One unit ready for resampling: ``stats[slot, seed, example, field]`` (last field = 1) and
    ``masks[bucket, example]``; slot 0 is the baseline."""

    key: UnitKey
    metric: str
    ids: tuple
    stats: np.ndarray
    masks: np.ndarray
    unpaired: int = 0  # examples of some cell left out because another cell lacks them


# ---------------------------------------------------------------- the resampling engine


def _main_from_sums(metric: str, sums: np.ndarray) -> np.ndarray:
    """Main metric from ``sums[..., fields + count]``."""
    return np.asarray(main_metric_value(metrics_from_sums(metric, sums[..., :-1], sums[..., -1])), dtype=np.float64)


def _resample_counts(rng: np.random.Generator, rows: int, m: int) -> np.ndarray:
    """``(rows, m)`` multinomial counts: how often each of ``m`` examples is drawn in ``m`` draws."""
    dtype = np.int32 if rows * m < 2**31 else np.int64
    draws = rng.integers(0, m, size=(rows, m), dtype=dtype)
    draws += (np.arange(rows, dtype=dtype) * m)[:, None]
    return np.bincount(draws.ravel(), minlength=rows * m).reshape(rows, m).astype(np.float64)


@dataclass
class GainDraws:
    """Per unit × slot × bucket: ``gain`` and ``level`` (slot 0 = baseline) point estimates (mean
    over seeds), ``replicates[r, unit, slot, bucket]`` of the gain, bucket ``sizes``, and
    ``gain_by_seed[seed, unit, slot, bucket]`` (the point gain of each seed alone, whose mean over
    seeds is ``gain``: the seed-to-seed spread the report states)."""

    units: list[UnitArrays]
    buckets: list[str]
    gain: np.ndarray
    level: np.ndarray
    replicates: np.ndarray
    sizes: np.ndarray
    gain_by_seed: np.ndarray


def resample_gains(units: Sequence[UnitArrays], buckets: Sequence[str], *, n_resamples: int = DEFAULT_RESAMPLES,
                   rng: np.random.Generator, seed_design: str = "crossed") -> GainDraws:
    """Point gains and paired bootstrap replicates for every unit × slot × bucket (see module doc)."""
    if seed_design not in SEED_DESIGNS:
        raise ConfigError(f"seed_design must be one of {SEED_DESIGNS}, not {seed_design!r}")
    if n_resamples < 1:
        raise ConfigError("n_resamples must be at least 1")
    n_seeds = units[0].stats.shape[1]
    seed_draws = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    rows = n_resamples if seed_design == "crossed" or n_seeds == 1 else n_resamples * n_seeds
    gains, levels, reps, sizes, by_seed = [], [], [], [], []
    for u in units:
        n_slots, n_s, n, k = u.stats.shape
        flat = u.stats.transpose(2, 0, 1, 3).reshape(n, n_slots * n_s * k)
        masks = u.masks.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            level = _main_from_sums(u.metric, (masks @ flat).reshape(len(buckets), n_slots, n_s, k))
        per_seed = level[:, 1:] - level[:, :1]  # (bucket, slot, seed)
        by_seed.append(per_seed.transpose(2, 1, 0))
        gains.append(per_seed.mean(axis=-1).T)  # (slot, bucket)
        levels.append(level.mean(axis=-1).T)
        sizes.append(u.masks.sum(axis=1))

        # strata: examples with the same bucket membership; resampled within, sums per stratum
        signatures, stratum = np.unique(u.masks.T, axis=0, return_inverse=True)
        stratum = np.asarray(stratum).ravel()
        stratum_sums = np.zeros((rows, len(signatures), flat.shape[1]))
        for h in range(len(signatures)):
            idx = np.flatnonzero(stratum == h)
            step = max(1, _BLOCK // len(idx))
            for start in range(0, rows, step):
                stop = min(rows, start + step)
                stratum_sums[start:stop, h] = _resample_counts(rng, stop - start, len(idx)) @ flat[idx]
        bucket_sums = np.einsum("rhq,hb->rbq", stratum_sums, signatures.astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            m = _main_from_sums(u.metric, bucket_sums.reshape(rows, len(buckets), n_slots, n_s, k))
        g = m[:, :, 1:] - m[:, :, :1]  # (rows, bucket, slot, seed)
        if rows == n_resamples:  # one example draw per replicate, shared by its drawn seeds
            picked = np.take_along_axis(g, seed_draws[:, None, None, :], axis=3)
        else:  # nested: row (r, j) drew examples for drawn seed j of replicate r
            g = g.reshape(n_resamples, n_seeds, len(buckets), n_slots - 1, n_s)
            picked = np.take_along_axis(g, seed_draws[:, :, None, None, None], axis=4)[..., 0]
            picked = np.moveaxis(picked, 1, -1)
        reps.append(picked.mean(axis=-1).transpose(0, 2, 1))  # (r, slot, bucket)
    return GainDraws(list(units), list(buckets), np.stack(gains), np.stack(levels),
                     np.stack(reps, axis=1), np.stack(sizes), np.stack(by_seed, axis=1))


def language_average(values: np.ndarray, defined: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """XTREME's averaging over units: the mean over each group's units (languages of one task)
    where ``defined``, then the mean over groups (tasks) that have any. ``values[..., unit, slot,
    bucket]``, ``defined[unit, bucket]``; returns ``[..., slot, bucket]``."""
    per_group = []
    for g in groups:
        w = defined[list(g)].astype(np.float64)[:, None, :]  # (unit, 1, bucket)
        v = np.where(w > 0, values[..., list(g), :, :], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_group.append(v.sum(axis=-3) / w.sum(axis=0))
    stacked = np.stack(per_group, axis=-3)  # (..., group, slot, bucket)
    have = np.isfinite(stacked)
    with np.errstate(invalid="ignore", divide="ignore"):  # a bucket no group has stays NaN
        return np.where(have, stacked, 0.0).sum(axis=-3) / have.sum(axis=-3)


# ---------------------------------------------------------------- gains table with intervals


def common_seeds(table: ExampleTable, keys: Iterable[UnitKey], slots: Sequence[Condition]) -> list:
    """The seeds every one of ``slots`` has in every unit of ``keys`` (paired by seed number)."""
    seeds: set | None = None
    for key in keys:
        for slot in slots:
            have = table.seeds(key, slot)
            seeds = have if seeds is None else seeds & have
    return sorted(seeds or (), key=natural_order)


def bootstrap_gains(
    example_rows: Iterable[Mapping] | ExampleTable,
    *,
    buckets: Sequence[str] | None = None,
    phase: str | None = ZERO_SHOT_PHASE,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    seed_design: str = "crossed",
    average_languages: bool = True,
) -> list[dict]:
    """Gains over the baseline with paired-bootstrap intervals, per condition × unit × bucket.

    Rows carry the condition fields, ``task``, ``language`` (``"avg"`` for the mean over the
    languages of a condition × task × split, with ``n_languages``), ``split``, ``bucket``,
    ``value``/``baseline`` (main metric, mean over seeds), ``gain``, ``ci_low``, ``ci_high``,
    ``n`` (examples in the bucket), ``seeds``, ``unpaired`` (examples left out because some
    cell lacks them) and ``p_value`` (two-sided bootstrap p of "gain = 0", unadjusted: whoever
    marks several rows as significant adjusts over them, :func:`xstilts.analysis.multiplicity.holm`).
    Units with an empty bucket get no row for it. Seeds are those every cell of the condition (all
    its languages) and its baseline share.
    """
    table = example_rows if isinstance(example_rows, ExampleTable) else ExampleTable(example_rows, phase=phase)
    out: list[dict] = []
    for cond in table.conditions():
        if cond.is_baseline:
            continue
        base = cond.baseline()
        by_split: dict[str, list[UnitKey]] = defaultdict(list)
        for key in table.units():
            if key.target == cond.target and cond in table.cells[key] and base in table.cells[key]:
                by_split[key.split].append(key)
        for split, keys in sorted(by_split.items()):
            seeds = common_seeds(table, keys, [base, cond])
            if not seeds:
                continue
            names = list(buckets) if buckets is not None else table.buckets(keys)
            units = [table.align(k, [base, cond], seeds, names) for k in keys]
            draws = resample_gains(units, names, n_resamples=n_resamples, seed_design=seed_design,
                                   rng=make_rng(seed, "gains", cond, split))
            out += _gain_rows(cond, split, draws, seeds, confidence, average_languages)
    return out


def _gain_rows(cond: Condition, split: str, draws: GainDraws, seeds: list, confidence: float,
               average_languages: bool) -> list[dict]:
    low, high = percentile_interval(draws.replicates, confidence)  # (unit, slot, bucket)
    defined = draws.sizes > 0
    rows = []
    for u, unit in enumerate(draws.units):
        for b, bucket in enumerate(draws.buckets):
            if not defined[u, b]:
                continue
            rows.append({**cond.fields(), "task": unit.key.task, "language": unit.key.language, "split": split,
                         "bucket": bucket, "metric": "main", "value": float(draws.level[u, 1, b]),
                         "baseline": float(draws.level[u, 0, b]), "gain": float(draws.gain[u, 0, b]),
                         "ci_low": float(low[u, 0, b]), "ci_high": float(high[u, 0, b]),
                         "p_value": bootstrap_p_value(draws.replicates[:, u, 0, b]),
                         "n": int(draws.sizes[u, b]), "seeds": list(seeds), "unpaired": unit.unpaired})
    if not average_languages:
        return rows
    by_task: dict[str, list[int]] = defaultdict(list)
    for u, unit in enumerate(draws.units):
        by_task[unit.key.task].append(u)
    for task, members in sorted(by_task.items()):
        group = [list(range(len(members)))]
        sub = {"gain": draws.gain[members], "level": draws.level[members]}
        reps = language_average(draws.replicates[:, members], defined[members], group)
        gain = language_average(sub["gain"], defined[members], group)
        level = language_average(sub["level"], defined[members], group)
        a_low, a_high = percentile_interval(reps, confidence)
        for b, bucket in enumerate(draws.buckets):
            langs = [draws.units[u].key.language for u in members if defined[u, b]]
            if not langs:
                continue
            rows.append({**cond.fields(), "task": task, "language": AVERAGE, "split": split, "bucket": bucket,
                         "metric": "main", "value": float(level[1, b]), "baseline": float(level[0, b]),
                         "gain": float(gain[0, b]), "ci_low": float(a_low[0, b]), "ci_high": float(a_high[0, b]),
                         "p_value": bootstrap_p_value(reps[:, 0, b]),
                         "n": int(sum(draws.sizes[u, b] for u in members)), "seeds": list(seeds),
                         "n_languages": len(langs), "languages": langs})
    return rows


__all__ = [
    "DEFAULT_RESAMPLES", "Estimate", "ExampleTable", "GainDraws", "UnitArrays", "UnitKey", "bootstrap_gains",
    "bootstrap_p_value", "common_seeds", "estimate", "language_average", "make_rng", "percentile_interval",
    "resample_gains",
]
