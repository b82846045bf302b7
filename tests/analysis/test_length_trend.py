"""Trends of the gain over log2(max length), the long-vs-short interaction, and the answer."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_synth import example_rows
from xstilts.analysis import (
    NO_EFFECT, ExampleTable, answer_question, choose_bucket, gain_trends, interaction_test, least_squares_slope,
)
from xstilts.errors import DataError

MAX_LENS = (128, 256, 512, 1024)


@pytest.fixture(scope="module")
def planted():
    """gain = 2·log2(L/128) (+ noise) on long examples, 0 on short ones; three languages."""
    return ExampleTable(example_rows(slope_long=2.0, slope_short=0.0, n=600, rng_seed=0))


@pytest.fixture(scope="module")
def null():
    return ExampleTable(example_rows(slope_long=0.0, slope_short=0.0, offset=1.0, n=600, rng_seed=1))


def test_least_squares_slope_is_polyfit() -> None:
    gains = [0.3, 2.1, 3.8, 6.4]
    assert least_squares_slope(MAX_LENS, gains) == pytest.approx(np.polyfit(np.log2(MAX_LENS), gains, 1)[0])
    with pytest.raises(DataError):
        least_squares_slope([256, 256], [1.0, 2.0])


def test_a_planted_slope_is_recovered(planted) -> None:
    trends = {t.bucket: t for t in gain_trends(planted, n_resamples=1000, seed=0)}
    long_t = trends["long:multi_window"]
    assert long_t.max_lens == MAX_LENS and long_t.intermediate == ("squad",) and long_t.targets == ("xnli",)
    assert long_t.slope.value == pytest.approx(2.0, abs=0.4)
    assert long_t.slope.low < 2.0 < long_t.slope.high and not long_t.slope.includes_zero
    assert [g.value for g in long_t.gains] == pytest.approx([0, 2, 4, 6], abs=1.5)
    short = trends["quartile:1"]
    assert short.slope.includes_zero
    assert len(short.languages) == 3 and short.n_examples == 900


def test_the_interaction_test_finds_the_planted_difference(planted) -> None:
    it = interaction_test(planted, n_resamples=1000, seed=0)
    assert (it.long.bucket, it.short.bucket) == ("long:multi_window", "quartile:1")
    assert it.difference.value == pytest.approx(2.0, abs=0.5)
    assert it.difference.low > 0 and it.difference.low < 2.0 < it.difference.high
    assert it.p_value < 0.01
    ans = answer_question(planted, n_resamples=1000, seed=0)
    assert ans.significant and ans.verdict.startswith("significant") and "more" in ans.verdict
    assert ans.difference == it.difference and ans.p_value == it.p_value
    assert ans.slope_long == it.long.slope and ans.slope_short == it.short.slope
    assert ans.max_lens == MAX_LENS and ans.n_long == 900 and len(ans.gains_long) == 4
    text = ans.summary()
    assert "long:multi_window" in text and "p = " in text


def test_a_null_effect_is_not_significant(null) -> None:
    it = interaction_test(null, n_resamples=1000, seed=0)
    assert it.long.slope.includes_zero and it.short.slope.includes_zero and it.difference.includes_zero
    assert it.p_value > 0.05
    ans = answer_question(null, n_resamples=1000, seed=0)
    assert not ans.significant and ans.verdict == f"{NO_EFFECT} (one seed)"
    # a constant gain (offset 1 point) is not a trend
    assert all(g.value == pytest.approx(1.0, abs=1.5) for g in ans.gains_long)


def test_interaction_is_deterministic_for_a_seed(planted) -> None:
    a = interaction_test(planted, n_resamples=300, seed=3)
    assert a == interaction_test(planted, n_resamples=300, seed=3)
    b = interaction_test(planted, n_resamples=300, seed=4)
    assert a.difference.value == b.difference.value and a.difference.low != b.difference.low


def test_two_seeds_use_the_hierarchical_bootstrap() -> None:
    """Seed 2's gain grows 3 points per doubling faster than seed 1's: only resampling seeds shows
    that uncertainty in the slope."""
    seed1 = example_rows(seeds=(1,), n=500, languages=("de", "fr"), slope_long=1.0, rng_seed=5)
    seed2 = example_rows(seeds=(2,), n=500, languages=("de", "fr"), slope_long=4.0, rng_seed=5)
    s1 = interaction_test(seed1, n_resamples=1000, seed=0).long.slope
    s2 = interaction_test(seed2, n_resamples=1000, seed=0).long.slope
    it = interaction_test(seed1 + seed2, n_resamples=1000, seed=0)
    assert it.long.seeds == (1, 2)
    assert it.long.slope.value == pytest.approx((s1.value + s2.value) / 2, abs=1e-9)  # mean over seeds
    width = lambda e: e.high - e.low
    assert width(it.long.slope) > 1.5 * max(width(s1), width(s2))
    # the resampled seed pairs {1,1}, {1,2}, {2,2}: the interval reaches both seeds' slopes
    assert it.long.slope.low < s1.value + 0.5 and it.long.slope.high > s2.value - 0.5
    nested = interaction_test(seed1 + seed2, n_resamples=1000, seed=0, seed_design="nested")
    assert nested.seed_design == "nested" and width(nested.long.slope) > 1.5 * max(width(s1), width(s2))


def test_default_buckets_fall_back_when_multi_window_is_small() -> None:
    rows = example_rows(n=200, languages=("de", "fr"), n_multi_window=5, rng_seed=6)
    it = interaction_test(rows, n_resamples=50)
    assert it.long.bucket == "tokens:>384"
    it = interaction_test(rows, n_resamples=50, long_bucket="long:multi_window", short_bucket="tokens:<=128")
    assert (it.long.bucket, it.short.bucket) == ("long:multi_window", "tokens:<=128")
    assert it.long.n_examples == 10
    assert choose_bucket(["a", "b"], {"a": [3, 50], "b": [30, 40]}, 20) == "b"
    assert choose_bucket(["a", "b"], {"a": [3, 50], "b": [1, 40]}, 20) == "a"
    with pytest.raises(DataError):
        interaction_test(rows, long_bucket="quartile:1", short_bucket="quartile:1")


def test_several_targets_are_averaged_xtreme_style() -> None:
    a = example_rows(target="xnli", languages=("de", "fr"), n=300, slope_long=2.0, rng_seed=7)
    b = example_rows(target="pawsx", languages=("de",), n=300, slope_long=4.0, rng_seed=8)
    it = interaction_test(a + b, n_resamples=300)
    assert it.long.targets == ("pawsx", "xnli")
    # XTREME weighs tasks equally: the mean of the two tasks' slopes, whatever their languages
    per_task = [interaction_test(rows, n_resamples=10).long.slope.value for rows in (a, b)]
    assert it.long.slope.value == pytest.approx(sum(per_task) / 2, abs=1e-9)
    assert it.long.languages == ("pawsx/de", "xnli/de", "xnli/fr")
    only = interaction_test(a + b, n_resamples=50, targets=["pawsx"])
    assert only.long.targets == ("pawsx",) and only.long.languages == ("pawsx/de",)


def test_what_cannot_be_answered_raises() -> None:
    one_len = example_rows(n=50, max_lens=(256,), languages=("de",))
    with pytest.raises(DataError, match="two max lengths"):
        interaction_test(one_len, n_resamples=10)
    two = example_rows(n=50, languages=("de",)) + example_rows(n=50, languages=("de",), intermediate=("mnli",))
    with pytest.raises(DataError, match="intermediate"):
        interaction_test(two, n_resamples=10)
    assert interaction_test(two, n_resamples=10, intermediate=["mnli"]).long.intermediate == ("mnli",)
    splits = example_rows(n=50, languages=("de",), split="dev") + example_rows(n=50, languages=("de",))
    assert interaction_test(splits, n_resamples=10).long.split == "test"
    missing = [r for r in example_rows(n=50, languages=("de", "fr")) if not (r["language"] == "fr" and r["intermediate_max_len"] == 512)]
    it = interaction_test(missing, n_resamples=10)
    assert it.dropped_units == ("xnli/fr",) and it.long.languages == ("xnli/de",)
