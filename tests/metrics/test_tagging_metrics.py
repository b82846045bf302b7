"""Hand-made cases for the seqeval 0.0.12 chunk decoder, chunk P/R/F1 and token accuracy."""

from __future__ import annotations

import pytest

from xstilts.errors import DataError
from xstilts.metrics import get_metric
from xstilts.metrics.tagging import chunk_prf, get_chunks, tagging_accuracy, token_accuracy


@pytest.mark.parametrize("tags, chunks", [
    (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)]),
    (["I-PER", "I-PER", "B-PER"], [("PER", 0, 1), ("PER", 2, 2)]),          # IOB1
    (["B-PER", "E-PER", "S-LOC", "I-LOC", "E-LOC"], [("PER", 0, 1), ("LOC", 2, 2), ("LOC", 3, 4)]),
    (["B-PER", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 1)]),                   # type change splits
    (["B-I-PER"], [("PER", 0, 0)]),                                         # type after the last '-'
    (["NOUN", "NOUN", "VERB", "NOUN"], [("NOUN", 0, 1), ("VERB", 2, 2), ("NOUN", 3, 3)]),
    (["SYM", "SYM", "SCONJ"], [("SYM", 0, 0), ("SYM", 1, 1), ("SCONJ", 2, 2)]),  # 'S' prefix
    (["CCONJ", "SCONJ"], [("CCONJ", 0, 0), ("SCONJ", 1, 1)]),               # 1.x would say CONJ, CONJ
    (["INTJ", "INTJ", "O"], [("INTJ", 0, 1)]),
    (["O", "O"], []),
])
def test_chunks_of_one_sequence(tags: list[str], chunks: list[tuple]) -> None:
    assert get_chunks(tags) == chunks


def test_sentences_are_separated_by_an_outside_tag() -> None:
    # Offsets count the separator: sentence 2 starts at 3, not 2.
    assert get_chunks([["O", "NOUN"], ["NOUN"]]) == [("NOUN", 1, 1), ("NOUN", 3, 3)]


def test_chunk_scores() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O"]]
    # gold chunks 3, predicted 2, correct 1: P 1/2, R 1/3, F1 0.4.
    assert chunk_prf(gold, pred) == pytest.approx({"f1": 40.0, "precision": 50.0, "recall": 100 / 3})


def test_undefined_precision_and_recall_are_zero() -> None:
    assert chunk_prf([["O"]], [["O"]]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    assert chunk_prf([["B-X"]], [["O"]]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_pos_chunk_f1_is_not_token_accuracy() -> None:
    gold, pred = [["NOUN", "NOUN", "NOUN", "VERB"]], [["NOUN", "PROPN", "NOUN", "VERB"]]
    assert token_accuracy(gold, pred) == 75.0
    # gold chunks NOUN(0-2), VERB; predicted NOUN, PROPN, NOUN, VERB: only VERB is right.
    assert chunk_prf(gold, pred) == pytest.approx({"f1": 100 / 3, "precision": 25.0, "recall": 50.0})


def test_token_accuracy_is_a_separate_metric() -> None:
    assert get_metric("tagging_accuracy") is tagging_accuracy
    assert tagging_accuracy([["a", "b"], ["c"]], [["a", "x"], ["c"]]) == {"accuracy": pytest.approx(200 / 3)}
    with pytest.raises(DataError, match="no gold tokens"):
        token_accuracy([[]], [[]])


def test_empty_tag_is_an_error() -> None:
    with pytest.raises(DataError, match="empty tag"):
        get_chunks([["B-PER", ""]])
