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


def data_fingerprints(task: str | Task, split: str, language: str = "en", *, data_dir: Path | None,
                      source: Literal["files", "hub"] = "files", require: bool = True) -> dict[str, str | None]:
    """What :func:`load_examples` reads for ``task``/``split``/``language``, each with its content
    fingerprint: {path relative to ``data_dir``: sha256}, or for the hub {``hf://path/config[split]``:
    the revision read}.

    An absent gold-label file maps to ``None`` (the examples are then read unlabelled). An absent
    data file raises a DataError naming it; with ``require=False`` (a dry run before the data
    exists), or ``data_dir=None`` (no data root at all), it maps to ``None`` instead.
    """
    from xstilts.data.fingerprint import file_digest

    task = get_task(task) if isinstance(task, str) else task
    if task.components:
        _check_split(task, split, language)
        out: dict[str, str | None] = {}
        for name in task.components:
            component = get_task(name)
            if component.has(split, language):
                out |= data_fingerprints(component, split, language, data_dir=data_dir, source=source, require=require)
        return out
    if source == "hub":
        from xstilts.data.readers import hub

        _check_split(task, split, language)
        if task.hub is None:
            raise DataError(None, f"task {task.name!r} has no Hugging Face hub source")
        config = hub.resolve_config(task.hub, language)
        # The hub has no local bytes to hash, and the sources pin no revision: datasets reads "main".
        return {f"hf://{task.hub.path}" + (f"/{config}" if config else "")
                + f"[{hub.resolve_split(task, split, language)}]": "main"}
    relative, gold = resolve_files(task, split, language, Path())
    out = {}
    for rel in relative:
        path = None if data_dir is None else data_dir / rel
        if path is not None and path.is_file():
            out[str(rel)] = file_digest(path)
        elif require and path is not None:
            raise DataError(path, f"data file of {task.name} {split}-{language} not found")
        else:
            out[str(rel)] = None
    if gold is not None:
        out[str(gold)] = file_digest(data_dir / gold) if data_dir is not None and (data_dir / gold).is_file() else None
    return out


def _check_split(task: Task, split: str, language: str) -> None:
    if split not in task.splits:
        raise UnknownNameError(f"split of {task.name}", split, list(task.splits))
    if language not in task.splits[split]:
        raise UnknownNameError(f"language of {task.name} {split}", language, list(task.splits[split]))
