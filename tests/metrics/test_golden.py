"""Every golden case (official XTREME scorer outputs) is reproduced to 1e-9 through the Python API.

One test per file in the golden folder; each case kind has a checker below, and a file of an
unknown kind fails rather than being skipped. See the golden folder's README for the behaviours
the cases pin down.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xstilts.metrics import METRICS, get_metric
from xstilts.metrics import aggregate, bucc, qa, tagging
from xstilts.tasks import get_task

TOL = 1e-9
_DEFAULT_GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden"
GOLDEN_FILES = sorted(p.name for p in Path(os.environ.get("XSTILTS_GOLDEN_DIR", _DEFAULT_GOLDEN)).glob("*.json"))


def assert_scores(got: dict, expected: dict, where: str = "") -> None:
    """Every expected key is present and within 1e-9 (extra keys in ``got`` are not allowed)."""
    assert set(got) == set(expected), f"{where}: keys {sorted(got)} != {sorted(expected)}"
    for key, value in expected.items():
        assert abs(got[key] - value) <= TOL, f"{where}: {key} = {got[key]!r}, expected {value!r}"


def squad_dataset(gold: dict) -> list[dict]:
    """The golden ``question_ids``/``answers`` as a SQuAD ``data`` list (question order kept)."""
    qas = [{"id": qid, "answers": gold["answers"][qid]} for qid in gold["question_ids"]]
    return [{"paragraphs": [{"qas": qas}]}]


# ---------------------------------------------------------------- checkers, one per case kind


def check_qa(case: dict) -> None:
    language = case.get("scorer_language_argument")
    metric = get_metric(get_task(case["task"]).metric)
    assert_scores(metric(squad_dataset(case["gold"]), case["predictions"], language), case["expected"])
    normaliser = qa.mlqa_normaliser(language) if case["task"] == "mlqa" else qa.SQUAD
    for qid, official in case["per_question"].items():
        golds = [a["text"] for a in case["gold"]["answers"][qid]]
        if qid not in case["predictions"]:  # unanswered: scores 0 (checked through the totals)
            assert official["exact_match"] == 0 and official["f1"] == 0
            continue
        assert [normaliser.normalise(g) for g in golds] == official["normalized_gold"], qid
        prediction = case["predictions"][qid]
        assert normaliser.normalise(prediction) == official["normalized_prediction"], qid
        em, f1 = qa.score_question(prediction, golds, normaliser)
        assert em == official["exact_match"] and abs(f1 - official["f1"]) <= TOL, qid


def check_tagging(case: dict) -> None:
    gold, predictions = case["gold"]["tags"], case["predictions"]
    got = METRICS["seqeval"](gold, predictions)
    assert_scores(got, case["expected"])
    assert_not_seqeval_1_2_2(got, case)
    assert abs(tagging.token_accuracy(gold, predictions) - case["auxiliary"]["token_accuracy"]) <= TOL
    assert sum(map(len, gold)) == case["auxiliary"]["n_tokens"]


def assert_not_seqeval_1_2_2(got: dict, case: dict) -> None:
    """Where seqeval 1.2.2 gives another number (CCONJ/SCONJ types), ours must not be that number."""
    other = case["expected_seqeval_1_2_2"]
    differs = [k for k in other if abs(other[k] - case["expected"][k]) > TOL]
    for key in differs:
        assert abs(got[key] - other[key]) > TOL, f"{key} equals seqeval 1.2.2's value"


def check_tagging_edge_cases(case: dict) -> None:
    n_differ = 0
    for sub in case["subcases"]:
        got = get_metric(get_task(sub["task"]).metric)(sub["gold"], sub["predictions"])
        assert_scores(got, sub["expected"], sub["name"])
        assert_not_seqeval_1_2_2(got, sub)
        n_differ += sub["expected"] != sub["expected_seqeval_1_2_2"]
    assert n_differ >= 1  # the README's CCONJ/SCONJ case


def check_accuracy(case: dict) -> None:
    assert_scores(METRICS["accuracy"](case["gold"], case["predictions"]), case["expected"])


def check_bucc(case: dict) -> None:
    gold, expected = case["gold"], case["expected"]
    result = bucc.bucc_eval(case["predictions"]["candidates"], gold["src_sentences"], gold["trg_sentences"],
                            gold["gold_pairs"])
    assert_scores(result.official(), expected["bucc_eval"])
    assert sorted(result.pairs) == expected["extracted_pairs"]
    assert result.n_candidates == expected["n_mapped_candidate_pairs"]
    assert_scores(METRICS["bucc2018"](gold["gold_pairs"], expected["extracted_pairs"]),
                  expected["evaluate_bucc2018_on_extracted"])
    # The candidate map keeps each pair's best score: its top scores are the file's.
    src_ids, trg_ids = bucc.sentence_ids(gold["src_sentences"]), bucc.sentence_ids(gold["trg_sentences"])
    scores = bucc.candidate_scores(case["predictions"]["candidates"], src_ids, trg_ids)
    top = sorted(scores.values(), reverse=True)[: len(expected["top_scores"])]
    assert top == pytest.approx(expected["top_scores"], abs=TOL)


def check_qa_normalisation(case: dict) -> None:
    for row in case["normalisation"]:
        assert qa.normalize_squad(row["input"]) == row["squad"], row["input"]
        for language, normalised in row["mlqa"].items():
            assert qa.normalize_mlqa(row["input"], language) == normalised, (language, row["input"])
    for pair in case["pairs"]:
        pred, truth = pair["prediction"], pair["ground_truth"]
        scorers = {"squad": qa.SQUAD, **{f"mlqa-{l}": qa.mlqa_normaliser(l) for l in pair["mlqa"]}}
        official = {"squad": pair["squad"], **{f"mlqa-{l}": v for l, v in pair["mlqa"].items()}}
        for name, normaliser in scorers.items():
            assert qa.exact_match(pred, truth, normaliser) == official[name]["exact_match"], (name, pair)
            assert abs(qa.token_f1(pred, truth, normaliser) - official[name]["f1"]) <= TOL, (name, pair)


def check_xtreme_mock(case: dict) -> None:
    task = get_task(case["task"])
    metric = get_metric(task.metric)
    per_language = {}
    for language in case["language"]:
        gold = case["gold"][language]
        if task.metric == "squad":
            gold = gold["data"]  # evaluate.py's read_squad unwraps the gold file
        per_language[language] = metric(gold, case["predictions"][language], language)
    summary = aggregate.summarise_task(task.name, aggregate.by_metric(per_language))
    for key, value in case["expected"].items():
        if isinstance(value, dict):
            assert_scores(summary[key], value, key)
        else:
            assert abs(summary[key] - value) <= TOL, key
    assert set(summary) == set(case["expected"])
    if "expected_seqeval_1_2_2" in case:  # udpos: languages with CCONJ/SCONJ confusions differ
        other = case["expected_seqeval_1_2_2"]
        differing = [(m, lang) for m, by_lang in other.items() if isinstance(by_lang, dict)
                     for lang in by_lang if abs(by_lang[lang] - case["expected"][m][lang]) > TOL]
        assert differing
        for m, lang in differing:
            assert abs(summary[m][lang] - other[m][lang]) > TOL, (m, lang)


def check_aggregate(case: dict) -> None:
    overall, detailed = aggregate.xtreme_scores(case["predictions"]["per_language_scores"],
                                                case["gold"]["task2langs"], case["gold"]["group2task"])
    assert_scores(overall, case["expected"]["overall_scores"], "overall")
    for task, averages in case["expected"]["task_averages"].items():
        got = {k: v for k, v in detailed[task].items() if k.startswith("avg_")}
        assert_scores(got, averages, task)


def case_kind(case: dict) -> str:
    task = case["task"]
    if case["case_id"].startswith("xtreme_mock_"):
        return "xtreme_mock"
    if task in ("xquad", "mlqa"):
        return "qa"
    if task in ("udpos", "panx"):
        return "tagging"
    if task in ("xnli", "pawsx", "tatoeba"):
        return "accuracy"
    if task == "bucc2018":
        return "bucc"
    if task == "udpos/panx":
        return "tagging_edge_cases"
    return task  # qa_normalisation, aggregate


CHECKERS = {
    "qa": check_qa,
    "tagging": check_tagging,
    "tagging_edge_cases": check_tagging_edge_cases,
    "accuracy": check_accuracy,
    "bucc": check_bucc,
    "qa_normalisation": check_qa_normalisation,
    "xtreme_mock": check_xtreme_mock,
    "aggregate": check_aggregate,
}


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_case(golden_dir: Path, name: str) -> None:
    case = json.loads((golden_dir / name).read_text(encoding="utf-8"))
    kind = case_kind(case)
    assert kind in CHECKERS, f"{name}: no checker for case kind {kind!r}"
    CHECKERS[kind](case)


def test_every_golden_file_is_checked(golden_dir: Path) -> None:
    assert len(GOLDEN_FILES) == len(list(golden_dir.glob("*.json"))) >= 39
