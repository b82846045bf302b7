"""``retrieval_eval``: bitext retrieval with the bare encoder (no head, no training) — Tatoeba
(nearest neighbour, accuracy) and BUCC (margin mining, F1 at the best threshold) — at the point of
the run where the phase stands (e.g. before and after the intermediate task).

Reads the model's encoder and the retrieval tasks' sentence pairs; writes the predicted pairs
under ``OUT/runs/<run_id>/<i>-retrieval_eval``, results rows, and for Tatoeba one example-score
row per English query. The setting each task was scored at (layer, pooling, max length, the text
prefix of each side) goes to ``done.json`` under ``settings``.

With ``sweep: true`` the phase also scores every layer in ``sweep_layers`` (default: all, 0 =
embeddings … L) × ``sweep_poolings`` from the same forward passes, and appends those numbers as
rows of phase :data:`SWEEP_PHASE` carrying ``layer``, ``pooling``, ``max_length``,
``source_prefix`` and ``target_prefix`` (part of their results key: see
:data:`xstilts.pipeline.results.EXTRA_KEY_FIELDS`). The main rows (phase ``retrieval_eval``, the
configured setting) are written exactly as without a sweep; predictions and example rows are the
main setting's only.
"""

from __future__ import annotations

import json
from pathlib import Path

from xstilts.pipeline.phases import PhaseKind, register
from xstilts.pipeline.run import Run, append, finish, write_lines
from xstilts.tasks import get_task

# The ``phase`` of sweep rows: never read as the main retrieval result (``retrieval_eval``).
SWEEP_PHASE = "retrieval_sweep"
BATCH_SIZE = 32


def settings(phase, task, num_hidden_layers: int, default_max_length: int) -> dict:
    """The setting ``phase`` scores ``task`` at: the phase's own values, else the task's (module
    docstring of :mod:`xstilts.formats.retrieval`: the paper's) — what ``done.json`` records."""
    from xstilts.formats import retrieval

    options = dict(task.options) | ({"layer": phase.layer} if phase.layer is not None else {})
    prefix = phase.prefix
    return {"layer": retrieval.resolve_layer(num_hidden_layers, options),
            "pooling": phase.pooling or task.options.get("pooling", "mean"),
            "max_length": phase.max_length or default_max_length,
            "source_prefix": prefix if phase.source_prefix is None else phase.source_prefix,
            "target_prefix": prefix if phase.target_prefix is None else phase.target_prefix}


def sweep_grid(phase, num_hidden_layers: int) -> list[tuple[int, str]]:
    """``(layer, pooling)`` of every sweep cell, layers as ``hidden_states`` indices (none without ``sweep``)."""
    from xstilts.formats import retrieval

    if not phase.sweep:
        return []
    states = num_hidden_layers + 1
    layers = range(states) if phase.sweep_layers is None else phase.sweep_layers
    layers = sorted({retrieval.layer_index(layer, states) for layer in layers})
    return [(layer, pooling) for layer in layers for pooling in dict.fromkeys(phase.sweep_poolings)]


@register
class RetrievalEval(PhaseKind):
    kind = "retrieval_eval"
    trains = False
    reads_model = True
    writes = "run"
    reads = "the retrieval tasks' sentence pairs in every language asked"

    def evaluates(self, config, index: int):
        phase = config.phases[index]
        return [(name, phase.splits, phase.languages, phase.max_examples) for name in phase.tasks]

    def run(self, run: Run, phase, index: int, folder: Path, **context) -> None:
        from xstilts.formats import retrieval

        rows, sweep_rows, details, example_rows = [], [], {}, []
        encoder = run.model.encoder
        depth = encoder.config.num_hidden_layers
        grid = sweep_grid(phase, depth)
        for name in phase.tasks:
            task = get_task(name)
            used = settings(phase, task, depth, run.settings(task)["max_length"])
            details[name] = used
            main = (used["layer"], used["pooling"])
            for split in phase.splits:
                if split not in task.splits:
                    continue
                for lang in run.languages(task, split, phase.languages):
                    (ex,) = run.examples(task, split, lang, None)
                    if phase.max_examples:
                        ex = retrieval.head(ex, phase.max_examples)
                    scored = retrieval.score_settings(encoder, run.tokenizer, task, ex, [main, *grid],
                                                      max_length=used["max_length"], batch_size=BATCH_SIZE,
                                                      source_prefix=used["source_prefix"],
                                                      target_prefix=used["target_prefix"])
                    s = scored[main]
                    if task.reader == "tatoeba" or ex.gold:
                        write_lines(folder / "predictions" / name / f"{split}-{lang}.tsv", s.predictions)
                    rows += run.rows(self.kind, name, lang, split, s.metrics, s.n)
                    if task.reader == "tatoeba" and ex.gold:
                        # One row per English query (correct or not): CIs and paired comparisons.
                        example_rows += run.example_rows(self.kind, task, lang, split, ex.target, s.predicted,
                                                         run.text_lengths(task, split, lang, ex.target), {},
                                                         gold=s.gold)
                    for (layer, pooling) in grid:
                        cell = {**used, "layer": layer, "pooling": pooling}
                        sweep_rows += [{**r, **cell} for r in run.rows(SWEEP_PHASE, name, lang, split,
                                                                       scored[(layer, pooling)].metrics,
                                                                       scored[(layer, pooling)].n)]
                    shown = {m: round(v, 4) for m, v in s.metrics.items()}
                    run.log(f"retrieval {name} {split}-{lang} ({json.dumps(used, ensure_ascii=False)}): {json.dumps(shown)}")
                    if grid and s.metrics:
                        metric = next(iter(s.metrics))
                        best = max(grid, key=lambda c: scored[c].metrics[metric])
                        run.log(f"retrieval sweep {name} {split}-{lang}: {len(grid)} settings, best {metric} "
                                f"{scored[best].metrics[metric]:.4f} at layer {best[0]} {best[1]}")
        append(run.out_dir / "example_scores.jsonl", example_rows)
        info = {"settings": details}
        if grid:
            info["sweep"] = {"phase": SWEEP_PHASE, "layers": sorted({c[0] for c in grid}),
                             "poolings": list(dict.fromkeys(c[1] for c in grid)), "rows": len(sweep_rows)}
        finish(run, folder, rows + sweep_rows, info)
