"""Run one experiment: its phases in order, resumable, with results appended to ``results.jsonl``.

Layout under ``--out DIR``::

    DIR/results.jsonl                         append-only results of every run in DIR
    DIR/cache/features/                       tokenized features, shared by every run in DIR
    DIR/runs/<run_id>/config.yaml             the resolved config (its hash is in the run id)
    DIR/runs/<run_id>/log.txt                 one log per run
    DIR/runs/<run_id>/<i>-<phase>/            checkpoints, model, predictions, done.json

A phase whose ``done.json`` exists is skipped on a re-run (training phases reload their saved
model), and an interrupted training phase resumes from its last checkpoint, so re-running the
same command on the same DIR finishes the work without repeating it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import yaml

from xstilts import settings as xsettings
from xstilts.config import (
    ExperimentConfig, IntermediatePhase, ResolvedConfig, RetrievalEvalPhase, TargetPhase, TrainingArgs,
    ZeroShotEvalPhase, equal_tokens_batch, resolve,
)
from xstilts.data.cache import FeatureCache, tokenizer_fingerprint
from xstilts.data.lengths import assign_buckets, text_lengths, windows_per_example
from xstilts.data.loading import load_examples, resolve_files
from xstilts.errors import ConfigError, DataError
from xstilts.formats import FEATURIZATION_VERSION, get_format
from xstilts.formats.base import Features
from xstilts.metrics import get_metric
from xstilts.metrics.aggregate import main_metric_value
from xstilts.metrics.bucc import bucc_eval
from xstilts.modeling import MultiTaskModel, head_spec_for
from xstilts.pipeline import evaluation, overlap
from xstilts.pipeline.results import append_rows, make_row
from xstilts.tasks import Task, get_task
from xstilts.training import distributed
from xstilts.training.loop import TrainStream, train

FEATURIZE_CHUNK = 2000
TARGET_COLUMNS = {
    "classification": ("labels",),
    "multiple_choice": ("labels",),
    "tagging": ("labels",),
    "span_qa": ("start_positions", "end_positions"),
}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Run:
    """Everything one experiment run needs; built by :func:`run_experiment`."""

    config: ExperimentConfig
    out_dir: Path
    run_dir: Path
    tokenizer: Any
    model: MultiTaskModel
    cache: FeatureCache
    progress: bool
    resolved: ResolvedConfig  # every effective setting and data fingerprint, resolved once
    intermediate: list[str] = field(default_factory=list)
    intermediate_max_len: int | None = None
    compute_policy: str | None = None
    target: str | None = None
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # data-derived label lists (CCG)
    excluded: dict[str, list] = field(default_factory=dict)  # DataSlice.exclude entry → its examples, read once

    # ---------------------------------------------------------------- logging and results

    def log(self, message: str) -> None:
        if not distributed.is_main():
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        with open(self.run_dir / "log.txt", "a", encoding="utf-8") as f:
            f.write(line + "\n")
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(line)

    def rows(self, phase: str, task: str, language: str, split: str, metrics: dict[str, float], n: int,
             **extra) -> list[dict]:
        return [make_row(run_id=self.resolved.run_id, config_hash=self.resolved.config_hash(), phase=phase,
                         intermediate=list(self.intermediate), intermediate_max_len=self.intermediate_max_len,
                         compute_policy=self.compute_policy, target=self.target, task=task, language=language,
                         split=split, metric=m,
                         value=float(v), n=n, seed=self.config.seed, **extra)
                for m, v in metrics.items() if v is not None]

    def example_rows(self, phase: str, task: Task, language: str, split: str, examples: Sequence,
                     predictions, lengths: np.ndarray, buckets: dict[str, np.ndarray], gold=None) -> list[dict]:
        """Per-example sufficient statistics (``example_scores.jsonl``) for paired bootstrap CIs;
        ``gold`` defaults to what the task format's adapter reads from ``examples``."""
        from xstilts.metrics.per_example import example_stats

        if gold is None:
            gold = evaluation.ADAPTERS[task.format].gold(examples)
        stats = example_stats(task.metric, gold, predictions, language)
        member: list[list[str]] = [[] for _ in examples]
        for name, idx in buckets.items():
            for i in idx:
                member[int(i)].append(name)
        common = {"run_id": self.resolved.run_id, "config_hash": self.resolved.config_hash(), "phase": phase,
                  "intermediate": list(self.intermediate), "intermediate_max_len": self.intermediate_max_len,
                  "compute_policy": self.compute_policy, "target": self.target, "task": task.name, "language": language, "split": split,
                  "seed": self.config.seed, "metric": task.metric}
        return [{**common, "example_id": ex.id, "length": int(n), "buckets": b,
                 "stats": {k: v for k, v in st.items() if k != "id"}}
                for ex, n, b, st in zip(examples, lengths, member, stats)]

    # ---------------------------------------------------------------- data

    def settings(self, task: Task, max_length: int | None = None) -> dict:
        """Featurization settings from the resolved config, under the intermediate phase's
        ``max_length``; labels a task does not declare come from its training data."""
        s = self.resolved.settings(task.name)
        if max_length:
            s["max_length"] = max_length
        if "labels" in s:
            s["labels"] = self.labels.get(task.name) or s["labels"]
        return s

    def examples(self, task: Task, split: str, language: str, limit: int | None) -> list:
        examples = load_examples(task, split, language, data_dir=self.config.data_dir, source=self.config.data_source)
        return examples[:limit] if limit else examples

    def english(self, task: Task, role: str, limit: int | None) -> list:
        """English ``train`` or ``dev`` examples of ``task``, from its :class:`DataSlice` setting."""
        return self.english_slice(task, role, limit)[1]

    def english_slice(self, task: Task, role: str, limit: int | None) -> tuple[str, list]:
        """:meth:`english` with a label saying where the examples come from (for the overlap guard)."""
        data = self.resolved.data_slice(task.name, role)
        source = get_task(data.task) if data.task else task
        if source.format != task.format or (source.labels or None) != (task.labels or None):
            raise ConfigError(f"tasks.{task.name}.{role}: {source.name} data does not fit {task.name} "
                              f"(format {source.format} vs {task.format}, labels {source.labels} vs {task.labels})")
        label = overlap.slice_label(source.name, data.split, data.start, data.stop)
        if not source.has(data.split, "en"):
            return label, []
        examples = self.examples(source, data.split, "en", None)
        if data.exclude:
            examples = overlap.without(examples, [ex for name in data.exclude for ex in self._excluded(name)])
            label += f" without {'+'.join(data.exclude)}"
        examples = examples[data.start:data.stop]
        return label, examples[:limit] if limit else examples

    def _excluded(self, name: str) -> list:
        """A ``DataSlice.exclude`` entry's examples: ``task`` (its test split) or ``task/split``,
        English where the split has it, else every language of the split (read once per run: the
        guard and both roles of every training phase ask again)."""
        if name in self.excluded:
            return self.excluded[name]
        task_name, _, split = name.partition("/")
        task, split = get_task(task_name), split or "test"
        if split not in task.splits:
            raise ConfigError(f"exclude {name!r}: {task.name} has no split {split!r} (splits: {', '.join(task.splits)})")
        langs = ["en"] if task.has(split, "en") else self.languages(task, split, None)
        self.excluded[name] = [ex for lang in langs for ex in self.examples(task, split, lang, None)]
        return self.excluded[name]

    def features(self, task: Task, split: str, language: str, examples: Sequence, s: dict) -> Features:
        fmt = get_format(task.format)
        digest = hashlib.sha256(repr(examples).encode()).hexdigest()[:16]
        parts = {"task": task.name, "task_version": task.version, "format": task.format,
                 "format_version": FEATURIZATION_VERSION, "split": split, "language": language,
                 "tokenizer": tokenizer_fingerprint(self.tokenizer), "examples": digest,
                 **{k: v for k, v in s.items() if k != "max_answer_length"}}

        def build() -> Features:
            from tqdm.auto import tqdm

            self.log(f"tokenizing {task.name} {split}-{language}: {len(examples)} examples")
            kwargs = {"max_length": s["max_length"]}
            if task.format == "span_qa":
                kwargs |= {"doc_stride": s["doc_stride"], "max_query_length": s["max_query_length"]}
            if task.format == "classification":
                kwargs["label_list"] = s["labels"]
            if task.format == "tagging":
                kwargs |= {"label_list": s["labels"], "unknown_tags": "ignore" if split != "train" else "error"}
            # Chunks only to show progress (with ETA); the result equals one featurize call.
            chunks = [examples[i:i + FEATURIZE_CHUNK] for i in range(0, len(examples), FEATURIZE_CHUNK)]
            parts = [fmt.featurize(c, self.tokenizer, **kwargs)
                     for c in tqdm(chunks, desc=f"tokenize {task.name} {split}-{language}", leave=False,
                                   disable=not self.progress or len(chunks) < 2)]
            return Features.concat(parts, [len(c) for c in chunks])

        return self.cache.get(parts, build)

    def languages(self, task: Task, split: str, requested: list[str] | None) -> list[str]:
        """Requested languages, or every language of the split whose files are present (the
        absent ones are logged and recorded, never dropped silently)."""
        if requested:
            return [lang for lang in requested if task.has(split, lang)]
        if self.config.data_source == "hub":
            return list(task.splits.get(split, ()))
        root = xsettings.data_dir(self.config.data_dir)
        present, missing = [], []
        for lang in task.splits.get(split, ()):
            paths, _ = resolve_files(task, split, lang, root)
            exists = all(p.exists() or any(p.parent.glob(p.name + ".*")) for p in paths)
            (present if exists else missing).append(lang)
        if missing:
            self.log(f"{task.name} {split}: no files for {len(missing)} language(s): {' '.join(missing)}")
        return present


