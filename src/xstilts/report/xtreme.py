"""The report's XTREME section: XTREME's task scores, category averages and XTREME score, computed
exactly as its ``evaluate.py`` does (:mod:`xstilts.metrics.aggregate`), and published XLM-R large /
X-STILTs numbers beside them when the encoder is XLM-R large (:mod:`xstilts.published`).

One row per encoder × intermediate condition: the nine tasks come from different runs (one target
each; BUCC and Tatoeba from ``retrieval_eval`` on the encoder the intermediate phase left, which is
the condition their rows carry), seeds are averaged per language (their number is shown). Only test
rows count (XTREME scores test sets), bucket ``all``, and only evaluate.py's metrics.

A task's score is the mean over the languages evaluated; the coverage column says which are
missing. Category averages and the XTREME score (``all_task``) are shown only where evaluate.py
would show them: every task of the category (all nine for the XTREME score) in every XTREME
language. Anything less is labelled with what it covers and never called the XTREME score.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xstilts.analysis.tables import natural_order
from xstilts.metrics.aggregate import summarise_task, xtreme_scores
from xstilts.published import PUBLISHED, THREE_CATEGORIES, UNVERIFIED, Published, is_xlmr_large
from xstilts.report.data import ReportData
from xstilts.report.sections import Context, Note, Section, cond_label, key_order, p
from xstilts.report.tables import Table
from xstilts.tasks.catalog import XTREME_GROUPS, XTREME_LANGUAGES

SPLIT = "test"
PHASES = ("zero_shot_eval", "retrieval_eval")
# The metrics XTREME's evaluate.py computes (ours add e.g. token_accuracy, BUCC's threshold).
EVALUATE_METRICS = frozenset({"accuracy", "f1", "precision", "recall", "exact_match"})
GROUP_LABELS = {"classification": "sentence-pair classification", "tagging": "structured prediction",
                "qa": "question answering", "retrieval": "sentence retrieval"}
UNKNOWN_ENCODER = "unknown encoder"


@dataclass
class XtremeUnit:
    """One encoder × intermediate condition, seeds averaged."""

    encoder: str
    intermediate: tuple[str, ...]
    max_len: int | None
    seeds: list = field(default_factory=list)
    scores: dict = field(default_factory=dict)     # task → metric → language → mean over seeds
    detailed: dict = field(default_factory=dict)   # task → summarise_task over the languages present
    overall: dict = field(default_factory=dict)    # group / all_task → score, complete tasks only
    uneven_seeds: bool = False                     # seeds do not all cover the same tasks and languages

    @property
    def label(self) -> str:
        return cond_label((self.intermediate, self.max_len))

    def languages(self, task: str) -> list[str]:
        have = set().union(*(set(v) for v in self.scores[task].values()))
        return [lang for lang in XTREME_LANGUAGES[task] if lang in have]

    def complete(self, task: str) -> bool:
        return task in self.scores and all(
            set(XTREME_LANGUAGES[task]) <= set(by_lang) for by_lang in self.scores[task].values())

    @property
    def full(self) -> bool:
        return "all_task" in self.overall

    def coverage(self) -> str:
        """What the row covers, e.g. '3 of 9 tasks (no ...); xquad 5 of 11 languages'."""
        tasks = [t for t in XTREME_LANGUAGES if t in self.scores]
        missing = [t for t in XTREME_LANGUAGES if t not in self.scores]
        parts = [f"{len(tasks)} of {len(XTREME_LANGUAGES)} tasks" + (f" (no {', '.join(missing)})" if missing else "")]
        for t in tasks:
            if not self.complete(t):
                parts.append(f"{t} over {len(self.languages(t))} of {len(XTREME_LANGUAGES[t])} languages")
        if self.full:
            return "every task in every XTREME language"
        return "; ".join(parts)


def encoder_name(config: dict | None) -> str:
    """A run's encoder as its config names it: the pretrained phase's model (its last path part)."""
    phases = (config or {}).get("phases") or []
    first = phases[0] if phases and isinstance(phases[0], dict) else {}
    if first.get("from_scratch"):
        return "pretrained from scratch"
    model = first.get("model")
    if not model:
        return UNKNOWN_ENCODER
    name = Path(str(model).rstrip("/")).name or str(model)
    return name + (" (random init)" if first.get("random_init") else "")


def xtreme_units(data: ReportData) -> list[XtremeUnit]:
    """The XTREME rows of ``data``: test results of XTREME tasks, grouped by encoder and condition."""
    # key → seed → task → metric → language → values (several runs of one seed score one model: retrieval)
    raw: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list)))))
    encoders = {run_id: encoder_name(info.config) for run_id, info in data.runs.items()}
    for r in data.rows:
        task = r.get("task")
        if (r.get("phase") not in PHASES or task not in XTREME_LANGUAGES or r.get("split") != SPLIT
                or r.get("bucket", "all") != "all" or r.get("metric") not in EVALUATE_METRICS
                or r.get("language") not in XTREME_LANGUAGES[task]):
            continue
        inter = tuple(r.get("intermediate") or ())
        max_len = r.get("intermediate_max_len") if inter else None
        key = (encoders.get(r["run_id"], UNKNOWN_ENCODER), inter, None if max_len is None else int(max_len))
        raw[key][r.get("seed")][task][r["metric"]][r["language"]].append(float(r["value"]))
    units = []
    for (encoder, inter, max_len), by_seed in raw.items():
        unit = XtremeUnit(encoder, inter, max_len, sorted(by_seed, key=natural_order))
        pooled: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        shapes = set()
        for seed in unit.seeds:
            shapes.add(tuple(sorted((t, m, tuple(sorted(v)))
                                    for t, ms in by_seed[seed].items() for m, v in ms.items())))
            for task, metrics in by_seed[seed].items():
                for metric, by_lang in metrics.items():
                    for lang, values in by_lang.items():
                        pooled[task][metric][lang].append(float(np.mean(values)))
        unit.uneven_seeds = len(shapes) > 1
        for task in XTREME_LANGUAGES:  # evaluate.py's task and language order
            if task in pooled:
                unit.scores[task] = {m: {lang: float(np.mean(pooled[task][m][lang]))
                                         for lang in XTREME_LANGUAGES[task] if lang in pooled[task][m]}
                                     for m in sorted(pooled[task])}
        for task, scores in list(unit.scores.items()):
            if task in XTREME_GROUPS["qa"] and not {"exact_match", "f1"} <= set(scores):
                del unit.scores[task]  # evaluate.py scores QA as (EM + F1) / 2: one alone is no task score
                continue
            summary = summarise_task(task, scores)
            if "avg_metric" in summary:
                unit.detailed[task] = summary
        unit.overall, _ = xtreme_scores({t: s for t, s in unit.scores.items() if unit.complete(t)})
        units.append(unit)
    return sorted(units, key=lambda u: (u.encoder, key_order((u.intermediate, u.max_len))))


def comparable(unit: XtremeUnit, item: Published) -> float | None:
    """Our number on the published one's footing, or None where ours is partial (the published
    numbers average every language of the full test sets)."""
    if item.what in XTREME_LANGUAGES:
        if not unit.complete(item.what):
            return None
        return unit.detailed[item.what].get("avg_metric" if item.metric == "avg_metric" else f"avg_{item.metric}")
    if item.what in XTREME_GROUPS:
        return unit.overall.get(item.what)
    if item.what == THREE_CATEGORIES:
        groups = THREE_CATEGORIES.split("+")
        if all(g in unit.overall for g in groups):
            return float(np.mean([unit.overall[g] for g in groups]))
    return None


def xtreme_section(ctx: Context) -> Section:
    """The "XTREME score" section: a table of task scores, category averages and the XTREME score,
    and the published numbers when the encoder is XLM-R large."""
    sec = Section("xtreme", "XTREME score")
    units = xtreme_units(ctx.data)
    if not units:
        return sec.add(Note("No test-split results of XTREME tasks (zero_shot_eval of an XTREME target, or "
                            "retrieval_eval of bucc2018/tatoeba, on test): no XTREME scores."))
    sec.add(_scores_table(units))
    if not any(u.full for u in units):
        sec.add(Note("No row covers all nine XTREME tasks in every language: no XTREME score (every row is labelled "
                     "with what it covers; its task columns are means over the languages evaluated)."))
    if any(u.uneven_seeds for u in units):
        sec.add(Note("Some rows' seeds do not cover the same tasks and languages: each language is averaged over "
                     "the seeds that have it.", missing=False, warning=True))
    xlmr = [u for u in units if is_xlmr_large(u.encoder)]
    if xlmr:
        sec.add(_published_table(xlmr))
        gain = [x for x in PUBLISHED if x.what == "xtreme_gain"]
        for x in gain:
            sec.add(p(f"{x.source}: {x.note}: +{x.value:.1f} points."))
        sec.add(Note("The comparison needs XTREME's full test sets: the published numbers average every language "
                     "of every test set, so ours are left blank where a task (or category) is partial. "
                     + UNVERIFIED + ".", missing=False))
    else:
        sec.add(Note("Published XLM-R large and X-STILTs numbers are shown only for runs whose encoder is "
                     "xlm-roberta-large.", missing=False))
    return sec


def _scores_table(units: list[XtremeUnit]) -> Table:
    tasks = [t for t in XTREME_LANGUAGES if any(t in u.detailed for u in units)]
    groups = [g for g in XTREME_GROUPS if any(g in u.overall for u in units)]
    columns = (["encoder", "intermediate task @ max length", "seeds"] + tasks + [GROUP_LABELS[g] for g in groups]
               + ["XTREME score", "coverage"])
    rows, records = [], []
    for u in units:
        row = [u.encoder, u.label, len(u.seeds)]
        base = {"encoder": u.encoder, "intermediate": "+".join(u.intermediate) or "none",
                "intermediate_max_len": u.max_len, "n_seeds": len(u.seeds), "split": SPLIT}
        for t in tasks:
            value = u.detailed.get(t, {}).get("avg_metric")
            row.append(value)
            if value is not None:
                records.append(base | {"what": t, "value": value, "n_languages": len(u.languages(t)),
                                       "n_xtreme_languages": len(XTREME_LANGUAGES[t]), "complete": u.complete(t)})
        for g in groups:
            row.append(u.overall.get(g))
            if g in u.overall:
                records.append(base | {"what": g, "value": u.overall[g], "complete": True})
        row += [u.overall.get("all_task"), u.coverage()]
        records.append(base | {"what": "xtreme_score", "value": u.overall.get("all_task"), "complete": u.full,
                               "coverage": u.coverage()})
        rows.append(row)
    caption = ("XTREME, computed as its evaluate.py does on the test splits: per task the mean over its languages "
               "of (EM+F1)/2 for QA, F1 for tagging and BUCC, accuracy otherwise; a category average (XTREME "
               "leaderboard categories) only when each of its tasks has every XTREME language; the XTREME score "
               "(mean over the nine tasks) only when all nine do. A task column over fewer languages is a partial "
               "mean (see coverage), never the XTREME score. BUCC and Tatoeba: retrieval_eval on the encoder the "
               "intermediate phase left (no target training), as X-STILTs scores them. Seeds averaged per language.")
    return Table("xtreme_scores", "XTREME scores", caption, columns, rows, digits={2: 0}, records=records)


def _published_table(units: list[XtremeUnit]) -> Table:
    items = [x for x in PUBLISHED if x.what != "xtreme_gain"]
    columns = ["model", "task or category", "metric", "split", "published"] + [f"ours: {u.label}" for u in units]
    rows, records = [], []
    for x in items:
        what = GROUP_LABELS.get(x.what, "mean of 3 categories (no retrieval)" if x.what == THREE_CATEGORIES else x.what)
        ours = [comparable(u, x) for u in units]
        rows.append([x.model, what, "mean of XTREME task scores" if x.metric == "avg_metric" else x.metric, x.split,
                     x.value]
                    + ours)
        records.append({"model": x.model, "what": x.what, "metric": x.metric, "split": x.split, "published": x.value,
                        "source": x.source, "note": x.note}
                       | {f"ours: {u.encoder}: {u.label}": v for u, v in zip(units, ours)})
    sources = sorted({x.source for x in items})
    caption = ("Published numbers of XLM-R large and X-STILTs beside ours (encoder xlm-roberta-large), each as "
               "read in its source: " + "; ".join(sources) + ". QA in the README table is F1 alone, compared "
               "with our mean F1. Ours are blank where our task or category does not cover every XTREME language.")
    return Table("xtreme_published", "Published XTREME numbers", caption, columns, rows, records=records)


__all__ = ["XtremeUnit", "comparable", "encoder_name", "xtreme_section", "xtreme_units"]
