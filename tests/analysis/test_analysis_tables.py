"""Point estimates: main metric, XTREME averaging, gains from results rows and from example scores."""

from __future__ import annotations

import random

import numpy as np
import pytest

from analysis_synth import example_rows
from xstilts.analysis import (
    Condition, bootstrap_gains, condition_of, gains_table, main_metric_value, main_scores, results_from_examples,
    xtreme_average,
)
from xstilts.errors import DataError
from xstilts.metrics import METRICS


def result_row(*, intermediate=(), max_len=None, target="xquad", language="de", bucket="all", seed=1,
               metric="f1", value=0.0, split="test", phase="zero_shot_eval", n=100, run_id=None):
    run_id = run_id or f"{target}-{'+'.join(intermediate) or 'none'}-{max_len}-s{seed}"
    return {"run_id": run_id, "config_hash": run_id, "phase": phase, "intermediate": list(intermediate),
            "intermediate_max_len": max_len, "target": target, "task": target, "language": language,
            "split": split, "bucket": bucket, "metric": metric, "value": value, "n": n, "seed": seed,
            "higher_is_better": True, "xstilts_version": "0.1.0", "git_sha": None}


def test_main_metric_value_is_xtremes() -> None:
    assert main_metric_value({"exact_match": 40.0, "f1": 60.0}) == 50.0
    assert main_metric_value({"f1": 70.0, "precision": 1.0, "recall": 2.0, "token_accuracy": 90.0}) == 70.0
    assert main_metric_value({"accuracy": 81.0}) == 81.0
    out = main_metric_value({"exact_match": np.array([0.0, 10.0]), "f1": np.array([10.0, 30.0])})
    assert out.tolist() == [5.0, 20.0]
    with pytest.raises(KeyError):
        main_metric_value({"loss": 1.0})


def test_xtreme_average_weighs_tasks_equally() -> None:
    assert xtreme_average({"xnli": {"de": 70.0, "fr": 80.0, "zh": 90.0}, "pawsx": {"de": 60.0}}) == 70.0
    with pytest.raises(DataError):
        xtreme_average({"xnli": {}})


def test_condition_keys() -> None:
    c = condition_of({"intermediate": ["squad"], "intermediate_max_len": 256, "target": "xquad"})
    assert c == Condition(("squad",), 256, "xquad") and not c.is_baseline
    assert c.baseline() == Condition((), None, "xquad")
    assert condition_of({"intermediate": [], "intermediate_max_len": 512, "target": "xquad"}).is_baseline


def test_gains_from_results_rows_pair_seeds_and_average_languages() -> None:
    rows = []
    for seed, base, cond in ((1, 50.0, 56.0), (2, 52.0, 54.0), (3, 51.0, None)):  # seed 3: no condition run
        for lang, shift in (("de", 0.0), ("es", 10.0)):
            for metric, delta in (("exact_match", -5.0), ("f1", 5.0)):
                rows.append(result_row(seed=seed, language=lang, metric=metric, value=base + shift + delta))
                if cond is not None:
                    rows.append(result_row(intermediate=("squad",), max_len=256, seed=seed, language=lang,
                                           metric=metric, value=cond + shift + delta))
    # a re-run row of the baseline replaces the earlier one (last wins)
    rows.append(result_row(seed=1, language="de", metric="f1", value=55.0 + 2))
    rows.append(result_row(phase="intermediate", seed=1, metric="accuracy", value=1.0))  # other phase: ignored
    out = gains_table(rows)
    de = next(r for r in out if r["language"] == "de")
    # seed 1: base (45 + 57)/2 = 51, cond 56 → 5; seed 2: 54 − 52 = 2 → mean 3.5
    assert de["seeds"] == [1, 2]
    assert de["gain"] == pytest.approx(3.5)
    assert de["baseline"] == pytest.approx((51 + 52) / 2) and de["value"] == pytest.approx(55.0)
    es = next(r for r in out if r["language"] == "es")
    assert es["gain"] == pytest.approx((6 + 2) / 2)
    avg = next(r for r in out if r["language"] == "avg")
    assert avg["gain"] == pytest.approx((3.5 + 4.0) / 2) and avg["n_languages"] == 2
    assert all(r["intermediate"] == ["squad"] for r in out)  # the baseline has no gain row


def test_results_from_examples_equal_the_official_metric() -> None:
    rows = example_rows(languages=("de",), n=50, max_lens=(128, 256), rng_seed=4)
    res = results_from_examples(rows)
    base = [r for r in rows if not r["intermediate"]]
    gold = ["x"] * len(base)
    preds = ["x" if r["stats"]["correct"] else "y" for r in base]
    want = METRICS["accuracy"](gold, preds)["accuracy"]
    got = next(r["value"] for r in res if r["intermediate"] == [] and r["bucket"] == "all")
    assert got == pytest.approx(want, abs=1e-9)
    long_idx = [i for i, r in enumerate(base) if "tokens:>384" in r["buckets"]]
    want_long = METRICS["accuracy"]([gold[i] for i in long_idx], [preds[i] for i in long_idx])["accuracy"]
    got_long = next(r for r in res if r["intermediate"] == [] and r["bucket"] == "tokens:>384")
    assert got_long["value"] == pytest.approx(want_long, abs=1e-9) and got_long["n"] == len(long_idx)
    main = main_scores(res)
    assert len(main) == len(res)  # accuracy: one metric per run × bucket, so one main row each
    assert next(r["value"] for r in main if r["intermediate"] == [] and r["bucket"] == "all") == got


def test_gains_from_example_scores_agree_with_the_bootstrap_point_estimates() -> None:
    rows = example_rows(languages=("de", "fr"), n=80, max_lens=(128, 512), seeds=(1, 2), rng_seed=5)
    random.Random(0).shuffle(rows)
    table = {(r["intermediate_max_len"], r["language"], r["bucket"]): r
             for r in gains_table(results_from_examples(rows))}
    boot = bootstrap_gains(rows, n_resamples=20)
    assert len(boot) == len(table)
    for r in boot:
        t = table[(r["intermediate_max_len"], r["language"], r["bucket"])]
        assert r["gain"] == pytest.approx(t["gain"], abs=1e-9)
        assert r["value"] == pytest.approx(t["value"], abs=1e-9)
        assert r["baseline"] == pytest.approx(t["baseline"], abs=1e-9)
        assert r["seeds"] == t["seeds"] == [1, 2]


def test_example_rows_of_one_run_before_and_after_its_intermediate_phase_stay_apart():
    from xstilts.analysis.tables import latest_examples

    row = {"run_id": "r", "phase": "retrieval_eval", "task": "tatoeba", "language": "de", "split": "test",
           "example_id": "q1", "metric": "accuracy"}
    rows = [{**row, "intermediate": [], "stats": {"correct": 1}},
            {**row, "intermediate": ["mnli"], "stats": {"correct": 1}},
            {**row, "intermediate": [], "stats": {"correct": 0}}]  # a re-run of the first: the last wins
    kept = latest_examples(rows, phase="retrieval_eval")
    assert sorted((tuple(r["intermediate"]), r["stats"]["correct"]) for r in kept) == [((), 0), (("mnli",), 1)]
