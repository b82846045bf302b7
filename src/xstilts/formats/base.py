"""Column-oriented features shared by every format, and dynamic-padding collation.

A :class:`Features` table has one row per *feature* (a window of one example; several windows per
example for long QA contexts or long sentences). Each column is either a numpy array with one
value per row (``example_index``, a class label, a start position) or a list with one numpy array
per row (``input_ids``, ``offsets``: ragged, because lengths differ). Ragged rows keep memory and
the on-disk cache proportional to real tokens; padding happens per batch in :func:`collate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

# The columns an encoder reads; every other column is for a head, its loss or decoding. The
# training loop and prediction collate these (and a format's TARGET_COLUMNS), nothing else.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Columns that are padded per batch, and with what: token ids with the tokenizer's pad id,
# attention with 0, label ids with -100 (ignored by the loss, as in HF).
PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "labels": -100, "word_index": -1}


@dataclass
class Features:
    """Rows = features (windows). ``columns`` maps a name to an array or a list of arrays."""

    columns: dict[str, np.ndarray | list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {k: len(v) for k, v in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"feature columns differ in length: {lengths}")

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray | list[np.ndarray]:
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    @property
    def example_index(self) -> np.ndarray:
        return np.asarray(self.columns["example_index"])

    def row(self, i: int) -> dict[str, np.ndarray]:
        return {k: v[i] for k, v in self.columns.items()}

    def select(self, indices: Sequence[int] | np.ndarray) -> "Features":
        idx = np.asarray(indices, dtype=np.int64)
        out: dict[str, np.ndarray | list[np.ndarray]] = {}
        for k, v in self.columns.items():
            out[k] = v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx]
        return Features(out)

    @staticmethod
    def concat(parts: Sequence["Features"], examples_per_part: Sequence[int]) -> "Features":
        """Join feature tables built from consecutive chunks of one example list
        (``example_index`` is shifted by the examples of the earlier chunks)."""
        starts = np.concatenate([[0], np.cumsum(examples_per_part)[:-1]]).astype(np.int64)
        kept = [(p, int(off)) for p, off in zip(parts, starts) if len(p)]
        if not kept:
            return Features({})
        parts = [p for p, _ in kept]
        cols: dict[str, np.ndarray | list[np.ndarray]] = {}
        for name, first in parts[0].columns.items():
            if name == "example_index":
                cols[name] = np.concatenate([np.asarray(p[name]) + off for p, off in kept])
            elif isinstance(first, np.ndarray):
                cols[name] = np.concatenate([np.asarray(p[name]) for p in parts])
            else:
                cols[name] = [row for p in parts for row in p[name]]
        return Features(cols)

    @staticmethod
    def from_rows(rows: Iterable[Mapping[str, object]], ragged: Iterable[str]) -> "Features":
        """Build from per-row dicts; names in ``ragged`` stay lists of arrays, others are stacked."""
        rows = list(rows)
        ragged = set(ragged)
        if not rows:
            return Features({})
        cols: dict[str, np.ndarray | list[np.ndarray]] = {}
        for name in rows[0]:
            values = [r[name] for r in rows]
            cols[name] = [np.asarray(v) for v in values] if name in ragged else np.asarray(values)
        return Features(cols)


def collate(rows: Sequence[Mapping[str, np.ndarray]], pad_token_id: int) -> dict[str, np.ndarray]:
    """Pad the ragged columns of ``rows`` to the batch's longest row (last axis) and stack the rest."""
    batch: dict[str, np.ndarray] = {}
    for name in rows[0]:
        values = [np.asarray(r[name]) for r in rows]
        if values[0].ndim == 0:
            batch[name] = np.stack(values)
            continue
        pad = pad_token_id if name == "input_ids" else PAD_VALUES.get(name, 0)
        width = max(v.shape[-1] for v in values)
        # One allocation and a copy per row: np.pad per row cost a sixth of a tiny model's step.
        out = np.full((len(values), *values[0].shape[:-1], width), pad, dtype=np.result_type(*values))
        for i, v in enumerate(values):
            out[i, ..., :v.shape[-1]] = v
        batch[name] = out
    return batch


