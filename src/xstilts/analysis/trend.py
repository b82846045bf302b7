"""How the gain changes with the intermediate max length, per length bucket, and whether long
documents change differently from short ones.

For one intermediate task set, the gain over the baseline (XTREME-averaged over the languages of
each target, then over targets) is measured at every intermediate max length ``L``; the *trend*
of a bucket is the least-squares slope of gain on ``log2(L)``: gain points per doubling of the max
length. All max lengths, the baseline, every bucket and every unit are resampled *jointly* (one
paired draw per replicate, :func:`xstilts.analysis.bootstrap.resample_gains`), so the slope's
interval keeps the pairing across max lengths and the *interaction* — slope(long) −
slope(short) — keeps the pairing across buckets.

Default buckets (overridable; each a name or a list of candidates tried in order):

* long: ``long:multi_window`` (examples that need more than one window at the target's max
  length, i.e. the part where max length can matter), else ``tokens:>384``, else ``quartile:4``;
* short: ``quartile:1`` (the shortest quarter of every language, never empty), else
  ``tokens:<=128``.

A candidate is taken when every unit has at least ``min_bucket_size`` examples in it; if none
qualifies, the candidate whose smallest unit is largest is taken. A bucket named explicitly (a
plain string) is used as it is, and units where it is empty drop out of its average.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

import numpy as np

from xstilts.analysis.bootstrap import (
    DEFAULT_RESAMPLES, Estimate, ExampleTable, GainDraws, UnitKey, bootstrap_p_value, common_seeds,
    estimate, language_average, make_rng, resample_gains,
)
from xstilts.analysis.tables import ZERO_SHOT_PHASE, Condition, natural_order
from xstilts.errors import DataError

DEFAULT_LONG_BUCKETS = ("long:multi_window", "tokens:>384", "quartile:4")
DEFAULT_SHORT_BUCKETS = ("quartile:1", "tokens:<=128")
DEFAULT_MIN_BUCKET_SIZE = 20


@dataclass(frozen=True)
class Trend:
    """Gain vs intermediate max length in one bucket (XTREME-averaged over units)."""

    bucket: str
    intermediate: tuple[str, ...]
    targets: tuple[str, ...]
    split: str
    max_lens: tuple[int, ...]
    gains: tuple[Estimate, ...]  # one per max length
    slope: Estimate              # gain points per doubling of the intermediate max length
    n_examples: int              # examples in the bucket, summed over units
    languages: tuple[str, ...]   # "target/language" of the units that have the bucket
    seeds: tuple
    slope_by_seed: tuple[float, ...] = ()  # the slope of each seed alone (their mean is ``slope.value``)


@dataclass(frozen=True)
class Interaction:
    """slope(long) − slope(short), with its interval, two-sided bootstrap p-value (unadjusted) and
    the difference of each seed alone."""

    long: Trend
    short: Trend
    difference: Estimate
    p_value: float
    n_resamples: int
    confidence: float
    seed_design: str
    dropped_units: tuple[str, ...] = ()  # units without every max length (or the baseline)
    difference_by_seed: tuple[float, ...] = ()


def slope_weights(max_lens: Sequence[int]) -> np.ndarray:
    """Weights ``a`` with ``slope = a @ gains`` for least squares of gain on ``log2(max_len)``."""
    x = np.log2(np.asarray(max_lens, dtype=np.float64))
    centred = x - x.mean()
    ss = float(centred @ centred)
    if len(x) < 2 or ss == 0.0:
        raise DataError(None, f"a slope needs at least two different max lengths, got {list(max_lens)}")
    return centred / ss


def least_squares_slope(max_lens: Sequence[int], gains: Sequence[float]) -> float:
    """Slope of ``gains`` on ``log2(max_lens)`` (points per doubling)."""
    return float(slope_weights(max_lens) @ np.asarray(gains, dtype=np.float64))


# ---------------------------------------------------------------- selecting what to compare


@dataclass
class _Design:
    intermediate: tuple[str, ...]
    targets: tuple[str, ...]
    split: str
    max_lens: tuple[int, ...]
    units: list[UnitKey]
    slots: dict[str | None, list[Condition]]  # target → [baseline, one condition per max length]
    seeds: list
    dropped: list[UnitKey]


def _design(table: ExampleTable, *, intermediate, targets, split, languages) -> _Design:
    conds = [c for c in table.conditions() if not c.is_baseline]
    if targets is not None:
        conds = [c for c in conds if c.target in set(targets)]
    if intermediate is None:
        options = sorted({c.intermediate for c in conds})
        if len(options) != 1:
            raise DataError(None, f"say which intermediate task set to analyse: found {options or 'none'}")
        intermediate = options[0]
    intermediate = tuple(intermediate)
    conds = [c for c in conds if c.intermediate == intermediate and c.intermediate_max_len is not None]
    keys = [k for k in table.units() if languages is None or k.language in set(languages)]
    if split is None:
        splits = sorted({k.split for k in keys if any(k.target == c.target for c in conds)})
        if len(splits) != 1 and "test" not in splits:
            raise DataError(None, f"say which split to analyse: found {splits}")
        split = splits[0] if len(splits) == 1 else "test"
    keys = [k for k in keys if k.split == split]

    by_target: dict[str | None, set[int]] = {}
    for c in conds:
        by_target.setdefault(c.target, set()).add(c.intermediate_max_len)
    target_names = tuple(sorted(t for t in by_target if targets is None or t in set(targets)))
    if not target_names:
        raise DataError(None, f"no runs with intermediate {list(intermediate)}")
    max_lens = tuple(sorted(set.intersection(*(by_target[t] for t in target_names))))
    if len(max_lens) < 2:
        raise DataError(None, f"a trend needs two max lengths common to targets {list(target_names)}; "
                              f"have {dict((t, sorted(by_target[t])) for t in target_names)}")
    slots = {t: [Condition((), None, t)] + [Condition(intermediate, L, t) for L in max_lens] for t in target_names}
    used, dropped = [], []
    for k in keys:
        if k.target not in slots:
            continue
        (used if all(c in table.cells[k] for c in slots[k.target]) else dropped).append(k)
    if not used:
        raise DataError(None, f"no unit has the baseline and every max length {list(max_lens)}")
    seeds: set | None = None
    for k in used:
        s = set(common_seeds(table, [k], slots[k.target]))
        seeds = s if seeds is None else seeds & s
    if not seeds:
        raise DataError(None, "no seed is shared by every condition and unit")
    return _Design(intermediate, target_names, split, max_lens, used, slots, sorted(seeds, key=natural_order), dropped)


def choose_bucket(candidates: str | Sequence[str], sizes: Mapping[str, Sequence[int]],
                  min_size: int = DEFAULT_MIN_BUCKET_SIZE) -> str:
    """The first candidate with at least ``min_size`` examples in every unit, else the one whose
    smallest unit is largest; a plain string is returned as it is."""
    if isinstance(candidates, str):
        return candidates
    known = [c for c in candidates if c in sizes]
    if not known:
        raise DataError(None, f"none of the buckets {list(candidates)} occurs in the example scores")
    for c in known:
        if min(sizes[c]) >= min_size:
            return c
    return max(known, key=lambda c: min(sizes[c]))


def _draws(table: ExampleTable, design: _Design, buckets: list[str], *, n_resamples, seed, seed_design,
           units: list | None = None) -> GainDraws:
    if units is None:
        units = [table.align(k, design.slots[k.target], design.seeds, buckets) for k in design.units]
    rng = make_rng(seed, "trend", design.intermediate, design.targets, design.split, design.max_lens, tuple(buckets))
    return resample_gains(units, buckets, n_resamples=n_resamples, rng=rng, seed_design=seed_design)


def _averaged(draws: GainDraws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """XTREME-averaged gains: point ``[slot, bucket]``, replicates ``[r, slot, bucket]`` and each
    seed's point ``[seed, slot, bucket]``."""
    groups: dict[tuple, list[int]] = {}
    for u, unit in enumerate(draws.units):
        groups.setdefault((unit.key.target, unit.key.task), []).append(u)
    defined = draws.sizes > 0
    return tuple(language_average(values, defined, list(groups.values()))
                 for values in (draws.gain, draws.replicates, draws.gain_by_seed))


