"""Point estimates from the tidy tables: conditions, main metrics, gains over the baseline.

A *condition* is ``(intermediate tasks, intermediate max length, target)``; its *baseline* is the
same target trained without an intermediate task (``intermediate == []``, max length ``None``).
Gains are condition − baseline on the *main metric* (XTREME's: (EM+F1)/2 for QA, F1 for tagging,
else accuracy), paired by seed and averaged over the seeds both have. Rows are plain dicts, as
:func:`xstilts.pipeline.results.latest_rows` returns them; :func:`results_from_examples` turns
``example_scores.jsonl`` rows into rows of the same shape, so every function here works on both.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from xstilts.metrics.aggregate import main_metric_value  # noqa: F401  (re-exported)

from xstilts.errors import DataError
from xstilts.metrics.per_example import metrics_from_sums, stats_matrix
from xstilts.pipeline.results import row_key

ZERO_SHOT_PHASE = "zero_shot_eval"
ALL = "all"
AVERAGE = "avg"  # the ``language`` (or ``task``) of an averaged row


class Condition(NamedTuple):
    """What was trained: intermediate task names, their max length, and the target task."""

    intermediate: tuple[str, ...]
    intermediate_max_len: int | None
    target: str | None

    @property
    def is_baseline(self) -> bool:
        return not self.intermediate

    def baseline(self) -> "Condition":
        return Condition((), None, self.target)

    def fields(self) -> dict:
        """The condition as row fields (``intermediate`` as a list, as in the tables)."""
        return {"intermediate": list(self.intermediate), "intermediate_max_len": self.intermediate_max_len,
                "target": self.target}


def condition_of(row: Mapping) -> Condition:
    """The condition of a results or example-scores row (a baseline's max length is ``None``)."""
    intermediate = tuple(row.get("intermediate") or ())
    max_len = row.get("intermediate_max_len") if intermediate else None
    return Condition(intermediate, None if max_len is None else int(max_len), row.get("target"))


def condition_order(c: Condition) -> tuple:
    return (c.target or "", c.intermediate, -1 if c.intermediate_max_len is None else c.intermediate_max_len)


def natural_order(value) -> tuple:
    """A total order on example ids and seeds: numbers numerically, then everything else as text."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def xtreme_average(per_task: Mapping[str, Mapping[str, float]]) -> float:
    """XTREME's averaging of ``{task: {language: value}}``: the mean over tasks of each task's mean
    over its languages (so every task weighs the same, whatever its number of languages)."""
    if not per_task or any(not by_lang for by_lang in per_task.values()):
        raise DataError(None, "nothing to average (a task without languages)")
    return float(np.mean([np.mean(list(by_lang.values())) for by_lang in per_task.values()]))


# ---------------------------------------------------------------- rows → main scores


def main_scores(rows: Iterable[Mapping], *, phase: str | None = ZERO_SHOT_PHASE) -> list[dict]:
    """One row per run × task × language × split × bucket with the main metric (``value``).

    Re-runs are collapsed first (the last row of a results key wins, as ``latest_rows``).
    """
    latest: dict[tuple, Mapping] = {}
    for row in rows:
        if phase is None or row.get("phase") == phase:
            latest[row_key(row)] = row
    grouped: dict[tuple, dict] = {}
    for row in latest.values():
        key = (row["run_id"], row["phase"], row["task"], row["language"], row["split"], row.get("bucket", ALL))
        entry = grouped.setdefault(key, {"row": row, "metrics": {}})
        entry["metrics"][row["metric"]] = row["value"]
    out = []
    for (run_id, ph, task, language, split, bucket), entry in grouped.items():
        try:
            value = float(main_metric_value(entry["metrics"]))
        except KeyError:
            continue  # e.g. a loss-only row
        row = entry["row"]
        out.append({"run_id": run_id, "phase": ph, **condition_of(row).fields(), "task": task,
                    "language": language, "split": split, "bucket": bucket, "seed": row.get("seed"),
                    "value": value, "n": row.get("n")})
    return out


def gains_table(rows: Iterable[Mapping], *, phase: str | None = ZERO_SHOT_PHASE,
                average_languages: bool = True) -> list[dict]:
    """Gains over the no-intermediate baseline on the main metric, averaged over seeds.

    One row per condition × task × language × split × bucket with ``value`` (condition, mean over
    the paired seeds), ``baseline``, ``gain`` (mean over seeds of the per-seed difference),
    ``seeds`` and ``n``; seeds are paired by number and only seeds both have count. With
    ``average_languages`` a row with ``language == "avg"`` per condition × task × split × bucket
    gives XTREME's plain mean over the languages both have (``n_languages`` of them).
    """
    cells: dict[tuple, dict] = defaultdict(dict)  # (condition, task, language, split, bucket) → seed → row
    for r in main_scores(rows, phase=phase):
        key = (condition_of(r), r["task"], r["language"], r["split"], r["bucket"])
        cells[key][r["seed"]] = r
    out = []
    for (cond, task, language, split, bucket), by_seed in sorted(cells.items(), key=lambda kv: _cell_order(kv[0])):
        if cond.is_baseline:
            continue
        base = cells.get((cond.baseline(), task, language, split, bucket), {})
        seeds = sorted(set(by_seed) & set(base), key=natural_order)
        if not seeds:
            continue
        value = float(np.mean([by_seed[s]["value"] for s in seeds]))
        baseline = float(np.mean([base[s]["value"] for s in seeds]))
        gain = float(np.mean([by_seed[s]["value"] - base[s]["value"] for s in seeds]))
        out.append({**cond.fields(), "task": task, "language": language, "split": split, "bucket": bucket,
                    "metric": "main", "value": value, "baseline": baseline, "gain": gain,
                    "seeds": seeds, "n": by_seed[seeds[0]].get("n")})
    if average_languages:
        out += _language_averages(out)
    return out


def _cell_order(key: tuple) -> tuple:
    cond, task, language, split, bucket = key
    return (condition_order(cond), task, str(language), str(split), str(bucket))


def _language_averages(rows: Sequence[Mapping]) -> list[dict]:
    groups: dict[tuple, list[Mapping]] = defaultdict(list)
    for r in rows:
        groups[(condition_of(r), r["task"], r["split"], r["bucket"])].append(r)
    out = []
    for (cond, task, split, bucket), members in groups.items():
        out.append({**cond.fields(), "task": task, "language": AVERAGE, "split": split, "bucket": bucket,
                    "metric": "main",
                    **{k: float(np.mean([m[k] for m in members])) for k in ("value", "baseline", "gain")},
                    "seeds": sorted({s for m in members for s in m["seeds"]}, key=natural_order),
                    "n": sum(m["n"] or 0 for m in members), "n_languages": len(members),
                    "languages": [m["language"] for m in members]})
    return out


# ---------------------------------------------------------------- example scores → results rows


def example_key(row: Mapping) -> tuple:
    """Re-runs of one example collapse on this key (the last row wins). The intermediate tasks are
    part of it: one run scores retrieval before and after its intermediate phase."""
    return (row.get("run_id"), row.get("phase"), tuple(row.get("intermediate") or ()), row.get("task"),
            row.get("language"), row.get("split"), row.get("example_id"))


def latest_examples(rows: Iterable[Mapping], *, phase: str | None = ZERO_SHOT_PHASE) -> list[Mapping]:
    latest: dict[tuple, Mapping] = {}
    for row in rows:
        if phase is None or row.get("phase") == phase:
            latest[example_key(row)] = row
    return list(latest.values())


def results_from_examples(example_rows: Iterable[Mapping], *, phase: str | None = ZERO_SHOT_PHASE) -> list[dict]:
    """Results-table rows (official metrics per run × task × language × split × bucket) recomputed
    from per-example statistics; ``bucket == "all"`` covers every example of the split."""
    groups: dict[tuple, list[Mapping]] = defaultdict(list)
    for row in latest_examples(example_rows, phase=phase):
        groups[(row["run_id"], row["phase"], row["task"], row["language"], row["split"])].append(row)
    out = []
    for (run_id, ph, task, language, split), members in groups.items():
        metric = _one_metric(members, (run_id, task, language, split))
        matrix = stats_matrix(metric, [m["stats"] for m in members])
        in_bucket: dict[str, list[int]] = defaultdict(list)
        for i, m in enumerate(members):
            for b in {ALL, *m.get("buckets", ())}:
                in_bucket[b].append(i)
        first = members[0]
        for bucket in sorted(in_bucket):
            idx = in_bucket[bucket]
            scores = metrics_from_sums(metric, matrix[idx].sum(axis=0), len(idx), with_token_accuracy=True)
            for name, value in scores.items():
                out.append({"run_id": run_id, "config_hash": first.get("config_hash"), "phase": ph,
                            **condition_of(first).fields(), "task": task, "language": language, "split": split,
                            "bucket": bucket, "metric": name, "value": float(value), "n": len(idx),
                            "seed": first.get("seed"), "higher_is_better": True})
    return out


def _one_metric(members: Sequence[Mapping], where: tuple) -> str:
    metrics = {m["metric"] for m in members}
    if len(metrics) != 1:
        raise DataError(None, f"examples of one run/task/language/split use several metrics {sorted(metrics)}",
                        record=str(where))
    return metrics.pop()


__all__ = [
    "ALL", "AVERAGE", "Condition", "ZERO_SHOT_PHASE", "condition_of", "example_key", "gains_table",
    "latest_examples", "main_metric_value", "main_scores", "results_from_examples", "xtreme_average",
]
