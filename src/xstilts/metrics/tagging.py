"""Sequence-tagging scores: seqeval 0.0.12 chunk P/R/F1 (what XTREME reports) and token accuracy.

XTREME's evaluate.py scores UD-POS and PAN-X with ``seqeval.metrics`` ``f1_score`` /
``precision_score`` / ``recall_score`` (micro, default mode) under seqeval 0.0.12. This module
re-implements exactly those semantics instead of depending on seqeval, because seqeval ≥ 1.0
derives chunk types differently (``tag[1:]`` instead of the text after the last ``-``), which
changes UD-POS scores (CCONJ and SCONJ become the same type ``CONJ``).

How 0.0.12 reads a tag: its first character is the chunk prefix (B/I/E/S/O; any other
character is no prefix and acts only through the type rules) and the text after the last ``-``
is its type. So for UD POS tags, which have no
prefix, a run of identical tags is one chunk and tags starting with ``S`` (SCONJ, SYM) are
single-token chunks: the "F1" of UD-POS is not token accuracy. :func:`token_accuracy` is that
other number, reported under its own name.
"""

from __future__ import annotations

from typing import Sequence

from xstilts.errors import DataError

Chunk = tuple[str, int, int]  # (type, first token, last token) in the concatenated sequence

# Prefix pairs (previous, current) at which 0.0.12 closes / opens a chunk, besides the rules on
# types below: a chunk always closes after E or S and always opens at B or S.
_CLOSES_AFTER = frozenset("ES")
_CLOSE_PAIRS = frozenset({("B", "B"), ("B", "S"), ("B", "O"), ("I", "B"), ("I", "S"), ("I", "O")})
_OPENS_AT = frozenset("BS")
_OPEN_PAIRS = frozenset({("E", "E"), ("E", "I"), ("S", "E"), ("S", "I"), ("O", "E"), ("O", "I")})
# Prefixes that carry no chunk, so a type change there neither closes nor opens one.
_OUTSIDE = frozenset("O.")


def _flatten(sequences: Sequence) -> list[str]:
    # A list of sentences is scored as one sequence with an "O" after every sentence, so no
    # chunk crosses a sentence boundary; a flat list of tags is used as it is (as in seqeval).
    if any(isinstance(s, (list, tuple)) for s in sequences):
        return [tag for sentence in sequences for tag in (*sentence, "O")]
    return list(sequences)


def get_chunks(sequences: Sequence) -> list[Chunk]:
    """The chunks seqeval 0.0.12 ``get_entities`` finds (default, non-suffix mode)."""
    chunks: list[Chunk] = []
    prev_prefix, prev_type, begin = "O", "", 0
    for i, tag in enumerate([*_flatten(sequences), "O"]):
        if not tag:
            raise DataError(None, f"empty tag at token {i}")
        prefix, type_ = tag[0], tag.split("-")[-1]
        closes = (
            prev_prefix in _CLOSES_AFTER
            or (prev_prefix, prefix) in _CLOSE_PAIRS
            or (prev_prefix not in _OUTSIDE and prev_type != type_)
        )
        opens = (
            prefix in _OPENS_AT
            or (prev_prefix, prefix) in _OPEN_PAIRS
            or (prefix not in _OUTSIDE and prev_type != type_)
        )
        if closes:
            chunks.append((prev_type, begin, i - 1))
        if opens:
            begin = i
        prev_prefix, prev_type = prefix, type_
    return chunks


def chunk_prf(gold: Sequence, predictions: Sequence, language: str | None = None) -> dict[str, float]:
    """evaluate.py ``f1``: micro chunk ``f1``/``precision``/``recall`` × 100 (0 when undefined)."""
    true_chunks = set(get_chunks(gold))
    pred_chunks = set(get_chunks(predictions))
    correct = len(true_chunks & pred_chunks)
    precision = correct / len(pred_chunks) if pred_chunks else 0.0
    recall = correct / len(true_chunks) if true_chunks else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"f1": f1 * 100, "precision": precision * 100, "recall": recall * 100}


def token_accuracy(gold: Sequence, predictions: Sequence) -> float:
    """Share of tokens whose tag equals the gold tag, × 100 (seqeval ``accuracy_score`` × 100).

    Sentences are concatenated without separators; the denominator is the number of gold tokens.
    """
    flat_gold = _concatenate(gold)
    flat_pred = _concatenate(predictions)
    if not flat_gold:
        raise DataError(None, "no gold tokens to score")
    correct = sum(g == p for g, p in zip(flat_gold, flat_pred))
    return correct / len(flat_gold) * 100


def tagging_accuracy(gold: Sequence, predictions: Sequence, language: str | None = None) -> dict[str, float]:
    """Token accuracy as a metric (``{"accuracy": ...}``): the extra POS/CCG number, not XTREME's."""
    return {"accuracy": token_accuracy(gold, predictions)}


def _concatenate(sequences: Sequence) -> list[str]:
    if any(isinstance(s, (list, tuple)) for s in sequences):
        return [tag for sentence in sequences for tag in sentence]
    return list(sequences)
