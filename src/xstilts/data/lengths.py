"""Example lengths in a model's tokens, and the length buckets results are reported by.

Length = tokens of the text a model must read, without special tokens, as each format defines it
(its ``text_lengths``): the context for QA, both texts for pair classification, the sentence for
tagging. Buckets are index arrays per name:

* fixed token thresholds — ``tokens:<=128``, ``tokens:129-256``, ``tokens:257-384``, ``tokens:>384``;
* per-language quartiles of that length — ``quartile:1`` … ``quartile:4`` (Q4 = above the 75th
  percentile);
* two definitions of the long-document subset — ``long:multi_window`` (the example needs more than
  one window at the target's max length: several QA/tagging windows, or a truncated pair) and
  ``long:top_quartile`` (= ``quartile:4``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from xstilts.formats.base import Features

FIXED_EDGES = (128, 256, 384)


def text_lengths(task_format: str, examples: Sequence, tokenizer) -> np.ndarray:
    """Tokens (no special tokens) of what the model reads for each example, as the format defines it."""
    from xstilts.formats import get_format

    fmt = get_format(task_format)
    if not hasattr(fmt, "text_lengths"):
        raise ValueError(f"no length definition for format {task_format!r}")
    return fmt.text_lengths(examples, tokenizer)


def windows_per_example(features: Features, n_examples: int) -> np.ndarray:
    """Windows each example needed; a truncated single-window example counts as needing two."""
    windows = np.bincount(np.asarray(features.example_index), minlength=n_examples)
    if "truncated" in features:
        windows = windows + np.bincount(np.asarray(features.example_index),
                                        weights=np.asarray(features["truncated"], dtype=np.float64),
                                        minlength=n_examples).astype(np.int64)
    return windows


def fixed_bucket_names(edges: Sequence[int] = FIXED_EDGES) -> list[str]:
    names, low = [], 0
    for e in edges:
        names.append(f"tokens:<={e}" if low == 0 else f"tokens:{low + 1}-{e}")
        low = e
    return names + [f"tokens:>{edges[-1]}"]


def assign_buckets(lengths: np.ndarray, windows: np.ndarray | None = None,
                   edges: Sequence[int] = FIXED_EDGES) -> dict[str, np.ndarray]:
    """Example indices per bucket (empty buckets included, so sizes can be reported)."""
    lengths = np.asarray(lengths)
    idx = np.arange(len(lengths))
    out: dict[str, np.ndarray] = {}
    which = np.searchsorted(np.asarray(edges), lengths, side="left")  # <= edge falls in that bucket
    for k, name in enumerate(fixed_bucket_names(edges)):
        out[name] = idx[which == k]
    if len(lengths):
        q = np.percentile(lengths, [25, 50, 75])
        quart = np.searchsorted(q, lengths, side="left")
    else:
        quart = np.zeros(0, dtype=np.int64)
    for k in range(4):
        out[f"quartile:{k + 1}"] = idx[quart == k]
    out["long:top_quartile"] = out["quartile:4"]
    if windows is not None:
        out["long:multi_window"] = idx[np.asarray(windows) > 1]
    return out
