"""Sequence classification, single sentence or sentence pair (XNLI, PAWS-X, ANLI, MNLI, QQP, SNLI).

Featurize: one row per example, truncated ``longest_first`` like HF, recording the untruncated
length (the length study needs it). Head: the RoBERTa classification head on the first token.
Decode: argmax → label string, in example order (the label-folder format evaluate.py reads).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xstilts.data.examples import ClassificationExample
from xstilts.formats.base import Adapter, Features, count_tokens, encode_pairs, write_lines


def label_ids(examples: Sequence[ClassificationExample], label_list: Sequence[str]) -> np.ndarray:
    """Label indices; -100 (ignored by the loss) for unlabelled examples."""
    index = {label: i for i, label in enumerate(label_list)}
    out = np.full(len(examples), -100, dtype=np.int64)
    for i, ex in enumerate(examples):
        if ex.label is None:
            continue
        if ex.label not in index:
            raise ValueError(f"example {ex.id!r}: label {ex.label!r} not in {list(label_list)}")
        out[i] = index[ex.label]
    return out


def featurize(
    examples: Sequence[ClassificationExample],
    tokenizer,
    *,
    max_length: int,
    label_list: Sequence[str],
) -> Features:
    pair = any(ex.text_b is not None for ex in examples)
    if pair and any(ex.text_b is None for ex in examples):
        raise ValueError("mixed single-sentence and pair examples in one featurize call")
    enc = encode_pairs(
        tokenizer,
        [ex.text_a for ex in examples],
        [ex.text_b for ex in examples] if pair else None,
        max_length,
    )
    columns = {
        "input_ids": enc.input_ids,
        "attention_mask": [np.ones_like(x) for x in enc.input_ids],
        "labels": label_ids(examples, label_list),
        "example_index": np.arange(len(examples), dtype=np.int64),
        "full_length": enc.full_length,
        "truncated": enc.truncated,
    }
    if enc.token_type_ids is not None:
        columns["token_type_ids"] = enc.token_type_ids
    return Features(columns)


def decode(
    examples: Sequence[ClassificationExample],
    features: Features,
    outputs: dict[str, np.ndarray],
    label_list: Sequence[str],
) -> list[str]:
    """One predicted label string per example (features are one row per example here)."""
    logits = np.asarray(outputs["logits"])
    if len(logits) != len(features) or len(features) != len(examples):
        raise ValueError(f"{len(examples)} examples, {len(features)} features, {len(logits)} logits")
    order = np.argsort(features.example_index, kind="stable")
    return [label_list[int(k)] for k in logits[order].argmax(-1)]


class Head(nn.Module):
    """Dense + tanh on the first token, then a linear classifier (as RobertaClassificationHead)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden_states: torch.Tensor, batch: dict) -> dict:
        x = self.dropout(hidden_states[:, 0])
        x = self.dropout(torch.tanh(self.dense(x)))
        return {"logits": self.out_proj(x)}


def loss(outputs: dict, batch: dict) -> torch.Tensor:
    return F.cross_entropy(outputs["logits"], batch["labels"], ignore_index=-100)


# ------------------------------------------------------------------ what the pipeline asks of the format

TARGET_COLUMNS = ("labels",)  # what the loss reads besides the model inputs
TOKEN_LEVEL = False  # one output row per feature row
SETTINGS: tuple[str, ...] = ()  # task settings featurization reads besides max_length
LABELS = True  # the registry's label list is a setting; the head has one output per label


def featurize_kwargs(settings: dict, split: str) -> dict:
    return {"max_length": settings["max_length"], "label_list": settings["labels"]}


def text_lengths(examples: Sequence[ClassificationExample], tokenizer) -> np.ndarray:
    """Both texts of a pair: what the model reads."""
    return (count_tokens(tokenizer, [ex.text_a for ex in examples])
            + count_tokens(tokenizer, [ex.text_b or "" for ex in examples]))


ADAPTER = Adapter(
    decode=lambda task, ex, f, o, s: decode(ex, f, o, task.labels),
    gold=lambda ex: [e.label for e in ex],
    labelled=lambda ex: all(e.label is not None for e in ex),
    write=write_lines, extension="tsv")
