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

from xstilts.registry import Registry

Reader = Callable[..., list]
# Modules that register readers when imported; one per file format.
_MODULES = (
    "xstilts.data.readers.xtreme_tsv",
    "xstilts.data.readers.squad_json",
    "xstilts.data.readers.retrieval_files",
    "xstilts.data.readers.english",
    "xstilts.data.readers.ccg",
    "xstilts.data.readers.text",
)


def _import_readers() -> None:
    for module in _MODULES:
        importlib.import_module(module)


READERS: Registry[Reader] = Registry("reader", load=_import_readers)
reader = READERS.register  # decorator: ``@reader("squad_json")``
get_reader = READERS.get


def read(name: str, paths: Sequence[Path], *, gold: Path | None, language: str, split: str,
         labels: Sequence[str] | None = None) -> list:
    return get_reader(name)(list(paths), gold=gold, language=language, split=split, labels=labels)