# -------------------------------------------------------------------- phases


def _train_phase(run: Run, phase, tasks: list[Task], args: TrainingArgs, phase_dir: Path, *,
                 max_length: int | None, head_init: str | None = None, index: int,
                 overlaps: Sequence[overlap.Overlap] = ()) -> None:
    """Shared by intermediate and target phases: build heads, features, train, select, save."""
    streams, dev, stats = [], [], []
    for task in tasks:
        train_examples = run.english(task, "train", args.max_train_examples)
        if not train_examples:
            raise ConfigError(f"{task.name}: no English training examples (set tasks.{task.name}.train)")
        if task.format == "tagging" and task.labels is None:
            run.labels[task.name] = get_format("tagging").label_list_from(train_examples)
        s = run.settings(task, max_length)
        if task.name not in run.model.heads:
            seed_everything(run.config.seed + 1000 * index)  # head init independent of earlier phases
            run.model.add_head(task.name, head_spec_for(task, s.get("labels"), dropout=args.dropout),
                               init_from=None if head_init in (None, "fresh") else head_init)
        feats = run.features(task, "train", "en", train_examples, s)
        streams.append(TrainStream(task.name, feats, TARGET_COLUMNS[task.format]))
        lost = (int(get_format("span_qa").example_stats(train_examples, feats).answer_lost.sum())
                if task.format == "span_qa" else None)
        stats.append((task, streams[-1], len(train_examples), lost))
        dev_examples = run.english(task, "dev", args.max_eval_examples)
        if dev_examples:
            scorer = dev_scorer(task.name, run.resolved.data_slice(task.name, "dev"))
            dev.append((task, scorer, dev_examples, run.features(task, "dev", "en", dev_examples, s), s))
    run.log(f"phase {phase.kind}: {', '.join(t.name for t in tasks)}; train examples "
            f"{', '.join(f'{s.head}={len(s.features)} rows' for s in streams)}")

    def evaluate(model) -> dict[str, float]:
        out, mains = {}, []
        for task, scorer, ex, feats, s in dev:
            result = evaluation.evaluate(model, task.name, scorer, ex, feats, settings=s, language="en",
                                         batch_size=args.per_device_eval_batch_size,
                                         pad_token_id=run.tokenizer.pad_token_id)
            out |= {f"{task.name}.{k}": v for k, v in result.metrics.items()}
            mains.append(main_metric_value(result.metrics))
        out["selection"] = float(np.mean(mains))
        return out

    seed_everything(run.config.seed + 1000 * index + 1)
    result = train(run.model, streams, args, out_dir=phase_dir, seed=run.config.seed + index,
                   pad_token_id=run.tokenizer.pad_token_id, evaluate=evaluate if dev else None,
                   selection_metric=args.metric_for_best_model or "selection",
                   sampler=getattr(phase, "sampler", "proportional"), temperature=getattr(phase, "temperature", 2.0),
                   examples_cap=getattr(phase, "examples_cap", None), log=run.log, progress=run.progress)
    run.log(f"phase {phase.kind} trained {result.steps} steps in {result.wall_seconds:.1f}s; "
            f"best step {result.best_step} ({args.metric_for_best_model or 'selection'} = {result.best_metric})")
    truncation = {"tokens_seen": result.tokens_seen, "per_device_train_batch_size": args.per_device_train_batch_size,
                  "compute_policy": getattr(phase, "compute_policy", None), "tasks": {}}
    rows = run.rows(phase.kind, "+".join(t.name for t in tasks), "en", "train", {"tokens_seen": result.tokens_seen},
                    sum(len(st.features) for st in streams))
    for task, stream, n_examples, lost in stats:
        windows = windows_per_example(stream.features, n_examples)
        t = {"examples": n_examples, "windows_per_example": float(windows.mean()),
             "share_truncated": float(np.mean(windows > 1)), **({"answers_lost": lost} if lost is not None else {})}
        truncation["tasks"][task.name] = t
        rows += run.rows(phase.kind, task.name, "en", "train", {k: v for k, v in t.items() if k != "examples"}, n_examples)
    run.log(f"phase {phase.kind} truncation: {json.dumps(truncation)}")
    for task, scorer, ex, feats, s in dev:  # the selected model's English dev numbers
        r = evaluation.evaluate(run.model, task.name, scorer, ex, feats, settings=s, language="en",
                                batch_size=args.per_device_eval_batch_size, pad_token_id=run.tokenizer.pad_token_id)
        rows += run.rows(phase.kind, task.name, "en", "dev", r.metrics, r.n)
    if distributed.is_main():
        run.model.save(phase_dir / "model")
    _finish(run, phase_dir, rows, {"steps": result.steps, "best_step": result.best_step, "truncation": truncation,
                                   **({"target": run.target} if phase.kind == "target" else {}),
                                   "wall_seconds": result.wall_seconds, "labels": {k: list(v) for k, v in run.labels.items()},
                                   **({"overlap": [o.as_dict() for o in overlaps]} if overlaps else {})})


