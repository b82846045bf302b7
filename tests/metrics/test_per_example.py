"""Per-example statistics reproduce the official metrics: on every golden case, on random subsets,
and on resamples with repeated examples; tagging chunk counts add up over sentences."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from xstilts.errors import ConfigError, DataError, UnknownNameError
from xstilts.metrics import METRICS
from xstilts.metrics.per_example import aggregate, example_stats, metrics_from_sums, stats_matrix
from xstilts.metrics.tagging import get_chunks, token_accuracy

TOL = 1e-9
_DEFAULT_GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden"
_GOLDEN = Path(os.environ.get("XSTILTS_GOLDEN_DIR", _DEFAULT_GOLDEN))
QA_TASKS = {"xquad": "squad", "mlqa": "mlqa", "tydiqa": "squad"}
TAGGING_TASKS = {"udpos", "panx"}
ACCURACY_TASKS = {"xnli", "pawsx", "tatoeba"}
CASES = sorted(p.name for p in _GOLDEN.glob("*.json")
               if json.loads(p.read_text(encoding="utf-8"))["task"] in {*QA_TASKS, *TAGGING_TASKS, *ACCURACY_TASKS})


def squad_dataset(gold: dict) -> list[dict]:
    qas = [{"id": qid, "answers": gold["answers"][qid]} for qid in gold["question_ids"]]
    return [{"paragraphs": [{"qas": qas}]}]


def assert_same(got: dict, expected: dict, where: str = "") -> None:
    assert set(got) == set(expected), where
    for k, v in expected.items():
        assert abs(got[k] - v) <= TOL, f"{where}: {k} = {got[k]!r}, expected {v!r}"


def scored_files(case: dict) -> list[tuple[str, str, object, object, str | None, dict]]:
    """(where, metric, gold, predictions, language, expected) for every file a golden case scores."""
    task = case["task"]
    if case["case_id"].startswith("xtreme_mock_"):
        out = []
        for lang in case["language"]:
            gold, preds = case["gold"][lang], case["predictions"][lang]
            metric = QA_TASKS.get(task, "seqeval" if task in TAGGING_TASKS else "accuracy")
            if metric in ("squad", "mlqa"):
                gold = gold["data"]
            expected = {m: case["expected"][m][lang] for m in case["expected"] if not m.startswith("avg_")}
            out.append((f"{task}-{lang}", metric, gold, preds, lang, expected))
        return out
    if task in QA_TASKS:
        return [(case["case_id"], QA_TASKS[task], squad_dataset(case["gold"]), case["predictions"],
                 case.get("scorer_language_argument"), case["expected"])]
    if task in TAGGING_TASKS:
        return [(case["case_id"], "seqeval", case["gold"]["tags"], case["predictions"], None, case["expected"])]
    return [(case["case_id"], "accuracy", case["gold"], case["predictions"], None, case["expected"])]


def load(name: str) -> dict:
    return json.loads((_GOLDEN / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CASES)
def test_golden_case_from_example_stats(golden_dir: Path, name: str) -> None:
    case = load(name)
    for where, metric, gold, preds, lang, expected in scored_files(case):
        stats = example_stats(metric, gold, preds, lang)
        assert_same(aggregate(metric, stats), expected, where)
        if metric in ("squad", "mlqa") and "per_question" in case:
            assert [s["id"] for s in stats] == case["gold"]["question_ids"]
            for s in stats:
                official = case["per_question"][s["id"]]
                assert s["exact_match"] == official["exact_match"] and abs(s["f1"] - official["f1"]) <= TOL
        if "auxiliary" in case:  # seqeval accuracy_score × 100, and the extra results number
            got = aggregate(metric, stats, with_token_accuracy=True)
            assert abs(got["token_accuracy"] - case["auxiliary"]["token_accuracy"]) <= TOL
            tok = aggregate("tagging_accuracy", example_stats("tagging_accuracy", gold, preds))
            assert abs(tok["accuracy"] - case["auxiliary"]["token_accuracy"]) <= TOL


def test_golden_cases_are_all_covered(golden_dir: Path) -> None:
    tasks = {load(n)["task"] for n in CASES}
    assert {"xquad", "mlqa", "udpos", "panx", "xnli", "pawsx", "tatoeba"} <= tasks


def test_tagging_edge_subcases(golden_dir: Path) -> None:
    case = load("tagging_edge_cases_s45.json")
    for sub in case["subcases"]:
        stats = example_stats("seqeval", sub["gold"], sub["predictions"])
        assert len(stats) == len(sub["gold"])
        assert_same(aggregate("seqeval", stats), sub["expected"], sub["name"])


# ---------------------------------------------------------------- subsets and resamples


def subset(metric: str, gold, preds, idx):
    """The official inputs restricted to examples ``idx`` (repeats allowed)."""
    if metric in ("squad", "mlqa"):
        qas = [qa for article in gold for p in article["paragraphs"] for qa in p["qas"]]
        return [{"paragraphs": [{"qas": [qas[i] for i in idx]}]}], preds
    return [gold[i] for i in idx], [preds[i] for i in idx]


@pytest.mark.parametrize("name", [
    "xquad_squad_de_s2.json", "xquad_squad_de_fullfile_s12.json", "mlqa_scorer_on_xquad_zh_s25.json",
    "mlqa_scorer_on_xquad_ar_s24.json", "udpos_zh_s42.json", "panx_style_ner_de_iob1_s43.json",
    "xnli_de_s51.json", "tatoeba_fr_s62.json",
])
def test_random_subsets_and_resamples_match_the_official_metric(golden_dir: Path, name: str) -> None:
    (where, metric, gold, preds, lang, _), = scored_files(load(name))
    stats = example_stats(metric, gold, preds, lang)
    official = METRICS[metric]
    rng = np.random.default_rng(0)
    n = len(stats)
    for trial in range(6):
        if trial % 2:  # bootstrap resample: repeated examples count as often as they occur
            idx = rng.integers(0, n, size=n)
        else:
            idx = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
        sub_gold, sub_preds = subset(metric, gold, preds, idx)
        expected = official(sub_gold, sub_preds, lang)
        assert_same(aggregate(metric, [stats[i] for i in idx]), expected, f"{where} trial {trial}")
        # the vectorised form on weighted sums gives the same numbers
        weights = np.bincount(idx, minlength=n).astype(float)
        vec = metrics_from_sums(metric, weights @ stats_matrix(metric, stats), weights.sum())
        assert_same({k: float(v) for k, v in vec.items()}, expected, f"{where} vectorised {trial}")


def test_vectorised_over_many_resamples(golden_dir: Path) -> None:
    (_, metric, gold, preds, _, _), = scored_files(load("panx_style_synthetic_bio_zh_s44.json"))
    stats = example_stats(metric, gold, preds)
    matrix = stats_matrix(metric, stats)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(stats), size=(5, len(stats)))
    weights = np.stack([np.bincount(i, minlength=len(stats)) for i in idx]).astype(float)
    vec = metrics_from_sums(metric, weights @ matrix, weights.sum(axis=1))
    for r in range(5):
        expected = METRICS[metric]([gold["tags"][i] if isinstance(gold, dict) else gold[i] for i in idx[r]],
                                   [preds[i] for i in idx[r]])
        assert_same({k: float(v[r]) for k, v in vec.items()}, expected, f"resample {r}")


# ---------------------------------------------------------------- the sentence-boundary claim


@pytest.mark.parametrize("name", ["udpos_de_s41.json", "udpos_zh_s42.json", "panx_style_ner_de_iob1_s43.json",
                                  "panx_style_synthetic_bio_zh_s44.json"])
def test_chunks_never_cross_sentences(golden_dir: Path, name: str) -> None:
    """evaluate.py's concatenation (an ``O`` between sentences) yields exactly the per-sentence
    chunks shifted by each sentence's offset — so per-sentence counts sum to the file's."""
    case = load(name)
    for seqs in (case["gold"]["tags"], case["predictions"]):
        shifted, offset = set(), 0
        for sentence in seqs:
            shifted |= {(t, b + offset, e + offset) for t, b, e in get_chunks([sentence])}
            offset += len(sentence) + 1  # the separating "O"
        assert set(get_chunks(seqs)) == shifted
    stats = example_stats("seqeval", case["gold"]["tags"], case["predictions"])
    whole_gold, whole_pred = set(get_chunks(case["gold"]["tags"])), set(get_chunks(case["predictions"]))
    assert sum(s["tp"] for s in stats) == len(whole_gold & whole_pred)
    assert sum(s["n_gold"] for s in stats) == len(whole_gold)
    assert sum(s["n_pred"] for s in stats) == len(whole_pred)
    assert abs(100 * sum(s["tokens_correct"] for s in stats) / sum(s["tokens"] for s in stats)
               - token_accuracy(case["gold"]["tags"], case["predictions"])) <= TOL


def test_chunks_of_edge_sentences_stay_inside() -> None:
    # Sentences that end inside an entity, in E/S spellings, lone I-, POS runs and S-prefixed POS.
    sentences = [["B-PER", "I-PER"], ["I-PER", "E-PER"], ["S-LOC"], ["E-ORG", "I-ORG"], ["NOUN", "NOUN"],
                 ["NOUN"], ["SCONJ", "SCONJ"], ["SYM"], ["I-LOC"], ["B-LOC"], ["O"], ["CCONJ"]]
    rng = np.random.default_rng(3)
    for _ in range(50):
        gold = [sentences[i] for i in rng.integers(0, len(sentences), size=8)]
        pred = [sentences[i] if len(sentences[i]) == len(g) else g
                for i, g in zip(rng.integers(0, len(sentences), size=8), gold)]
        assert_same(aggregate("seqeval", example_stats("seqeval", gold, pred)), METRICS["seqeval"](gold, pred))


def test_a_chunk_of_type_O_crossing_sentences_is_refused() -> None:
    # A tag whose type is "O" (text after the last "-", e.g. "X-O") does not open a chunk after
    # the separating "O", so its chunk starts where the previous sentence's last chunk began.
    gold = [["O", "B-LOC"], ["X-O", "I-PER"]]
    pred = [["O", "O"], ["X-O", "I-PER"]]
    with pytest.raises(DataError, match="crosses a sentence boundary"):
        example_stats("seqeval", gold, pred)


# ---------------------------------------------------------------- official edge behaviour


def test_accuracy_denominator_is_the_predictions() -> None:
    gold, preds = ["a", "b"], ["a", "b", "c"]
    stats = example_stats("accuracy", gold, preds)
    assert [s["correct"] for s in stats] == [1, 1, 0]
    assert_same(aggregate("accuracy", stats), METRICS["accuracy"](gold, preds))
    assert_same(aggregate("accuracy", example_stats("accuracy", ["a", "b", "c"], ["a", "c"])),
                METRICS["accuracy"](["a", "b", "c"], ["a", "c"]))
    with pytest.raises(DataError):
        example_stats("accuracy", ["a"], [])


def test_missing_qa_prediction_scores_zero_and_counts() -> None:
    data = [{"paragraphs": [{"qas": [{"id": "q1", "answers": [{"text": "Paris"}]},
                                     {"id": "q2", "answers": [{"text": "the cat"}]}]}]}]
    preds = {"q1": "paris", "zz": "ignored"}
    stats = example_stats("squad", data, preds)
    assert stats == [{"id": "q1", "exact_match": 1, "f1": 1.0}, {"id": "q2", "exact_match": 0, "f1": 0.0}]
    assert_same(aggregate("squad", stats), METRICS["squad"](data, preds))
    with pytest.raises(ConfigError):
        example_stats("mlqa", data, preds)  # MLQA needs the language


def test_tagging_length_mismatch_and_unknown_metrics_are_refused() -> None:
    with pytest.raises(DataError):
        example_stats("seqeval", [["O", "B-PER"]], [["O"]])
    with pytest.raises(DataError):
        example_stats("seqeval", [["O"], ["O"]], [["O"]])
    with pytest.raises(ConfigError, match="threshold"):
        example_stats("bucc2018", [], [])
    with pytest.raises(UnknownNameError, match="did you mean"):
        example_stats("acuracy", ["a"], ["a"])
    with pytest.raises(DataError):
        aggregate("accuracy", [])


def test_empty_subset_is_nan_in_the_vectorised_form() -> None:
    for metric, k in (("accuracy", 1), ("squad", 2), ("seqeval", 5), ("tagging_accuracy", 2)):
        out = metrics_from_sums(metric, np.zeros((3, k)), np.zeros(3))
        assert all(np.isnan(v).all() for v in out.values()), metric
