"""The report's sections: numbers from :mod:`xstilts.analysis` (and the run folder), arranged as
tables, figures, paragraphs and "what is missing" notes. No statistics are computed here beyond
plain means of already-computed main-metric values (over seeds, languages).
"""

from __future__ import annotations

import html
import json
import math
import platform
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from xstilts import __version__
from xstilts.analysis import (
    Answer, Condition, Interaction, Trend, answer_family, bootstrap_gains, condition_of, gain_trends, gains_table,
    holm, interaction_test, main_scores, xtreme_average,
)
from xstilts.analysis.bootstrap import bucket_sort_key
from xstilts.analysis.multiplicity import resamples_needed, smallest_bootstrap_p
from xstilts.analysis.tables import ALL, AVERAGE, natural_order
from xstilts.errors import XstiltsError
from xstilts.pipeline.results import git_sha
from xstilts.report import figures as F
from xstilts.report.data import ReportData, training_phases
from xstilts.report.tables import Table, column_best, fmt_ci

BASELINE_LABEL = "none (baseline)"
PRETRAINED_LABEL = "pretrained (no intermediate)"
METRIC_NOTE = "XTREME main metric: (EM+F1)/2 for QA, F1 for tagging, else accuracy"
MAX_HEATMAP_COLUMNS = 16
PLOT_BUCKETS = ("all", "quartile:1", "quartile:2", "quartile:3", "quartile:4", "long:multi_window")
FIXED_BUCKETS = ("all", "tokens:<=128", "tokens:129-256", "tokens:257-384", "tokens:>384", "long:multi_window")


# ---------------------------------------------------------------- blocks


@dataclass
class Html:
    """Markup that is already safe."""

    markup: str


@dataclass
class Note:
    text: str
    missing: bool = True   # listed in the overview's "not in this report"
    warning: bool = False  # something the reader must know to trust the numbers


@dataclass
class Details:
    summary: str
    blocks: list


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> "Section":
        self.blocks += blocks
        return self


def p(text: str, cls: str | None = None) -> Html:
    attr = f' class="{cls}"' if cls else ""
    return Html(f"<p{attr}>{html.escape(text)}</p>")


# ---------------------------------------------------------------- context


Key = tuple  # (intermediate tuple, max_len)


def cond_key(row) -> Key:
    c = condition_of(row)
    return (c.intermediate, c.intermediate_max_len)


def cond_label(key: Key) -> str:
    inter, max_len = key
    if not inter:
        return BASELINE_LABEL
    return f"{'+'.join(inter)} @ {max_len if max_len is not None else 'task default'}"


def key_order(key: Key) -> tuple:
    inter, max_len = key
    return (bool(inter), inter, -1 if max_len is None else max_len)


def target_of(row) -> str:
    return row.get("target") or row["task"]


def mean(values: Iterable[float]) -> float:
    return float(np.mean(list(values)))


@dataclass
class Context:
    data: ReportData
    figures_dir: Path
    n_resamples: int
    seed: int
    confidence: float = 0.95
    figures: list = field(default_factory=list)
    target_split: dict = field(default_factory=dict)
    primary_split: str | None = None
    targets: list = field(default_factory=list)
    keys: list = field(default_factory=list)           # intermediate conditions (no baseline), ordered
    gains: list = field(default_factory=list)          # gain rows on each target's split
    gains_source: str = ""
    gains_have_ci: bool = False
    gains_error: str | None = None
    retrieval_summary: list = field(default_factory=list)
    pretraining_summary: list = field(default_factory=list)

    def figure(self, fig, name: str, caption: str, alt: str) -> F.SavedFigure:
        saved = F.save_figure(fig, self.figures_dir, name, caption, alt)
        self.figures.append(saved)
        return saved

    @property
    def inter_sets(self) -> list[tuple[str, ...]]:
        return sorted({inter for inter, _ in self.keys})

    def split_note(self) -> str:
        splits = sorted(set(self.target_split.values()))
        if len(splits) == 1:
            return f"split {splits[0]}"
        return "split per target: " + ", ".join(f"{t} {s}" for t, s in sorted(self.target_split.items()))


def make_context(data: ReportData, figures_dir: Path, *, n_resamples: int, seed: int) -> Context:
    ctx = Context(data, figures_dir, n_resamples, seed)
    splits: dict[str, set] = defaultdict(set)
    for r in data.zero_shot:
        splits[target_of(r)].add(r["split"])
    for t, s in sorted(splits.items()):
        ctx.target_split[t] = "test" if "test" in s else "dev" if "dev" in s else sorted(s)[0]
    ctx.targets = sorted(ctx.target_split)
    chosen = set(ctx.target_split.values())
    ctx.primary_split = "test" if "test" in chosen else "dev" if "dev" in chosen else (min(chosen) if chosen else None)
    keys = {cond_key(r) for r in data.zero_shot}
    if data.table is not None:
        keys |= {(c.intermediate, c.intermediate_max_len) for c in data.table.conditions()}
    ctx.keys = sorted((k for k in keys if k[0]), key=key_order)
    _gains(ctx)
    return ctx


def _gains(ctx: Context) -> None:
    data = ctx.data
    rows: list[dict] = []
    if data.table is not None:
        try:
            rows = bootstrap_gains(data.table, n_resamples=ctx.n_resamples, seed=ctx.seed, confidence=ctx.confidence)
            ctx.gains_source = (f"example_scores.jsonl, {ctx.n_resamples} paired-bootstrap resamples "
                                f"({100 * ctx.confidence:g}% percentile CIs)")
            ctx.gains_have_ci = True
        except XstiltsError as err:
            ctx.gains_error = f"paired bootstrap failed ({err}); gains shown without intervals"
            rows = []
    if not rows and data.zero_shot:
        rows = gains_table(data.zero_shot_rows)
        if rows:
            ctx.gains_source = f"{data.zero_shot_source} (point estimates; no example scores for intervals)"
    ctx.gains = [r for r in rows if r["split"] == ctx.target_split.get(target_of(r))]


# ---------------------------------------------------------------- 1. main results