def _trends(draws: GainDraws, design: _Design, confidence: float) -> tuple[list[Trend], np.ndarray, np.ndarray]:
    """The trend of every bucket, the slope replicates ``[r, bucket]`` and per-seed slopes ``[seed, bucket]``."""
    point, reps, by_seed = _averaged(draws)
    w = slope_weights(design.max_lens)
    slope_point = w @ point              # (bucket,)
    slope_reps = np.einsum("c,rcb->rb", w, reps)
    slope_seeds = np.einsum("c,scb->sb", w, by_seed)
    trends = []
    for b, bucket in enumerate(draws.buckets):
        have = draws.sizes[:, b] > 0
        trends.append(Trend(
            bucket=bucket, intermediate=design.intermediate, targets=design.targets, split=design.split,
            max_lens=design.max_lens,
            gains=tuple(estimate(point[c, b], reps[:, c, b], confidence) for c in range(len(design.max_lens))),
            slope=estimate(slope_point[b], slope_reps[:, b], confidence),
            n_examples=int(draws.sizes[:, b].sum()),
            languages=tuple(f"{u.key.target}/{u.key.language}" for u, h in zip(draws.units, have) if h),
            seeds=tuple(design.seeds), slope_by_seed=tuple(float(x) for x in slope_seeds[:, b])))
    return trends, slope_reps, slope_seeds


