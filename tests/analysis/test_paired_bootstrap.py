"""The paired bootstrap: exact official metrics per replicate, pairing by example id, seeds,
determinism, empty buckets and speed."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from analysis_synth import example_rows
from xstilts.analysis import ExampleTable, bootstrap_gains, bootstrap_p_value, percentile_interval
from xstilts.analysis.bootstrap import resample_gains
from xstilts.analysis.tables import Condition, main_metric_value
from xstilts.errors import ConfigError
from xstilts.metrics import METRICS
from xstilts.metrics.per_example import example_stats

WORDS = "alpha beta gamma delta the a of river city king".split()


def qa_case(n: int, seed: int = 0):
    """A SQuAD dataset and two prediction sets (baseline, condition) of random overlapping words."""
    rng = random.Random(seed)
    qas = [{"id": f"q{i:03d}", "answers": [{"text": " ".join(rng.sample(WORDS, rng.randint(1, 3)))}
                                           for _ in range(rng.randint(1, 2))]} for i in range(n)]
    data = [{"paragraphs": [{"qas": qas}]}]

    def predictions(p_right):
        out = {}
        for qa in qas:
            if rng.random() < 0.05:
                continue  # unanswered
            gold = qa["answers"][0]["text"]
            out[qa["id"]] = gold if rng.random() < p_right else " ".join(rng.sample(WORDS, 2))
        return out

    return data, predictions(0.4), predictions(0.6)


def qa_rows(data, preds_by_condition, buckets_of=lambda qid: []):
    rows = []
    for (inter, max_len), preds in preds_by_condition.items():
        for s in example_stats("squad", data, preds):
            rows.append({"run_id": f"r-{max_len}", "phase": "zero_shot_eval", "intermediate": list(inter),
                         "intermediate_max_len": max_len, "target": "xquad", "task": "xquad", "language": "de",
                         "split": "test", "seed": 1, "metric": "squad", "example_id": s["id"],
                         "buckets": buckets_of(s["id"]), "stats": s})
    return rows


def test_every_replicate_is_the_official_metric_of_its_resample() -> None:
    """Replays the documented draw order (seed draws, then one (R, n) block of example draws) and
    scores each resample with the official SQuAD scorer."""
    data, base, cond = qa_case(120)
    rows = qa_rows(data, {((), None): base, (("squad",), 256): cond})
    table = ExampleTable(rows)
    key, = table.units()
    slots = [Condition((), None, "xquad"), Condition(("squad",), 256, "xquad")]
    unit = table.align(key, slots, [1], ["all"])
    R = 40
    draws = resample_gains([unit], ["all"], n_resamples=R, rng=np.random.default_rng(7))

    qa_by_id = {qa["id"]: qa for qa in data[0]["paragraphs"][0]["qas"]}
    official = METRICS["squad"]
    full = main_metric_value(official(data, cond)) - main_metric_value(official(data, base))
    assert draws.gain[0, 0, 0] == pytest.approx(full, abs=1e-9)
    rng = np.random.default_rng(7)
    rng.integers(0, 1, size=(R, 1))
    idx = rng.integers(0, len(unit.ids), size=(R, len(unit.ids)), dtype=np.int32)
    for r in range(R):
        sub = [{"paragraphs": [{"qas": [qa_by_id[unit.ids[i]] for i in idx[r]]}]}]
        want = main_metric_value(official(sub, cond)) - main_metric_value(official(sub, base))
        assert draws.replicates[r, 0, 0, 0] == pytest.approx(want, abs=1e-9), r


def test_bootstrap_spread_matches_the_paired_standard_error() -> None:
    rows = example_rows(languages=("de",), n=1500, max_lens=(512,), slope_long=3.0, noise=0.3, rng_seed=2)
    out = bootstrap_gains(rows, buckets=["all"], n_resamples=2000, seed=1, average_languages=False)
    row, = out
    table = ExampleTable(rows)
    key, = table.units()
    slots = [Condition((), None, "xnli"), Condition(("squad",), 512, "xnli")]
    d = 100 * np.diff(table.align(key, slots, [1], ["all"]).stats[:, 0, :, 0], axis=0)[0]
    se = d.std() / np.sqrt(len(d))
    assert row["gain"] == pytest.approx(d.mean())
    assert (row["ci_high"] - row["ci_low"]) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.1)


def test_pairing_is_by_example_id_not_row_order() -> None:
    rows = example_rows(languages=("de", "fr"), n=300, max_lens=(128, 512), rng_seed=3)
    out = bootstrap_gains(rows, n_resamples=200, seed=5)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert bootstrap_gains(shuffled, n_resamples=200, seed=5) == out

    # Scrambling which condition row belongs to which example breaks the pairing: same point
    # gain on "all" (a mean), but a much wider interval.
    scrambled = [dict(r) for r in rows]
    for max_len in (128, 512):
        cond_rows = [r for r in scrambled if r["intermediate_max_len"] == max_len and r["language"] == "de"]
        ids = [r["example_id"] for r in cond_rows]
        random.Random(max_len).shuffle(ids)
        for r, i in zip(cond_rows, ids):
            r["example_id"] = i
    pick = lambda rs: next(r for r in rs if r["language"] == "de" and r["bucket"] == "all"
                           and r["intermediate_max_len"] == 512)
    paired, unpaired = pick(out), pick(bootstrap_gains(scrambled, n_resamples=200, seed=5))
    assert unpaired["gain"] == pytest.approx(paired["gain"])
    assert unpaired["ci_high"] - unpaired["ci_low"] > 2 * (paired["ci_high"] - paired["ci_low"])


def test_examples_missing_in_one_cell_are_left_out_and_counted() -> None:
    rows = example_rows(languages=("de",), n=100, max_lens=(256,), rng_seed=4)
    rows = [r for r in rows if not (r["intermediate"] and r["example_id"] in {"de-0", "de-1", "de-2"})]
    row = next(r for r in bootstrap_gains(rows, buckets=["all"], n_resamples=50) if r["language"] == "de")
    assert row["n"] == 97 and row["unpaired"] == 3


def test_determinism_and_resample_count() -> None:
    rows = example_rows(languages=("de",), n=200, max_lens=(128, 256), rng_seed=6)
    a = bootstrap_gains(rows, n_resamples=300, seed=11)
    assert a == bootstrap_gains(rows, n_resamples=300, seed=11)
    b = bootstrap_gains(rows, n_resamples=300, seed=12)
    assert [r["gain"] for r in a] == [r["gain"] for r in b]
    assert [r["ci_low"] for r in a] != [r["ci_low"] for r in b]
    table = ExampleTable(rows)
    key, = table.units()
    unit = table.align(key, [Condition((), None, "xnli"), Condition(("squad",), 128, "xnli")], [1], ["all"])
    assert resample_gains([unit], ["all"], n_resamples=17, rng=np.random.default_rng(0)).replicates.shape == (17, 1, 1, 1)
    with pytest.raises(ConfigError):
        bootstrap_gains(rows, seed_design="sideways")


def test_two_seeds_resample_seeds_too() -> None:
    """Seed 2's condition runs are 10 points better: the interval of the seed-averaged gain must
    cover the seed-to-seed spread, which an examples-only bootstrap of one seed cannot show."""
    rows = example_rows(languages=("de", "fr"), n=400, max_lens=(256,), seeds=(1, 2), slope_long=0.0,
                        seed_shift={2: 10.0}, rng_seed=7)
    for design in ("crossed", "nested"):
        avg = next(r for r in bootstrap_gains(rows, buckets=["all"], n_resamples=1000, seed=0, seed_design=design)
                   if r["language"] == "avg")
        assert avg["seeds"] == [1, 2]
        assert avg["gain"] == pytest.approx(5.0, abs=1.0)
        assert avg["ci_low"] < 1.5 and avg["ci_high"] > 8.5, design
    one_seed = [r for r in rows if r["seed"] == 1]
    avg1 = next(r for r in bootstrap_gains(one_seed, buckets=["all"], n_resamples=1000) if r["language"] == "avg")
    assert avg1["ci_high"] - avg1["ci_low"] < 4.0


def test_a_language_without_long_examples_drops_out_of_the_long_average() -> None:
    rows = example_rows(languages=("de", "fr"), n=200, max_lens=(256,), rng_seed=8)
    rows = [dict(r, buckets=["tokens:<=128"]) if r["language"] == "fr" else r for r in rows]
    out = bootstrap_gains(rows, n_resamples=100)
    assert not [r for r in out if r["language"] == "fr" and r["bucket"] == "tokens:>384"]
    long_avg = next(r for r in out if r["language"] == "avg" and r["bucket"] == "tokens:>384")
    de_long = next(r for r in out if r["language"] == "de" and r["bucket"] == "tokens:>384")
    assert long_avg["languages"] == ["de"] and long_avg["gain"] == de_long["gain"]
    assert long_avg["ci_low"] == de_long["ci_low"]


def test_p_value_and_interval_helpers() -> None:
    assert bootstrap_p_value(np.arange(1, 100)) == pytest.approx(2 / 100)
    assert bootstrap_p_value(np.zeros(50)) == 1.0
    assert bootstrap_p_value(np.r_[-np.ones(50), np.ones(50)]) == 1.0
    low, high = percentile_interval(np.arange(1001), 0.9)
    assert (low, high) == pytest.approx((50.0, 950.0))


def test_speed_of_a_realistic_grid() -> None:
    """1,000 resamples × 3 languages × 3,000 examples × 4 max lengths × 2 seeds × 7 buckets."""
    rows = example_rows(languages=("de", "fr", "zh"), n=3000, seeds=(1, 2), rng_seed=9)
    table = ExampleTable(rows)
    start = time.perf_counter()
    out = bootstrap_gains(table, n_resamples=1000)
    elapsed = time.perf_counter() - start
    assert len(out) == 4 * 7 * 4  # 4 max lengths × 7 buckets × (3 languages + average)
    assert elapsed < 10.0, elapsed