def _scores_by_condition(ctx: Context, bucket: str = ALL) -> dict[Key, dict[str, dict[str, list[float]]]]:
    """condition → target → language → main-metric values (one per seed) on the target's split."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in sorted(ctx.data.zero_shot, key=lambda r: natural_order(r.get("seed"))):
        t = target_of(r)
        if r["bucket"] == bucket and r["split"] == ctx.target_split.get(t) and r.get("language") != AVERAGE:
            out[cond_key(r)][t][r["language"]].append(r["value"])
    return out


def main_results(ctx: Context) -> Section:
    sec = Section("main-results", "Zero-shot results")
    scores = _scores_by_condition(ctx)
    if not scores:
        return sec.add(Note("No zero-shot evaluation rows (phase zero_shot_eval): no results table."))
    keys = sorted(scores, key=key_order)
    if not any(not k[0] for k in keys):
        sec.add(Note("No baseline run (a target trained without intermediate task): gains cannot be computed."))
    targets = ctx.targets
    multi_split = len(set(ctx.target_split.values())) > 1
    columns = ["intermediate task @ max length"] + [f"{t} ({ctx.target_split[t]})" if multi_split else t
                                                   for t in targets] + ["avg"]
    rows, records, seeds_seen = [], [], set()
    for key in keys:
        by_target = {t: {lang: mean(v) for lang, v in scores[key][t].items()} for t in targets if scores[key].get(t)}
        row = [cond_label(key)]
        for t in targets:
            row.append(xtreme_average({t: by_target[t]}) if t in by_target else None)
            if t in by_target:
                seeds_seen.add(max(len(v) for v in scores[key][t].values()))
                records.append({"intermediate": "+".join(key[0]) or "none", "intermediate_max_len": key[1],
                                "target": t, "split": ctx.target_split[t], "bucket": ALL,
                                "value": row[-1], "n_languages": len(by_target[t]),
                                "languages": sorted(by_target[t]),
                                "n_seeds": max(len(v) for v in scores[key][t].values())})
        complete = len(by_target) == len(targets)
        row.append(xtreme_average(by_target) if complete and by_target else None)
        if complete and by_target:
            records.append({"intermediate": "+".join(key[0]) or "none", "intermediate_max_len": key[1],
                            "target": AVERAGE, "split": "+".join(sorted(set(ctx.target_split.values()))),
                            "bucket": ALL, "value": row[-1], "n_languages": None, "languages": None,
                            "n_seeds": None})
        rows.append(row)
    n_seeds = sorted(seeds_seen)
    seeds_text = (f"{n_seeds[0]} seed(s)" if len(n_seeds) == 1 else f"{n_seeds[0]}–{n_seeds[-1]} seeds")
    caption = (f"Zero-shot cross-lingual transfer after English intermediate-task training, by intermediate "
               f"task and its max length ({METRIC_NOTE}). Each target: mean over its languages "
               f"and {seeds_text}; {ctx.split_note()}; all examples (bucket all). avg: XTREME average over "
               f"targets (every target weighs the same). Best per column in bold.")
    table = Table("main_results", "Main results", caption, columns, rows,
                  bold=column_best(rows, range(1, len(columns))), records=records,
                  group_rule_after={0} if keys and not keys[0][0] else set())
    sec.add(table)
    langs = _language_table(ctx, scores, keys)
    if langs is not None:
        sec.add(Details("Per-language scores", [langs]))
    if ctx.gains:
        sec.add(_gains_summary_table(ctx))
    return sec


def _language_table(ctx: Context, scores, keys) -> Table | None:
    units = sorted({(t, lang) for k in keys for t, by_lang in scores[k].items() for lang in by_lang})
    if len(units) < 2:
        return None
    columns = ["intermediate task @ max length"] + [f"{t}:{lang}" for t, lang in units]
    rows = []
    for key in keys:
        row = [cond_label(key)]
        for t, lang in units:
            values = scores[key].get(t, {}).get(lang)
            row.append(mean(values) if values else None)
        rows.append(row)
    caption = (f"Zero-shot scores per target and language ({METRIC_NOTE}; mean over seeds; {ctx.split_note()}; "
               f"bucket all).")
    return Table("main_results_by_language", "Per-language scores", caption, columns, rows,
                 bold=column_best(rows, range(1, len(columns))))


def _gains_summary_table(ctx: Context) -> Table:
    shown = with_holm([r for r in ctx.gains if r["language"] == AVERAGE and r["bucket"] == ALL])
    cells = {(cond_key(r), target_of(r)): r for r in shown}
    keys = sorted({k for k, _ in cells}, key=key_order)
    targets = sorted({t for _, t in cells})
    columns = ["intermediate task @ max length"] + targets
    rows, records = [], []
    for key in keys:
        row = [cond_label(key)]
        for t in targets:
            r = cells.get((key, t))
            row.append(None if r is None else fmt_ci(r["gain"], r.get("ci_low"), r.get("ci_high")))
            if r is not None:
                records.append({"intermediate": "+".join(key[0]), "intermediate_max_len": key[1], "target": t,
                                "split": r["split"], "value": r["value"], "baseline": r["baseline"],
                                "gain": r["gain"], "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
                                "p_value": r.get("p_value"), "p_holm": r.get("p_holm"),
                                "n": r.get("n"), "n_languages": r.get("n_languages"),
                                "seeds": r.get("seeds")})
        rows.append(row)
    ci = (f" [{100 * ctx.confidence:g}% paired-bootstrap CI over examples"
          f"{' and seeds' if any(len(r.get('seeds') or ()) > 1 for r in ctx.gains) else ''}]") if ctx.gains_have_ci else ""
    tested = sum("p_holm" in r for r in shown)
    ps = (f" The CSV adds each gain's two-sided bootstrap p-value and its Holm adjustment over the table's {tested} "
          f"cells (p_value, p_holm)." if tested else "")
    caption = (f"Gain over the no-intermediate baseline (main-metric points, mean over languages; condition − "
               f"baseline paired by seed){ci}; {ctx.split_note()}; bucket all. Source: {ctx.gains_source}.{ps}")
    return Table("gains", "Gains over the baseline", caption, columns, rows, records=records,
                 ci_columns=set(range(1, len(columns))))


# ---------------------------------------------------------------- 2. heatmaps


def heatmaps(ctx: Context) -> Section:
    sec = Section("gains", "Gains over the baseline")
    if not ctx.gains:
        why = ("no intermediate-task runs" if not ctx.keys else "no baseline run to compare with"
               if ctx.data.zero_shot else "no zero-shot results")
        return sec.add(Note(f"No gains to show: {why}."))
    if ctx.gains_error:
        sec.add(Note(ctx.gains_error))
    by_lang = [r for r in ctx.gains if r["bucket"] == ALL]
    drawn = {t: _drawn_languages(r["language"] for r in by_lang if target_of(r) == t)
             for t in {target_of(r) for r in by_lang}}
    by_lang = with_holm([r for r in by_lang if r["language"] in drawn[target_of(r)]])
    panels = []
    for t in sorted(drawn):
        rows_t = [r for r in by_lang if target_of(r) == t]
        keys = sorted({cond_key(r) for r in rows_t}, key=key_order)
        langs = drawn[t]
        parts = -(-len(langs) // MAX_HEATMAP_COLUMNS)
        size = -(-len(langs) // parts)  # balanced: 19 columns → 10 + 9, not 16 + 3
        chunks = [langs[i:i + size] for i in range(0, len(langs), size)]
        for k, chunk in enumerate(chunks):  # many languages (PAN-X has 40): several rows of panels
            part = f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else ""
            panels.append(_panel(f"{t} ({ctx.target_split[t]}): gain per language{part}", rows_t, keys, chunk,
                                 "language", 1.0 - ctx.confidence))
    fig = F.gain_heatmaps(panels, colorbar_label="gain over baseline (points)")
    caption = (f"Gain over the no-intermediate baseline per target language ({METRIC_NOTE}; points; mean over "
               f"seeds; all examples). Rows: intermediate task @ max length; avg: mean over languages. "
               f"Diverging scale centred at 0 (blue: better than the baseline, red: worse).{_star(ctx, by_lang)}")
    sec.add(ctx.figure(fig, "gain_heatmap_languages", caption,
                       "Heatmap of gains over the baseline, intermediate condition by target language"))

    by_bucket = [r for r in ctx.gains if r["language"] == AVERAGE]
    buckets = sorted({r["bucket"] for r in by_bucket}, key=bucket_sort_key)
    if len(buckets) < 2:
        return sec.add(Note("No length buckets besides 'all': no gain-by-bucket heatmap."))
    gain_of = {(cond_key(r), target_of(r), r["bucket"]): r["gain"] for r in by_bucket}
    alias = ""
    if {"quartile:4", "long:top_quartile"} <= set(buckets) and all(
            gain_of.get((k, t, "quartile:4")) == g for (k, t, b), g in gain_of.items() if b == "long:top_quartile"):
        by_bucket = [r for r in by_bucket if r["bucket"] != "long:top_quartile"]
        alias = " long:top_quartile (= quartile:4) not repeated."
    by_bucket = with_holm(by_bucket)
    panels = []
    for t in sorted({target_of(r) for r in by_bucket}):
        rows_t = [r for r in by_bucket if target_of(r) == t]
        keys = sorted({cond_key(r) for r in rows_t}, key=key_order)
        names = sorted({r["bucket"] for r in rows_t}, key=bucket_sort_key)
        panels.append(_panel(f"{t} ({ctx.target_split[t]}): gain per length bucket (mean over languages)",
                             rows_t, keys, names, "bucket", 1.0 - ctx.confidence))
    fig = F.gain_heatmaps(panels, colorbar_label="gain over baseline (points)")
    caption = (f"Gain over the no-intermediate baseline per length bucket (target tokens; "
               f"quartile:k = per-language length quartiles, long:multi_window = examples needing more than one "
               f"window at the target's max length), mean over languages.{_star(ctx, by_bucket)}{alias}")
    sec.add(ctx.figure(fig, "gain_heatmap_buckets", caption,
                       "Heatmap of gains over the baseline, intermediate condition by length bucket"))
    return sec


def _panel(title: str, rows: list[dict], keys: list[Key], columns: list[str], field_name: str,
           alpha: float) -> F.HeatmapPanel:
    """Gains of ``rows`` as a heatmap; cells whose Holm-adjusted p is below ``alpha`` get a star."""
    index = {(cond_key(r), r[field_name]): r for r in rows}
    values = np.full((len(keys), len(columns)), np.nan)
    marks = np.zeros_like(values, dtype=bool)
    for i, k in enumerate(keys):
        for j, c in enumerate(columns):
            r = index.get((k, c))
            if r is None:
                continue
            values[i, j] = r["gain"]
            marks[i, j] = r.get("p_holm", math.nan) < alpha
    return F.HeatmapPanel(title, [cond_label(k) for k in keys], list(columns), values, marks)


def _drawn_languages(languages: Iterable[str]) -> list[str]:
    """A target's heatmap columns: its languages, then their mean when there are several."""
    langs = sorted({lang for lang in languages if lang != AVERAGE})
    return langs + [AVERAGE] if len(langs) > 1 else langs


