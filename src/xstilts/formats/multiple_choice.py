"""Multiple choice (HellaSwag, CommonsenseQA, Cosmos QA).

Featurize: each choice is encoded as the pair (context [+ question], choice), truncated like HF;
one row per example whose ``input_ids`` is a (num_choices, length) array. The modeling layer
flattens (batch, choices, length) before the encoder; the head scores each choice's first token
and reshapes back, so a softmax runs over the choices (as HF ``*ForMultipleChoice``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xstilts.data.examples import MultipleChoiceExample
from xstilts.formats.base import Adapter, Features, count_tokens, encode_pairs, write_lines


def _first_segment(ex: MultipleChoiceExample) -> str:
    return f"{ex.context} {ex.question}".strip() if ex.question else ex.context


def featurize(
    examples: Sequence[MultipleChoiceExample], tokenizer, *, max_length: int
) -> Features:
    n_choices = {len(ex.choices) for ex in examples}
    if len(n_choices) > 1:
        raise ValueError(f"examples differ in their number of choices: {sorted(n_choices)}")
    k = n_choices.pop() if n_choices else 0
    firsts = [_first_segment(ex) for ex in examples for _ in ex.choices]
    seconds = [c for ex in examples for c in ex.choices]
    enc = encode_pairs(tokenizer, firsts, seconds, max_length)
    ids, masks, types = [], [], []
    pad = tokenizer.pad_token_id
    for i in range(len(examples)):
        rows = enc.input_ids[i * k:(i + 1) * k]
        width = max(len(r) for r in rows)
        ids.append(np.stack([np.pad(r, (0, width - len(r)), constant_values=pad) for r in rows]))
        masks.append(np.stack([np.pad(np.ones_like(r), (0, width - len(r))) for r in rows]))
        if enc.token_type_ids is not None:
            t = enc.token_type_ids[i * k:(i + 1) * k]
            types.append(np.stack([np.pad(r, (0, width - len(r))) for r in t]))
    labels = np.array([-100 if ex.label is None else ex.label for ex in examples], dtype=np.int64)
    if np.any((labels != -100) & ((labels < 0) | (labels >= k))):
        bad = next(ex for ex, lab in zip(examples, labels) if lab != -100 and not 0 <= lab < k)
        raise ValueError(f"example {bad.id!r}: label {bad.label} outside 0..{k - 1}")
    columns = {
        "input_ids": ids,
        "attention_mask": masks,
        "labels": labels,
        "example_index": np.arange(len(examples), dtype=np.int64),
        "full_length": enc.full_length.reshape(len(examples), k).max(axis=1),
        "truncated": enc.truncated.reshape(len(examples), k).any(axis=1),
    }
    if types:
        columns["token_type_ids"] = types
    return Features(columns)


def decode(
    examples: Sequence[MultipleChoiceExample], features: Features, outputs: dict[str, np.ndarray]
) -> list[int]:
    """The index of the best-scoring choice per example."""
    logits = np.asarray(outputs["logits"])
    order = np.argsort(features.example_index, kind="stable")
    if len(logits) != len(examples):
        raise ValueError(f"{len(examples)} examples but {len(logits)} logit rows")
    return [int(k) for k in logits[order].argmax(-1)]


class Head(nn.Module):
    """Scores each (flattened) choice from its first token; returns (batch, choices) logits."""

    def __init__(self, hidden_size: int, dropout: float = 0.1):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor, batch: dict) -> dict:
        n_batch, n_choices = batch["input_ids"].shape[:2]
        x = self.dropout(torch.tanh(self.dense(hidden_states[:, 0])))
        return {"logits": self.score(self.dropout(x)).view(n_batch, n_choices)}


def loss(outputs: dict, batch: dict) -> torch.Tensor:
    return F.cross_entropy(outputs["logits"], batch["labels"], ignore_index=-100)


# ------------------------------------------------------------------ what the pipeline asks of the format

TARGET_COLUMNS = ("labels",)  # what the loss reads besides the model inputs
TOKEN_LEVEL = False  # one output row (of choice scores) per feature row
SETTINGS: tuple[str, ...] = ()  # task settings featurization reads besides max_length
LABELS = False  # a label is a choice index: no label list


def featurize_kwargs(settings: dict, split: str) -> dict:
    return {"max_length": settings["max_length"]}


def text_lengths(examples: Sequence[MultipleChoiceExample], tokenizer) -> np.ndarray:
    """Context and question (the part every choice is paired with)."""
    return count_tokens(tokenizer, [f"{ex.context} {ex.question}".strip() for ex in examples])


ADAPTER = Adapter(
    decode=lambda task, ex, f, o, s: [str(i) for i in decode(ex, f, o)],
    gold=lambda ex: [str(e.label) for e in ex],
    labelled=lambda ex: all(e.label is not None for e in ex),
    write=write_lines, extension="tsv")
