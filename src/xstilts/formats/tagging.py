"""Token tagging (UD-POS, PAN-X NER, CCG supertagging): one tag per pre-tokenized word.

Featurize: each word is tokenized on its own (``is_split_into_words``) and its FIRST subword
carries the label, the rest get -100 (XTREME's run_tag.py convention). A sentence longer than the
window is split at word boundaries into several windows, never truncated, so every word gets
exactly one prediction; ``word_index`` records which word each labelled position belongs to and
decode re-joins the windows. Two edge cases keep that promise:

* a word the tokenizer maps to zero subwords (whitespace-only, zero-width, a lone ``▁`` that
  transformers 5 XLM-R tokenizers drop) is given the tokenizer's unk token, as XTREME does;
* a single word with more subwords than fit in a window keeps only its first subwords (its
  first subword, the one predicted from, always survives); it still gets one prediction.

Head: dropout + linear on every position. Decode: argmax at each word's first subword → tag
string, one list per example in order (the label-folder format evaluate.py reads).
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xstilts.data.examples import TaggingExample
from xstilts.formats.base import Adapter, Features, count_tokens

IGNORE = -100
# Sentences tokenized per tokenizer call: bounds the memory of one BatchEncoding.
_CHUNK = 2048


def label_list_from(examples: Sequence[TaggingExample]) -> tuple[str, ...]:
    """The sorted tag vocabulary of ``examples`` (for tasks without a fixed list, e.g. CCG)."""
    return tuple(sorted({t for ex in examples if ex.tags is not None for t in ex.tags}))


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single sequence (``[CLS]``/``[SEP]``, ``<s>``/``</s>``).

    Found by encoding a probe with and without special tokens, because transformers 5 fast
    tokenizers no longer expose ``build_inputs_with_special_tokens``.
    """
    with_special = list(tokenizer("a", add_special_tokens=True)["input_ids"])
    bare = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    for start in range(len(with_special) - len(bare) + 1):
        if with_special[start:start + len(bare)] == bare:
            return with_special[:start], with_special[start + len(bare):]
    raise ValueError("cannot locate the text inside the tokenizer's special-token template")