def with_holm(rows: list[dict]) -> list[dict]:
    """Copies of gain ``rows`` with ``p_holm``: Holm's adjustment of their ``p_value`` over all of
    them, the family one figure or table marks (rows without a p-value get none)."""
    ps = [math.nan if r.get("p_value") is None else r["p_value"] for r in rows]
    return [dict(r, p_holm=a) if math.isfinite(a) else dict(r) for r, a in zip(rows, holm(ps))]


def resolution_note(n_tests: int, n_resamples: int, alpha: float) -> str:
    """Why Holm over ``n_tests`` can call nothing with this many resamples ("" when it can)."""
    if n_tests == 0 or smallest_bootstrap_p(n_resamples) * n_tests < alpha:
        return ""
    what = (f"the test cannot reach p < {alpha:g}" if n_tests == 1 else
            f"none of the {n_tests} tests can pass Holm at {alpha:g}")
    return (f" With {n_resamples} resamples no p-value goes below {smallest_bootstrap_p(n_resamples):.2g}, so "
            f"{what}: rerun `xstilts report --resamples {resamples_needed(n_tests, alpha)}` (or more).")


def _star(ctx: Context, rows: list[dict]) -> str:
    if not ctx.gains_have_ci:
        return " No intervals (no example scores)."
    m = sum("p_holm" in r for r in rows)
    alpha = 1.0 - ctx.confidence
    return (f" *: Holm-adjusted p < {alpha:g} over the {m} cells of this figure (two-sided paired-bootstrap "
            f"p-value of each gain; an interval excluding 0 alone is not a call)."
            f"{resolution_note(m, ctx.n_resamples, alpha)}")


# ---------------------------------------------------------------- 3. trends


def plot_buckets(names: Sequence[str]) -> list[str]:
    have = set(names)
    for family in (PLOT_BUCKETS, FIXED_BUCKETS):
        chosen = [b for b in family if b in have]
        if len(chosen) >= 3:
            return chosen
    return sorted(have, key=bucket_sort_key)[:6]


def _max_lens(ctx: Context, inter, target) -> list[int]:
    return sorted({k[1] for k in _keys_of(ctx, target) if k[0] == inter and k[1] is not None})


def _keys_of(ctx: Context, target) -> set:
    if ctx.data.table is None:
        return set()
    return {(c.intermediate, c.intermediate_max_len) for c in ctx.data.table.conditions() if c.target == target}


def _trend_targets(ctx: Context, inter) -> list[str]:
    """Targets with at least two max lengths of ``inter`` (a trend needs two)."""
    return [t for t in ctx.targets if len(_max_lens(ctx, inter, t)) >= 2]


def _pooled(ctx: Context, inter) -> tuple[list[str], str | None]:
    """The targets pooled for ``inter`` and their split: those on the primary split (else on the
    split most of them share), since one analysis covers one split."""
    targets = _trend_targets(ctx, inter)
    splits = sorted({ctx.target_split[t] for t in targets},
                    key=lambda s: (s != ctx.primary_split, -sum(ctx.target_split[t] == s for t in targets), s))
    if not splits:
        return [], None
    return [t for t in targets if ctx.target_split[t] == splits[0]], splits[0]


def trends(ctx: Context) -> Section:
    sec = Section("trends", "Gain vs intermediate max length")
    if ctx.data.table is None:
        return sec.add(Note("No example_scores.jsonl: trends with confidence bands need per-example scores."))
    all_lens = sorted({k[1] for k in ctx.keys if k[1] is not None})
    if not ctx.keys:
        return sec.add(Note("No intermediate-task runs: no gain-vs-max-length trend."))
    if len(all_lens) < 2:
        return sec.add(Note(f"The intermediate max length does not vary (only {all_lens or 'none'}): "
                            "no gain-vs-max-length trend."))
    panels, trend_rows, per_row = [], [], 1
    for inter in ctx.inter_sets:
        name = "+".join(inter)
        specs = [([t], ctx.target_split[t], f"{name} → {t}") for t in ctx.targets if len(_max_lens(ctx, inter, t)) >= 2]
        pooled, split = _pooled(ctx, inter)
        if len(pooled) > 1:
            specs.append((pooled, split, f"{name} → all targets ({split})"))
        if not specs:
            sec.add(Note(f"{name}: fewer than two max lengths per target: no trend."))
            continue
        per_row = max(per_row, len(specs))
        for targets, split, title in specs:
            try:
                found = gain_trends(ctx.data.table, intermediate=inter, targets=targets, split=split,
                                    n_resamples=ctx.n_resamples, seed=ctx.seed, confidence=ctx.confidence)
            except XstiltsError as err:
                panels.append(F.TrendPanel(title, [1, 2], message=f"no trend: {err}"))
                continue
            by_bucket = {t.bucket: t for t in found}
            lines: list[F.TrendLine] = []
            for b in plot_buckets(list(by_bucket)):
                t = by_bucket[b]
                line = F.TrendLine(b, b, [g.value for g in t.gains], [g.low for g in t.gains],
                                   [g.high for g in t.gains])
                same = next((x for x in lines if (x.values, x.lows, x.highs) == (line.values, line.lows, line.highs)),
                            None)
                if same is not None:  # identical buckets here (e.g. every long example is multi-window)
                    same.label += f" = {b}"
                else:
                    lines.append(line)
            panels.append(F.TrendPanel(title, list(found[0].max_lens), lines))
            trend_rows += [(title, t) for t in sorted(found, key=lambda t: bucket_sort_key(t.bucket))]
    if not panels:
        return sec
    fig = F.trend_grid(panels, ylabel="gain over baseline (points)", columns=per_row if per_row <= 4 else 3)
    caption = (f"Gain over the no-intermediate baseline vs the intermediate max length (log2 axis), one line per "
               f"length bucket ({METRIC_NOTE}; mean over languages, and over targets in the 'all targets' "
               f"panels). Bands: {100 * ctx.confidence:g}% paired-bootstrap CIs ({ctx.n_resamples} resamples, max "
               f"lengths, buckets and the baseline resampled jointly). Dashed black: all examples.")
    sec.add(ctx.figure(fig, "gain_vs_max_len", caption, "Line plots of gain against intermediate max length per bucket"))
    if trend_rows:
        sec.add(Details(f"Slopes and gains per bucket ({len(trend_rows)} rows)", [_trend_table(ctx, trend_rows)]))
    return sec


