"""Hand-made edge cases for the QA scorers (SQuAD v1.1, MLQA, SQuAD v2.0) with hand-computed values."""

from __future__ import annotations

import pytest

from xstilts.errors import ConfigError, DataError, UnknownNameError
from xstilts.metrics import qa


def dataset(*questions: tuple[str, list[str]]) -> list[dict]:
    qas = [{"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in answers]}
           for qid, answers in questions]
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize("text, expected", [
    ("The  Eiffel\u00a0Tower!", "eiffel tower"),       # articles, punctuation, Unicode spaces
    ("«Paris»", "«paris»"),                             # only ASCII punctuation goes
    ("a 生理疼痛", "生理疼痛"),                            # English articles removed in any text
    ("zero\u200bwidth", "zero\u200bwidth"),             # U+200B is not whitespace
    ("theater", "theater"),                             # articles only as whole words
    ("...", ""),
])
def test_squad_normalisation(text: str, expected: str) -> None:
    assert qa.normalize_squad(text) == expected


@pytest.mark.parametrize("text, language, expected", [
    ("«Paris»!", "en", "paris"),                        # every Unicode P* character goes
    ("los Ángeles", "es", "ángeles"),
    ("die Straße", "de", "straße"),
    ("bالكتاب", "ar", "b كتاب"),                        # every ال, also inside a word
    ("北京大学 abc de", "zh", "北 京 大 学 abc de"),     # one token per ideograph
    ("the €5", "hi", "the €5"),                         # hi: no articles; symbols stay
])
def test_mlqa_normalisation(text: str, language: str, expected: str) -> None:
    assert qa.normalize_mlqa(text, language) == expected


def test_mlqa_rejects_languages_its_scorer_does_not_know() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'de'"):
        qa.mlqa_normaliser("dee")
    with pytest.raises(UnknownNameError, match="'fr'"):
        qa.mlqa_em_f1(dataset(("q", ["x"])), {"q": "x"}, "fr")
    with pytest.raises(ConfigError, match="needs the answer language"):
        qa.mlqa_em_f1(dataset(("q", ["x"])), {"q": "x"})


# ---------------------------------------------------------------- SQuAD v1.1 / MLQA


def test_empty_answers_match_exactly_but_have_no_f1() -> None:
    assert qa.exact_match("the", "!") == 1
    assert qa.token_f1("the", "!") == 0.0


def test_token_f1_counts_multiset_overlap() -> None:
    # pred [paris, paris, france], gold [paris, france]: overlap 2, P = 2/3, R = 1 → F1 = 0.8.
    assert qa.token_f1("Paris Paris France", "Paris, France") == pytest.approx(0.8, abs=1e-12)


def test_best_gold_answer_is_chosen_per_score() -> None:
    # EM comes from the first gold answer, F1's maximum as well; the second only gives 0.5.
    assert qa.score_question("big red", ["Big Red", "red"]) == (1, 1.0)
    em, f1 = qa.score_question("big red dog", ["red", "blue dog"])
    assert em == 0 and f1 == pytest.approx(0.5)  # "red": P 1/3, R 1 → 0.5; "blue dog": P 1/3, R 1/2 → 0.4


def test_missing_predictions_count_as_zero_and_unknown_ids_are_ignored() -> None:
    data = dataset(("q1", ["cat"]), ("q2", ["black dog"]), ("q3", ["x"]))
    got = qa.squad_em_f1(data, {"q1": "the cat", "q2": "dog", "zzz": "x"})
    # q1: EM 1, F1 1; q2: EM 0, F1 2/3 (P 1, R 1/2); q3 missing: 0 — all over 3 questions.
    assert got == pytest.approx({"exact_match": 100 / 3, "f1": 100 * (1 + 2 / 3) / 3}, abs=1e-12)


def test_mlqa_language_changes_the_score() -> None:
    data = dataset(("q", ["el gato"]))
    assert qa.squad_em_f1(data, {"q": "gato"}) == pytest.approx({"exact_match": 0.0, "f1": 100 * 2 / 3})
    assert qa.mlqa_em_f1(data, {"q": "gato"}, "es") == {"exact_match": 100.0, "f1": 100.0}


def test_v1_question_without_answers_needs_none_or_errors() -> None:
    data = dataset(("q1", []), ("q2", ["a b"]))
    assert qa.squad_em_f1(data, {"q2": "a b"}) == {"exact_match": 50.0, "f1": 50.0}
    with pytest.raises(DataError, match="'q1'.*no gold answers"):
        qa.squad_em_f1(data, {"q1": "x"})


def test_no_questions_is_an_error() -> None:
    with pytest.raises(DataError, match="no questions"):
        qa.squad_em_f1([{"paragraphs": []}], {})


# ---------------------------------------------------------------- SQuAD v2.0

# q1, q2, q5 are answerable (q5's only answer normalises to nothing, so only "" matches it);
# q3, q4 are not. Raw scores (EM, F1): q1 (1, 1), q2 (0, 2/3), q3 (1, 1), q4 (0, 0), q5 (1, 1).
V2_DATA = dataset(("q1", ["the Eiffel Tower", "Eiffel"]), ("q2", ["Paris France"]), ("q3", []), ("q4", []),
                  ("q5", ["The"]))
V2_PREDICTIONS = {"q1": "Eiffel Tower", "q2": "Paris", "q3": "", "q4": "London", "q5": ""}
V2_NA_PROBS = {"q1": 0.1, "q5": 0.2, "q2": 0.3, "q4": 0.7, "q3": 0.8}


def test_squad_v2_without_no_answer_probabilities() -> None:
    got = qa.squad_v2(V2_DATA, V2_PREDICTIONS)
    assert got == pytest.approx({
        "exact": 60.0, "f1": 100 * (1 + 2 / 3 + 1 + 0 + 1) / 5, "total": 5,
        "HasAns_exact": 200 / 3, "HasAns_f1": 100 * (1 + 2 / 3 + 1) / 3, "HasAns_total": 3,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
    }, abs=1e-12)


def test_squad_v2_threshold_and_best_threshold_search() -> None:
    got = qa.squad_v2(V2_DATA, V2_PREDICTIONS, na_probs=V2_NA_PROBS, na_prob_thresh=0.5)
    # Above 0.5 (q4, q3) the answer is "no answer": right for both, so q4 becomes 1.
    # Best threshold, starting from 2 (both no-answer questions right), by increasing probability:
    # EM: q1 +1 → 3, q5 +1 → 4 (0.2), q2 +0, q4 -1 (non-empty answer), q3 0 → best 4/5 at 0.2.
    # F1: q1 → 3, q5 → 4, q2 +2/3 → 4.667 (0.3), q4 -1, q3 0 → best 4.667/5 at 0.3.
    assert got == pytest.approx({
        "exact": 80.0, "f1": 100 * (1 + 2 / 3 + 1 + 1 + 1) / 5, "total": 5,
        "HasAns_exact": 200 / 3, "HasAns_f1": 100 * (1 + 2 / 3 + 1) / 3, "HasAns_total": 3,
        "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 2,
        "best_exact": 80.0, "best_exact_thresh": 0.2,
        "best_f1": 100 * (4 + 2 / 3) / 5, "best_f1_thresh": 0.3,
    }, abs=1e-12)


def test_squad_v2_best_threshold_moves_only_on_strict_improvement() -> None:
    data = dataset(("a", ["x"]), ("b", []))
    # Start 1 (b right as no-answer); a (0.4) adds 0 → no move; b (0.6) "" adds 0 → best stays 0.0.
    got = qa.squad_v2(data, {"a": "y", "b": ""}, na_probs={"a": 0.4, "b": 0.6})
    assert (got["best_exact"], got["best_exact_thresh"]) == (50.0, 0.0)


def test_squad_v2_empty_gold_and_prediction_have_f1_one() -> None:
    assert qa.token_f1_v2("", "") == 1.0
    assert qa.token_f1_v2("a", "") == 1.0   # both normalise to nothing
    assert qa.token_f1_v2("x", "") == 0.0


def test_squad_v2_only_answerable_or_only_unanswerable() -> None:
    assert set(qa.squad_v2(dataset(("a", ["x"])), {"a": "x"})) == {
        "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"}
    assert qa.squad_v2(dataset(("b", [])), {"b": "x"})["NoAns_exact"] == 0.0


def test_squad_v2_requires_every_prediction_and_probability() -> None:
    with pytest.raises(DataError, match="'q2'.*no prediction"):
        qa.squad_v2(dataset(("q1", ["x"]), ("q2", ["y"])), {"q1": "x"})
    with pytest.raises(DataError, match="'q2'.*probability"):
        qa.squad_v2(dataset(("q1", ["x"]), ("q2", ["y"])), {"q1": "x", "q2": "y"}, na_probs={"q1": 0.5})
