"""Fine-tuning on task data, shared by the ``intermediate`` and ``target`` phase kinds:
build heads and features, train with dev-set selection, record truncation and dev numbers, save —
or, when the shared folder already holds the finished phase, reload its model.

The data is English unless the phase sets ``source_language``: then each task's train slice is read
in every listed language (translated files where the split lacks one) and mixed into the task's one
training stream, and the model is selected on the mean over the dev slices of every task and language.

The two kinds differ only in what they set on the run (the names result rows carry) and in a few
arguments (the intermediate ``max_length``, the target's ``head_init``); see their modules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from xstilts.config import ENGLISH, TrainingArgs, source_languages
from xstilts.data.lengths import windows_per_example
from xstilts.errors import ConfigError
from xstilts.formats import get_format
from xstilts.metrics.aggregate import main_metric_value
from xstilts.modeling import MultiTaskModel, head_spec_for
from xstilts.pipeline import evaluation, overlap
from xstilts.pipeline.run import Run, finish
from xstilts.tasks import Task, get_task
from xstilts.training import distributed
from xstilts.training.loop import TrainStream, seed_everything, train


def train_or_reload(run: Run, phase, tasks: list[Task], args: TrainingArgs, folder: Path, *, load_model: bool,
                    index: int, max_length: int | None = None, head_init: str | None = None,
                    overlaps: Sequence[overlap.Overlap] = (), done_info: dict | None = None, mlm=None) -> None:
    """Reload the finished phase in ``folder``, or train it there (:func:`train_phase`)."""
    if (folder / "done.json").exists():
        reload(run, folder, load_model=load_model)
    else:
        train_phase(run, phase, tasks, args, folder, max_length=max_length, head_init=head_init, index=index,
                    overlaps=overlaps, done_info=done_info, mlm=mlm)


def train_phase(run: Run, phase, tasks: list[Task], args: TrainingArgs, phase_dir: Path, *,
                max_length: int | None, head_init: str | None = None, index: int,
                overlaps: Sequence[overlap.Overlap] = (), done_info: dict | None = None, mlm=None) -> None:
    """Build heads, features, train, select, save. ``index``: the phase's position among the
    fine-tuning phases (seeds heads and batches); ``done_info``: what the kind adds to ``done.json``;
    ``mlm``: the phase's continued MLM (:class:`~xstilts.pipeline.phases.intermediate.MlmMix`), whose
    task trains on multilingual corpora and selects nothing unless it is the only task."""
    languages = source_languages(phase)
    streams, dev, stats = [], [], []
    for task in tasks:
        if mlm is not None and task.name == mlm.task.name:  # raw multilingual text, masked per batch
            streams.append(mlm.stream(run, run.settings(task, max_length)))
            continue
        fmt = get_format(task.format)
        per_language = run.source_examples(task, "train", args.max_train_examples, languages)
        train_examples = [ex for _, exs in per_language for ex in exs]
        empty = [lang for lang, exs in per_language if not exs]
        if empty:
            what = "English" if empty == [ENGLISH] else f"{'/'.join(empty)} (source_language)"
            raise ConfigError(f"{task.name}: no {what} training examples (set tasks.{task.name}.train)")
        if task.labels is None and hasattr(fmt, "label_list_from"):  # CCG: tags read from its training data
            run.labels[task.name] = fmt.label_list_from(train_examples)
        s = run.settings(task, max_length)
        if task.name not in run.model.heads:
            seed_everything(run.config.seed + 1000 * index)  # head init independent of earlier phases
            run.model.add_head(task.name, head_spec_for(task, s.get("labels"), dropout=args.dropout),
                               init_from=None if head_init in (None, "fresh") else head_init)
        feats = run.source_features(task, "train", per_language, s)
        streams.append(TrainStream(task.name, feats, fmt.TARGET_COLUMNS, example_ids=[ex.id for ex in train_examples]))
        extra = fmt.train_stats(train_examples, feats) if hasattr(fmt, "train_stats") else {}
        stats.append((task, streams[-1], len(train_examples), extra))
        for lang, dev_examples in run.source_examples(task, "dev", args.max_eval_examples, languages):
            if dev_examples:
                scorer = dev_scorer(task.name, run.resolved.data_slice(task.name, "dev"))
                dev.append((task, scorer, dev_examples, run.features(task, "dev", lang, dev_examples, s), s, lang))
    run.log(f"phase {phase.kind}: {', '.join(t.name for t in tasks)}"
            + ("" if languages == (ENGLISH,) else f" in {'+'.join(languages)}") + "; train examples "
            f"{', '.join(f'{s.head}={len(s.features)} rows' for s in streams)}")

    def evaluate(model) -> dict[str, float]:
        out, mains = {}, []
        for task, scorer, ex, feats, s, lang in dev:
            result = evaluation.evaluate(model, task.name, scorer, ex, feats, settings=s, language=lang,
                                         batch_size=args.per_device_eval_batch_size,
                                         pad_token_id=run.tokenizer.pad_token_id)
            name = task.name if len(languages) == 1 else f"{task.name}.{lang}"  # a mix: one key per language
            out |= {f"{name}.{k}": v for k, v in result.metrics.items()}
            mains.append(main_metric_value(result.metrics))
        if mlm is not None and mlm.dev:
            out |= mlm.evaluate(model)  # logged (perplexity), not selected on while a task has dev data
        out["selection"] = float(np.mean(mains)) if mains else -out[f"{mlm.task.name}.loss"]  # MLM alone: its loss
        return out

    selects = dev or (mlm is not None and mlm.dev and len(streams) == 1)  # MLM selects only when it is alone
    seed_everything(run.config.seed + 1000 * index + 1)
    result = train(run.model, streams, args, out_dir=phase_dir, seed=run.config.seed + index,
                   pad_token_id=run.tokenizer.pad_token_id, evaluate=evaluate if selects else None,
                   selection_metric=args.metric_for_best_model or "selection",
                   sampler=getattr(phase, "sampler", "proportional"), temperature=getattr(phase, "temperature", 2.0),
                   examples_cap=getattr(phase, "examples_cap", None), log=run.log, progress=run.progress)
    run.log(f"phase {phase.kind} trained {result.steps} steps in {result.wall_seconds:.1f}s; "
            f"best step {result.best_step} ({args.metric_for_best_model or 'selection'} = {result.best_metric})")
    truncation = {"tokens_seen": result.tokens_seen, "per_device_train_batch_size": result.per_device_train_batch_size,
                  "compute_policy": getattr(phase, "compute_policy", None), "tasks": {}}
    if result.oom_retries:  # trained at a smaller per-device batch than asked (same effective batch)
        truncation |= {"gradient_accumulation_steps": result.gradient_accumulation_steps, "oom_retries": result.oom_retries}
    trained_in = "+".join(languages)
    rows = run.rows(phase.kind, "+".join(t.name for t in tasks), trained_in, "train", {"tokens_seen": result.tokens_seen},
                    sum(len(st.features) for st in streams))
    for task, stream, n_examples, extra in stats:
        windows = windows_per_example(stream.features, n_examples)
        t = {"examples": n_examples, "windows_per_example": float(windows.mean()),
             "share_truncated": float(np.mean(windows > 1)), **extra}
        truncation["tasks"][task.name] = t
        rows += run.rows(phase.kind, task.name, trained_in, "train", {k: v for k, v in t.items() if k != "examples"},
                         n_examples)
    if mlm is not None:  # its texts and blocks; its selected model's dev loss and perplexity per language
        truncation["tasks"][mlm.task.name] = mlm.train
        rows += mlm.rows(run, phase.kind)
    run.log(f"phase {phase.kind} truncation: {json.dumps(truncation)}")
    for task, scorer, ex, feats, s, lang in dev:  # the selected model's dev numbers (English unless source_language)
        r = evaluation.evaluate(run.model, task.name, scorer, ex, feats, settings=s, language=lang,
                                batch_size=args.per_device_eval_batch_size, pad_token_id=run.tokenizer.pad_token_id)
        rows += run.rows(phase.kind, task.name, lang, "dev", r.metrics, r.n)
    if languages != (ENGLISH,):  # the phase's own rows say what it trained in (the intermediate's too)
        rows = [r | {"source_language": trained_in} for r in rows]
    if distributed.is_main():
        run.model.save(phase_dir / "model")
    finish(run, phase_dir, rows, {"steps": result.steps, "best_step": result.best_step, "truncation": truncation,
                                  **(done_info or {}), **({"mlm": mlm.record()} if mlm is not None else {}),
                                  **({} if languages == (ENGLISH,) else {"source_language": list(languages)}),
                                  "wall_seconds": result.wall_seconds, "labels": {k: list(v) for k, v in run.labels.items()},
                                  **({"overlap": [o.as_dict() for o in overlaps]} if overlaps else {})})


def reload(run: Run, phase_dir: Path, *, load_model: bool = True) -> None:
    """Take a finished phase's data-derived labels and (``load_model``) its model; a model trained
    for another target of the same data serves this run's target under its name."""
    info = json.loads((phase_dir / "done.json").read_text())
    run.labels.update({k: tuple(v) for k, v in info.get("labels", {}).items()})
    if not load_model:  # a later finished phase's model replaces it
        return
    run.model = MultiTaskModel.load(phase_dir / "model")
    trained = info.get("target")
    if trained and run.target and trained != run.target and trained in run.model.heads:
        run.model.rename_head(trained, run.target)  # one SQuAD model for XQuAD, MLQA and TyDiQA
        run.log(f"phase {phase_dir.name} already done (trained for {trained}): reloaded its model as {run.target}")
        return
    run.log(f"phase {phase_dir.name} already done: reloaded its model (shared/{phase_dir.name})")


def dev_scorer(name: str, data) -> Task:
    """The task whose official metric scores ``name``'s English dev slice: the task the dev data
    belongs to (MLQA selecting on SQuAD dev is scored as SQuAD)."""
    return get_task(data.task or name)