def _trend_table(ctx: Context, trend_rows: list[tuple[str, Trend]]) -> Table:
    lens = sorted({L for _, t in trend_rows for L in t.max_lens})
    columns = ["intermediate → target", "bucket", "n", "slope / doubling [95% CI]"] + [f"gain @ {L}" for L in lens]
    rows, records, group_ends = [], [], set()
    for i, (title, t) in enumerate(trend_rows):
        gains = dict(zip(t.max_lens, t.gains))
        rows.append([title, t.bucket, t.n_examples, fmt_ci(t.slope.value, t.slope.low, t.slope.high)]
                    + [gains[L].value if L in gains else None for L in lens])
        records.append({"intermediate": "+".join(t.intermediate), "targets": list(t.targets), "split": t.split,
                        "bucket": t.bucket, "n_examples": t.n_examples, "slope": t.slope.value,
                        "slope_ci_low": t.slope.low, "slope_ci_high": t.slope.high,
                        **{f"gain_{L}{suffix}": getattr(gains[L], attr) if L in gains else None
                           for L in lens for suffix, attr in (("", "value"), ("_ci_low", "low"), ("_ci_high", "high"))},
                        "seeds": list(t.seeds)})
        if i + 1 < len(trend_rows) and trend_rows[i + 1][0] != title:
            group_ends.add(i)
    signed = set(range(4, 4 + len(lens)))
    caption = (f"Least-squares slope of the gain on log2(max length): points per doubling of the intermediate max "
               f"length, per length bucket, with {100 * ctx.confidence:g}% paired-bootstrap CIs; gains at each max "
               f"length (points). n: examples in the bucket over all units.")
    return Table("trends", "Trends per bucket", caption, columns, rows, digits={j: 2 for j in signed},
                 signed=signed, records=records, group_rule_after=group_ends)


# ---------------------------------------------------------------- 5. the answer


def answer(ctx: Context) -> Section:
    sec = Section("answer", "Answer")
    question = ("How does the maximum sequence length used when training on an English intermediate task change "
                "zero-shot cross-lingual transfer on the long-document parts of XTREME?")
    sec.add(Html(f'<p class="question">{html.escape(question)}</p>'))
    tested: list[tuple[str, Interaction]] = []
    if ctx.data.table is None:
        sec.add(Note("No example_scores.jsonl: the long-vs-short interaction test needs per-example scores."))
    elif not ctx.keys:
        sec.add(Note("No intermediate-task runs: nothing to compare with the baseline."))
    else:
        for inter in ctx.inter_sets:
            name = "+".join(inter)
            pooled, split = _pooled(ctx, inter)
            if not pooled:
                sec.add(Note(f"{name}: needs at least two intermediate max lengths (have "
                             f"{sorted({k[1] for k in ctx.keys if k[0] == inter}, key=str)})."))
                continue
            try:
                it = interaction_test(ctx.data.table, intermediate=inter, targets=pooled, split=split,
                                      n_resamples=ctx.n_resamples, seed=ctx.seed, confidence=ctx.confidence)
            except XstiltsError as err:
                sec.add(Note(f"{name}: no answer ({err})."))
                continue
            tested.append((name, it))
    # every test the paragraphs state is one family: each is decided on its Holm-adjusted p
    answers = [(name, a, it.dropped_units)
               for (name, it), a in zip(tested, answer_family([it for _, it in tested]))]
    for name, a, dropped in answers:
        cls = "answer significant" if a.significant else "answer"
        sec.add(Html(f'<p class="{cls}"><b>{html.escape(name)}.</b> '
                     f'<span class="summary">{html.escape(a.summary())}</span></p>'))
        extra = []
        if len(a.seeds) == 1:
            extra.append("Only one seed: the intervals reflect the sampling of test examples, not training "
                         "randomness.")
        if dropped:
            extra.append(f"Left out (without the baseline or every max length): {', '.join(dropped)}.")
        if min(a.n_long, a.n_short) < 100:
            extra.append(f"Small buckets (long n={a.n_long}, short n={a.n_short}): wide intervals.")
        if extra:
            sec.add(p(" ".join(extra), "caveat"))
    if answers:
        sec.add(p(_family_sentence(ctx, answers[0][1].n_tests)))
        rows = [F.SlopeRow(name, label, e.value, e.low, e.high, emphasis)
                for name, a, _ in answers
                for label, e, emphasis in ((f"long ({a.long_bucket})", a.slope_long, False),
                                           (f"short ({a.short_bucket})", a.slope_short, False),
                                           ("long − short", a.difference, True))]
        fig = F.slope_forest(rows, xlabel="change of the gain per doubling of the max length (points)")
        caption = (f"Slope of the gain over the baseline per doubling of the intermediate max length on long and "
                   f"short documents, and their difference (red), with {100 * ctx.confidence:g}% paired-bootstrap "
                   f"CIs ({ctx.n_resamples} resamples); pooled over targets on the "
                   f"{'/'.join(sorted({a.split for _, a, _ in answers}))} split. The intervals are not adjusted "
                   f"for the number of tests; the verdicts decide on Holm-adjusted p-values (table below).")
        sec.add(ctx.figure(fig, "answer_slopes", caption, "Slopes of the gain per doubling on long and short documents"))
        sec.add(_answer_table(ctx, answers))
    for line in ctx.retrieval_summary + ctx.pretraining_summary:
        sec.add(p(line))
    return sec


def _family_sentence(ctx: Context, n_tests: int) -> str:
    """How the answer's verdicts are decided, for the paragraph under them."""
    alpha = 1.0 - ctx.confidence
    if n_tests == 1:
        text = f"The answer makes one test: it is called significant when its two-sided bootstrap p is below {alpha:g}."
    else:
        text = (f"The answer makes {n_tests} tests (one per intermediate task set): each is called significant only "
                f"when its Holm-adjusted p is below {alpha:g}, which keeps the chance of calling any null effect at "
                f"most {alpha:g}.")
    return text + resolution_note(n_tests, ctx.n_resamples, alpha)


def _seeds_cell(a: Answer) -> str:
    if len(a.difference_by_seed) < 2:
        return str(len(a.seeds))
    return f"{len(a.seeds)}: {min(a.difference_by_seed):+.2f} to {max(a.difference_by_seed):+.2f}"