def word_pieces(tokenizer, sentences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """Subword ids of every word of every sentence; a word with no subwords gets ``[unk_id]``."""
    unk = tokenizer.unk_token_id
    out: list[list[list[int]]] = []
    for start in range(0, len(sentences), _CHUNK):
        chunk = [list(s) for s in sentences[start:start + _CHUNK]]
        nonempty = [s for s in chunk if s]
        enc = (tokenizer(nonempty, is_split_into_words=True, add_special_tokens=False,
                         return_attention_mask=False, verbose=False)
               if nonempty and tokenizer.is_fast else None)
        k = 0
        for words in chunk:
            pieces: list[list[int]] = [[] for _ in words]
            if words and enc is not None:
                for wid, tid in zip(enc.word_ids(k), enc["input_ids"][k]):
                    pieces[wid].append(tid)
                k += 1
            elif words:  # slow tokenizer: no word_ids, tokenize word by word as XTREME does
                pieces = [list(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in words]
            for i, p in enumerate(pieces):
                if not p:
                    if unk is None:
                        raise ValueError(f"word {words[i]!r} has no subwords and the tokenizer no unk token")
                    p.append(unk)
            out.append(pieces)
    return out


def _windows(lengths: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Greedy split of words (with these subword counts, each ≤ budget) into [start, end) windows."""
    spans, start, used = [], 0, 0
    for i, n in enumerate(lengths):
        if used + n > budget and i > start:
            spans.append((start, i))
            start, used = i, 0
        used += n
    if lengths:
        spans.append((start, len(lengths)))
    return spans


def featurize(
    examples: Sequence[TaggingExample],
    tokenizer,
    *,
    max_length: int,
    label_list: Sequence[str] | None = None,
    unknown_tags: Literal["error", "ignore"] = "error",
) -> Features:
    """Windows of at most ``max_length`` tokens (special tokens included), one or more per example.

    Columns: ``input_ids``, ``attention_mask``, ``word_index`` (ragged; the word whose first
    subword sits at each position, -1 elsewhere), ``example_index``, and ``labels`` (ragged, tag
    ids at first subwords, -100 elsewhere) when any example has tags. Tags need ``label_list``;
    a tag outside it raises, or with ``unknown_tags="ignore"`` gets -100 (for dev/test supertags
    unseen in training; decode still predicts that word). An example with no tokens gets no rows.
    """
    prefix, suffix = special_tokens(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for text")
    has_tags = any(ex.tags is not None for ex in examples)
    if has_tags and label_list is None:
        raise ValueError("examples have tags: pass label_list (label_list_from(train) for CCG)")
    index = {t: i for i, t in enumerate(label_list or ())}
    head = np.asarray(prefix, dtype=np.int64)
    tail = np.asarray(suffix, dtype=np.int64)
    no_word = np.full(len(prefix), -1, dtype=np.int64), np.full(len(suffix), -1, dtype=np.int64)
    no_label = np.full(len(prefix), IGNORE, dtype=np.int64), np.full(len(suffix), IGNORE, dtype=np.int64)

    rows_ids, rows_words, rows_labels, rows_example = [], [], [], []
    for e, (ex, pieces) in enumerate(zip(examples, word_pieces(tokenizer, [ex.tokens for ex in examples]))):
        if ex.tags is not None and len(ex.tags) != len(ex.tokens):
            raise ValueError(f"example {ex.id!r}: {len(ex.tokens)} tokens but {len(ex.tags)} tags")
        tag_ids = _tag_ids(ex, index, unknown_tags) if has_tags else None
        # An over-long word keeps its first `budget` subwords: the first one is all decode needs.
        pieces = [p[:budget] for p in pieces]
        for start, end in _windows([len(p) for p in pieces], budget):
            ids, words, labels = [head], [no_word[0]], [no_label[0]]
            for w in range(start, end):
                n = len(pieces[w])
                ids.append(np.asarray(pieces[w], dtype=np.int64))
                first = np.full(n, -1, dtype=np.int64)
                first[0] = w
                words.append(first)
                if tag_ids is not None:
                    lab = np.full(n, IGNORE, dtype=np.int64)
                    lab[0] = tag_ids[w]
                    labels.append(lab)
            ids.append(tail)
            words.append(no_word[1])
            rows_ids.append(np.concatenate(ids))
            rows_words.append(np.concatenate(words))
            rows_example.append(e)
            if tag_ids is not None:
                labels.append(no_label[1])
                rows_labels.append(np.concatenate(labels))
    columns: dict = {
        "input_ids": rows_ids,
        "attention_mask": [np.ones_like(x) for x in rows_ids],
        "word_index": rows_words,
        "example_index": np.asarray(rows_example, dtype=np.int64),
    }
    if has_tags:
        columns["labels"] = rows_labels
    return Features(columns)


def _tag_ids(ex: TaggingExample, index: Mapping[str, int], unknown_tags: str) -> np.ndarray:
    if ex.tags is None:
        return np.full(len(ex.tokens), IGNORE, dtype=np.int64)
    out = np.empty(len(ex.tags), dtype=np.int64)
    for i, tag in enumerate(ex.tags):
        if tag in index:
            out[i] = index[tag]
        elif unknown_tags == "ignore":
            out[i] = IGNORE
        else:
            raise ValueError(f"example {ex.id!r}, token {i} ({ex.tokens[i]!r}): tag {tag!r} "
                             f"not in label_list")
    return out


def decode(
    examples: Sequence[TaggingExample],
    features: Features,
    outputs: Mapping[str, object],
    label_list: Sequence[str],
) -> list[list[str]]:
    """One tag per word per example, in example and word order.

    ``outputs["logits"]`` holds one ``(length, num_labels)`` array per feature row: a padded
    ``(rows, max_len, num_labels)`` array or a list of per-row arrays (padding is never read).
    Raises if a word got no prediction or more than one (features and examples do not match).
    """
    logits = outputs["logits"]
    if len(logits) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(logits)} logit rows")
    preds = [np.full(len(ex.tokens), -1, dtype=np.int64) for ex in examples]
    for row, e in enumerate(features.example_index):
        words = np.asarray(features["word_index"][row])
        pos = np.flatnonzero(words >= 0)
        target, w = preds[e], words[pos]
        if (target[w] >= 0).any():
            raise ValueError(f"example {examples[e].id!r}: a word is predicted by two windows")
        target[w] = np.asarray(logits[row])[pos].argmax(-1)
    for ex, p in zip(examples, preds):
        if (p < 0).any():
            raise ValueError(f"example {ex.id!r}: word {int(np.argmax(p < 0))} got no prediction")
    return [[label_list[int(k)] for k in p] for p in preds]


class Head(nn.Module):
    """Dropout + linear classifier on every position (as BertForTokenClassification)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)
        # BERT's initializer_range, so a fresh head starts with near-uniform predictions.
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, hidden_states: torch.Tensor, batch: dict) -> dict:
        return {"logits": self.classifier(self.dropout(hidden_states))}


def loss(outputs: dict, batch: dict) -> torch.Tensor:
    """Token cross-entropy averaged over labelled positions (0, not NaN, if a batch has none)."""
    logits = outputs["logits"]
    labels = torch.as_tensor(batch["labels"], device=logits.device)
    total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                            ignore_index=IGNORE, reduction="sum")
    return total / (labels != IGNORE).sum().clamp(min=1)


# ------------------------------------------------------------------ what the pipeline asks of the format

TARGET_COLUMNS = ("labels",)  # what the loss reads besides the model inputs
TOKEN_LEVEL = True  # one output per token: kept ragged per row
SETTINGS: tuple[str, ...] = ()  # task settings featurization reads besides max_length
# The registry's tag list is a setting and sizes the head; a task without one (CCG) reads it from
# its training data (:func:`label_list_from`).
LABELS = True


def featurize_kwargs(settings: dict, split: str) -> dict:
    # A tag outside the list is an error in training data, and ignored (scored as wrong) elsewhere.
    return {"max_length": settings["max_length"], "label_list": settings["labels"],
            "unknown_tags": "ignore" if split != "train" else "error"}


def text_lengths(examples: Sequence[TaggingExample], tokenizer) -> np.ndarray:
    """The sentence's words, joined by spaces."""
    return count_tokens(tokenizer, [" ".join(ex.tokens) for ex in examples])


def _write_sentences(sentences, path) -> None:
    """One tag per line, a blank line after each sentence (the CoNLL-style files evaluate.py reads)."""
    path.write_text("".join("".join(f"{t}\n" for t in s) + "\n" for s in sentences), encoding="utf-8")


def _token_accuracy(task, gold, predictions) -> dict[str, float]:
    """POS/NER token accuracy as an extra, separately named number (XTREME reports F1 only)."""
    from xstilts.metrics import get_metric

    if task.metric != "seqeval":
        return {}
    return {"token_accuracy": get_metric("tagging_accuracy")(gold, predictions)["accuracy"]}


ADAPTER = Adapter(
    decode=lambda task, ex, f, o, s: decode(ex, f, o, s["labels"]),
    gold=lambda ex: [list(e.tags) for e in ex],
    labelled=lambda ex: all(e.tags is not None for e in ex),
    write=_write_sentences, extension="tsv", extra=_token_accuracy)
