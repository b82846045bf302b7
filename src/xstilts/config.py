"""Typed experiment configuration: YAML in, validated objects out, hashed into run ids.

An experiment is an ordered list of phases (``pretrained`` → ``intermediate`` → ``retrieval_eval``
→ ``target`` → ``zero_shot_eval``), each with its own hyper-parameters, named as in HF
``TrainingArguments``. Unknown keys are errors with a "did you mean"; ``--set a.b=c`` overrides
are applied to the raw mapping before validation, so they are validated like the file.
The resolved config (:func:`resolve`: every default, the featurization version and the data files'
fingerprints filled in) is what gets saved beside a run and hashed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer,
                      model_validator)

from xstilts.errors import ConfigError


class _Strict(BaseModel):
    # No setting takes NaN or infinity: a NaN learning rate trains nothing and says nothing.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# A run's name becomes a folder (OUT/runs/<name>-<hash>): one path component, nothing that walks
# out of --out (``..``, ``/``, an absolute path) or hides (a leading dot).
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


def check_name(value: str) -> str:
    """``value`` if it is a safe single folder name, else a ValueError saying what is allowed."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise ValueError(f"must be a single folder name of letters, digits, '.', '_' and '-' (not starting with "
                         f"'.', at most 200 characters), got {value!r}")
    return value