def _answer_table(ctx: Context, answers: list[tuple[str, Answer, tuple]]) -> Table:
    """The answer's tests (one family) and, after each, its per-target tests (a second family)."""
    per_target: list[tuple[int, str, Interaction]] = []  # (index of the answer, target, test)
    for k, (name, a, _) in enumerate(answers):
        for t in _trend_targets(ctx, a.intermediate):
            if a.targets == (t,):
                continue  # the answer's own test
            try:
                it = interaction_test(ctx.data.table, intermediate=a.intermediate, targets=[t],
                                      split=ctx.target_split[t], n_resamples=ctx.n_resamples, seed=ctx.seed,
                                      confidence=ctx.confidence)
            except XstiltsError:
                continue
            per_target.append((k, t, it))
    breakdown = answer_family([it for _, _, it in per_target])
    shown = []
    for k, (name, a, _) in enumerate(answers):
        shown.append((name, "pooled" if len(a.targets) > 1 else a.targets[0], a, "answer"))
        shown += [(name, t, b, "per target") for (j, t, _), b in zip(per_target, breakdown) if j == k]
    columns = ["intermediate", "target", "long bucket", "n", "slope long", "short bucket", "n", "slope short",
               "long − short [95% CI]", "p", "p (Holm)", "sig.", "seeds"]
    rows, records, ends = [], [], set()
    for i, (name, targets, a, family) in enumerate(shown):
        rows.append([name, targets, a.long_bucket, a.n_long, fmt_ci(a.slope_long.value, a.slope_long.low,
                     a.slope_long.high), a.short_bucket, a.n_short,
                     fmt_ci(a.slope_short.value, a.slope_short.low, a.slope_short.high),
                     fmt_ci(a.difference.value, a.difference.low, a.difference.high), f"{a.p_value:.3g}",
                     f"{a.p_holm:.3g}", "yes" if a.significant else "no", _seeds_cell(a)])
        spread = a.difference_by_seed
        records.append({"intermediate": name, "targets": list(a.targets), "split": a.split,
                        "max_lens": list(a.max_lens), "long_bucket": a.long_bucket, "n_long": a.n_long,
                        "slope_long": a.slope_long.value, "slope_long_ci_low": a.slope_long.low,
                        "slope_long_ci_high": a.slope_long.high, "short_bucket": a.short_bucket, "n_short": a.n_short,
                        "slope_short": a.slope_short.value, "slope_short_ci_low": a.slope_short.low,
                        "slope_short_ci_high": a.slope_short.high, "difference": a.difference.value,
                        "difference_ci_low": a.difference.low, "difference_ci_high": a.difference.high,
                        "p_value": a.p_value, "p_holm": a.p_holm, "holm_family": family, "n_tests": a.n_tests,
                        "significant": a.significant, "verdict": a.verdict, "seeds": list(a.seeds),
                        "difference_by_seed": list(spread),
                        "difference_seed_sd": float(np.std(spread, ddof=1)) if len(spread) > 1 else None,
                        "n_resamples": a.n_resamples, "seed_design": a.seed_design})
        if i + 1 < len(shown) and shown[i + 1][0] != name:
            ends.add(i)
    alpha = 1.0 - ctx.confidence
    n = answers[0][1].n_tests
    families = f"the answer's {n} {'test' if n == 1 else 'tests'} (the rows it states)"
    if breakdown:
        families += f" and, as a family of their own, the {breakdown[0].n_tests} per-target tests"
    caption = (f"Long- vs short-document slopes of the gain per doubling of the intermediate max length (points), "
               f"their difference with its {100 * ctx.confidence:g}% paired-bootstrap CI (not adjusted) and "
               f"two-sided bootstrap p-value ({ctx.n_resamples} resamples), pooled over the targets on the "
               f"{'/'.join(sorted({a.split for _, _, a, _ in shown}))} split and per target; n: examples in the "
               f"bucket. p (Holm): p adjusted by Holm's method over {families}. sig.: p (Holm) < {alpha:g} ('no': "
               f"no significant effect). seeds: how many, and the range of the per-seed differences.")
    if breakdown:  # the answer's own family has its note under the paragraphs
        caption += resolution_note(breakdown[0].n_tests, ctx.n_resamples, alpha)
    for j, what in ((5, "short"), (2, "long")):  # a bucket every row shares goes into the caption
        names = {r[j] for r in rows}
        if len(names) == 1:
            caption += f" {what.capitalize()} bucket: {names.pop()}."
            columns[j + 1] = f"n {what}"
            del columns[j]
            for r in rows:
                del r[j]
    ci = {j for j, c in enumerate(columns) if c.startswith(("slope", "long − short"))}
    return Table("answer", "Interaction test", caption, columns, rows, records=records, group_rule_after=ends,
                 ci_columns=ci)


# ---------------------------------------------------------------- 4. buckets and truncation


def buckets(ctx: Context) -> Section:
    sec = Section("buckets", "Length buckets and intermediate truncation")
    sizes: dict[tuple, dict[str, int]] = defaultdict(dict)
    for r in ctx.data.zero_shot:
        t = target_of(r)
        if r["split"] != ctx.target_split.get(t) or r.get("n") is None:
            continue
        unit = (t, r["language"])
        sizes[unit][r["bucket"]] = max(int(r["n"]), sizes[unit].get(r["bucket"], 0))
    if not sizes:
        sec.add(Note("No zero-shot rows: no bucket sizes."))
    else:
        names = sorted({b for s in sizes.values() for b in s}, key=bucket_sort_key)
        alias = ""
        if "long:top_quartile" in names and all(s.get("long:top_quartile") == s.get("quartile:4") for s in sizes.values()):
            names.remove("long:top_quartile")
            alias = " long:top_quartile (= quartile:4) not repeated."
        units = sorted(sizes)
        rows = [[f"{t} / {lang}"] + [sizes[(t, lang)].get(b) for b in names] for t, lang in units]
        caption = (f"Examples per length bucket and language ({ctx.split_note()}), from the n of the zero-shot "
                   f"rows; lengths in the target model's tokens. quartile:k = per-language length quartiles; "
                   f"long:multi_window = examples needing more than one window at the target's max length.{alias}")
        sec.add(Table("bucket_sizes", "Bucket sizes", caption, ["target / language"] + names, rows))
        if len(names) > 1:
            panel = F.HeatmapPanel("examples per bucket", [r[0] for r in rows], names,
                                   np.array([[np.nan if v is None else v for v in r[1:]] for r in rows], dtype=float))
            fig = F.count_heatmap(panel, colorbar_label="examples")
            sec.add(ctx.figure(fig, "bucket_sizes", f"Bucket sizes per target language ({ctx.split_note()}).",
                               "Heatmap of the number of examples per bucket and language"))
        else:
            sec.add(Note("No length buckets besides 'all' in the zero-shot rows."))
    sec.add(_truncation_table(ctx))
    return sec


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out |= _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, (list, tuple)):
        return {prefix or "value": json.dumps(value)}
    return {prefix or "value": value}


STAT_NAMES = {"tokens_seen": "tokens seen", "per_device_train_batch_size": "batch / device",
              "compute_policy": "policy", "examples": "examples", "windows_per_example": "windows / example",
              "share_truncated": "share truncated", "answers_lost": "answers lost"}


def _truncation_rows(truncation) -> list[tuple[str, dict]]:
    """(task, {statistic: value}) rows from a done.json ``truncation``: phase-level values
    (tokens seen, batch size, policy) repeated on every task of its ``tasks`` mapping."""
    if not isinstance(truncation, dict):
        return [("", {"value": truncation})]
    per_task = truncation.get("tasks") if isinstance(truncation.get("tasks"), dict) else None
    phase_level = _flatten({k: v for k, v in truncation.items() if per_task is None or k != "tasks"})
    if not per_task:
        return [("", phase_level)]
    return [(str(task), {**phase_level, **_flatten(stats)}) for task, stats in sorted(per_task.items())]


def phase_policy(spec: dict, done: dict | None) -> str | None:
    trunc = (done or {}).get("truncation")
    return spec.get("compute_policy") or (trunc.get("compute_policy") if isinstance(trunc, dict) else None)


