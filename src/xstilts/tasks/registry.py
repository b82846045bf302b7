"""Task declarations and the registry they live in.

A :class:`Task` is plain data: what format it is, which languages and splits it has, where its
files live (templates relative to the data root) or which Hugging Face dataset serves it, its
labels, default lengths and metric. Everything that *does* something — featurize, decode, score —
belongs to the format and the metric named here, so XNLI and PAWS-X differ only in data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping

from xstilts.errors import UnknownNameError

FORMATS = ("classification", "multiple_choice", "span_qa", "tagging", "retrieval", "mlm")
Role = Literal["intermediate", "target", "pretraining"]


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face hub dataset: ``datasets.load_dataset(path, config)``.

    ``config`` and the split names may contain ``{language}``; ``splits`` maps our split names to
    the hub's. ``mapper`` names the function in :mod:`xstilts.data.readers.hub` that turns hub rows
    into our examples.
    """

    path: str
    mapper: str
    config: str | Mapping[str, str] | None = None
    splits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One task, declared once in :mod:`xstilts.tasks.catalog`.

    Attributes:
        name: registry key, XTREME's code for targets (``xnli``, ``bucc2018``, ...).
        format: one of :data:`FORMATS`.
        role: ``intermediate`` (English STILTs task), ``target`` (XTREME) or ``pretraining``.
        splits: split name → languages that have it.
        reader: name of the file reader in :mod:`xstilts.data.readers` (one module per file format).
        files: split → path template(s) relative to the data root (``{language}`` filled in);
            several templates are concatenated in order.
        gold_files: split → template of the gold-label file in the label-folder layout read by
            XTREME's evaluate.py, for splits whose labels are stripped from ``files``.
        hub: the same data on the Hugging Face hub, when it is there.
        labels: the label vocabulary (classification, tagging), in the files' spelling.
        max_length / doc_stride / max_query_length / max_answer_length: defaults (paper setup).
        metric: key in :data:`xstilts.metrics.METRICS`.
        components: for combinations (ANLI+): the tasks whose training data is concatenated.
        options: format-specific settings (e.g. ``version_2_with_negative`` for SQuAD v2).
        training: default hyper-parameters when this task is the *target* (HF
            ``TrainingArguments`` names), from XTREME's XLM-R large scripts; config overrides them.
        version: bump when featurization-relevant behaviour changes (part of cache keys).
        english_sizes: the official release's English examples per split (planning only).
    """

    name: str
    format: str
    role: Role
    description: str
    splits: Mapping[str, tuple[str, ...]]
    metric: str
    reader: str | None = None
    files: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    gold_files: Mapping[str, str] = field(default_factory=dict)
    hub: HubSource | None = None
    labels: tuple[str, ...] | None = None
    max_length: int = 128
    doc_stride: int | None = None
    max_query_length: int | None = None
    max_answer_length: int | None = None
    components: tuple[str, ...] = ()
    options: Mapping[str, object] = field(default_factory=dict)
    training: Mapping[str, object] = field(default_factory=dict)
    license: str = ""
    reference: str = ""
    version: int = 1
    # Official English example counts per split, for ``grid plan`` estimates of epoch-based phases
    # when the files are not at hand (counted from the files when they are).
    english_sizes: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UnknownNameError("format", self.format, FORMATS)
        # One split may concatenate several files (ANLI R1-R3): always keep a tuple.
        files = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in self.files.items()}
        object.__setattr__(self, "files", files)
        # Freeze the mappings so a declaration cannot be mutated by a caller.
        for name in ("splits", "files", "gold_files", "options", "training", "english_sizes"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        unknown = set(self.files) - set(self.splits)
        if unknown:
            raise ValueError(f"task {self.name}: files for undeclared splits {sorted(unknown)}")

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language of the task, in the order of its first declared split that has it."""
        seen: dict[str, None] = {}
        for langs in self.splits.values():
            seen.update(dict.fromkeys(langs))
        return tuple(seen)

    @property
    def test_languages(self) -> tuple[str, ...]:
        return self.splits.get("test", ())

    def has(self, split: str, language: str) -> bool:
        return language in self.splits.get(split, ())


_REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a declaration; a second task with the same name is an error, never a silent overwrite."""
    if task.name in _REGISTRY:
        raise ValueError(f"task {task.name!r} is declared twice")
    _REGISTRY[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name raises with "did you mean" suggestions."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("task", name, list(_REGISTRY)) from None


def all_tasks() -> tuple[Task, ...]:
    return tuple(_REGISTRY.values())


def task_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)