class TrainingArgs(_Strict):
    """Per-phase optimisation settings (names follow HF ``TrainingArguments``).

    Defaults follow XTREME's XLM-R baselines and Phang et al. 2020 (docs/config.md cites each).
    """

    learning_rate: float = Field(1e-5, gt=0)
    per_device_train_batch_size: int = Field(8, ge=1)
    per_device_eval_batch_size: int = Field(32, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    num_train_epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(-1, ge=-1)  # > 0 overrides num_train_epochs, as in HF
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    adam_epsilon: float = Field(1e-8, gt=0)
    max_grad_norm: float = Field(1.0, ge=0)  # 0: no clipping
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 where supported
    eval_steps: int | None = Field(None, ge=1)  # evaluate every N optimizer steps; None = once per epoch
    save_steps: int | None = Field(None, ge=1)  # checkpoint every N steps; None = at each evaluation
    logging_steps: int = Field(50, ge=1)
    early_stopping_patience: int | None = Field(None, ge=0)  # evaluations without improvement before stopping
    metric_for_best_model: str | None = None  # default: the task's main metric on English dev
    # Subsample (first N) for quick runs; None = all (0 is not "all": it is refused).
    max_train_examples: int | None = Field(None, ge=1)
    max_eval_examples: int | None = Field(None, ge=1)
    dropout: float | None = Field(None, ge=0, lt=1)  # None keeps the encoder config's dropout
    # Keep the encoder's input word embeddings fixed (Artetxe et al. 2020, "On the Cross-lingual
    # Transferability of Monolingual Representations"): English-only fine-tuning then cannot move
    # English words away from the other languages' words they were aligned with in pretraining.
    freeze_embeddings: bool = False
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = []  # trackers, through accelerate


def equal_tokens_batch(batch_size: int, reference_length: int, max_length: int) -> int:
    """The batch size at ``max_length`` that holds as many tokens as ``batch_size`` rows at ``reference_length``."""
    return max(1, round(batch_size * reference_length / max_length))


class DataSlice(_Strict):
    """Where a task's English training or dev examples come from: by default its own split.

    ``task`` borrows another task's data with the same format and labels (XNLI trained on ANLI
    when MNLI is not at hand); ``start``/``stop`` take a slice (e.g. SQuAD dev split in two).
    ``exclude`` drops, before slicing, every example that shares an id or a long text with the
    named evaluation data — ``"xquad"`` (its ``test`` split) or ``"task/split"``, in English where
    the split has English, else in every language — e.g. SQuAD v1.1 dev without the 240 paragraphs
    XQuAD translates (:mod:`xstilts.pipeline.overlap`).
    """

    task: str | None = None
    split: str
    start: int = 0
    stop: int | None = None
    exclude: list[str] = []


class TaskSettings(_Strict):
    """Per-task overrides of the registry defaults (data, max length, stride, QA lengths)."""

    train: DataSlice = DataSlice(split="train")
    dev: DataSlice = DataSlice(split="dev")
    max_length: int | None = Field(None, gt=0)
    doc_stride: int | None = Field(None, gt=0)
    max_query_length: int | None = Field(None, gt=0)
    max_answer_length: int | None = Field(None, gt=0)


def _merge_training(data: Any, defaults: "TrainingArgs") -> Any:
    """Training keys a phase leaves out come from that phase's defaults, not TrainingArgs' own."""
    if isinstance(data, dict) and isinstance(data.get("training"), dict):
        data = {**data, "training": {**defaults.model_dump(exclude_unset=True), **data["training"]}}
    return data


class TokenizerSpec(_Strict):
    """A subword tokenizer trained on the pretraining corpora with HF ``tokenizers``.

    ``bpe`` is byte-for-byte reproducible; the ``unigram`` trainer (XLM-R's kind) is not, even
    single-threaded, so a seeded run with it may differ slightly.
    """

    kind: Literal["bpe", "unigram"] = "bpe"
    vocab_size: int = Field(8000, ge=100)
    min_frequency: int = 2


class ModelShape(_Strict):
    """An XLM-R-shaped encoder (``XLMRobertaConfig`` names)."""

    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512
    hidden_dropout_prob: float = Field(0.1, ge=0, lt=1)
    attention_probs_dropout_prob: float = Field(0.1, ge=0, lt=1)


class FromScratch(_Strict):
    """Pretrain a tokenizer and a small MLM on raw text (task ``mlm``: corpora/{split}.<lang>.txt)."""

    languages: list[str] = Field(min_length=1)
    corpus_task: str = "mlm"
    seed: int | None = None  # pretraining seed; None = the experiment's (fix it to share one model across seeds)
    max_examples_per_language: int | None = Field(None, ge=1)
    tokenizer: TokenizerSpec = TokenizerSpec()
    model: ModelShape = ModelShape()
    max_length: int = Field(64, ge=8)  # MLM block length (tokens, special tokens included)
    # Position embeddings (and the tokenizer's model_max_length); None = max_length. Positions past
    # max_length are never trained by MLM: pretrain at the longest length later phases use.
    max_positions: int | None = Field(None, ge=8)
    # A block-length curriculum, after BERT's two stages (Devlin et al. 2019, A.2: 90% of the steps at
    # 128 tokens, then 512): blocks of each length in length_curriculum (ascending), then max_length.
    # The first length gets the steps the later stages leave; every later length, and max_length,
    # curriculum_stage_steps at curriculum_learning_rate; every batch holds as many tokens as a
    # max_length batch. A tiny model's attention starts out uniform, so on long blocks it learns
    # little beyond unigrams for thousands of steps; on 16-token blocks it learns the grammar in
    # hundreds, and gentle steps up (x1.5) keep it (docs/world.md measures all three).
    length_curriculum: list[int] = []
    curriculum_stage_steps: int = Field(80, ge=1)
    curriculum_learning_rate: float | None = Field(None, gt=0)  # None: training.learning_rate
    pretrain: bool = True  # False: tokenizer only, encoder left at random init (the "not pretrained" control)
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    training: TrainingArgs = TrainingArgs(learning_rate=1e-3, per_device_train_batch_size=128, num_train_epochs=1.0,
                                          warmup_ratio=0.05, weight_decay=0.01, per_device_eval_batch_size=256)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _merge_training(data, cls.model_fields["training"].default)

    @model_validator(mode="after")
    def _curriculum(self) -> "FromScratch":
        if self.max_positions is not None and self.max_positions < self.max_length:
            raise ValueError(f"max_positions ({self.max_positions}) must be at least max_length ({self.max_length}): "
                             f"the MLM trains blocks of max_length tokens")
        lengths = self.length_curriculum
        if not lengths:
            return self
        if lengths != sorted(set(lengths)) or lengths[0] < 8 or lengths[-1] >= self.max_length:
            raise ValueError(f"length_curriculum {lengths} must ascend strictly from >= 8 to below max_length "
                             f"({self.max_length})")
        if self.training.max_steps <= self.curriculum_stage_steps * len(lengths):
            raise ValueError(f"length_curriculum needs training.max_steps above curriculum_stage_steps × "
                             f"{len(lengths)} (the steps of the later stages and of max_length)")
        return self

    def stages(self) -> list[tuple[int, int, float]]:
        """(block length, steps, peak learning rate) of every stage, max_length last."""
        args = self.training
        if not self.length_curriculum:
            return [(self.max_length, args.max_steps, args.learning_rate)]
        later_lr = self.curriculum_learning_rate or args.learning_rate
        n = self.curriculum_stage_steps
        first = args.max_steps - n * len(self.length_curriculum)
        return ([(self.length_curriculum[0], first, args.learning_rate)]
                + [(length, n, later_lr) for length in (*self.length_curriculum[1:], self.max_length)])


class PretrainedPhase(_Strict):
    """Where the encoder comes from: an HF checkpoint (hub id or directory), or ``from_scratch``."""

    kind: Literal["pretrained"] = "pretrained"
    model: str | None = None  # HF hub id (e.g. FacebookAI/xlm-roberta-large) or a local directory
    revision: str | None = None
    tokenizer: str | None = None  # defaults to ``model``
    from_scratch: FromScratch | None = None
    # The control: ``model``'s architecture and tokenizer with random weights (torch seed = the
    # experiment's seed), to tell what pretraining contributes from what fine-tuning alone does.
    random_init: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> "PretrainedPhase":
        if (self.model is None) == (self.from_scratch is None):
            raise ValueError("set exactly one of 'model' and 'from_scratch'")
        if self.random_init and self.model is None:
            raise ValueError("'random_init' needs 'model' (whose architecture to initialise)")
        return self


ENGLISH = "en"
# A language code becomes part of file names (translated/train.de.jsonl): letters, then -/_ parts.
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")


class _SourceLanguage(_Strict):
    """``source_language`` of a training phase (intermediate, target): the language its train and
    dev data are read in — a code, or a list mixed in one training stream per task (translate-train);
    see :func:`source_languages`. English, the default, is left out of dumps, so that configs, run
    ids and training keys of English phases stay what they were before the field existed."""

    source_language: str | list[str] = ENGLISH

    @field_validator("source_language")
    @classmethod
    def _codes(cls, value: str | list[str]) -> str | list[str]:
        codes = [value] if isinstance(value, str) else list(value)
        if not codes:
            raise ValueError("must be a language code or a non-empty list of them")
        for code in codes:
            if not _LANGUAGE_CODE.fullmatch(code):
                raise ValueError(f"not a language code (letters, e.g. 'de' or 'zh'), got {code!r}")
        twice = next((c for i, c in enumerate(codes) if c in codes[:i]), None)
        if twice is not None:
            raise ValueError(f"{twice!r} is listed twice, got {codes}")
        return codes[0] if len(codes) == 1 else codes  # [de] and de are one phase (one key)

    @model_serializer(mode="wrap")
    def _omit_english(self, handler):
        data = handler(self)
        if self.source_language == ENGLISH and isinstance(data, dict):
            data.pop("source_language", None)
        return data


def source_languages(phase) -> tuple[str, ...]:
    """The languages a phase trains and selects on, in order: ``("en",)`` unless it sets ``source_language``."""
    value = getattr(phase, "source_language", ENGLISH)
    return (value,) if isinstance(value, str) else tuple(value)


class MlmMixing(_Strict):
    """Continued multilingual MLM in an intermediate phase (Phang et al. 2020's baseline against
    forgetting the other languages): the MLM task among the phase's ``tasks`` (``mlm``, ``syn_mlm``)
    trains on the corpora ``corpora/{train,dev}.<language>.txt`` of ``languages`` — Wikipedia text
    in practice — sampled with the other tasks, its head continuing from the checkpoint's own MLM
    head (``head: checkpoint``: XLM-R's ``lm_head``; the run's ``mlm`` head where an earlier phase
    has one) or, only when asked, a new one (``fresh``)."""

    languages: list[str] = Field(min_length=1)
    max_examples_per_language: int | None = Field(None, ge=1)  # first N lines of each corpus, train and dev
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    head: Literal["checkpoint", "fresh"] = "checkpoint"


# Intermediate training defaults: jiant's (Phang et al. 2020 trained with jiant) — lr 1e-5, 3
# epochs, warm-up 10%, AdamW eps 1e-8, clipping 1.0 — and batch size 4 from jiant's X-STILTs guide.
INTERMEDIATE_TRAINING = TrainingArgs(learning_rate=1e-5, per_device_train_batch_size=4, num_train_epochs=3.0)


class IntermediatePhase(_SourceLanguage):
    kind: Literal["intermediate"] = "intermediate"
    tasks: list[str] = Field(min_length=1)
    sampler: Literal["proportional", "uniform", "temperature", "examples_cap"] = "proportional"
    temperature: float = Field(2.0, gt=0)
    examples_cap: int | None = Field(None, ge=1)
    max_length: int | None = Field(None, gt=0)  # the intermediate max sequence length (all tasks)
    # equal_steps: same steps and batch size at every max_length; equal_tokens: the batch size is
    # scaled by policy_reference_length / max_length so tokens per step stay constant.
    compute_policy: Literal["equal_steps", "equal_tokens"] = "equal_steps"
    policy_reference_length: int = Field(128, ge=1)
    training: TrainingArgs = INTERMEDIATE_TRAINING
    mlm: MlmMixing | None = None  # the MLM task of ``tasks``: its corpora and head (MlmMixing)

    @model_serializer(mode="wrap")
    def _omit_unset_additions(self, handler):
        # ``mlm`` came after the phase existed: left out when unset, so that configs, run ids and
        # training keys of phases without it stay what they were (as English source_language).
        data = super()._omit_english(handler)
        if self.mlm is None and isinstance(data, dict):
            data.pop("mlm", None)
        return data

    @model_validator(mode="after")
    def _policy_needs_length(self) -> "IntermediatePhase":
        if self.compute_policy == "equal_tokens" and self.max_length is None:
            raise ValueError("compute_policy 'equal_tokens' needs max_length")
        return self

    def effective_training(self) -> TrainingArgs:
        """The training arguments after applying the compute policy."""
        if self.compute_policy == "equal_steps" or self.max_length is None:
            return self.training
        batch = equal_tokens_batch(self.training.per_device_train_batch_size, self.policy_reference_length,
                                   self.max_length)
        return self.training.model_copy(update={"per_device_train_batch_size": batch})

    @model_validator(mode="before")
    @classmethod
    def _jiant_defaults(cls, data: Any) -> Any:
        return _merge_training(data, INTERMEDIATE_TRAINING)


class RetrievalEvalPhase(_Strict):
    kind: Literal["retrieval_eval"] = "retrieval_eval"
    tasks: list[str] = Field(["bucc2018", "tatoeba"], min_length=1)
    layer: int | None = None  # None: the task's layer_by_depth table for the encoder's depth
    pooling: Literal["mean", "cls"] | None = None  # None: the task's declared pooling
    max_length: int | None = Field(None, gt=0)
    splits: list[str] = Field(["test"], min_length=1)
    languages: list[str] | None = Field(None, min_length=1)  # None: every language of the task
    # Text put before every sentence before tokenization (E5: "query: "); a side's own prefix
    # (source = non-English, target = English) overrides it. Recorded in done.json.
    prefix: str = ""
    source_prefix: str | None = None
    target_prefix: str | None = None
    # sweep: also score every layer of sweep_layers (None: all, 0 = embeddings … L) × sweep_poolings
    # from the same forward passes, as rows of phase "retrieval_sweep" (docs/retrieval.md).
    sweep: bool = False
    sweep_layers: list[int] | None = Field(None, min_length=1)
    sweep_poolings: list[Literal["mean", "cls"]] = Field(["mean", "cls"], min_length=1)
    max_examples: int | None = Field(None, ge=1)  # first N source sentences per language (quick looks)

    @model_serializer(mode="wrap")
    def _omit_unset_additions(self, handler):
        # Keys added after the phase existed are left out at their defaults, so the saved config,
        # and with it the run id of every config that does not use them, stays as it was.
        data = handler(self)
        if isinstance(data, dict):
            for key in ("prefix", "source_prefix", "target_prefix", "sweep", "sweep_layers", "sweep_poolings",
                        "max_examples"):
                if key in data and getattr(self, key) == type(self).model_fields[key].default:
                    data.pop(key)
        return data


class TargetPhase(_SourceLanguage):
    kind: Literal["target"] = "target"
    task: str
    head_init: str = "fresh"  # "fresh", or an intermediate task whose head to start from
    training: TrainingArgs

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        # Keys the user leaves out come from the target task's declaration (XTREME's scripts).
        if isinstance(data, dict) and isinstance(data.get("task"), str):
            from xstilts.tasks import get_task
            from xstilts.errors import UnknownNameError

            try:
                defaults = dict(get_task(data["task"]).training)
            except UnknownNameError as err:
                raise ValueError(str(err)) from None
            data = {**data, "training": {**defaults, **(data.get("training") or {})}}
        return data


class ZeroShotEvalPhase(_Strict):
    kind: Literal["zero_shot_eval"] = "zero_shot_eval"
    splits: list[str] = Field(["dev", "test"], min_length=1)  # default: those of the two the target has
    languages: list[str] | None = Field(None, min_length=1)  # None: every language the target has
    max_examples: int | None = Field(None, ge=1)  # first N examples per language (quick looks; recorded in n)


Phase = Annotated[
    Union[PretrainedPhase, IntermediatePhase, RetrievalEvalPhase, TargetPhase, ZeroShotEvalPhase],
    Field(discriminator="kind"),
]


class ExperimentConfig(_Strict):
    name: str = "experiment"
    seed: int = 42
    data_dir: str | None = None  # default: $XSTILTS_DATA_DIR
    data_source: Literal["files", "hub"] = "files"
    phases: list[Phase] = Field(min_length=1)
    tasks: dict[str, TaskSettings] = {}
    # Train anyway when a training phase's train/dev data overlaps later evaluation data; the
    # overlap is then recorded in the phase's done.json and shown in the report.
    allow_overlap: bool = False

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_name(value)

    @model_validator(mode="after")
    def _check_order(self) -> "ExperimentConfig":
        """The phases in the one order whose rows mean what they say: ``pretrained`` first and once,
        then intermediate training and retrieval on the encoder, then at most one ``target``, then its
        ``zero_shot_eval`` phases (a result row is labelled with the phases before it)."""
        check_phase_order([p.kind for p in self.phases])
        return self

    def phase(self, kind: str):
        return next((p for p in self.phases if p.kind == kind), None)

    def resolved(self) -> dict[str, Any]:
        """Every value a run uses, defaults and data fingerprints included (:func:`resolve`, data
        not required): what is saved beside a run and hashed into its id."""
        return resolve(self, require_data=False).as_dict()

    def config_hash(self) -> str:
        return resolve(self, require_data=False).config_hash()

    @property
    def run_id(self) -> str:
        return resolve(self, require_data=False).run_id


def check_phase_order(kinds: list[str]) -> None:
    """Raise a ValueError naming ``phases.<i>`` for the first phase out of order (kinds not built in
    are left alone: a registered kind says nothing about where it belongs)."""
    if kinds[0] != "pretrained":
        raise ValueError(f"phases.0: the first phase must be 'pretrained' (where the encoder comes from), got {kinds[0]!r}")
    target = None
    for i, kind in enumerate(kinds[1:], 1):
        if kind == "pretrained":
            raise ValueError(f"phases.{i}: a second 'pretrained' phase (one encoder per experiment: phases.0)")
        if kind == "target":
            if target is not None:
                raise ValueError(f"phases.{i}: a second 'target' phase (phases.{target} is the target): one target per "
                                 f"experiment, or its rows and model would be labelled with both; run each target as "
                                 f"its own experiment")
            target = i
        elif kind in ("intermediate", "retrieval_eval") and target is not None:
            what = "intermediate training" if kind == "intermediate" else "retrieval on the encoder"
            raise ValueError(f"phases.{i}: {kind!r} after the 'target' (phases.{target}): {what} comes before the "
                             f"target task, or its rows would carry the target's name")
        elif kind == "zero_shot_eval" and target is None:
            raise ValueError(f"phases.{i}: 'zero_shot_eval' needs a 'target' phase before it (it scores the target task)")


# ------------------------------------------------------------------ resolution

@dataclass(frozen=True)
class ResolvedConfig:
    """A config with every value its run uses filled in, once: what is saved beside the run and hashed.

    ``tasks``: for every task a phase trains, evaluates or retrieves on, its effective settings —
    the registry's defaults under the config's ``tasks:`` overrides (``max_length``, QA lengths,
    ``labels``, the ``train``/``dev`` data slices) with its format and declaration version.
    ``data``: for every training phase (by index), the content fingerprint of each file it reads,
    as ``{"<task>.<split or role>": {path: sha256}}`` (see :func:`xstilts.data.loading.data_fingerprints`).
    """

    config: ExperimentConfig
    featurization_version: int
    tasks: dict[str, dict[str, Any]]
    data: dict[int, dict[str, dict[str, str | None]]]

    def as_dict(self) -> dict[str, Any]:
        """The config as written (defaults filled in) plus a ``resolved`` block (JSON/YAML-safe)."""
        block = {"featurization_version": self.featurization_version, "tasks": self.tasks,
                 "data": {str(i): v for i, v in self.data.items()}}
        return {**self.config.model_dump(mode="json"), "resolved": json.loads(json.dumps(block))}

    @cached_property
    def _hash(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def config_hash(self) -> str:
        return self._hash

    @property
    def run_id(self) -> str:
        return f"{self.config.name}-{self._hash[:12]}"

    def settings(self, task: str) -> dict[str, Any]:
        """The featurization settings of ``task`` (those its format reads); the rest of a task's
        resolved settings say where its data is."""
        s = self.tasks[task]
        return {k: s[k] for k in ("max_length", *_format(s["format"]).SETTINGS, "labels") if k in s}

    def data_slice(self, task: str, role: str) -> DataSlice:
        """Where ``task``'s English ``train`` or ``dev`` examples come from."""
        return DataSlice.model_validate(self.tasks[task][role])


def resolve(config: ExperimentConfig, *, require_data: bool = True) -> ResolvedConfig:
    """Fill in every value a run of ``config`` uses: per task its effective settings, the
    featurization version, and the fingerprint of every file a training phase reads (English train
    and dev, borrowed slices of other tasks, pretraining corpora), so that a new registry default,
    an upgraded featurization or a data file replaced in place makes new training phases.

    ``require_data``: a data file a training phase reads must exist (a DataError names it; a run
    needs it anyway). ``False`` records a missing file, or every file when there is no data root,
    as ``None``: what a dry run can know before the data is there.
    """
    from xstilts import settings as data_settings
    from xstilts.formats import FEATURIZATION_VERSION
    from xstilts.tasks import get_task

    tasks = {name: _task_settings(get_task(name), config.tasks.get(name)) for name in _used_tasks(config)}
    root = None
    if config.data_source == "files":
        try:
            root = data_settings.data_dir(config.data_dir)
        except ConfigError:
            if require_data:
                raise
    data = {}
    for index, phase in enumerate(config.phases):
        reads = _training_reads(phase, tasks)
        if reads:
            data[index] = _fingerprints(reads, config.data_source, root, require_data)
    return ResolvedConfig(config, FEATURIZATION_VERSION, tasks, data)


def _format(name: str):
    """The format module that says which settings a task of that format has."""
    from xstilts.formats import get_format

    return get_format(name)


def _used_tasks(config: ExperimentConfig) -> list[str]:
    names: dict[str, None] = {}
    for p in config.phases:
        names.update(dict.fromkeys(getattr(p, "tasks", None) or ([p.task] if getattr(p, "task", None) else [])))
    return list(names)


def _task_settings(task, override: TaskSettings | None) -> dict[str, Any]:
    """The one place a task's registry defaults meet the config's ``tasks:`` overrides."""
    o = override if override is not None else TaskSettings()
    pick = lambda name: getattr(o, name) if getattr(o, name) is not None else getattr(task, name)
    fmt = _format(task.format)
    s: dict[str, Any] = {"format": task.format, "version": task.version, "max_length": pick("max_length")}
    s |= {name: pick(name) for name in fmt.SETTINGS}
    if fmt.LABELS:
        s["labels"] = task.labels  # None: read from the training data (covered by its fingerprint)
    return s | {"train": o.train.model_dump(mode="json"), "dev": o.dev.model_dump(mode="json")}


def _training_reads(phase, tasks: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(label, task, split, language) of every file group a training phase reads, as the runner reads them."""
    from xstilts.tasks import get_task

    if phase.kind == "pretrained":
        spec = phase.from_scratch
        if spec is None:
            return []
        return _corpus_reads(get_task(spec.corpus_task), spec.languages)
    if phase.kind not in ("intermediate", "target"):
        return []
    reads = []
    for name in getattr(phase, "tasks", None) or [phase.task]:
        mixing = getattr(phase, "mlm", None)
        if mixing is not None and get_task(name).format == "mlm":  # multilingual corpora, not English task data
            reads += _corpus_reads(get_task(name), mixing.languages)
            continue
        for role in ("train", "dev"):
            data = DataSlice.model_validate(tasks[name][role])
            source = get_task(data.task or name)
            for lang in source_languages(phase):  # English: "<task>.<role>", as before the field existed
                if source.has(data.split, lang) or (lang != ENGLISH and source.has(data.split, ENGLISH)):
                    reads.append((f"{name}.{role}" + ("" if lang == ENGLISH else f".{lang}"), source.name, data.split,
                                  lang))  # a split without the language is translated from its English files
            for entry in data.exclude:  # what is left out is part of what is trained on
                other, _, split = entry.partition("/")
                other, split = get_task(other), split or "test"
                for lang in ["en"] if other.has(split, "en") else other.splits.get(split, ()):
                    reads.append((f"{name}.{role}.exclude", other.name, split, lang))
    return reads


def _corpus_reads(corpus, languages: list[str]) -> list[tuple[str, str, str, str]]:
    """The MLM corpora an MLM phase reads: ``train`` in every language, ``dev`` where the task has it."""
    return ([(f"{corpus.name}.train", corpus.name, "train", lang) for lang in languages]
            + [(f"{corpus.name}.dev", corpus.name, "dev", lang) for lang in languages if corpus.has("dev", lang)])


def _fingerprints(reads, source: str, root: Path | None, require: bool) -> dict[str, dict[str, str | None]]:
    from xstilts.data.loading import data_fingerprints

    out: dict[str, dict[str, str | None]] = {}
    for label, task, split, language in reads:
        # Exclusions in languages whose files are absent are skipped by the runner, as here.
        out.setdefault(label, {}).update(data_fingerprints(
            task, split, language, data_dir=root, source=source, require=require and not label.endswith(".exclude"),
            translated=True))
    return out


# ------------------------------------------------------------------ loading and overrides


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path`` (safe types only). Every way it can fail is one
    :class:`ConfigError` line that names the file: a missing file or a directory, bytes that are not
    UTF-8 (``FILE: not UTF-8 text (byte 0xe9 at offset 9)``), a YAML error at ``FILE:LINE``, a
    ``!!python/...`` tag (plain YAML holds no Python objects)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a directory, not a YAML file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except OSError as err:
        raise ConfigError(f"{p}: cannot read it ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(yaml_error(p, err)) from None


def yaml_error(path: str | Path | None, err: yaml.YAMLError) -> str:
    """``FILE:LINE: problem (context at line N)`` on one line, from a PyYAML error's marks."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    tag = re.search(r"constructor for the tag '(?:tag:yaml\.org,2002:)?([^']*)'", problem)
    if tag:
        shown = f"!!{tag.group(1)}" if tag.group(1).startswith("python/") else tag.group(1)
        problem = f"tag {shown!r} is not allowed: configs are plain YAML (no Python objects, no custom tags)"
    context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context:
        problem += f" ({context}" + (f" at line {context_mark.line + 1}" if context_mark is not None else "") + ")"
    if mark is None:
        where = "" if path is None else str(path)
    else:
        where = f"line {mark.line + 1}" if path is None else f"{path}:{mark.line + 1}"
    return (f"{where}: " if where else "") + " ".join(problem.split())


def apply_override(raw: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` to a raw mapping; the value is parsed as YAML (numbers, lists, ...).

    List elements are addressed by index (``phases.1.training.learning_rate=3e-5``). A bad
    assignment is a :class:`ConfigError` naming it (``--set 'phases.9.task=x': phases has 4 items``).
    """
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE (e.g. phases.1.training.learning_rate=3e-5)")
    key, text = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(p.strip() for p in parts):
        raise ConfigError(f"--set {assignment!r}: empty key (expected KEY=VALUE, KEY a dotted path such as seed or "
                          f"phases.1.max_length)")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {assignment!r}: the value is not valid YAML ({yaml_error(None, err)})") from None
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i]) or "the config"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {assignment!r}: {where} has {len(node)} items "
                                  f"(0..{len(node) - 1}), not {part!r}" if node else
                                  f"--set {assignment!r}: {where} is an empty list")
            part = int(part)
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {assignment!r}: {where} holds {node!r}, not a mapping or a list")
        if last:
            node[part] = value
            return
        if isinstance(node, dict) and node.get(part) is None:
            node[part] = {}
        child = node[part]
        if not isinstance(child, (dict, list)):
            raise ConfigError(f"--set {assignment!r}: {'.'.join(parts[:i + 1])} holds {child!r}, not a mapping "
                              f"or a list")
        node = child


def load_config(path: str | Path | None = None, overrides: list[str] = (), raw: dict | None = None) -> ExperimentConfig:
    """Read a YAML file (or a mapping), apply ``--set`` overrides, validate.

    Every error is one :class:`ConfigError` line naming the file (YAML errors at ``FILE:LINE``) and
    the key, or the ``--set`` argument it came from. A config read from a file is also checked for
    what it means (:func:`xstilts.validate.check`: phase roles, lengths against the encoder,
    languages and splits the tasks have); the data and the output folder are checked when it runs.
    """
    where = None if path is None else str(path)
    if raw is None:
        raw = read_yaml(path)
        raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping of config keys (name, seed, phases, ...) at the "
                          f"top, got {_kind_of(raw)}")
    raw = copy.deepcopy(raw)  # overrides must not touch the caller's mapping
    # A run's saved config.yaml can be run again: its ``resolved`` block is derived, and re-derived.
    raw.pop("resolved", None)
    for assignment in overrides:
        try:
            apply_override(raw, assignment)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}" if where else str(err)) from None
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_explain(err, path, overrides)) from None
    if where is not None:
        from xstilts.validate import check

        check(config, source=where, resources=False)
    return config


def _kind_of(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def _explain(err: ValidationError, path, overrides: list[str] = ()) -> str:
    """Pydantic's errors as one line: ``FILE: key.path: what was expected, got what was found`` per
    error (``; ``-separated), with the ``--set`` argument an error comes from."""
    messages = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            text = f"unknown key {loc!r}{_suggest(e['loc'])}"
        else:
            text = f"{loc}: {describe_error(e)}" if loc else describe_error(e)
        origin = _override_of(e["loc"], overrides)
        messages.append(f"--set {origin!r}: {text}" if origin else text)
    where = f"{path}: " if path else ""
    return where + "; ".join(messages)


def describe_error(e: dict) -> str:
    """One pydantic error in words (``must be > 0, got 0``), on one line."""
    kind, ctx = e["type"], e.get("ctx") or {}
    bounds = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
              "less_than_equal": ("le", "<=")}
    if kind in bounds:
        name, sign = bounds[kind]
        text = f"must be {sign} {ctx[name]}"
    elif kind == "finite_number":
        text = "must be a finite number"
    elif kind == "too_short" and "min_length" in ctx:
        text = "must not be empty" if ctx["min_length"] == 1 else f"needs at least {ctx['min_length']} items"
    elif kind == "value_error" and "error" in ctx:
        return " ".join(str(ctx["error"]).split())
    else:
        text = e["msg"]
    value = e.get("input")
    if kind != "missing" and (isinstance(value, (int, float, str, bool)) or (isinstance(value, list) and len(repr(value)) < 60)):
        text += f", got {value!r}"
    return " ".join(text.split())


def _override_of(loc: tuple, overrides: list[str]) -> str | None:
    """The last ``--set`` argument whose key is ``loc`` (discriminator tags left out), or above or below it."""
    path = [str(p) for i, p in enumerate(loc) if not (i == 2 and loc[0] == "phases" and isinstance(p, str))]
    for assignment in reversed(list(overrides)):
        key = assignment.split("=", 1)[0].strip().split(".")
        n = min(len(key), len(path))
        if n and key[:n] == path[:n]:
            return assignment
    return None


def _suggest(loc: tuple) -> str:
    """Find the model the unknown key was given to and suggest its closest field."""
    model: Any = ExperimentConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fields = getattr(model, "model_fields", {})
        if part in fields:
            model = _inner_model(fields[part].annotation)
        else:  # a discriminated-union tag such as 'intermediate'
            model = next((m for m in _PHASES if m.model_fields["kind"].default == part), None)
    known = list(getattr(model, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


_PHASES = (PretrainedPhase, IntermediatePhase, RetrievalEvalPhase, TargetPhase, ZeroShotEvalPhase)


def _inner_model(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