def _zero_shot(run: Run, phase: ZeroShotEvalPhase, phase_dir: Path, index: int) -> None:
    task = get_task(run.target)
    args = run.config.phase("target").training
    s = run.settings(task)
    rows, unlabelled, example_rows = [], [], []
    for split in phase.splits:
        if split not in task.splits:
            continue
        for lang in run.languages(task, split, phase.languages):
            ex = run.examples(task, split, lang, phase.max_examples)
            feats = run.features(task, split, lang, ex, s)
            lengths = text_lengths(task.format, ex, run.tokenizer)
            buckets = assign_buckets(lengths, windows_per_example(feats, len(ex)))
            ext = evaluation.ADAPTERS[task.format].extension
            r = evaluation.evaluate(run.model, task.name, task, ex, feats, settings=s, language=lang,
                                    batch_size=args.per_device_eval_batch_size, pad_token_id=run.tokenizer.pad_token_id,
                                    predictions_path=phase_dir / "predictions" / task.name / f"{split}-{lang}.{ext}",
                                    progress=run.progress, buckets=buckets)
            if r.metrics is None:
                unlabelled.append(f"{split}-{lang}")
                continue
            run.log(f"zero-shot {task.name} {split}-{lang}: {json.dumps(r.metrics)}")
            rows += run.rows("zero_shot_eval", task.name, lang, split, r.metrics, r.n)
            for bucket, (n, metrics) in r.by_bucket.items():
                rows += run.rows("zero_shot_eval", task.name, lang, split, metrics, n, bucket=bucket)
            example_rows += run.example_rows("zero_shot_eval", task, lang, split, ex, r.predictions, lengths, buckets)
    if unlabelled:
        run.log(f"no gold labels (predictions written, not scored): {' '.join(unlabelled)}")
    _append(run.out_dir / "example_scores.jsonl", example_rows)
    _finish(run, phase_dir, rows, {"unlabelled": unlabelled})


