"""Formats: each owns featurize → head → loss → decode for one kind of task.

One module per format (``classification``, ``multiple_choice``, ``span_qa``, ``tagging``,
``retrieval``, ``mlm``). A dataset never appears here: tasks name their format in the registry.
Featurization returns :class:`xstilts.formats.base.Features`; decoding is a pure numpy function of
``(examples, features, outputs)``.

Everything the pipeline, modeling and the length study need to know about a format is asked of its
module (``get_format(task.format)``), never spelled out per format elsewhere, so a new format is
one module plus its name in :data:`xstilts.tasks.registry.FORMATS`. Every format module declares:

* ``TARGET_COLUMNS`` — the feature columns its loss reads besides
  :data:`~xstilts.formats.base.MODEL_INPUTS` (what a training stream collates);
* ``TOKEN_LEVEL`` — whether its outputs hold one value per token (kept ragged per row by prediction);
* ``SETTINGS`` — the task settings its featurization or decoding reads besides ``max_length``;
* ``LABELS`` — whether a label list is one of its settings (the head's outputs, label strings);
* ``ADAPTER`` — an :class:`~xstilts.formats.base.Adapter` (decode to evaluate.py's shape, gold,
  the prediction file), or ``None`` where evaluation does not score it (retrieval, MLM);

and, where the format has that step: ``featurize`` with ``featurize_kwargs(settings, split)``
(the keyword arguments the resolved settings give it), ``Head`` (its constructor's parameters say
what a head spec needs: ``num_labels``, ``vocab_size``, ``dropout``) and ``loss``, ``decode``,
``text_lengths(examples, tokenizer)`` (what the length study measures), ``label_list_from(examples)``
(labels read from training data where the registry has none) and ``train_stats(examples, features)``
(extra per-task numbers of a training phase); ``JOINS_EXAMPLES = True`` where featurize cuts rows
across examples (MLM blocks), so that it is never called on chunks of a split.
"""

import importlib
from types import ModuleType

from xstilts.errors import UnknownNameError
from xstilts.tasks.registry import FORMATS

# Bump when a change to any format's featurization (tokenization, truncation, windowing, label
# encoding) changes the features of the same examples: it is part of every feature-cache key and
# of every training phase's key, so an upgrade never reloads features or models built the old way.
# 2: MLM blocks run across the whole split (version 1 restarted them every 2,000 texts).
FEATURIZATION_VERSION = 2


def get_format(name: str) -> ModuleType:
    """The module implementing format ``name``."""
    if name not in FORMATS:
        raise UnknownNameError("format", name, FORMATS)
    return importlib.import_module(f"xstilts.formats.{name}")