def _truncation_table(ctx: Context) -> Table | Note:
    phases = {loc: ps for loc, ps in training_phases(ctx.data).items() if ps[0].kind == "intermediate"}
    if not phases:
        return Note("No intermediate training phases in runs/: no truncation statistics.")
    entries = []
    for loc, ps in phases.items():
        first = ps[0]
        run = ctx.data.runs.get(first.run_id)
        tasks = "+".join(first.spec.get("tasks") or []) or "?"
        max_len = first.spec.get("max_length")
        if max_len is None and run is not None and run.condition is not None:
            max_len = run.condition.intermediate_max_len
        seed = run.seed if run is not None else None
        done = first.done or {}
        policy = phase_policy(first.spec, first.done)
        trunc = done.get("truncation")
        stats = _truncation_rows(trunc) if trunc is not None else [("", None)]
        for task, values in stats:
            if values is not None:
                values = {k: v for k, v in values.items() if k != "compute_policy"}
            order = (tasks, max_len if max_len is not None else -1, policy or "", natural_order(seed), task)
            entries.append((order, tasks, max_len, policy, seed, task, done.get("steps"), done.get("wall_seconds"),
                            values))
    entries.sort(key=lambda e: e[0])
    stat_names = list(dict.fromkeys(k for e in entries if e[8] for k in e[8]))
    recorded = any(e[8] is not None for e in entries)
    show_policy = any(e[3] for e in entries)
    columns = (["intermediate", "max length"] + (["policy"] if show_policy else []) + ["seed", "task", "steps",
               "wall s"] + ([STAT_NAMES.get(k, k.replace("_", " ")) for k in stat_names] or ["truncation"]))
    rows, records = [], []
    for _, tasks, max_len, policy, seed, task, steps, wall, values in entries:
        stats = ([values.get(k) for k in stat_names] if values is not None else
                 ["not recorded"] * max(1, len(stat_names)))
        rows.append([tasks, max_len] + ([policy] if show_policy else []) + [seed, task or "–", steps, wall] + stats)
        records.append({"intermediate": tasks, "max_length": max_len, "compute_policy": policy, "seed": seed,
                        "task": task, "steps": steps, "wall_seconds": wall, "truncation_recorded": values is not None,
                        **({k: values.get(k) for k in stat_names} if values is not None else {})})
    caption = ("Intermediate training phases: steps, wall-clock seconds and the truncation statistics the runner "
               "recorded in done.json (tokens seen, share of training examples truncated, i.e. needing more than "
               "one window, windows per example, QA answers lost to truncation)" +
               ("." if recorded else "; not recorded by the runner that produced these runs."))
    first_stat = len(columns) - max(1, len(stat_names))
    digits = {j: "auto" for j in range(first_stat, len(columns))}
    digits[first_stat - 1] = 1
    return Table("intermediate_truncation", "Intermediate truncation", caption, columns, rows, digits=digits,
                 records=records)


# ---------------------------------------------------------------- retrieval


def _metric_names(rows: Iterable[dict], phase: str) -> dict[str, str]:
    have: dict[str, set] = defaultdict(set)
    for r in rows:
        if r.get("phase") == phase:
            have[r["task"]].add(r["metric"])
    out = {}
    for task, metrics in have.items():
        out[task] = ("(EM+F1)/2" if {"exact_match", "f1"} <= metrics else "F1" if "f1" in metrics
                     else "accuracy" if "accuracy" in metrics else "exact" if "exact" in metrics else "?")
    return out


def _retrieval_rows(data: ReportData) -> list[dict]:
    """Retrieval rows with the model they scored in the run id: one run scores the pretrained encoder
    and, after intermediate training, the new one under the same results key (run, phase, task,
    language, split, bucket, metric), so ``latest_rows`` keeps only the later; the raw file has both."""
    out = []
    for r in data.raw_rows:
        if r.get("phase") == "retrieval_eval":
            c = condition_of(r)
            model = f"{'+'.join(c.intermediate)}@{c.intermediate_max_len}>{c.target}"
            out.append(dict(r, run_id=f"{r['run_id']}|{model}"))
    return out


def retrieval(ctx: Context) -> Section:
    sec = Section("retrieval", "Retrieval (BUCC, Tatoeba)")
    scores = main_scores(_retrieval_rows(ctx.data), phase="retrieval_eval")
    if not scores:
        return sec.add(Note("No retrieval results (phase retrieval_eval): retrieval not evaluated."))
    metric = _metric_names(ctx.data.rows, "retrieval_eval")
    values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # cond → task → lang → seeds
    seen: set = set()
    for r in sorted(scores, key=lambda r: (natural_order(r.get("seed")), r["run_id"])):
        c = condition_of(r)
        key = (c.intermediate, c.intermediate_max_len, c.target)
        uid = (key, r["task"], r["language"], r["split"], r.get("seed"))
        if uid in seen:  # the same model evaluated by several runs (e.g. the shared pretrained encoder)
            continue
        seen.add(uid)
        values[key][r["task"]][r["language"]].append(r["value"])
    tasks = sorted({t for v in values.values() for t in v})
    pre_key = ((), None, None)
    pre = values.get(pre_key)
    keys = sorted(values, key=lambda k: (k != pre_key, k[2] or "", k[0], -1 if k[1] is None else k[1]))
    columns = ["model"]
    for t in tasks:
        columns += [f"{t} ({metric.get(t, '?')})", "Δ vs pretrained"]
    intervals, interval_error = _retrieval_intervals(ctx)
    rows, cells, records = [], [], []  # rows: numbers (for the summary); cells: Δ with its CI where known
    for key in keys:
        label = PRETRAINED_LABEL if key == pre_key else cond_label(key[:2]) + (f" → {key[2]}" if key[2] else "")
        row, cell = [label], [label]
        for t in tasks:
            by_lang = {lang: mean(v) for lang, v in values[key].get(t, {}).items()}
            value = xtreme_average({t: by_lang}) if by_lang else None
            delta = None
            if pre is not None and key != pre_key and by_lang:
                common = sorted(set(by_lang) & set(pre.get(t, {})))
                if common:
                    delta = mean(by_lang[lang] - mean(pre[t][lang]) for lang in common)
            ci = intervals.get((key, t)) if delta is not None else None
            row += [value, delta]
            cell += [value, delta if ci is None else fmt_ci(ci["gain"], ci["ci_low"], ci["ci_high"])]
            if value is not None:
                records.append({"model": label, "intermediate": "+".join(key[0]), "intermediate_max_len": key[1],
                                "target": key[2], "task": t, "metric": metric.get(t), "value": value,
                                "delta_vs_pretrained": delta, "ci_low": ci and ci["ci_low"],
                                "ci_high": ci and ci["ci_high"], "languages": sorted(by_lang)})
        rows.append(row)
        cells.append(cell)
    signed = {j for j in range(2, len(columns), 2)}
    ci_columns = {j for c in cells for j, v in enumerate(c) if isinstance(v, str) and j > 0}
    ci_note = (f" [{100 * ctx.confidence:g}% paired-bootstrap CI over the queries of example_scores.jsonl, "
               f"{ctx.n_resamples} resamples; BUCC's F1 over mined pairs has none]") if ci_columns else ""
    caption = ("Cross-lingual retrieval with the encoder before (pretrained) and after English intermediate "
               "training (BUCC: F1; Tatoeba: accuracy), mean over languages and seeds; Δ: difference from the "
               f"pretrained encoder on the same languages{ci_note}.")
    sec.add(Table("retrieval", "Retrieval", caption, columns, cells, signed=signed, records=records,
                  group_rule_after={0} if pre is not None else set(), ci_columns=ci_columns))
    if pre is None:
        sec.add(Note("No retrieval results of the pretrained encoder (before intermediate training): no Δ."))
    if interval_error:
        sec.add(Note(f"Paired bootstrap of the retrieval Δ failed ({interval_error}); Δ shown without intervals."))
    ctx.retrieval_summary = _retrieval_summary(rows, columns, tasks, pre is not None)
    _retrieval_figure(ctx, sec, values, tasks, metric, pre)
    return sec


