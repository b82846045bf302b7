"""Hand-made cases for BUCC: pair F1, sentence→id maps, candidate scores, threshold and extraction."""

from __future__ import annotations

import pytest

from xstilts.errors import ConfigError
from xstilts.metrics.bucc import bucc_eval, bucc_f1, candidate_scores, extract, optimise_threshold, sentence_ids


def test_pair_f1_uses_distinct_pairs() -> None:
    gold = ["s1\tt1", "s2\tt2", "s3\tt3", "s3\tt3"]  # 3 distinct
    pred = ["s1\tt1", "s1\tt1", "s2\tt9"]             # 2 distinct, 1 right
    assert bucc_f1(gold, pred) == pytest.approx({"f1": 40.0, "precision": 50.0, "recall": 100 / 3})
    assert bucc_f1(gold, ["x\ty"]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_repeated_sentences_lose_their_id() -> None:
    rows = [("s1", " Hallo "), ("s2", "Welt"), ("s3", "Hallo"), ("s4", "Hallo"), ("s5", "Tag")]
    assert sentence_ids(rows) == {"Welt": "s2", "Tag": "s5"}


def test_candidate_scores_keep_the_best_score_and_first_position() -> None:
    src, trg = {"a": "s1", "b": "s2"}, {"A": "t1", "B": "t2"}
    rows = [("1.0", "a", "A"), (2.0, "b ", " B\n"), ("3.5", "a", "A"), ("0.5", "a", "A"), ("9", "zz", "A")]
    assert list(candidate_scores(rows, src, trg).items()) == [(("s1", "t1"), 3.5), (("s2", "t2"), 2.0)]


def test_threshold_is_the_midpoint_after_a_strict_improvement() -> None:
    scores = {("s1", "t1"): 3.0, ("s2", "t2"): 2.0, ("s3", "t3"): 1.0, ("s4", "t4"): 0.0}
    gold = {"s1\tt1", "s3\tt3", "s9\tt9"}
    # After s1: P 1, R 1/3, F1 0.5 → (3+2)/2. After s2: F1 0.4. After s3: P 2/3, R 2/3, F1 2/3 →
    # (1+0)/2. After s4: F1 4/7 < 2/3.
    assert optimise_threshold(scores, gold) == 0.5
    assert extract(scores, 0.5) == ["s1\tt1", "s2\tt2", "s3\tt3"]


def test_ties_keep_file_order_and_equal_f1_does_not_move_the_threshold() -> None:
    scores = {("s1", "t1"): 2.0, ("s2", "t2"): 2.0, ("s3", "t3"): 1.0}
    # s1 (correct) first: F1 1 → threshold (2+2)/2 = 2, and extraction keeps both tied pairs.
    assert optimise_threshold(scores, {"s1\tt1"}) == 2.0
    assert extract(scores, 2.0) == ["s1\tt1", "s2\tt2"]
    # Listed the other way round, the wrong s2 comes first and the improvement only at s1, the
    # last candidate.
    assert optimise_threshold({("s2", "t2"): 2.0, ("s1", "t1"): 2.0}, {"s1\tt1"}) == 2.0


def test_improvement_at_the_last_candidate_keeps_every_candidate() -> None:
    # The official code indexes past the end here; the threshold becomes the last score.
    scores = {("s1", "t1"): 3.0, ("s2", "t2"): 2.0}
    assert optimise_threshold(scores, {"s2\tt2"}) == 2.0
    assert extract(scores, 2.0) == ["s1\tt1", "s2\tt2"]


def test_without_any_right_candidate_the_threshold_stays_zero() -> None:
    scores = {("s1", "t1"): 0.5, ("s2", "t2"): -0.5}
    assert optimise_threshold(scores, {"x\ty"}) == 0.0
    assert extract(scores, 0.0) == ["s1\tt1"]


SRC = [("s1", "eins"), ("s2", "zwei"), ("s3", "drei")]
TRG = [("t1", "one"), ("t2", "two"), ("t3", "three")]
CANDIDATES = [("1.3", "eins", "one"), ("1.2", "zwei", "three"), ("1.1", "drei", "three"), ("0.9", "zwei", "two")]


def test_bucc_eval_optimises_extracts_and_scores() -> None:
    result = bucc_eval(CANDIDATES, SRC, TRG, ["s1\tt1", "s2\tt2", "s3\tt3"])
    # Walk: s1t1 ✓ F1 .5 → 1.25; s2t3 ✗ .4; s3t3 ✓ P 2/3 R 2/3 → (1.1+0.9)/2 = 1.0; s2t2 ✓ F1 .75 → last.
    assert result.threshold == 0.9
    assert result.pairs == ["s1\tt1", "s2\tt3", "s3\tt3", "s2\tt2"]
    assert (result.precision, result.recall, result.f1) == pytest.approx((75.0, 100.0, 600 / 7))
    assert result.official() == {"best-threshold": 0.9, "precision": result.precision,
                                 "recall": result.recall, "F1": result.f1}


def test_bucc_eval_with_a_given_threshold_and_without_gold() -> None:
    result = bucc_eval(CANDIDATES, SRC, TRG, threshold=1.15)
    assert (result.threshold, result.pairs, result.f1) == (1.15, ["s1\tt1", "s2\tt3"], None)
    with pytest.raises(ConfigError, match="gold pairs"):
        bucc_eval(CANDIDATES, SRC, TRG)