def _retrieval(run: Run, phase: RetrievalEvalPhase, phase_dir: Path, index: int) -> None:
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
                    _write_lines(phase_dir / "predictions" / name / f"{split}-{lang}.tsv", predicted)
                    if ex.gold:
                        metrics = get_metric("accuracy")(gold, predicted, lang)
                        rows += run.rows("retrieval_eval", name, lang, split, metrics, len(gold))
                        # One row per English query (correct or not): CIs and paired comparisons.
                        example_rows += run.example_rows("retrieval_eval", task, lang, split, ex.target, predicted,
                                                         text_lengths(task.format, ex.target, run.tokenizer), {},
                                                         gold=gold)
                else:
                    candidates = retrieval.mine_candidates([s.text for s in ex.source], [s.text for s in ex.target],
                                                           src, trg, k=int(task.options.get("k", 4)),
                                                           margin=task.options.get("margin", "ratio"))
                    if ex.gold:
                        r = bucc_eval(candidates, [(s.id, s.text) for s in ex.source], [(t.id, t.text) for t in ex.target],
                                      [f"{a}\t{b}" for a, b in ex.gold])
                        _write_lines(phase_dir / "predictions" / name / f"{split}-{lang}.tsv", r.pairs)
                        metrics = {"f1": r.f1, "precision": r.precision, "recall": r.recall, "threshold": r.threshold}
                        rows += run.rows("retrieval_eval", name, lang, split, metrics, len(ex.gold))
                run.log(f"retrieval {name} {split}-{lang} ({json.dumps(used)}): "
                        f"{json.dumps({r['metric']: round(r['value'], 4) for r in rows if r['task'] == name and r['language'] == lang and r['split'] == split})}")
    _append(run.out_dir / "example_scores.jsonl", example_rows)
    _finish(run, phase_dir, rows, {"settings": details})


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_text(path, "".join(f"{x}\n" for x in lines))


