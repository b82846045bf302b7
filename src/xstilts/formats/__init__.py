"""Formats: each owns featurize → head → loss → decode for one kind of task.

One module per format (``classification``, ``multiple_choice``, ``span_qa``, ``tagging``,
``retrieval``, ``mlm``). A dataset never appears here: tasks name their format in the registry.
Featurization returns :class:`xstilts.formats.base.Features`; decoding is a pure numpy function of
``(examples, features, outputs)``.
"""

import importlib
from types import ModuleType

from xstilts.errors import UnknownNameError
from xstilts.tasks.registry import FORMATS

# Bump when a change to any format's featurization (tokenization, truncation, windowing, label
# encoding) changes the features of the same examples: it is part of every feature-cache key and
# of every training phase's key, so an upgrade never reloads features or models built the old way.
FEATURIZATION_VERSION = 1


def get_format(name: str) -> ModuleType:
    """The module implementing format ``name``."""
    if name not in FORMATS:
        raise UnknownNameError("format", name, FORMATS)
    return importlib.import_module(f"xstilts.formats.{name}")
