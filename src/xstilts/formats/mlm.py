"""Masked language modelling on raw text (pretraining and the continued-MLM baseline).

Featurize: texts are tokenized, joined with the separator token and cut into blocks of
``max_length`` (HF ``run_mlm`` "group_texts"), so no token is wasted on padding. Masking is done
per batch by :func:`mask_tokens` with an explicit numpy generator, so a seed fixes it (the
training loop calls :func:`masking` with a generator seeded by the batch position). The head is
RoBERTa's LM head (dense → GELU → LayerNorm → vocabulary); its vocabulary projection shares the
encoder's input embeddings (:meth:`Head.tie`) when the encoder's config says
``tie_word_embeddings``, as HF's ``XLMRobertaForMaskedLM`` does. Tying is also what lets a
monolingual MLM align languages: the words a context predicts and the words it is made of share
vectors (docs/world.md measures it). The metric is perplexity.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xstilts.data.examples import TextExample
from xstilts.formats.base import Features


def featurize(examples: Sequence[TextExample], tokenizer, *, max_length: int) -> Features:
    return blocks(tokenize(examples, tokenizer), tokenizer, max_length=max_length)


def tokenize(examples: Sequence[TextExample], tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """The texts as one token stream, each followed by the separator, and the example each token
    came from: cut by :func:`blocks` at any length (a length curriculum tokenizes once)."""
    enc = tokenizer([ex.text for ex in examples], add_special_tokens=False,
                    return_attention_mask=False, verbose=False)
    sep = _separator(tokenizer)
    ids = enc["input_ids"]
    stream = np.fromiter((t for row in ids for t in (*row, sep)), dtype=np.int64,
                         count=sum(len(row) + 1 for row in ids))
    owner = np.repeat(np.arange(len(ids), dtype=np.int64), [len(row) + 1 for row in ids])
    return stream, owner


def _separator(tokenizer) -> int:
    return tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id


def blocks(tokens: tuple[np.ndarray, np.ndarray], tokenizer, *, max_length: int) -> Features:
    """Rows of ``max_length`` tokens (specials included) cut from :func:`tokenize`'s stream."""
    stream, owner = tokens
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    block = max_length - specials
    if block < 1:
        raise ValueError(f"max_length {max_length} leaves no room for text")
    sep = _separator(tokenizer)
    cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    prefix = [cls] if cls is not None and specials >= 1 else []
    suffix = [sep] if specials >= 2 else []
    rows = [np.concatenate([prefix, stream[start:start + block], suffix]).astype(np.int64)
            for start in range(0, len(stream), block)]
    return Features({
        "input_ids": rows,
        "attention_mask": [np.ones_like(r) for r in rows],
        "example_index": owner[::block].copy(),
    })


def mask_tokens(
    input_ids: np.ndarray,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    mlm_probability: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking: choose ``mlm_probability`` of non-special tokens; 80% [MASK], 10% random, 10% kept.

    Returns (masked inputs, labels) with labels -100 where no prediction is asked.
    """
    ids = np.array(input_ids, copy=True)
    labels = np.full_like(ids, -100)
    candidates = ~np.isin(ids, np.asarray(list(special_ids)))
    chosen = candidates & (rng.random(ids.shape) < mlm_probability)
    labels[chosen] = ids[chosen]
    roll = rng.random(ids.shape)
    ids[chosen & (roll < 0.8)] = mask_token_id
    random_slot = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[random_slot] = rng.integers(0, vocab_size, size=int(random_slot.sum()))
    return ids, labels


def perplexity(mean_loss: float) -> float:
    return float(np.exp(mean_loss))


def masking(tokenizer, mlm_probability: float):
    """A batch transform for the training loop: BERT-mask ``input_ids`` and set ``labels``."""
    special = list(tokenizer.all_special_ids)

    def transform(batch: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        ids, labels = mask_tokens(batch["input_ids"], mask_token_id=tokenizer.mask_token_id,
                                  vocab_size=len(tokenizer), special_ids=special,
                                  mlm_probability=mlm_probability, rng=rng)
        return {**batch, "input_ids": ids, "labels": labels}

    return transform


class Head(nn.Module):
    def __init__(self, hidden_size: int, vocab_size: int, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def tie(self, embeddings: nn.Embedding) -> None:
        """Share the vocabulary projection's weight with ``embeddings`` (the bias stays the head's)."""
        if tuple(embeddings.weight.shape) != tuple(self.decoder.weight.shape):
            raise ValueError(f"cannot tie a {tuple(self.decoder.weight.shape)} vocabulary projection to "
                             f"{tuple(embeddings.weight.shape)} input embeddings")
        self.decoder.weight = embeddings.weight

    def forward(self, hidden_states: torch.Tensor, batch: dict) -> dict:
        labels = batch.get("labels")
        if labels is not None:
            # Score only the masked positions (~15%): the vocabulary projection is the costliest layer
            # of a small model (and of XLM-R's 250k pieces), and the loss ignores the rest anyway.
            hidden_states = hidden_states[labels != -100]
        x = self.layer_norm(F.gelu(self.dense(hidden_states)))
        return {"logits": self.decoder(x)}


def loss(outputs: dict, batch: dict) -> torch.Tensor:
    logits, labels = outputs["logits"], batch["labels"]
    if logits.dim() == 2:  # already gathered at the masked positions (Head.forward)
        labels = labels[labels != -100]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


# ------------------------------------------------------------------ what the pipeline asks of the format

# The loss reads ``labels`` that masking makes per batch, not a feature column; MLM is scored by perplexity in pretraining, not through evaluation's
# adapters, and has no length definition (the length study measures task inputs).
TARGET_COLUMNS: tuple[str, ...] = ()
TOKEN_LEVEL = True
SETTINGS: tuple[str, ...] = ()
LABELS = False
ADAPTER = None
JOINS_EXAMPLES = True  # blocks run across examples: featurized in one call, never in chunks


def featurize_kwargs(settings: dict, split: str) -> dict:
    return {"max_length": settings["max_length"]}