def _finish(run: Run, phase_dir: Path, rows: list[dict], info: dict) -> None:
    """Append the phase's rows, then mark it done. A kill between the two makes a re-run append
    the same keys again; readers keep the last row per key (:func:`results.latest_rows`)."""
    _append(run.out_dir / "results.jsonl", rows)
    _write_text(phase_dir / "done.json", json.dumps({"rows": len(rows), **info}, indent=1))
    distributed.barrier()  # every process sees the phase done before any goes on


# -------------------------------------------------------------------- the experiment


TRAINING_KINDS = ("pretrained", "intermediate", "target")


def training_key(config: ExperimentConfig | ResolvedConfig, index: int) -> str:
    """Hash of everything that determines the model after training phase ``index``, from resolved
    values only: the seed, the training phases up to it, the resolved settings of the tasks they
    train on, the featurization version and the fingerprints of the data files they read. Runs that
    share it (e.g. one intermediate checkpoint for every target of a grid) share the trained model.

    A target task enters by what it trains on, not by its name (:func:`_target_identity`): XQuAD,
    MLQA and TyDiQA-GoldP fine-tuned on the same SQuAD data with the same settings, selected on the
    same dev data by the same metric, are one model, as in XTREME.

    A plain :class:`ExperimentConfig` is resolved here without requiring its data (what a dry run
    knows); a run passes the config it resolved with its data."""
    resolved = config if isinstance(config, ResolvedConfig) else resolve(config, require_data=False)
    config = resolved.config
    indices = [i for i, p in enumerate(config.phases[:index + 1]) if p.kind in TRAINING_KINDS]
    phases, tasks, data = [], {}, []
    for i in indices:
        p = config.phases[i]
        dump, reads = p.model_dump(mode="json"), resolved.data.get(i, {})
        if p.kind == "target":
            dump["task"] = TARGET
            tasks[TARGET] = _target_identity(resolved, p.task)
            reads = {TARGET + label[len(p.task):]: v for label, v in reads.items()}
        for name in getattr(p, "tasks", None) or []:
            tasks[name] = resolved.tasks[name]
        phases.append(dump)
        data.append(reads)
    seed = config.seed
    first = config.phases[0]
    if index == 0 and first.from_scratch is not None and first.from_scratch.seed is not None:
        seed = first.from_scratch.seed  # one pretrained model shared by runs of every fine-tuning seed
    payload = {"seed": seed, "data_source": config.data_source, "data_dir": config.data_dir,
               "featurization_version": resolved.featurization_version, "modeling_version": MODELING_VERSION,
               "phases": phases, "tasks": dict(sorted(tasks.items())), "data": data}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


TARGET = "<target>"
# Bump when a change to heads or training changes what the same config trains (part of the key, so
# models trained before are not reused): 2 = training.dropout also sets the heads' dropout.
MODELING_VERSION = 2  # a target task's name in a training key: the model does not depend on it


def _target_identity(resolved: ResolvedConfig, name: str) -> dict:
    """What a target task contributes to the model: its resolved settings, each data slice naming
    where its English examples come from (reader and files, or hub dataset) instead of a task name,
    and the metric that selects on its dev data."""
    s = dict(resolved.tasks[name])
    for role in ("train", "dev"):
        data = resolved.data_slice(name, role)
        source = get_task(data.task or name)
        where = ({"reader": source.reader, "files": list(source.files.get(data.split, ()))}
                 if resolved.config.data_source == "files" and source.has(data.split, "en") else
                 {"hub": str(source.hub), "split": data.split} if source.has(data.split, "en") else None)
        s[role] = {**s[role], "task": where}
    s["selection_metric"] = dev_scorer(name, resolved.data_slice(name, "dev")).metric
    return s


def dev_scorer(name: str, data) -> Task:
    """The task whose official metric scores ``name``'s English dev slice: the task the dev data
    belongs to (MLQA selecting on SQuAD dev is scored as SQuAD)."""
    return get_task(data.task or name)


