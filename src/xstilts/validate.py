"""What a config means, checked before anything runs: :func:`check`.

Pydantic (:mod:`xstilts.config`) checks what one field or one phase list can say alone: lengths
> 0, a finite learning rate > 0, dropout in [0, 1), a safe run name, the order of the phases. This
module checks what needs the task registry, the encoder's ``config.json`` and the data folder's
listing — without loading a model or reading a data file — and raises one :class:`ConfigError`
line ``FILE: key.path: what was expected, got what was found``:

* **roles** — a ``target`` is a target task with English training data (not an intermediate task,
  not a retrieval task); intermediate tasks are not pretraining corpora or retrieval tasks — but
  one MLM corpus task (``mlm``, ``syn_mlm``) may be mixed in with the phase's ``mlm`` block naming
  languages it has corpora for (and a head to continue) — and a phase lists each once;
  ``retrieval_eval`` scores retrieval tasks; ``head_init`` names a task of an intermediate phase
  before the target; every task under ``tasks:`` exists.
* **training data** — the ``train`` slice of every task a phase trains on is a split of its source
  task with English in it, and so is a ``dev`` slice the config sets (a default ``dev`` the task
  lacks means no dev selection, as before); borrowed data has the task's format and labels;
  ``exclude`` entries name a split the task has; ``stop`` > ``start``. A phase's
  ``source_language`` names languages some task has, and each slice has every one of them, or
  English to read a translation of (files only: the hub has no translations).
* **lengths** — every max length a phase featurizes at (the intermediate phase's ``max_length``,
  else the task's, as resolved) fits the encoder's positions: ``max_position_embeddings`` less the
  padding offset for RoBERTa-style encoders (XLM-R: 514 → 512, as :func:`xstilts.pretraining.build_encoder`
  sizes them), capped by the tokenizer's ``model_max_length``; a from-scratch encoder has
  ``max_positions`` or ``max_length``. The encoder's ``config.json`` is read from its directory, or
  from the Hugging Face cache for a hub id — never downloaded: a hub id not in the cache is not
  checked. QA windows leave room for context: ``max_length − max_query_length − special tokens``
  (4 for XLM-R/RoBERTa and from-scratch encoders, 3 for BERT-style) must exceed ``doc_stride``, the
  condition :func:`xstilts.formats.span_qa.featurize` enforces. A retrieval ``layer`` must exist.
* **evaluation sets** — a split a phase names must be a split name some task has (``validation``
  or ``tset`` is an error; ``dev`` on TyDiQA, which has none, is skipped as before, so that one
  study setting serves every target), at least one of them must be the task's, and a language it
  names must be in one of the task's splits named.
* **resources** (``resources=True``, i.e. when the run is about to start): the model directory
  exists and holds ``config.json`` (a hub id while ``HF_HUB_OFFLINE`` is set must be in the cache);
  the evaluation data: a language a phase *names* must have its files (the error names the file
  expected) — it is never skipped silently; with ``languages`` left out, the languages whose files
  are present are evaluated and the absent ones logged (as before), but a phase with no file at all
  is an error; ``out`` is a directory or can be one, and the run folder stays inside it; a training
  phase's data in a ``source_language`` other than English is there (its own file, or the
  translated file beside the English one: the error names the file expected).

Training files, corpora and fingerprints are :func:`xstilts.config.resolve`'s (a missing one is a
:class:`~xstilts.errors.DataError` naming it), which runs right after this, still before ``--out``
is touched.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from xstilts.config import ENGLISH, ExperimentConfig, TaskSettings, _task_settings, check_name, source_languages
from xstilts.errors import ConfigError, DataError, UnknownNameError

# Encoders whose position ids start after the padding index (RoBERTa's
# create_position_ids_from_input_ids): padding_idx + 1 positions are never used.
PADDING_OFFSET = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "data2vec-text",
                            "xmod", "roberta-prelayernorm", "ibert", "mpnet"})
# Special tokens around a (question, context) pair: <s> q </s></s> c </s> for those, [CLS] q [SEP] c [SEP] else.
ROBERTA_PAIR_SPECIALS, BERT_PAIR_SPECIALS = 4, 3
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")
_OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class Encoder:
    """What the checks know of the encoder (``None``: unknown, not checked)."""

    positions: int | None = None  # usable tokens per sequence, special tokens included
    why: str = ""  # where ``positions`` comes from, in words
    pair_specials: int = BERT_PAIR_SPECIALS
    layers: int | None = None


def check(config: ExperimentConfig, *, source: str | None, out: str | Path | None = None,
          resources: bool = True) -> None:
    """Raise one :class:`ConfigError` line for the first thing ``config`` gets wrong (see the module).

    ``source``: the config file, named first in the message. ``out``: the ``--out`` folder a run
    will write to (checked, never created). ``resources``: also check what must exist when the run
    starts — the model directory and the evaluation data (``False`` for a dry run or a plan).
    """
    _Checker(config, source).run(out, resources)


class _Checker:
    def __init__(self, config: ExperimentConfig, source: str | None):
        self.config, self.source = config, source

    def fail(self, key: str, message: str) -> NoReturn:
        text = f"{key}: {' '.join(message.split())}"
        raise ConfigError(f"{self.source}: {text}" if self.source else text)

    def task(self, name: str, key: str):
        from xstilts.tasks import get_task

        try:
            return get_task(name)
        except UnknownNameError as err:
            self.fail(key, str(err))

    # ------------------------------------------------------------------ the whole config

    def run(self, out, resources: bool) -> None:
        config = self.config
        try:
            check_name(config.name)
        except ValueError as err:
            self.fail("name", str(err))
        for name in config.tasks:
            self.task(name, f"tasks.{name}")
        encoder = self.encoder(resources)
        target = None
        intermediate: list[str] = []
        evaluations = []
        trainings = []  # (key, phase, tasks) of phases trained in a language other than English
        for i, phase in enumerate(config.phases):
            key, kind = f"phases.{i}", getattr(phase, "kind", None)
            if kind in ("intermediate", "target") and source_languages(phase) != (ENGLISH,):
                self.languages(key, phase)
                trainings.append((key, phase, list(getattr(phase, "tasks", None) or [phase.task])))
            if kind == "intermediate":
                self.intermediate(key, phase, encoder)
                intermediate += phase.tasks
            elif kind == "retrieval_eval":
                tasks = self.retrieval(key, phase, encoder)
                evaluations.append((key, phase, tasks))
            elif kind == "target":
                target = self.target(key, phase, encoder, intermediate)
            elif kind == "zero_shot_eval" and target is not None:
                self.eval_sets(key, phase, [target])
                evaluations.append((key, phase, [target]))
        if out is not None:
            self.out(Path(out))
        if resources and config.data_source == "files" and evaluations:
            self.data(evaluations)
        if resources and config.data_source == "files" and trainings:
            self.source_data(trainings)

    # ------------------------------------------------------------------ the encoder

    def encoder(self, resources: bool) -> Encoder:
        phase = self.config.phases[0]
        spec = getattr(phase, "from_scratch", None)
        if spec is not None:
            corpus = self.task(spec.corpus_task, "phases.0.from_scratch.corpus_task")
            if corpus.format != "mlm":
                self.fail("phases.0.from_scratch.corpus_task", f"{corpus.name} is a {corpus.format} task, not an MLM "
                          f"corpus (corpora: {', '.join(_names(lambda t: t.format == 'mlm'))})")
            for lang in spec.languages:
                if not corpus.has("train", lang):
                    self.fail("phases.0.from_scratch.languages", f"{corpus.name} has no {lang!r} corpus (languages: "
                              f"{_short(corpus.splits.get('train', ()))})")
            positions = max(spec.max_positions or spec.max_length, spec.max_length)
            return Encoder(positions, "the positions of the encoder pretrained from scratch (phases.0.from_scratch: "
                           "max_positions, else max_length)", ROBERTA_PAIR_SPECIALS, spec.model.num_hidden_layers)
        model = getattr(phase, "model", None)
        if not isinstance(model, str):
            return Encoder()
        revision = getattr(phase, "revision", None)
        info = self.hf_file(model, revision, "config.json", "phases.0.model", resources, required=True)
        tokenizer = getattr(phase, "tokenizer", None) or model
        if tokenizer != model:
            self.hf_file(tokenizer, revision, None, "phases.0.tokenizer", resources, required=False)
        if info is None:
            return Encoder()
        model_type = info.get("model_type")
        specials = ROBERTA_PAIR_SPECIALS if model_type in PADDING_OFFSET else BERT_PAIR_SPECIALS
        layers = info.get("num_hidden_layers") if isinstance(info.get("num_hidden_layers"), int) else None
        positions, why = None, ""
        mpe = info.get("max_position_embeddings")
        if isinstance(mpe, int) and mpe > 0:
            if model_type in PADDING_OFFSET:
                pad = info.get("pad_token_id") if isinstance(info.get("pad_token_id"), int) else 1
                positions = mpe - pad - 1
                why = f"the positions of {model} (max_position_embeddings {mpe} less the padding offset {pad + 1})"
            else:
                positions, why = mpe, f"the positions of {model} (max_position_embeddings)"
        tok = self.hf_file(tokenizer, revision, "tokenizer_config.json", None, False, required=False)
        limit = tok.get("model_max_length") if isinstance(tok, dict) else None
        if isinstance(limit, int) and 0 < limit < 10**6 and (positions is None or limit < positions):
            positions, why = limit, f"the model_max_length of {tokenizer}'s tokenizer"
        return Encoder(positions, why, specials, layers)

    def hf_file(self, name: str, revision: str | None, filename: str | None, key: str | None, resources: bool,
                *, required: bool) -> dict | None:
        """``filename`` (JSON) of a model or tokenizer: from its directory, or from the Hugging Face
        cache for a hub id (never downloaded). ``key``: report a directory that is not there (a path
        that does not exist, a file, a model folder without ``filename`` when ``required``)."""
        path = Path(name).expanduser()
        if path.exists():
            if not path.is_dir():
                if key:
                    self.fail(key, f"{name} is a file, not a model directory")
                return None
            if filename is None:
                return None
            file = path / filename
            if not file.is_file():
                if key and required:
                    self.fail(key, f"{name} has no {filename}: not a Hugging Face model directory")
                return None
            return _read_json(file, key, self)
        looks_like_path = not _HUB_ID.fullmatch(name) or name.startswith(("~", ".", "/"))
        if looks_like_path:
            if key and resources:
                self.fail(key, f"no such directory: {name}")
            return None
        found = None
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(name, filename or "config.json", revision=revision)
        except Exception:  # an id the hub library refuses: the load will say why
            found = None
        if isinstance(found, str):
            return _read_json(Path(found), None, self) if filename else None
        if key and resources and _offline():
            self.fail(key, f"{name!r} is not a local directory and not in the Hugging Face cache, and HF_HUB_OFFLINE is "
                      f"set: give the model's directory, or download it first")
        return None

    # ------------------------------------------------------------------ phases

    def intermediate(self, key: str, phase, encoder: Encoder) -> None:
        seen: set[str] = set()
        for name in phase.tasks:
            task = self.task(name, f"{key}.tasks")
            if name in seen:
                self.fail(f"{key}.tasks", f"{name!r} is listed twice")
            seen.add(name)
            if task.format == "mlm":  # continued multilingual MLM: its corpora are the phase's mlm block's
                self.mlm_mixing(key, phase, task)
            elif task.role == "pretraining" or task.format == "retrieval":
                self.fail(f"{key}.tasks", f"{name!r} is a {task.role} {task.format} task, not one to fine-tune on "
                          f"(intermediate tasks: {', '.join(_names(lambda t: t.role == 'intermediate'))})")
            else:
                self.training_data(name, phase)
            self.lengths(key, phase, task, encoder)
        if phase.mlm is not None and not any(self.task(n, f"{key}.tasks").format == "mlm" for n in phase.tasks):
            self.fail(f"{key}.mlm", f"configures the MLM task of the phase, but tasks has none (add one of "
                      f"{', '.join(_names(lambda t: t.format == 'mlm'))}), got tasks {phase.tasks}")

    def mlm_mixing(self, key: str, phase, task) -> None:
        """An MLM task in an intermediate phase: the only one, with ``mlm.languages`` it has corpora
        for, its data from the mlm block alone, and a head it can continue."""
        if phase.mlm is None:
            self.fail(f"{key}.tasks", f"{task.name!r} is a pretraining corpus (MLM): mixing it into intermediate "
                      f"training needs {key}.mlm.languages (the corpora to continue MLM on, e.g. "
                      f"mlm: {{languages: [en, de, ...]}})")
        others = [n for n in phase.tasks if n != task.name and self.task(n, f"{key}.tasks").format == "mlm"]
        if others:
            self.fail(f"{key}.tasks", f"one MLM task per phase ({task.name!r} and {others[0]!r}); list the languages "
                      f"of both under {key}.mlm.languages")
        for j, lang in enumerate(phase.mlm.languages):
            if not task.has("train", lang):
                self.fail(f"{key}.mlm.languages.{j}", f"{task.name} has no {lang!r} corpus (languages: "
                          f"{_short(task.splits.get('train', ()))})")
        if len(set(phase.mlm.languages)) < len(phase.mlm.languages):
            self.fail(f"{key}.mlm.languages", f"a language is listed twice, got {phase.mlm.languages}")
        settings = self.config.tasks.get(task.name)
        chosen = sorted({"train", "dev"} & settings.model_fields_set) if settings is not None else []
        if chosen:
            self.fail(f"tasks.{task.name}.{chosen[0]}", f"the corpora an intermediate phase's MLM reads are "
                      f"corpora/<split>.<language>.txt of {key}.mlm.languages, not a data slice")
        first = self.config.phases[0]
        if phase.mlm.head == "checkpoint" and getattr(first, "random_init", False):
            self.fail(f"{key}.mlm.head", f"'checkpoint', but phases.0 is the random-init control: the checkpoint's MLM "
                      f"head belongs to its pretrained weights; set 'fresh'")

    def target(self, key: str, phase, encoder: Encoder, intermediate: list[str]):
        task = self.task(phase.task, f"{key}.task")
        if task.format == "retrieval":
            self.fail(f"{key}.task", f"{task.name} is a retrieval task, with no training data: score it with a "
                      f"retrieval_eval phase")
        if task.role != "target":
            self.fail(f"{key}.task", f"{task.name} is an {task.role} task, not a target (a target is trained in "
                      f"English and scored in other languages; targets: {', '.join(_names(_trainable_target))})")
        if phase.head_init != "fresh" and phase.head_init not in intermediate:
            self.fail(f"{key}.head_init", f"must be 'fresh' or a task of an intermediate phase before the target "
                      f"({', '.join(intermediate) or 'none here'}), got {phase.head_init!r}")
        self.training_data(task.name, phase)
        self.lengths(key, phase, task, encoder)
        return task

    def retrieval(self, key: str, phase, encoder: Encoder) -> list:
        tasks = [self.task(name, f"{key}.tasks") for name in phase.tasks]
        for task in tasks:
            if task.format != "retrieval":
                self.fail(f"{key}.tasks", f"{task.name} is a {task.format} task; retrieval_eval scores retrieval tasks "
                          f"({', '.join(_names(lambda t: t.format == 'retrieval'))})")
            if phase.tasks.count(task.name) > 1:
                self.fail(f"{key}.tasks", f"{task.name!r} is listed twice")
        self.eval_sets(key, phase, tasks)
        for task in tasks:
            self.lengths(key, phase, task, encoder)
            if encoder.layers is not None:
                from xstilts.formats.retrieval import resolve_layer

                options = dict(task.options) | ({"layer": phase.layer} if phase.layer is not None else {})
                try:
                    resolve_layer(encoder.layers, options)
                except (ConfigError, KeyError, ValueError) as err:
                    self.fail(f"{key}.layer", str(err))
        self.sweep(key, phase, encoder)
        return tasks

    def sweep(self, key: str, phase, encoder: Encoder) -> None:
        """Sweep settings take effect only with ``sweep: true``, and name layers the encoder has."""
        defaults = type(phase).model_fields
        for name in ("sweep_layers", "sweep_poolings"):
            if not phase.sweep and getattr(phase, name) != defaults[name].default:
                self.fail(f"{key}.{name}", f"has no effect without {key}.sweep: true, got {getattr(phase, name)}")
        if phase.sweep and phase.sweep_layers and encoder.layers is not None:
            states = encoder.layers + 1
            for j, layer in enumerate(phase.sweep_layers):
                if not -states <= layer < states:
                    self.fail(f"{key}.sweep_layers.{j}", f"a {encoder.layers}-layer encoder has hidden states 0 "
                              f"(embeddings) to {encoder.layers}, got {layer}")

    def eval_sets(self, key: str, phase, tasks: list) -> None:
        """Splits and languages an evaluation phase names must be ones its task(s) have."""
        from xstilts.tasks import all_tasks

        names = "/".join(t.name for t in tasks)
        declared = {s for t in tasks for s in t.splits}
        anywhere = {s for t in all_tasks() for s in t.splits}
        for split in phase.splits:  # a split no task has is a typo; one other tasks have is skipped here
            if split not in declared and split not in anywhere:
                self.fail(f"{key}.splits", f"{names} has no split {split!r} (splits: {', '.join(sorted(declared))})")
        splits = [s for s in phase.splits if s in declared]
        if not splits:
            self.fail(f"{key}.splits", f"{names} has none of the splits {', '.join(phase.splits)} "
                      f"(splits: {', '.join(sorted(declared))})")
        for lang in phase.languages or ():
            if not any(t.has(s, lang) for t in tasks for s in splits):
                have = {x for t in tasks for s in splits for x in t.splits.get(s, ())}
                self.fail(f"{key}.languages", f"{names} has no {lang!r} in {'/'.join(splits)} "
                          f"(languages: {_short(sorted(have))})")

    # ------------------------------------------------------------------ data slices and lengths

    def languages(self, key: str, phase) -> None:
        """``source_language`` names languages of the registry (a typo is not a new language)."""
        from xstilts.tasks import all_tasks

        known = {lang for t in all_tasks() for lang in t.languages}
        for code in source_languages(phase):
            if code not in known:
                close = difflib.get_close_matches(code, sorted(known), n=3, cutoff=0.5)
                self.fail(f"{key}.source_language", f"no task has the language {code!r}"
                          + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))

    def training_data(self, name: str, phase=None) -> None:
        """The ``train`` (and an explicit ``dev``) slice of a task a phase trains on has data in
        the phase's source languages (English by default; another language, or English to translate)."""
        languages = source_languages(phase) if phase is not None else (ENGLISH,)
        task = self.task(name, f"tasks.{name}")
        settings = self.config.tasks.get(name) or TaskSettings()
        for role in ("train", "dev"):
            data = getattr(settings, role)
            key = f"tasks.{name}.{role}"
            explicit = name in self.config.tasks and role in settings.model_fields_set
            source = self.task(data.task, f"{key}.task") if data.task else task
            if source is not task and (source.format != task.format or (source.labels or None) != (task.labels or None)):
                what = (f"format {source.format} vs {task.format}" if source.format != task.format else "other labels")
                self.fail(f"{key}.task", f"{source.name} data does not fit {name} ({what})")
            if role == "train" or explicit:
                if data.split not in source.splits:
                    self.fail(f"{key}.split", f"{source.name} has no split {data.split!r} "
                              f"(splits: {', '.join(source.splits)}), got {data.split!r}")
                if ENGLISH in languages and not source.has(data.split, ENGLISH):
                    self.fail(key, f"{source.name}'s {data.split!r} split has no English examples (it has "
                              f"{_short(source.splits[data.split])}); a phase trains and selects on English data")
                for lang in (x for x in languages if x != ENGLISH and not source.has(data.split, x)):
                    if not source.has(data.split, ENGLISH):
                        self.fail(key, f"{source.name}'s {data.split!r} split has no {lang!r} examples (source_language) "
                                  f"and no English ones to translate (it has {_short(source.splits[data.split])})")
                    if self.config.data_source == "hub":
                        self.fail(key, f"{source.name}'s {data.split!r} split has no {lang!r} examples on the hub "
                                  f"(source_language): translations are read from the data folder (data_source: files)")
            if data.stop is not None and data.stop >= 0 and data.start >= 0 and data.stop <= data.start:
                self.fail(f"{key}.stop", f"must be greater than start ({data.start}), got {data.stop}")
            for j, entry in enumerate(data.exclude):
                other, _, split = entry.partition("/")
                excluded = self.task(other, f"{key}.exclude.{j}")
                split = split or "test"
                if split not in excluded.splits:
                    self.fail(f"{key}.exclude.{j}", f"{entry!r}: {excluded.name} has no split {split!r} "
                              f"(splits: {', '.join(excluded.splits)})")

    def lengths(self, key: str, phase, task, encoder: Encoder) -> None:
        """The length ``phase`` featurizes ``task`` at fits the encoder; a QA window leaves room for context."""
        s = _task_settings(task, self.config.tasks.get(task.name))
        own = getattr(phase, "max_length", None) if phase.kind in ("intermediate", "retrieval_eval") else None
        length = own or s["max_length"]
        set_here = task.name in self.config.tasks and self.config.tasks[task.name].max_length is not None
        length_key = f"{key}.max_length" if own else f"tasks.{task.name}.max_length"
        origin = "" if own or set_here else f" ({task.name}'s default)"
        if encoder.positions is not None and length > encoder.positions:
            self.fail(length_key, f"must be <= {encoder.positions}, {encoder.why}, got {length}{origin}")
        if task.format != "span_qa" or phase.kind == "retrieval_eval":
            return
        query, stride, n = s.get("max_query_length"), s.get("doc_stride"), encoder.pair_specials
        if not query or not stride:
            return
        room = length - query - n
        if own and room <= stride:
            self.fail(length_key, f"a {length}-token window leaves {room} context tokens after a {query}-token question "
                      f"(tasks.{task.name}.max_query_length) and {n} special tokens; it must exceed {task.name}'s "
                      f"doc_stride ({stride}): raise max_length or set a smaller tasks.{task.name}.doc_stride, got {length}")
        if room <= 0:
            self.fail(f"tasks.{task.name}.max_query_length", f"must be below {length - n} (a {length}-token window less "
                      f"{n} special tokens, with room left for context), got {query}")
        if room <= stride:
            self.fail(f"tasks.{task.name}.doc_stride", f"must be below {room}, the context tokens a {length}-token window "
                      f"leaves after a {query}-token question and {n} special tokens, got {stride}")

    # ------------------------------------------------------------------ what must exist when it runs

    def out(self, out: Path) -> None:
        existing = out
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            where = "a file is there" if existing == out else f"{existing} is a file"
            raise ConfigError(f"--out {out}: not a directory ({where})")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"--out {out}: not writable ({existing})")
        runs = (out / "runs").resolve()
        if (runs / f"{self.config.name}-0").resolve().parent != runs:
            self.fail("name", f"{self.config.name!r} would put the run folder outside {runs}")

    def source_data(self, trainings) -> None:
        """The files a phase trains and selects on in a language other than English exist: the
        task's own, or the translation beside the English file (:func:`~xstilts.data.loading.translated_files`)."""
        from xstilts import settings as data_settings
        from xstilts.data.loading import TRANSLATED_DIR, is_translated, translated_files
        from xstilts.tasks import get_task

        try:
            root = data_settings.data_dir(self.config.data_dir)
        except ConfigError as err:
            self.fail("data_dir", str(err))
        for key, phase, names in trainings:
            for name in names:
                settings = self.config.tasks.get(name) or TaskSettings()
                for role in ("train", "dev"):
                    data = getattr(settings, role)
                    source = get_task(data.task or name)
                    for lang in source_languages(phase):
                        if lang == ENGLISH or data.split not in source.splits:
                            continue  # English files are resolve's to check, as before
                        if is_translated(source, data.split, lang):
                            parts = [source] if not source.components else [
                                get_task(c) for c in source.components if get_task(c).has(data.split, ENGLISH)]
                            missing = next((root / f for part in parts for f in translated_files(part, data.split, lang)
                                            if not (root / f).exists()), None)
                            how = (f" (a split without {lang!r} is read from a translation beside its English file: "
                                   f"{TRANSLATED_DIR}/<its name>.{lang}.<extension>, docs/config.md)")
                        elif source.has(data.split, lang):
                            missing, how = _missing_file(source, data.split, lang, root), ""
                        else:
                            continue
                        if missing is not None:
                            self.fail(f"{key}.source_language", f"no {name} {role} data in {lang!r} "
                                      f"(tasks.{name}.{role}: {source.name}/{data.split}): {missing} does not exist{how}")

    def data(self, evaluations) -> None:
        from xstilts import settings as data_settings

        try:
            root = data_settings.data_dir(self.config.data_dir)
        except ConfigError as err:
            self.fail("data_dir", str(err))
        for key, phase, tasks in evaluations:
            first_missing = None
            found = False
            for task in tasks:
                for split in (s for s in phase.splits if s in task.splits):
                    for lang in phase.languages or task.splits[split]:
                        if not task.has(split, lang):
                            continue
                        missing = _missing_file(task, split, lang, root)
                        if missing is None:
                            found = True
                        elif phase.languages:
                            self.fail(f"{key}.languages", f"no {task.name} {split} data in {lang!r}: {missing} does not "
                                      f"exist (leave {lang!r} out, or leave languages out for every language present)")
                        else:
                            first_missing = first_missing or missing
            if not found:
                names = "/".join(t.name for t in tasks)
                self.fail(key, f"no {names} {'/'.join(phase.splits)} files for any language under {root} "
                          f"(e.g. {first_missing}): nothing to evaluate")


