"""The report's "retrieval by layer and pooling" section: the retrieval sweep (``retrieval_eval``
with ``sweep: true``, rows of phase ``retrieval_sweep``) as one layer × pooling table per task,
averaged over languages, per model (the pretrained encoder, and after each intermediate
condition), with the per-language tables folded away. The row of the setting the main retrieval
table uses (the phase's ``done.json``) is marked, so a reader sees how far the chosen layer and
pooling lie from the best.

Reads only the sweep rows; the main retrieval rows (phase ``retrieval_eval``) keep their meaning.
"""

from __future__ import annotations

from collections import defaultdict

from xstilts.analysis import condition_of
from xstilts.analysis.tables import natural_order
from xstilts.metrics.aggregate import main_metric_value
from xstilts.pipeline.results import row_key
from xstilts.report.sections import PRETRAINED_LABEL, Context, Details, Note, Section, cond_label, mean, p
from xstilts.report.tables import Table, column_best

SWEEP_PHASE = "retrieval_sweep"  # xstilts.pipeline.phases.retrieval_eval.SWEEP_PHASE (not imported: no torch here)
POOLINGS = ("mean", "cls")
PRE_KEY = ((), None, None)


def _model_key(row) -> tuple:
    c = condition_of(row)
    return (c.intermediate, c.intermediate_max_len, c.target)


def _label(key: tuple) -> str:
    return PRETRAINED_LABEL if key == PRE_KEY else cond_label(key[:2]) + (f" → {key[2]}" if key[2] else "")


def _order(key: tuple) -> tuple:
    return (key != PRE_KEY, key[2] or "", key[0], -1 if key[1] is None else key[1])


def sweep_values(rows) -> tuple[dict, dict]:
    """``{(model, task): {(layer, pooling): {language: value}}}`` (main metric, mean over seeds; the
    same model scored by several runs counts once) and ``{task: the settings rows carry}``."""
    latest = {}
    for r in rows:
        if r.get("phase") == SWEEP_PHASE:
            latest[row_key(r)] = r
    metrics: dict = defaultdict(dict)  # (run, model, task, lang, split, layer, pooling) → {metric: value}
    first: dict = {}
    for r in latest.values():
        k = (r["run_id"], _model_key(r), r["task"], r["language"], r["split"], r.get("layer"), r.get("pooling"))
        metrics[k][r["metric"]] = r["value"]
        first.setdefault(k, r)
    seen: set = set()
    per_seed: dict = defaultdict(list)
    settings: dict = defaultdict(set)
    for k in sorted(metrics, key=lambda k: (natural_order(first[k].get("seed")), k[0])):
        _, model, task, lang, split, layer, pooling = k
        uid = (model, task, lang, split, layer, pooling, first[k].get("seed"))
        try:
            value = float(main_metric_value(metrics[k]))
        except KeyError:
            continue
        if uid in seen:  # the same model scored by several runs (e.g. the shared pretrained encoder)
            continue
        seen.add(uid)
        per_seed[(model, task, layer, pooling, lang)].append(value)
        r = first[k]
        settings[task].add((r.get("max_length"), r.get("source_prefix") or "", r.get("target_prefix") or ""))
    values: dict = defaultdict(lambda: defaultdict(dict))
    for (model, task, layer, pooling, lang), v in per_seed.items():
        values[(model, task)][(layer, pooling)][lang] = mean(v)
    return values, settings


def _defaults(ctx: Context) -> dict:
    """``{task: {(layer, pooling), ...}}``: the settings the main retrieval rows were scored at."""
    out: dict = defaultdict(set)
    for info in ctx.data.runs.values():
        for phase in info.phases:
            if phase.kind == "retrieval_eval" and phase.done:
                for task, s in (phase.done.get("settings") or {}).items():
                    if isinstance(s, dict) and "layer" in s and "pooling" in s:
                        out[task].add((s["layer"], s["pooling"]))
    return out