@contextmanager
def _locked(directory: Path):
    """One process at a time trains a shared phase; the others wait and then reuse its result.
    Under several processes of one run, the main process holds the lock for all of them."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    if not distributed.is_main():
        distributed.barrier()  # the main process holds the lock from here ...
        try:
            yield directory
        finally:
            distributed.barrier()  # ... to here
        return
    with open(directory.with_name(directory.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        distributed.barrier()
        try:
            yield directory
        finally:
            distributed.barrier()
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True,
                   upto: int | None = None) -> Path:
    """Run (or resume) ``config`` under ``out_dir``; returns the run directory.

    Training phases live in ``out_dir/shared/<kind>-<key>`` (see :func:`training_key`), so every run
    whose phases up to there are identical reuses the trained model; evaluation phases live in the
    run's own directory. ``upto``: stop after that phase (a node of the run graph,
    :mod:`xstilts.pipeline.graph`); models of finished phases before the last finished training
    phase are not loaded, only what that phase needs.
    """
    out_dir = Path(out_dir)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # accelerate launch / torchrun: one process group
        from accelerate import PartialState
        from accelerate.utils import parse_flag_from_env

        PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))  # as Accelerator() reads it
    resolved = resolve(config)  # once: a missing data file fails here, named
    run_dir = out_dir / "runs" / resolved.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        tmp = cfg_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(resolved.as_dict(), sort_keys=False))
        tmp.replace(cfg_path)
    seed_everything(config.seed)
    run = Run(config, out_dir, run_dir, None, None, FeatureCache(out_dir / "cache" / "features"), progress, resolved)
    phases = config.phases[:None if upto is None else upto + 1]
    run.log(f"run {resolved.run_id}: {' → '.join(p.kind for p in phases)}"
            + (f" (up to phase {upto} of {len(config.phases)})" if upto is not None else ""))
    overlaps = _guard_overlap(run, len(phases))
    # The model after the last finished training phase is all later phases need.
    done = [i for i, p in enumerate(phases) if p.kind in ("intermediate", "target")
            and (_shared_dir(run, i) / "done.json").exists()]
    resume_at = done[-1] if done else -1

    ordinal = 0  # position among training phases: seeds must not depend on interleaved evaluations
    for index, phase in enumerate(phases):
        shared = _shared_dir(run, index)
        load = index >= resume_at
        if phase.kind in TRAINING_KINDS and not (phase.kind == "pretrained" and phase.from_scratch is None):
            _write_text(run_dir / f"{index}-{phase.kind}.txt", str(shared.relative_to(out_dir)) + "\n")
        if phase.kind == "pretrained" and phase.from_scratch is None:
            _pretrained(run, phase, shared, load_model=load)  # a hub id or directory: nothing to train or share
        elif phase.kind == "pretrained":
            with _locked(shared):
                _pretrained(run, phase, shared, load_model=load)
        elif phase.kind == "intermediate":
            ordinal += 1
            tasks = [get_task(t) for t in phase.tasks]
            run.intermediate_max_len = phase.max_length or _common([run.settings(t)["max_length"] for t in tasks])
            run.compute_policy = phase.compute_policy
            with _locked(shared):
                if (shared / "done.json").exists():
                    _reload(run, shared, load_model=load)
                else:
                    _train_phase(run, phase, tasks, phase.effective_training(), shared,
                                 max_length=phase.max_length, index=ordinal, overlaps=overlaps.get(index, []))
            run.intermediate += phase.tasks
        elif phase.kind == "target":
            ordinal += 1
            run.target = phase.task
            with _locked(shared):
                if (shared / "done.json").exists():
                    _reload(run, shared, load_model=load)
                else:
                    _train_phase(run, phase, [get_task(phase.task)], phase.training, shared,
                                 max_length=None, head_init=phase.head_init, index=ordinal,
                                 overlaps=overlaps.get(index, []))
        elif upto is not None and index < upto:
            continue  # another node of the run graph: not this call's to run
        else:
            phase_dir = run_dir / f"{index}-{phase.kind}"
            phase_dir.mkdir(exist_ok=True)
            if (phase_dir / "done.json").exists():
                run.log(f"phase {index}-{phase.kind} already done")
            elif phase.kind == "zero_shot_eval":
                _zero_shot(run, phase, phase_dir, index)
            elif phase.kind == "retrieval_eval":
                _retrieval(run, phase, phase_dir, index)
    run.log(f"run {resolved.run_id} {'finished' if len(phases) == len(config.phases) else f'reached phase {upto}'}")
    return run_dir


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically (a temporary name unique to this process, then rename); under
    several processes (``accelerate launch``) the main process writes, the others do not."""
    if not distributed.is_main():
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _append(path: Path, rows: list[dict]) -> None:
    if distributed.is_main():  # one copy of each row, whatever the number of processes
        append_rows(path, rows)