def _retrieval_intervals(ctx: Context) -> tuple[dict[tuple, dict], str | None]:
    """(condition key, task) → the language-averaged Δ vs the pretrained encoder with its paired-bootstrap
    interval, for tasks with per-query example rows (Tatoeba; none without them); and why the bootstrap
    failed, if it did."""
    rows = [r for r in ctx.data.examples if r.get("phase") == "retrieval_eval"]
    if not rows:
        return {}, None
    try:
        gains = bootstrap_gains(rows, phase="retrieval_eval", buckets=[ALL], n_resamples=ctx.n_resamples,
                                seed=ctx.seed, confidence=ctx.confidence)
    except XstiltsError as err:
        return {}, str(err)
    return {((tuple(g["intermediate"]), g["intermediate_max_len"], g["target"]), g["task"]): g
            for g in gains if g["language"] == AVERAGE}, None


def _retrieval_summary(rows, columns, tasks, have_pre: bool) -> list[str]:
    if not have_pre or len(rows) < 2:
        return []
    parts = []
    for k, t in enumerate(tasks):
        j = 1 + 2 * k
        changes = [(r[j + 1], r[0]) for r in rows[1:] if r[j + 1] is not None]
        if rows[0][j] is None or not changes:
            continue
        lo, hi = min(changes), max(changes)
        span = (f"{lo[0]:+.1f} ({lo[1]})" if lo == hi else f"from {lo[0]:+.1f} ({lo[1]}) to {hi[0]:+.1f} ({hi[1]})")
        parts.append(f"{columns[j]}: pretrained {rows[0][j]:.1f}, change after intermediate training {span}")
    return ["Retrieval — " + "; ".join(parts) + "."] if parts else []


def _retrieval_figure(ctx: Context, sec: Section, values, tasks, metric, pre) -> None:
    panels, refs = [], []
    for t in tasks:
        lines = []
        series: dict[tuple, dict[int, float]] = defaultdict(dict)
        for (inter, max_len, target), by_task in values.items():
            if inter and max_len is not None and target is None and by_task.get(t):
                series[inter][max_len] = mean(mean(v) for v in by_task[t].values())
        lens = sorted({L for s in series.values() for L in s})
        if len(lens) < 2:
            continue
        for inter, pts in sorted(series.items()):
            lines.append(F.TrendLine("+".join(inter), "+".join(inter), [pts.get(L, np.nan) for L in lens]))
        panels.append(F.TrendPanel(f"{t} ({metric.get(t, '?')})", lens, lines))
        refs.append(mean(mean(v) for v in pre[t].values()) if pre is not None and pre.get(t) else None)
    if not panels:
        return
    fig = F.value_lines(panels, ylabel="score (mean over languages)", reference=refs,
                        reference_label="pretrained (no intermediate)")
    sec.add(ctx.figure(fig, "retrieval_vs_max_len",
                       "Retrieval after intermediate training vs the intermediate max length (log2 axis), mean over "
                       "languages and seeds; dashed: the pretrained encoder.",
                       "Retrieval scores against intermediate max length"))


# ---------------------------------------------------------------- pretraining, English dev, training


def pretraining(ctx: Context) -> Section:
    sec = Section("training", "Pretraining, English dev results and training phases")
    pre_rows = [r for r in ctx.data.rows if r.get("phase") == "pretrained"]
    if not pre_rows:
        sec.add(Note("No pretraining results (phase pretrained): the encoder was not pretrained here, or no MLM "
                     "dev loss was recorded.", missing=False))
    else:
        done_by_run = {}
        for loc, ps in training_phases(ctx.data).items():
            for ph in ps:
                if ph.kind == "pretrained":
                    done_by_run[ph.run_id] = ph.done or {}
        groups: dict[tuple, dict] = defaultdict(dict)
        for r in pre_rows:
            groups[(r["task"], r["language"], natural_order(r.get("seed")), r["run_id"])][r["metric"]] = r
        rows, ppls = [], []
        for (task, language, _, run_id), metrics in sorted(groups.items()):
            any_row = next(iter(metrics.values()))
            loss = metrics.get("loss", {}).get("value")
            ppl = metrics.get("perplexity", {}).get("value")
            if ppl is None and loss is not None:
                ppl = math.exp(loss) if loss < 700 else float("inf")
            done = done_by_run.get(run_id, {})
            rows.append([task, language, any_row.get("seed"), any_row.get("n"), loss, ppl, done.get("steps"),
                         done.get("vocab_size"), done.get("wall_seconds")])
            if ppl is not None:
                ppls.append((any_row.get("seed"), ppl))
        sec.add(Table("pretraining", "Pretraining", "Masked-language-model pretraining from scratch: dev loss and "
                      "perplexity (exp of the loss), steps, vocabulary size and wall-clock seconds.",
                      ["corpus", "languages", "run seed", "n", "dev loss", "dev perplexity", "steps", "vocab",
                       "wall s"],
                      rows, digits={4: 3, 5: 2}))
        if ppls:
            ctx.pretraining_summary = ["Pretraining — MLM dev perplexity " + ", ".join(
                f"{v:.2f} (seed {s})" for s, v in ppls) + "."]
    sec.add(*_english_dev(ctx))
    sec.add(_training_table(ctx))
    return sec


def _english_dev(ctx: Context) -> list:
    raw_len, raw_lang = {}, {}
    for r in ctx.data.rows:
        if r.get("phase") == "intermediate":
            raw_len[r["run_id"]] = r.get("intermediate_max_len")
            raw_lang[r["run_id"]] = r.get("source_language")  # None: English
    cells: dict[tuple, list[float]] = defaultdict(list)
    for phase in ("intermediate", "target"):
        for r in sorted(main_scores(ctx.data.rows, phase=phase), key=lambda r: natural_order(r.get("seed"))):
            if phase == "intermediate":
                trained_in = f"[{raw_lang[r['run_id']]}]" if raw_lang.get(r["run_id"]) else ""  # not English
                label = f"{r['task']}{trained_in} @ {raw_len.get(r['run_id'], 'task default')}"
                order = (0, r["task"], raw_len.get(r["run_id"]) or -1)
            else:
                key = cond_key(r)
                label = f"{cond_label(key)} → {r['task']}"
                order = (1, r["task"], key_order(key))
            cells[(order, phase, label, r["task"], r["split"], r["language"])].append(r["value"])
    if not cells:
        return [Note("No English dev results of the intermediate or target phases.", missing=False)]
    rows = [[phase, label, task, f"{language}/{split}", mean(v), len(v)]
            for (_, phase, label, task, split, language), v in sorted(cells.items(), key=lambda kv: kv[0])]
    return [Details("English dev results of the training phases", [Table(
        "english_dev", "English dev", f"English dev results of the intermediate and target training phases "
        f"(selected checkpoint; {METRIC_NOTE}; mean over seeds).",
        ["phase", "model", "task", "language/split", "score", "seeds"], rows)])]