def _missing_file(task, split: str, lang: str, root: Path) -> Path | None:
    """The first file of ``task``/``split``/``lang`` not under ``root`` (or ``None``: all there), as
    :meth:`xstilts.pipeline.run.Run.languages` sees it (a compressed ``file.*`` counts)."""
    from xstilts.data.loading import resolve_files
    from xstilts.tasks import get_task

    if task.components:
        parts = [get_task(c) for c in task.components if get_task(c).has(split, lang)]
        misses = [_missing_file(c, split, lang, root) for c in parts]
        return None if any(m is None for m in misses) else (misses[0] if misses else root / task.name)
    try:
        paths, _ = resolve_files(task, split, lang, root)
    except DataError:
        return root / task.name / f"{split}-{lang}"
    for p in paths:
        if not (p.exists() or any(p.parent.glob(p.name + ".*"))):
            return p
    return None


def _read_json(path: Path, key: str | None, checker: _Checker) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        if key:
            checker.fail(key, f"{path} is not readable JSON ({err})")
        return None
    return value if isinstance(value, dict) else None


def _offline() -> bool:
    return any(os.environ.get(v, "").upper() in _OFFLINE_VALUES for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _trainable_target(task) -> bool:
    return task.role == "target" and task.format != "retrieval"


def _names(keep) -> list[str]:
    from xstilts.tasks import all_tasks

    return [t.name for t in all_tasks() if keep(t)]


def _short(items, n: int = 12) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


__all__ = ["check", "Encoder", "PADDING_OFFSET"]
