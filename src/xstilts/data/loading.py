"""Bind a task declaration to its files (or the HF hub) and return validated examples."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from xstilts import settings
from xstilts.data import readers
from xstilts.errors import DataError, UnknownNameError
from xstilts.tasks import Task, get_task


def resolve_files(task: Task, split: str, language: str, data_dir: Path) -> tuple[list[Path], Path | None]:
    """The data files and the gold-label file (if the split has one) of ``task``/``split``/``language``."""
    _check_split(task, split, language)
    templates = task.files.get(split)
    if not templates:
        raise DataError(None, f"task {task.name!r} has no files declared for split {split!r}")
    paths = [data_dir / t.format(language=language) for t in templates]
    gold_template = task.gold_files.get(split)
    gold = data_dir / gold_template.format(language=language) if gold_template else None
    return paths, gold


def load_examples(
    task: str | Task,
    split: str,
    language: str = "en",
    *,
    data_dir: str | Path | None = None,
    source: Literal["files", "hub"] = "files",
    require_labels: bool = False,
) -> list:
    """Read ``split`` of ``task`` in ``language``.

    ``source="files"`` reads the XTREME ``download/`` layout or the English releases under the data
    root (gold labels merged in from the label folder when present); ``source="hub"`` reads the
    same data from the Hugging Face hub. Combination tasks (ANLI+) concatenate their components.
    ``require_labels`` turns a missing gold file into an error instead of unlabelled examples.
    """
    task = get_task(task) if isinstance(task, str) else task
    if task.components:
        _check_split(task, split, language)
        out: list = []
        for name in task.components:
            component = get_task(name)
            if component.has(split, language):
                out.extend(load_examples(component, split, language, data_dir=data_dir,
                                         source=source, require_labels=require_labels))
        return out
    if source == "hub":
        from xstilts.data.readers import hub

        _check_split(task, split, language)
        return hub.load(task, split, language)
    root = settings.data_dir(data_dir)
    paths, gold = resolve_files(task, split, language, root)
    if gold is not None and not gold.exists():
        if require_labels:
            raise DataError(gold, f"gold labels for {task.name} {split}-{language} not found")
        gold = None
    return readers.read(task.reader, paths, gold=gold, language=language, split=split,
                        labels=task.labels)


def _check_split(task: Task, split: str, language: str) -> None:
    if split not in task.splits:
        raise UnknownNameError(f"split of {task.name}", split, list(task.splits))
    if language not in task.splits[split]:
        raise UnknownNameError(f"language of {task.name} {split}", language, list(task.splits[split]))