def _training_table(ctx: Context):
    phases = training_phases(ctx.data)
    if not phases:
        return Note("No training phases found under runs/ (no phase pointers or config).", missing=False)
    rows = []
    for loc, ps in phases.items():
        first = ps[0]
        run = ctx.data.runs.get(first.run_id)
        spec = first.spec
        what = ("+".join(spec.get("tasks") or []) or spec.get("task") or spec.get("model")
                or (spec.get("from_scratch") or {}).get("corpus_task") or "?")
        if spec.get("source_language"):  # trained in other languages than English: udpos[de]
            langs = spec["source_language"]
            what += f"[{langs if isinstance(langs, str) else '+'.join(langs)}]"
        max_len = spec.get("max_length")
        if first.kind == "intermediate" and max_len is None and run is not None and run.condition is not None:
            max_len = run.condition.intermediate_max_len
        done = first.done
        rows.append([first.kind, str(what), max_len, run.seed if run else None,
                     None if done is None else done.get("steps"), None if done is None else done.get("best_step"),
                     None if done is None else done.get("wall_seconds"), len({p.run_id for p in ps}),
                     loc if done is not None else f"{loc} (not finished)"])
    order = {"pretrained": 0, "intermediate": 1, "target": 2}
    rows.sort(key=lambda r: (order.get(r[0], 3), r[1], -1 if r[2] is None else r[2], natural_order(r[3])))
    return Details("Training phases", [Table(
        "training_phases", "Training phases", "Every training phase folder (shared between runs with the same "
        "training prefix): steps, best step, wall-clock seconds from its done.json, and how many runs use it.",
        ["phase", "tasks", "max length", "seed", "steps", "best step", "wall s", "runs", "folder"], rows)])


# ---------------------------------------------------------------- 6. reproducibility


def reproducibility(ctx: Context, *, date: str) -> Section:
    sec = Section("reproducibility", "Reproducibility")
    data = ctx.data
    versions = sorted({v for r in data.runs.values() for v in r.versions})
    shas = sorted({s for r in data.runs.values() for s in r.git_shas})
    seeds = sorted({r.seed for r in data.runs.values() if r.seed is not None}, key=natural_order)
    import matplotlib

    facts = [
        ("report generated", f"{date} by xstilts {__version__} (git {git_sha() or 'unknown'})"),
        ("run folder", str(data.out_dir.resolve())),
        ("runs", str(len(data.runs))),
        ("xstilts versions of the runs", ", ".join(versions) or "not recorded"),
        ("git commits of the runs", ", ".join(shas) or "not recorded"),
        ("seeds", ", ".join(map(str, seeds)) or "not recorded"),
        ("bootstrap", f"{ctx.n_resamples} resamples, seed {ctx.seed}, {100 * ctx.confidence:g}% percentile "
                      f"intervals, seeds crossed with examples"),
        ("software", f"Python {platform.python_version()}, numpy {np.__version__}, matplotlib {matplotlib.__version__}"),
    ]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    sec.add(Html(f'<dl class="facts">{items}</dl>'))
    rows = []
    for run_id, info in data.runs.items():
        cond = info.condition
        kinds = " → ".join(ph.kind for ph in info.phases) or "–"
        rows.append([run_id, (info.config_hash or "")[:12] or None, info.seed,
                     cond_label((cond.intermediate, cond.intermediate_max_len)) if cond else None,
                     (cond.target if cond else None), kinds, ", ".join(sorted(info.versions)) or None,
                     ", ".join(s[:10] for s in sorted(info.git_shas)) or None])
    if rows:
        sec.add(Details(f"All runs ({len(rows)})", [Table(
            "runs", "Runs", "Every run: id, config hash (first 12 hex digits), seed, intermediate condition, target, "
            "phases, xstilts version and git commit that produced its rows.",
            ["run id", "config hash", "seed", "intermediate", "target", "phases", "version", "git"], rows)]))
    if data.problems:
        sec.add(Note("Unreadable files (ignored): " + "; ".join(data.problems), missing=False, warning=True))
    return sec


def overlaps(ctx: Context) -> list[str]:
    """Runs that trained or selected on examples they were later scored on (``allow_overlap``)."""
    out = []
    for run_id, info in ctx.data.runs.items():
        for o in info.overlap:
            out.append(f"Train/test overlap in run {run_id} (allow_overlap: true): {o.get('trained')} and "
                       f"{o.get('evaluated')} share {o.get('count')} of {o.get('total')} evaluated examples "
                       f"(first ids: {', '.join(map(str, o.get('first_ids', [])))}); its {o.get('evaluated')} "
                       "scores are not zero-shot transfer alone.")
    return out


def collisions(ctx: Context) -> list[str]:
    """Runs the analysis cannot tell apart: same intermediate tasks, max length, target and seed
    (e.g. two compute policies). Their example scores collapse onto the later run's."""
    groups: dict[tuple, list] = defaultdict(list)
    for info in ctx.data.runs.values():
        if info.condition is not None and info.condition.target is not None:
            groups[(info.condition, str(info.seed))].append(info)
    out = []
    for (cond, seed), infos in sorted(groups.items(), key=lambda kv: (condition_order_key(kv[0][0]), kv[0][1])):
        if len(infos) < 2:
            continue
        policies = sorted({phase_policy(ph.spec, ph.done) or "?" for i in infos for ph in i.phases
                           if ph.kind == "intermediate"})
        encoders = sorted({_encoder(ph) for i in infos for ph in i.phases if ph.kind == "pretrained"})
        differ = "; ".join(([f"compute policies {', '.join(policies)}"] if len(policies) > 1 else []) +
                           ([f"pretrained encoders {', '.join(encoders)}"] if len(encoders) > 1 else []))
        differ = f" ({differ})" if differ else ""
        label = cond_label((cond.intermediate, cond.intermediate_max_len))
        out.append(f"{len(infos)} runs share intermediate condition {label}, target {cond.target} and seed {seed}{differ}: "
                   f"{', '.join(i.run_id for i in infos)}. The analysis keys runs by these fields only, so "
                   f"their scores are merged (the later run's example scores win); analyse them in separate "
                   f"folders to compare them.")
    return out


def _encoder(phase) -> str:
    """A pretrained phase's identity: its shared folder (trained from scratch) or the model it loads."""
    return phase.location or str(phase.spec.get("model") or json.dumps(phase.spec, sort_keys=True))


def condition_order_key(c: Condition) -> tuple:
    return (c.target or "", c.intermediate, -1 if c.intermediate_max_len is None else c.intermediate_max_len)


def overview(ctx: Context, missing: Sequence[str]) -> Section:
    sec = Section("overview", "Overview")
    data = ctx.data
    langs = sorted({r["language"] for r in data.zero_shot if r["language"] != AVERAGE})
    buckets_seen = sorted({r["bucket"] for r in data.zero_shot}, key=bucket_sort_key)
    lens = sorted({k[1] for k in ctx.keys if k[1] is not None})
    seeds = sorted({r.seed for r in data.runs.values() if r.seed is not None}, key=natural_order)
    facts = [
        ("targets", ", ".join(f"{t} ({s})" for t, s in sorted(ctx.target_split.items())) or "none"),
        ("intermediate tasks", ", ".join("+".join(i) for i in ctx.inter_sets) or "none"),
        ("intermediate max lengths", ", ".join(map(str, lens)) or "none"),
        ("languages", f"{len(langs)}: {', '.join(langs)}" if langs else "none"),
        ("length buckets", ", ".join(buckets_seen) or "none"),
        ("seeds", ", ".join(map(str, seeds)) or "none"),
        ("runs", str(len(data.runs))),
        ("zero-shot scores from", data.zero_shot_source if data.zero_shot else "nowhere (no zero-shot rows)"),
        ("confidence intervals from", ctx.gains_source or "none"),
    ]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    sec.add(Html(f'<dl class="facts">{items}</dl>'))
    for text in collisions(ctx):
        sec.add(Note(text, missing=False, warning=True))
    for text in overlaps(ctx):
        sec.add(Note(text, missing=False, warning=True))
    if missing:
        lis = "".join(f"<li>{html.escape(m)}</li>" for m in missing)
        sec.add(Html(f'<div class="missing"><b>Not in this report</b><ul>{lis}</ul></div>'))
    return sec