def _describe(settings: set) -> str:
    parts = []
    for max_length, src, trg in sorted(settings, key=str):
        prefix = ("no text prefix" if not src and not trg
                  else f"prefixes source {src!r}, target {trg!r}")
        parts.append(f"max length {max_length}, {prefix}")
    return "; ".join(parts)


def retrieval_sweep(ctx: Context) -> Section:
    sec = Section("retrieval-sweep", "Retrieval by layer and pooling")
    values, settings = sweep_values(ctx.data.raw_rows)
    if not values:
        return sec.add(Note("No retrieval sweep (a retrieval_eval phase with sweep: true): no layer × pooling table."))
    defaults = _defaults(ctx)
    tasks = sorted({task for _, task in values})
    for task in tasks:
        models = sorted((m for m, t in values if t == task), key=_order)
        layers = sorted({layer for m in models for layer, _ in values[(m, task)]})
        poolings = [q for q in POOLINGS if any(q == pool for m in models for _, pool in values[(m, task)])]
        metric = "F1" if any(r.get("task") == task and r.get("metric") == "f1" for r in ctx.data.raw_rows
                             if r.get("phase") == SWEEP_PHASE) else "accuracy"
        languages = {m: sorted({lang for cell in values[(m, task)].values() for lang in cell}) for m in models}
        marked = defaults.get(task, set())
        columns, cells, records = ["layer"], [], []
        for m in models:
            columns += [f"{_label(m)}: {q}" for q in poolings]
        for layer in layers:
            default = [q for layer_, q in sorted(marked) if layer_ == layer]
            label = f"{layer}" + (f" (default: {', '.join(default)})" if default else "")
            row = [label]
            for m in models:
                for q in poolings:
                    by_lang = values[(m, task)].get((layer, q), {})
                    # Averaged over the model's languages only when it has them all at this cell.
                    value = mean(by_lang.values()) if by_lang and sorted(by_lang) == languages[m] else None
                    row.append(value)
                    records.append({"task": task, "model": _label(m), "layer": layer, "pooling": q,
                                    "language": "avg", "metric": metric, "value": value,
                                    "default": (layer, q) in marked, "languages": " ".join(languages[m])})
                    records += [{"task": task, "model": _label(m), "layer": layer, "pooling": q, "language": lang,
                                 "metric": metric, "value": v, "default": (layer, q) in marked, "languages": lang}
                                for lang, v in sorted(by_lang.items())]
            cells.append(row)
        bold = column_best(cells, range(1, len(columns)))
        langs = sorted({lang for ls in languages.values() for lang in ls})
        caption = (f"{task} {metric} (%) by hidden layer (0 = embedding output) and pooling, mean over "
                   f"{len(langs)} language(s) ({', '.join(langs)}); best of each column in bold. "
                   f"Default: the layer and pooling of the main retrieval table"
                   + (f" ({', '.join(f'layer {l} {q}' for l, q in sorted(marked))})" if marked else " (not recorded)")
                   + f". {_describe(settings[task])}.")
        sec.add(Table(f"retrieval_sweep_{task}", f"{task}: layer × pooling", caption, columns, cells,
                      bold=bold, records=records))
        detail = []
        for m in models:
            lang_columns = ["layer"] + [f"{lang} {q}" for lang in languages[m] for q in poolings]
            lang_cells = [[str(layer)] + [values[(m, task)].get((layer, q), {}).get(lang)
                                          for lang in languages[m] for q in poolings] for layer in layers]
            detail.append(Table(f"retrieval_sweep_{task}_{_slug(_label(m))}", f"{task}, {_label(m)}: per language",
                                f"{task} {metric} (%) per language, layer × pooling, {_label(m)}.",
                                lang_columns, lang_cells, bold=column_best(lang_cells, range(1, len(lang_columns)))))
        sec.add(Details(f"{task}: per language", detail))
    sec.add(p("Each cell is the same retrieval as the main table, scored at another hidden layer or pooling from "
              "the same forward passes; XTREME's users found these choices moved Tatoeba and BUCC by tens of points, "
              "so read a before/after difference at the default next to its layer profile."))
    return sec


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text.lower())
    return "_".join(part for part in out.split("_") if part)
