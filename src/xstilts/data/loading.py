"""Bind a task declaration to its files (or the HF hub) and return validated examples.

**Translated files** (translate-train, and training in any source language): a split a task has in
English but not in language ``L`` can be read in ``L`` from a translation the user supplies, in the
same schema as the English file, at a fixed place beside it (:func:`translated_files`)::

    <folder of the English file>/translated/<English file name with .L before its extension>

    english/syn_nli/train.jsonl           → english/syn_nli/translated/train.xa.jsonl
    english/squad/train-v1.1.json         → english/squad/translated/train-v1.1.de.json
    xtreme/download/pawsx/train-en.tsv    → xtreme/download/pawsx/translated/train-en.de.tsv

A split declared in several files (ANLI R1-R3) has one translation per file. Only training reads
them (``load_examples(..., translated=True)``): evaluation reads a task's own files, never a
translation. XTREME's own translate-train files (``xtreme_translations/PAWSX/translate-train/
en-de-translated.tsv``, SQuAD's ``squad.translate.train.en-de.json``) are in their English file's
schema and can be linked to these names (XNLI's spell the label ``contradictory``: rewrite it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from xstilts import settings
from xstilts.data import readers
from xstilts.errors import DataError, UnknownNameError
from xstilts.tasks import Task, get_task


TRANSLATED_DIR = "translated"


def translated_files(task: Task, split: str, language: str) -> list[Path]:
    """Where the translation of ``task``'s English ``split`` into ``language`` is read from, relative
    to the data root: one file beside each English file (see the module docstring)."""
    english = [Path(t.format(language="en")) for t in task.files.get(split, ())]
    return [p.parent / TRANSLATED_DIR / f"{p.stem}.{language}{p.suffix}" for p in english]


def is_translated(task: Task, split: str, language: str) -> bool:
    """Whether ``split`` in ``language`` is read from translated files: the task has the split in
    English, not in ``language``."""
    return language != "en" and not task.has(split, language) and task.has(split, "en")


def resolve_files(task: Task, split: str, language: str, data_dir: Path, *,
                  translated: bool = False) -> tuple[list[Path], Path | None]:
    """The data files and the gold-label file (if the split has one) of ``task``/``split``/``language``;
    ``translated``: a language the split lacks comes from :func:`translated_files` (no gold file)."""
    if translated and is_translated(task, split, language):
        return [data_dir / p for p in translated_files(task, split, language)], None
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
    translated: bool = False,
) -> list:
    """Read ``split`` of ``task`` in ``language``.

    ``source="files"`` reads the XTREME ``download/`` layout or the English releases under the data
    root (gold labels merged in from the label folder when present); ``source="hub"`` reads the
    same data from the Hugging Face hub. Combination tasks (ANLI+) concatenate their components.
    ``require_labels`` turns a missing gold file into an error instead of unlabelled examples.
    ``translated``: a language the split lacks (the split has English) is read from the translated
    files (:func:`translated_files`) — what training in another source language reads.
    """
    task = get_task(task) if isinstance(task, str) else task
    if task.components:
        _check(task, split, language, translated)
        out: list = []
        for name in task.components:
            component = get_task(name)
            if component.has(split, language) or (translated and is_translated(component, split, language)):
                out.extend(load_examples(component, split, language, data_dir=data_dir,
                                         source=source, require_labels=require_labels, translated=translated))
        return out
    if source == "hub":
        from xstilts.data.readers import hub

        _check(task, split, language, translated, hub=True)
        return hub.load(task, split, language)
    root = settings.data_dir(data_dir)
    paths, gold = resolve_files(task, split, language, root, translated=translated)
    if gold is not None and not gold.exists():
        if require_labels:
            raise DataError(gold, f"gold labels for {task.name} {split}-{language} not found")
        gold = None
    return readers.read(task.reader, paths, gold=gold, language=language, split=split,
                        labels=task.labels)


def data_fingerprints(task: str | Task, split: str, language: str = "en", *, data_dir: Path | None,
                      source: Literal["files", "hub"] = "files", require: bool = True,
                      translated: bool = False) -> dict[str, str | None]:
    """What :func:`load_examples` reads for ``task``/``split``/``language``, each with its content
    fingerprint: {path relative to ``data_dir``: sha256}, or for the hub {``hf://path/config[split]``:
    the revision read}.

    An absent gold-label file maps to ``None`` (the examples are then read unlabelled). An absent
    data file raises a DataError naming it; with ``require=False`` (a dry run before the data
    exists), or ``data_dir=None`` (no data root at all), it maps to ``None`` instead.
    ``translated``: as :func:`load_examples`.
    """
    from xstilts.data.fingerprint import file_digest

    task = get_task(task) if isinstance(task, str) else task
    if task.components:
        _check(task, split, language, translated)
        out: dict[str, str | None] = {}
        for name in task.components:
            component = get_task(name)
            if component.has(split, language) or (translated and is_translated(component, split, language)):
                out |= data_fingerprints(component, split, language, data_dir=data_dir, source=source, require=require,
                                         translated=translated)
        return out
    if source == "hub":
        from xstilts.data.readers import hub

        _check(task, split, language, translated, hub=True)
        if task.hub is None:
            raise DataError(None, f"task {task.name!r} has no Hugging Face hub source")
        config = hub.resolve_config(task.hub, language)
        # The hub has no local bytes to hash, and the sources pin no revision: datasets reads "main".
        return {f"hf://{task.hub.path}" + (f"/{config}" if config else "")
                + f"[{hub.resolve_split(task, split, language)}]": "main"}
    relative, gold = resolve_files(task, split, language, Path(), translated=translated)
    out = {}
    for rel in relative:
        path = None if data_dir is None else data_dir / rel
        if path is not None and path.is_file():
            out[str(rel)] = file_digest(path)
        elif require and path is not None:
            what = "translated file" if translated and is_translated(task, split, language) else "data file"
            raise DataError(path, f"{what} of {task.name} {split}-{language} not found")
        else:
            out[str(rel)] = None
    if gold is not None:
        out[str(gold)] = file_digest(data_dir / gold) if data_dir is not None and (data_dir / gold).is_file() else None
    return out


def _check(task: Task, split: str, language: str, translated: bool, hub: bool = False) -> None:
    """:func:`_check_split`, but a translation of an English split passes (files only: the hub has none)."""
    if not (translated and is_translated(task, split, language)):
        _check_split(task, split, language)
    elif hub:
        raise DataError(None, f"{task.name} {split}-{language}: translated files are read from the data folder "
                              f"(data_source: files), not from the hub")


def _check_split(task: Task, split: str, language: str) -> None:
    if split not in task.splits:
        raise UnknownNameError(f"split of {task.name}", split, list(task.splits))
    if language not in task.splits[split]:
        raise UnknownNameError(f"language of {task.name} {split}", language, list(task.splits[split]))
