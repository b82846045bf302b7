"""Column-oriented features shared by every format, and dynamic-padding collation.

A :class:`Features` table has one row per *feature* (a window of one example; several windows per
example for long QA contexts or long sentences). Each column is either a numpy array with one
value per row (``example_index``, a class label, a start position) or a list with one numpy array
per row (``input_ids``, ``offsets``: ragged, because lengths differ). Ragged rows keep memory and
the on-disk cache proportional to real tokens; padding happens per batch in :func:`collate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

# Columns that are padded per batch, and with what: token ids with the tokenizer's pad id,
# attention with 0, label ids with -100 (ignored by the loss, as in HF).
PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "labels": -100}


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
        padded = [
            np.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, width - v.shape[-1])], constant_values=pad)
            for v in values
        ]
        batch[name] = np.stack(padded)
    return batch
