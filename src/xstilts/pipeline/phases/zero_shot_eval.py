"""``zero_shot_eval``: score the target model on the target task's dev/test splits in every
language (English-only training: every other language is zero-shot).

Reads the model the phases before it leave and the target task's evaluation files; writes
predictions (in the files XTREME's evaluate.py reads) under ``OUT/runs/<run_id>/<i>-zero_shot_eval``,
one results row per metric, language, split and length bucket, and one example-score row per
example (``example_scores.jsonl``, for paired bootstrap CIs).
"""

from __future__ import annotations

import json
from pathlib import Path

from xstilts.data.lengths import assign_buckets, windows_per_example
from xstilts.pipeline import evaluation
from xstilts.pipeline.phases import PhaseKind, register
from xstilts.pipeline.run import Run, append, finish
from xstilts.tasks import get_task


@register
class ZeroShotEval(PhaseKind):
    kind = "zero_shot_eval"
    trains = False
    reads_model = True
    writes = "run"
    reads = "the target task's dev/test splits in every language present"

    def evaluates(self, config, index: int):
        phase = config.phases[index]
        target = next(q.task for q in reversed(config.phases[:index]) if q.kind == "target")
        return [(target, phase.splits, phase.languages, phase.max_examples)]

    def run(self, run: Run, phase, index: int, folder: Path, **context) -> None:
        task = get_task(run.target)
        args = run.config.phase("target").training  # its evaluation batch size
        s = run.settings(task)
        ext = evaluation.adapter(task).extension
        rows, unlabelled, example_rows = [], [], []
        for split in phase.splits:
            if split not in task.splits:
                continue
            for lang in run.languages(task, split, phase.languages):
                ex = run.examples(task, split, lang, phase.max_examples)
                feats = run.features(task, split, lang, ex, s)
                lengths = run.text_lengths(task, split, lang, ex)
                buckets = assign_buckets(lengths, windows_per_example(feats, len(ex)))
                r = evaluation.evaluate(run.model, task.name, task, ex, feats, settings=s, language=lang,
                                        batch_size=args.per_device_eval_batch_size, pad_token_id=run.tokenizer.pad_token_id,
                                        predictions_path=folder / "predictions" / task.name / f"{split}-{lang}.{ext}",
                                        progress=run.progress, buckets=buckets)
                if r.metrics is None:
                    unlabelled.append(f"{split}-{lang}")
                    continue
                run.log(f"zero-shot {task.name} {split}-{lang}: {json.dumps(r.metrics)}")
                rows += run.rows(self.kind, task.name, lang, split, r.metrics, r.n)
                for bucket, (n, metrics) in r.by_bucket.items():
                    rows += run.rows(self.kind, task.name, lang, split, metrics, n, bucket=bucket)
                example_rows += run.example_rows(self.kind, task, lang, split, ex, r.predictions, lengths, buckets)
        if unlabelled:
            run.log(f"no gold labels (predictions written, not scored): {' '.join(unlabelled)}")
        append(run.out_dir / "example_scores.jsonl", example_rows)
        finish(run, folder, rows, {"unlabelled": unlabelled})
