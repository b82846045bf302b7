"""What every phase of one experiment run works with: the :class:`Run` (config, tokenizer, model,
data access, features, log and result rows) and the few ways a phase writes its output.

The runner (:mod:`xstilts.pipeline.runner`) builds one :class:`Run` and hands it to each phase
kind in turn (:mod:`xstilts.pipeline.phases`); the phases change its ``tokenizer``, ``model`` and
the names result rows carry (``intermediate``, ``target``, ...). Under several processes
(``accelerate launch``) every process holds a Run, and only the main one writes: the helpers here
say so once, so that no phase has to.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xstilts import settings as xsettings
from xstilts.config import ENGLISH, ExperimentConfig, ResolvedConfig, source_languages
from xstilts.data.cache import FeatureCache, tokenizer_fingerprint
from xstilts.data.lengths import text_lengths
from xstilts.data.loading import is_translated, load_examples, resolve_files
from xstilts.errors import ConfigError
from xstilts.formats import FEATURIZATION_VERSION, get_format
from xstilts.formats.base import Features
from xstilts.modeling import MultiTaskModel
from xstilts.pipeline import evaluation, overlap
from xstilts.pipeline.results import append_rows, make_row
from xstilts.tasks import Task, get_task
from xstilts.training import distributed

FEATURIZE_CHUNK = 2000


def language_label(name: str, languages: Sequence[str]) -> str:
    """How rows name a task trained in other source languages (``udpos[de]``, ``syn_nli[en+xa]``):
    a condition of its own in tables and the report; an English-trained task keeps its name."""
    return name if tuple(languages) == (ENGLISH,) else f"{name}[{'+'.join(languages)}]"


@dataclass
class Run:
    """Everything one experiment run needs; built by :func:`~xstilts.pipeline.runner.run_experiment`."""

    config: ExperimentConfig
    out_dir: Path
    run_dir: Path
    tokenizer: Any
    model: MultiTaskModel
    cache: FeatureCache
    progress: bool
    resolved: ResolvedConfig  # every effective setting and data fingerprint, resolved once
    intermediate: list[str] = field(default_factory=list)  # as rows name them (language_label)
    intermediate_max_len: int | None = None
    compute_policy: str | None = None
    target: str | None = None  # the target task (its head's name)
    intermediate_languages: tuple[str, ...] = ()  # source languages of the intermediate phases so far
    target_languages: tuple[str, ...] = (ENGLISH,)  # the target phase's source languages
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

    def add_intermediate(self, phase) -> None:
        """Name an intermediate phase's tasks in later rows (with their source languages)."""
        languages = source_languages(phase)
        self.intermediate += [language_label(t, languages) for t in phase.tasks]
        self.intermediate_languages = tuple(dict.fromkeys(self.intermediate_languages + languages))

    @property
    def target_label(self) -> str | None:
        """The target as rows name it: ``udpos``, or ``udpos[de]`` when trained in German."""
        return None if self.target is None else language_label(self.target, self.target_languages)

    def language_fields(self) -> dict[str, str]:
        """The source languages rows carry when a phase before them trained in another language
        than English (none otherwise: English rows stay as they were)."""
        out = {}
        if self.intermediate_languages and self.intermediate_languages != (ENGLISH,):
            out["intermediate_source_language"] = "+".join(self.intermediate_languages)
        if self.target is not None and self.target_languages != (ENGLISH,):
            out["source_language"] = "+".join(self.target_languages)
        return out

    def rows(self, phase: str, task: str, language: str, split: str, metrics: dict[str, float], n: int,
             **extra) -> list[dict]:
        languages = self.language_fields()
        return [make_row(run_id=self.resolved.run_id, config_hash=self.resolved.config_hash(), phase=phase,
                         intermediate=list(self.intermediate), intermediate_max_len=self.intermediate_max_len,
                         compute_policy=self.compute_policy, target=self.target_label, task=task, language=language,
                         split=split, metric=m,
                         value=float(v), n=n, seed=self.config.seed, **extra) | languages
                for m, v in metrics.items() if v is not None]

    def example_rows(self, phase: str, task: Task, language: str, split: str, examples: Sequence,
                     predictions, lengths: np.ndarray, buckets: dict[str, np.ndarray], gold=None) -> list[dict]:
        """Per-example sufficient statistics (``example_scores.jsonl``) for paired bootstrap CIs;
        ``gold`` defaults to what the task format's adapter reads from ``examples``."""
        from xstilts.metrics.per_example import example_stats

        if gold is None:
            gold = evaluation.adapter(task).gold(examples)
        stats = example_stats(task.metric, gold, predictions, language)
        member: list[list[str]] = [[] for _ in examples]
        for name, idx in buckets.items():
            for i in idx:
                member[int(i)].append(name)
        common = {"run_id": self.resolved.run_id, "config_hash": self.resolved.config_hash(), "phase": phase,
                  "intermediate": list(self.intermediate), "intermediate_max_len": self.intermediate_max_len,
                  "compute_policy": self.compute_policy, "target": self.target_label, "task": task.name,
                  "language": language, "split": split,
                  "seed": self.config.seed, "metric": task.metric, **self.language_fields()}
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

    def examples(self, task: Task, split: str, language: str, limit: int | None, *, translated: bool = False) -> list:
        examples = load_examples(task, split, language, data_dir=self.config.data_dir, source=self.config.data_source,
                                 translated=translated)
        return examples[:limit] if limit else examples

    def english(self, task: Task, role: str, limit: int | None) -> list:
        """English ``train`` or ``dev`` examples of ``task``, from its :class:`DataSlice` setting."""
        return self.english_slice(task, role, limit)[1]

    def english_slice(self, task: Task, role: str, limit: int | None) -> tuple[str, list]:
        """:meth:`english` with a label saying where the examples come from (for the overlap guard)."""
        return self.source_slice(task, role, limit, ENGLISH)

    def source_examples(self, task: Task, role: str, limit: int | None,
                        languages: Sequence[str]) -> list[tuple[str, list]]:
        """``(language, examples)`` of ``task``'s ``train`` or ``dev`` slice in each source language
        (``limit`` applies per language)."""
        return [(lang, self.source_slice(task, role, limit, lang)[1]) for lang in languages]

    def source_features(self, task: Task, split: str, per_language: Sequence[tuple[str, list]], s: dict) -> Features:
        """Features of :meth:`source_examples`' examples, one table in that order (each language
        featurized and cached on its own; English alone is exactly :meth:`features`)."""
        if len(per_language) == 1:
            lang, examples = per_language[0]
            return self.features(task, split, lang, examples, s)
        return Features.concat([self.features(task, split, lang, ex, s) for lang, ex in per_language],
                               [len(ex) for _, ex in per_language])

    def source_slice(self, task: Task, role: str, limit: int | None, language: str = ENGLISH) -> tuple[str, list]:
        """``task``'s ``train`` or ``dev`` examples in ``language``, from its :class:`DataSlice`
        setting, with a label saying where they come from (for the overlap guard). A split the
        source task lacks in ``language`` but has in English is read from its translated files
        (:func:`xstilts.data.loading.translated_files`); a split it has in neither gives none."""
        data = self.resolved.data_slice(task.name, role)
        source = get_task(data.task) if data.task else task
        if source.format != task.format or (source.labels or None) != (task.labels or None):
            raise ConfigError(f"tasks.{task.name}.{role}: {source.name} data does not fit {task.name} "
                              f"(format {source.format} vs {task.format}, labels {source.labels} vs {task.labels})")
        label = overlap.slice_label(source.name, data.split, data.start, data.stop, language)
        if not source.has(data.split, language) and not is_translated(source, data.split, language):
            return label, []
        examples = self.examples(source, data.split, language, None, translated=True)
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

    def _cache_key(self, task: Task, split: str, language: str, examples: Sequence) -> dict:
        digest = hashlib.sha256(repr(examples).encode()).hexdigest()[:16]
        return {"task": task.name, "task_version": task.version, "format": task.format,
                "format_version": FEATURIZATION_VERSION, "split": split, "language": language,
                "tokenizer": tokenizer_fingerprint(self.tokenizer), "examples": digest}

    def text_lengths(self, task: Task, split: str, language: str, examples: Sequence) -> np.ndarray:
        """:func:`xstilts.data.lengths.text_lengths` of ``examples`` (cached by content: every run of
        a grid scores the same test sets with the same tokenizer, and tokenizing them again cost
        as much as their evaluation on small models)."""
        def build() -> Features:
            return Features({"text_length": np.asarray(text_lengths(task.format, examples, self.tokenizer),
                                                       dtype=np.int64)})

        parts = {**self._cache_key(task, split, language, examples), "what": "text_lengths"}
        return np.asarray(self.cache.get(parts, build)["text_length"])

    def features(self, task: Task, split: str, language: str, examples: Sequence, s: dict) -> Features:
        """``examples`` featurized by the task's format under settings ``s`` (cached by content)."""
        fmt = get_format(task.format)
        parts = {**self._cache_key(task, split, language, examples),
                 **{k: v for k, v in s.items() if k != "max_answer_length"}}

        def build() -> Features:
            from tqdm.auto import tqdm

            self.log(f"tokenizing {task.name} {split}-{language}: {len(examples)} examples")
            kwargs = fmt.featurize_kwargs(s, split)
            # Chunks only to show progress (with ETA); the result equals one featurize call, so a
            # format whose rows run across examples (MLM blocks) is featurized in one.
            size = len(examples) if getattr(fmt, "JOINS_EXAMPLES", False) else FEATURIZE_CHUNK
            chunks = [examples[i:i + size] for i in range(0, len(examples), size)]
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


# -------------------------------------------------------------------- what a phase writes


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically (a temporary name unique to this process, then rename); under
    several processes (``accelerate launch``) the main process writes, the others do not."""
    if not distributed.is_main():
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "".join(f"{x}\n" for x in lines))


def append(path: Path, rows: list[dict]) -> None:
    if distributed.is_main():  # one copy of each row, whatever the number of processes
        append_rows(path, rows)


def finish(run: Run, phase_dir: Path, rows: list[dict], info: dict) -> None:
    """Append the phase's rows, then mark it done. A kill between the two makes a re-run append
    the same keys again; readers keep the last row per key (:func:`results.latest_rows`)."""
    append(run.out_dir / "results.jsonl", rows)
    write_text(phase_dir / "done.json", json.dumps({"rows": len(rows), **info}, indent=1))
    distributed.barrier()  # every process sees the phase done before any goes on