def _shared_dir(run: Run, index: int) -> Path:
    """Where training phase ``index`` of the run lives, shared with every run of the same key."""
    return run.out_dir / "shared" / f"{run.config.phases[index].kind}-{training_key(run.resolved, index)[:16]}"


def _guard_overlap(run: Run, stop: int | None = None) -> dict[int, list[overlap.Overlap]]:
    """Refuse to train on what a later phase evaluates (:mod:`xstilts.pipeline.overlap`), unless the
    config sets ``allow_overlap``; then the overlaps go to ``overlap.json`` beside the run (the report
    shows them) and into each training phase's ``done.json``. Checked once per run, whether or not
    its training phases are shared with runs checked before (a shared SQuAD model is checked
    against MLQA's test set too); with ``allow_overlap`` again while a phase before ``stop`` trains,
    to record the overlap in its ``done.json``."""
    config = run.config
    checked = run.run_dir / "overlap-checked.json"
    pending = [i for i, p in enumerate(config.phases[:stop]) if p.kind in ("intermediate", "target")
               and not (_shared_dir(run, i) / "done.json").exists()]
    if checked.exists() and not (pending and config.allow_overlap):
        return {}
    found = overlap.check_experiment(config, run.english_slice, run.examples, run.languages)
    if not found:
        run.log("overlap guard: no training or dev example is among the evaluated ones")
        _write_text(checked, json.dumps({"overlaps": 0}))
        return {}
    first = next(iter(found.values()))[0]
    total = sum(len(v) for v in found.values())
    if not config.allow_overlap:
        raise ConfigError(f"train/test overlap: {first.describe()}"
                          + (f"; and {total - 1} more overlapping pair(s)" if total > 1 else "")
                          + " — exclude the evaluation data from the training slice (tasks.<task>.train/dev.exclude: "
                          "[<task>]) or set allow_overlap: true to run anyway (recorded)")
    records = [{"phase": i, "kind": config.phases[i].kind, **o.as_dict()} for i, os_ in found.items() for o in os_]
    for r in records:
        run.log(f"overlap allowed (allow_overlap: true): phase {r['phase']}: {r['trained']} and {r['evaluated']} "
                f"share {r['count']} of {r['total']} examples")
    _write_text(run.run_dir / "overlap.json", json.dumps(records, indent=1))
    _write_text(checked, json.dumps({"overlaps": total, "allowed": True}))
    return found


def _pretrained(run: Run, phase, phase_dir: Path, *, load_model: bool = True) -> None:
    """Load the encoder named by ``model``, or pretrain one ``from_scratch`` (once; then reload it);
    ``load_model=False``: the tokenizer only (a later finished phase's model follows)."""
    from transformers import AutoTokenizer

    first_train = next((p for p in run.config.phases if p.kind in ("intermediate", "target")), None)
    dropout = first_train.training.dropout if first_train is not None else None
    source, revision, tokenizer_source = phase.model, phase.revision, phase.tokenizer or phase.model
    if phase.from_scratch is not None:
        if (phase_dir / "done.json").exists():
            run.log("phase 0-pretrained already done: loading its model")
        else:
            _pretrain(run, phase.from_scratch, phase_dir)
        # Always reload from disk, so a fresh run and a resumed one continue from identical state.
        source = tokenizer_source = str(phase_dir / "model")
        revision = None
    run.tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, revision=revision)
    if not load_model:
        return
    run.model = MultiTaskModel.from_pretrained(source, revision=revision, dropout=dropout,
                                               random_init_seed=run.config.seed if phase.random_init else None)


