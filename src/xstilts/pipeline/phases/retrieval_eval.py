"""``retrieval_eval``: bitext retrieval with the bare encoder (no head, no training) — Tatoeba
(nearest neighbour, accuracy) and BUCC (margin mining, F1 at the best threshold) — at the point of
the run where the phase stands (e.g. before and after the intermediate task).

Reads the model's encoder and the retrieval tasks' sentence pairs; writes the predicted pairs
under ``OUT/runs/<run_id>/<i>-retrieval_eval``, results rows, and for Tatoeba one example-score
row per English query.
"""

from __future__ import annotations

import json
from pathlib import Path

from xstilts.data.lengths import text_lengths
from xstilts.metrics import get_metric
from xstilts.metrics.bucc import bucc_eval
from xstilts.pipeline.phases import PhaseKind, register
from xstilts.pipeline.run import Run, append, finish, write_lines
from xstilts.tasks import get_task


@register
class RetrievalEval(PhaseKind):
    kind = "retrieval_eval"
    trains = False
    reads_model = True
    writes = "run"
    reads = "the retrieval tasks' sentence pairs in every language asked"

    def evaluates(self, config, index: int):
        phase = config.phases[index]
        return [(name, phase.splits, phase.languages, None) for name in phase.tasks]

    def run(self, run: Run, phase, index: int, folder: Path, **context) -> None:
        from xstilts.formats import retrieval

        rows, details, example_rows = [], {}, []
        encoder = run.model.encoder
        for name in phase.tasks:
            task = get_task(name)
            options = dict(task.options) | ({"layer": phase.layer} if phase.layer is not None else {})
            layer = retrieval.resolve_layer(encoder.config.num_hidden_layers, options)
            pooling = phase.pooling or task.options.get("pooling", "mean")
            max_length = phase.max_length or run.settings(task)["max_length"]
            used = {"layer": layer, "pooling": pooling, "max_length": max_length}
            details[name] = used
            for split in phase.splits:
                if split not in task.splits:
                    continue
                for lang in run.languages(task, split, phase.languages):
                    (ex,) = run.examples(task, split, lang, None)
                    emb = lambda sents: retrieval.embed(encoder, run.tokenizer, [s.text for s in sents], layer=layer,
                                                        pooling=pooling, max_length=max_length, batch_size=32)
                    src, trg = emb(ex.source), emb(ex.target)
                    if task.reader == "tatoeba":
                        pred = retrieval.tatoeba_predict(src, trg)
                        predicted = [ex.source[int(i)].id for i in pred]
                        gold_of = {t: s for s, t in ex.gold}
                        gold = [gold_of.get(t.id) for t in ex.target]
                        write_lines(folder / "predictions" / name / f"{split}-{lang}.tsv", predicted)
                        if ex.gold:
                            metrics = get_metric("accuracy")(gold, predicted, lang)
                            rows += run.rows(self.kind, name, lang, split, metrics, len(gold))
                            # One row per English query (correct or not): CIs and paired comparisons.
                            example_rows += run.example_rows(self.kind, task, lang, split, ex.target, predicted,
                                                             text_lengths(task.format, ex.target, run.tokenizer), {},
                                                             gold=gold)
                    else:
                        candidates = retrieval.mine_candidates([s.text for s in ex.source], [s.text for s in ex.target],
                                                               src, trg, k=int(task.options.get("k", 4)),
                                                               margin=task.options.get("margin", "ratio"))
                        if ex.gold:
                            r = bucc_eval(candidates, [(s.id, s.text) for s in ex.source],
                                          [(t.id, t.text) for t in ex.target], [f"{a}\t{b}" for a, b in ex.gold])
                            write_lines(folder / "predictions" / name / f"{split}-{lang}.tsv", r.pairs)
                            metrics = {"f1": r.f1, "precision": r.precision, "recall": r.recall, "threshold": r.threshold}
                            rows += run.rows(self.kind, name, lang, split, metrics, len(ex.gold))
                    scored = {r["metric"]: round(r["value"], 4) for r in rows
                              if r["task"] == name and r["language"] == lang and r["split"] == split}
                    run.log(f"retrieval {name} {split}-{lang} ({json.dumps(used)}): {json.dumps(scored)}")
        append(run.out_dir / "example_scores.jsonl", example_rows)
        finish(run, folder, rows, {"settings": details})
