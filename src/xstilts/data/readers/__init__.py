"""File readers: one module per file format, each validating as it reads.

A reader is registered under a name that task declarations use (``Task.reader``) and has the
signature ``read(paths, *, gold=None, language, split, labels=None) -> list[Example]``:

* ``paths`` — the data file(s) of one split and language (several are concatenated in order;
  retrieval readers get a path *prefix* such as ``.../tatoeba/de-en``);
* ``gold`` — the label file in the layout XTREME's evaluate.py reads, for splits whose labels are
  stripped from the data files (``None`` if absent: examples then carry no labels);
* ``labels`` — the task's label vocabulary (``Task.labels``), when it declares one: a label or tag
  outside it is an error naming file, line and field (``None``: no closed set, e.g. CCG supertags).

Malformed input raises :class:`xstilts.errors.DataError` naming file, line/record and field.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable, Sequence

from xstilts.errors import UnknownNameError

Reader = Callable[..., list]
_READERS: dict[str, Reader] = {}
# Modules that register readers when imported; one per file format.
_MODULES = (
    "xstilts.data.readers.xtreme_tsv",
    "xstilts.data.readers.squad_json",
    "xstilts.data.readers.retrieval_files",
    "xstilts.data.readers.english",
    "xstilts.data.readers.ccg",
    "xstilts.data.readers.text",
)


def reader(name: str) -> Callable[[Reader], Reader]:
    """Decorator: register a reader function under ``name``."""

    def wrap(fn: Reader) -> Reader:
        if name in _READERS:
            raise ValueError(f"reader {name!r} registered twice")
        _READERS[name] = fn
        return fn

    return wrap


def get_reader(name: str) -> Reader:
    for module in _MODULES:
        importlib.import_module(module)
    try:
        return _READERS[name]
    except KeyError:
        raise UnknownNameError("reader", name, list(_READERS)) from None


def read(name: str, paths: Sequence[Path], *, gold: Path | None, language: str, split: str,
         labels: Sequence[str] | None = None) -> list:
    return get_reader(name)(list(paths), gold=gold, language=language, split=split, labels=labels)