def _pretrain(run: Run, spec, phase_dir: Path) -> None:
    from xstilts import pretraining
    from xstilts.formats.mlm import masking

    task = get_task(spec.corpus_task)
    if task.format != "mlm":
        raise ConfigError(f"from_scratch.corpus_task {task.name!r} is a {task.format} task, not mlm")
    train_ex = {lang: run.examples(task, "train", lang, spec.max_examples_per_language) for lang in spec.languages}
    dev_ex = {lang: run.examples(task, "dev", lang, spec.max_examples_per_language) for lang in spec.languages
              if task.has("dev", lang)}
    run.log(f"pretraining from scratch on {', '.join(f'{k}={len(v)}' for k, v in train_ex.items())} texts")
    started = time.perf_counter()
    positions = max(spec.max_positions or spec.max_length, spec.max_length)
    run.tokenizer = pretraining.train_tokenizer(pretraining.corpus_texts(train_ex), spec.tokenizer,
                                                model_max_length=positions)
    run.log(f"trained a {spec.tokenizer.kind} tokenizer: {len(run.tokenizer)} pieces "
            f"in {time.perf_counter() - started:.1f}s")
    seed = spec.seed if spec.seed is not None else run.config.seed
    run.model = MultiTaskModel(pretraining.build_encoder(run.tokenizer, spec.model, positions, seed))
    run.model.add_head("mlm", head_spec_for(task, vocab_size=len(run.tokenizer)))

    def stacked(examples: dict, split: str, max_length: int) -> Features:
        parts = [run.features(task, split, lang, ex, {"max_length": max_length}) for lang, ex in examples.items()]
        return Features.concat(parts, [len(ex) for ex in examples.values()])

    def stream(features: Features) -> list[TrainStream]:
        return [TrainStream("mlm", features, (), masking(run.tokenizer, spec.mlm_probability))]

    if not spec.pretrain:  # the control: same tokenizer and shape, random weights
        if distributed.is_main():
            pretraining.save_pretrained(run.model, run.tokenizer, phase_dir / "model")
        _finish(run, phase_dir, [], {"steps": 0, "vocab_size": len(run.tokenizer), "pretrained": False})
        return
    *curriculum, (_, steps, lr) = spec.stages()
    stages = []  # one record per stage, max_length last; done.json totals them

    def record(length: int, result, lr: float, batch: int) -> None:
        stages.append({"max_length": length, "steps": result.steps, "learning_rate": lr,
                       "per_device_train_batch_size": batch, "wall_seconds": result.wall_seconds})

    for i, (length, n, stage_lr) in enumerate(curriculum):
        stage = spec.training.model_copy(update={
            "max_steps": n, "learning_rate": stage_lr,
            "per_device_train_batch_size": equal_tokens_batch(spec.training.per_device_train_batch_size,
                                                              spec.max_length, length)})
        seed_everything(seed + 2 + i)
        result = train(run.model, stream(stacked(train_ex, "train", length)), stage, out_dir=phase_dir / f"stage-{length}",
                       seed=seed + i, pad_token_id=run.tokenizer.pad_token_id, log=run.log, progress=run.progress)
        run.log(f"curriculum stage {i}: {result.steps} steps on {length}-token blocks, batch "
                f"{stage.per_device_train_batch_size}, lr {stage_lr:g}, in {result.wall_seconds:.1f}s")
        record(length, result, stage_lr, stage.per_device_train_batch_size)
    args = spec.training.model_copy(update={"max_steps": steps, "learning_rate": lr})
    train_feats = stacked(train_ex, "train", spec.max_length)
    dev_feats = stacked(dev_ex, "dev", spec.max_length) if dev_ex else None
    evaluate = None
    if dev_feats is not None and len(dev_feats):
        evaluate = lambda m: pretraining.mlm_loss(m, "mlm", dev_feats, run.tokenizer, mlm_probability=spec.mlm_probability,
                                                  seed=seed, batch_size=args.per_device_eval_batch_size)
    seed_everything(seed + 1)
    result = train(run.model, stream(train_feats), args, out_dir=phase_dir, seed=seed, pad_token_id=run.tokenizer.pad_token_id,
                   evaluate=evaluate, selection_metric="loss" if evaluate else None, greater_is_better=False,
                   log=run.log, progress=run.progress)
    run.log(f"pretrained {result.steps} steps in {result.wall_seconds:.1f}s (best dev loss {result.best_metric})")
    if distributed.is_main():
        pretraining.save_pretrained(run.model, run.tokenizer, phase_dir / "model")
    rows = run.rows("pretrained", task.name, "+".join(spec.languages), "dev", evaluate(run.model), len(dev_feats)) if evaluate else []
    record(spec.max_length, result, lr, args.per_device_train_batch_size)
    _finish(run, phase_dir, rows, {"steps": sum(s["steps"] for s in stages),
                                   "wall_seconds": sum(s["wall_seconds"] for s in stages),
                                   "vocab_size": len(run.tokenizer), "train_blocks": len(train_feats),
                                   **({"curriculum": stages} if curriculum else {})})


def _common(values: list[int]) -> int | None:
    return values[0] if len(set(values)) == 1 else None


def _reload(run: Run, phase_dir: Path, *, load_model: bool = True) -> None:
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