def _table(example_rows, phase) -> ExampleTable:
    return example_rows if isinstance(example_rows, ExampleTable) else ExampleTable(example_rows, phase=phase)


def gain_trends(
    example_rows: Iterable[Mapping] | ExampleTable,
    *,
    buckets: Sequence[str] | None = None,
    intermediate: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    split: str | None = None,
    languages: Sequence[str] | None = None,
    phase: str | None = ZERO_SHOT_PHASE,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    seed_design: str = "crossed",
) -> list[Trend]:
    """The trend (gain per doubling of the intermediate max length, with its interval) of every
    bucket (default: all buckets in the data), for one intermediate task set (default: the only
    one) over ``targets`` (default: all that have it), on ``split`` (default: the only one, else
    ``test``). Only max lengths every target has are used; units lacking one are dropped."""
    table = _table(example_rows, phase)
    design = _design(table, intermediate=intermediate, targets=targets, split=split, languages=languages)
    names = list(buckets) if buckets is not None else table.buckets(design.units)
    draws = _draws(table, design, names, n_resamples=n_resamples, seed=seed, seed_design=seed_design)
    return _trends(draws, design, confidence)[0]


def interaction_test(
    example_rows: Iterable[Mapping] | ExampleTable,
    *,
    long_bucket: str | Sequence[str] = DEFAULT_LONG_BUCKETS,
    short_bucket: str | Sequence[str] = DEFAULT_SHORT_BUCKETS,
    min_bucket_size: int = DEFAULT_MIN_BUCKET_SIZE,
    intermediate: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    split: str | None = None,
    languages: Sequence[str] | None = None,
    phase: str | None = ZERO_SHOT_PHASE,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    seed_design: str = "crossed",
) -> Interaction:
    """Is the trend on long documents different from the trend on short ones?

    Returns both trends and slope(long) − slope(short) with its percentile interval and the
    two-sided bootstrap p-value (:func:`xstilts.analysis.bootstrap.bootstrap_p_value`), all from
    one joint resampling, and the difference of each seed alone. The p-value is not adjusted for
    other tests: :func:`xstilts.analysis.answer.answer_family` does that over the answer's tests.
    Bucket defaults and the choice rule are in the module docstring.
    """
    table = _table(example_rows, phase)
    design = _design(table, intermediate=intermediate, targets=targets, split=split, languages=languages)
    long_c = [long_bucket] if isinstance(long_bucket, str) else list(long_bucket)
    short_c = [short_bucket] if isinstance(short_bucket, str) else list(short_bucket)
    present = set(table.buckets(design.units))
    candidates = [b for b in dict.fromkeys(long_c + short_c) if b in present]
    if not candidates:
        raise DataError(None, f"none of the buckets {long_c + short_c} occurs in the example scores")
    aligned = [table.align(k, design.slots[k.target], design.seeds, candidates) for k in design.units]
    sizes = {b: [int(u.masks[i].sum()) for u in aligned] for i, b in enumerate(candidates)}
    long_name = choose_bucket(long_bucket, sizes, min_bucket_size)
    short_name = choose_bucket(short_bucket, sizes, min_bucket_size)
    if long_name == short_name:
        raise DataError(None, f"the long and the short bucket are both {long_name!r}")
    for name in (long_name, short_name):
        if name not in sizes or not any(sizes[name]):
            raise DataError(None, f"bucket {name!r} is empty in every unit")
    pick = [candidates.index(long_name), candidates.index(short_name)]
    units = [replace(u, masks=u.masks[pick]) for u in aligned]
    draws = _draws(table, design, [long_name, short_name], units=units, n_resamples=n_resamples, seed=seed,
                   seed_design=seed_design)
    (long_t, short_t), slope_reps, slope_seeds = _trends(draws, design, confidence)
    diff_reps = slope_reps[:, 0] - slope_reps[:, 1]
    difference = estimate(long_t.slope.value - short_t.slope.value, diff_reps, confidence)
    return Interaction(long_t, short_t, difference, bootstrap_p_value(diff_reps), n_resamples, confidence,
                       seed_design, tuple(f"{k.target}/{k.language}" for k in design.dropped),
                       tuple(float(x) for x in slope_seeds[:, 0] - slope_seeds[:, 1]))


__all__ = [
    "DEFAULT_LONG_BUCKETS", "DEFAULT_MIN_BUCKET_SIZE", "DEFAULT_SHORT_BUCKETS", "Interaction", "Trend",
    "choose_bucket", "gain_trends", "interaction_test", "least_squares_slope", "slope_weights",
]