def _longest_first(n_a: int, n_b: int, budget: int) -> tuple[int, int]:
    """How many tokens of each segment HF tokenizers keep under ``truncation="longest_first"``.

    A closed form of the Rust ``tokenizers`` rule (shorter side kept whole when possible, else
    both cut to half the budget, the longer side getting the odd token), so one untruncated
    tokenization pass yields both the full lengths and the truncated inputs.
    """
    if n_a + n_b <= budget:
        return n_a, n_b
    swap = n_a > n_b
    short, long_ = (n_b, n_a) if swap else (n_a, n_b)
    long_ = short if short > budget else max(short, budget - short)
    if short + long_ > budget:
        short = budget // 2
        long_ = short + budget % 2
    return (long_, short) if swap else (short, long_)


@dataclass
class EncodedPairs:
    """Token ids (special tokens included, truncated) plus what truncation removed."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray] | None
    full_length: np.ndarray  # tokens the untruncated input would need (with special tokens)
    truncated: np.ndarray  # bool: did truncation drop anything?


def encode_pairs(
    tokenizer, text_a: Sequence[str], text_b: Sequence[str] | None, max_length: int
) -> EncodedPairs:
    """Tokenize single sentences or pairs once, untruncated, then truncate like ``longest_first``."""
    if max_length < tokenizer.num_special_tokens_to_add(pair=text_b is not None) + 2:
        raise ValueError(f"max_length {max_length} leaves no room for text")
    enc = tokenizer(list(text_a), None if text_b is None else list(text_b),
                    truncation=False, return_attention_mask=False, verbose=False)
    has_types = "token_type_ids" in enc
    ids_out, types_out, full, cut = [], [] if has_types else None, [], []
    for i, ids in enumerate(enc["input_ids"]):
        ids = np.asarray(ids, dtype=np.int64)
        seq = np.array([-1 if s is None else s for s in enc.sequence_ids(i)], dtype=np.int64)
        n_a, n_b = int((seq == 0).sum()), int((seq == 1).sum())
        budget = max_length - (len(ids) - n_a - n_b)
        keep_a, keep_b = _longest_first(n_a, n_b, budget) if text_b is not None else (min(n_a, budget), 0)
        # Rank of each token within its own segment: keep the first keep_a / keep_b of them.
        rank = np.zeros_like(seq)
        for s in (0, 1):
            m = seq == s
            rank[m] = np.arange(int(m.sum()))
        keep = (seq == -1) | ((seq == 0) & (rank < keep_a)) | ((seq == 1) & (rank < keep_b))
        ids_out.append(ids[keep])
        if has_types:
            types_out.append(np.asarray(enc["token_type_ids"][i], dtype=np.int64)[keep])
        full.append(len(ids))
        cut.append(not keep.all())
    return EncodedPairs(ids_out, types_out, np.asarray(full, dtype=np.int64), np.asarray(cut, dtype=bool))


# ------------------------------------------------------------------ what evaluation asks of a format


@dataclass(frozen=True)
class Adapter:
    """How a format's decoded predictions and gold examples become the objects XTREME's evaluate.py
    readers would return, and how its prediction file is written (one per format: ``ADAPTER``)."""

    # (task, examples, features, outputs, settings) -> predictions in evaluate.py's shape
    decode: Callable[[Any, Sequence, Features, dict, dict], Any]
    gold: Callable[[Sequence], Any]  # examples -> what the metric compares predictions with
    labelled: Callable[[Sequence], bool]  # False: predictions are written but not scored
    write: Callable[[Any, Path], None]  # the prediction file, as evaluate.py reads it
    extension: str
    # (task, gold, predictions) -> extra, separately named numbers beside the task's metric
    extra: Callable[[Any, Any, Any], dict[str, float]] = lambda task, gold, predictions: {}


def write_lines(values: Iterable, path: Path) -> None:
    """One value per line: the label-folder prediction files of classification and choice."""
    path.write_text("".join(f"{v}\n" for v in values), encoding="utf-8")


def count_tokens(tokenizer, texts: list[str]) -> np.ndarray:
    """Tokens of each text, special tokens left out (what the length study measures)."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    ids = tokenizer(texts, add_special_tokens=False, return_attention_mask=False, verbose=False)["input_ids"]
    return np.array([len(x) for x in ids], dtype=np.int64)
