"""Holm's adjustment, the answer's family-wise error over many null families, a planted effect,
and the seed count and spread in every verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis_synth import example_rows, family_rows
from xstilts.analysis import NO_EFFECT, answer_family, answer_question, answer_questions, holm, interaction_test
from xstilts.analysis.multiplicity import rejected, resamples_needed, smallest_bootstrap_p

ALPHA = 0.05


def test_holm_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max: 0.06 for the last
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.046]) == [0.046]                  # a family of one is not adjusted
    assert holm([0.046, 0.8]) == pytest.approx([0.092, 0.8])  # the demo's 0.046 with a second test
    assert holm([0.3, 0.6, 0.9]) == pytest.approx([0.9, 1.0, 1.0])  # 0.6 × 2 capped at 1; never below the raw p
    assert holm([]) == []
    nan = holm([0.01, float("nan"), 0.02])           # a test without a p-value is not in the family
    assert nan[0] == pytest.approx(0.02) and math.isnan(nan[1]) and nan[2] == pytest.approx(0.02)
    with pytest.raises(ValueError):
        holm([0.5, 1.5])


def test_holm_is_between_raw_and_bonferroni_and_order_free() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.random(int(rng.integers(1, 12))) ** 3
        adj = np.array(holm(p))
        assert np.all(adj >= p - 1e-15) and np.all(adj <= np.minimum(1, len(p) * p) + 1e-15)
        perm = rng.permutation(len(p))
        assert np.array(holm(p[perm])) == pytest.approx(adj[perm])
        # step-down: a larger raw p never gets a smaller adjusted one
        order = np.argsort(p)
        assert np.all(np.diff(adj[order]) >= -1e-15)
    assert rejected([0.01, 0.05, float("nan")], 0.05) == [True, False, False]


def test_bootstrap_resolution_helpers() -> None:
    assert smallest_bootstrap_p(999) == pytest.approx(0.002)
    for n_tests in (1, 2, 5, 60):
        r = resamples_needed(n_tests, ALPHA)
        assert smallest_bootstrap_p(r) * n_tests < ALPHA <= smallest_bootstrap_p(r - 1) * n_tests


def _limit(n: int, rate: float, tail: float = 0.001) -> int:
    """The largest count of Binomial(n, rate) that is exceeded with probability above ``tail``."""
    c = 0
    while sum(math.comb(n, j) * rate**j * (1 - rate) ** (n - j) for j in range(c + 1, n + 1)) > tail:
        c += 1
    return c


def test_null_families_call_an_effect_at_most_at_the_stated_rate() -> None:
    """300 answers, each of 5 null interaction tests sharing a baseline (the real code path:
    example rows → ExampleTable → interaction_test → Holm). Holm keeps P(any call) ≤ 5%; the count
    of families with a call is then at most Binomial(300, 0.05)'s 99.9% quantile (28, i.e. 9.3%).
    Deciding each test on its raw p calls something in about 1 − 0.95⁵ ≈ 23% of the families and
    must exceed that limit here, or this test could not tell the two apart."""
    families, k = 300, 5
    limit = _limit(families, ALPHA)
    adjusted = raw = 0
    for i in range(families):
        rows = family_rows({f"null{j}": 0.0 for j in range(k)}, rng_seed=i, n=60, languages=("de",),
                           max_lens=(128, 256), noise=0.3)
        answers = answer_questions(rows, n_resamples=399, seed=i)
        assert len(answers) == k and {a.n_tests for a in answers} == {k}
        adjusted += any(a.significant for a in answers)
        raw += any(a.p_value < ALPHA for a in answers)
    assert adjusted <= limit, (adjusted, limit)
    assert raw > limit, (raw, limit)


def test_a_planted_large_effect_is_still_found() -> None:
    """One of five intermediate tasks has a slope of 20 points per doubling on long documents:
    every family still calls it, after the correction for five tests."""
    for i in range(10):
        rows = family_rows({"planted": 20.0, **{f"null{j}": 0.0 for j in range(4)}}, rng_seed=3000 + i, n=300,
                           languages=("de", "fr"), max_lens=(128, 256), noise=0.05)
        answers = {a.intermediate[0]: a for a in answer_questions(rows, n_resamples=999, seed=i)}
        planted = answers["planted"]
        assert planted.significant and planted.n_tests == 5, planted.summary()
        assert planted.verdict.startswith("significant after Holm's correction for 5 tests: ")
        assert "more than short ones (one seed)" in planted.verdict


def test_the_decision_is_on_the_adjusted_p() -> None:
    """A test that is significant alone (p < 0.05) is not once a second test joins the answer."""
    rows = family_rows({"a": 2.5, "b": 0.0}, rng_seed=12, n=400, languages=("de",), max_lens=(128, 256, 512))
    its = [interaction_test(rows, intermediate=[x], n_resamples=1000, seed=0) for x in ("a", "b")]
    assert 0.025 <= its[0].p_value < ALPHA and its[1].p_value > 0.1, [it.p_value for it in its]
    alone = answer_question(rows, intermediate=["a"], n_resamples=1000, seed=0)
    assert alone.significant and alone.n_tests == 1 and alone.p_holm == alone.p_value
    together = answer_family(its)
    assert [a.p_holm for a in together] == pytest.approx(holm([it.p_value for it in its]))
    assert not together[0].significant and together[0].n_tests == 2
    assert together[0].verdict == f"{NO_EFFECT} after Holm's correction for 2 tests (one seed)"
    assert f"p = {its[0].p_value:.3g}, Holm-adjusted p = {together[0].p_holm:.3g}: {NO_EFFECT}" in together[0].summary()


def test_every_verdict_carries_the_seed_count_and_the_spread() -> None:
    seeds = (1, 2, 3)
    rows = example_rows(seeds=seeds, n=200, languages=("de", "fr"), slope_long=2.0, rng_seed=1)
    a = answer_question(rows, n_resamples=300, seed=0)
    alone = [interaction_test([r for r in rows if r["seed"] == s], n_resamples=10).difference.value for s in seeds]
    assert a.difference_by_seed == pytest.approx(alone, abs=1e-9)  # each seed's own difference
    assert np.mean(a.difference_by_seed) == pytest.approx(a.difference.value, abs=1e-9)
    spread = (f"3 seeds; per-seed difference {min(alone):+.2f} to {max(alone):+.2f}, "
              f"SD {np.std(alone, ddof=1):.2f}")
    assert a.verdict.endswith(f"({spread})") and spread in a.summary()
    one = answer_question([r for r in rows if r["seed"] == 2], n_resamples=300, seed=0)
    assert one.verdict.endswith("(one seed)") and one.difference_by_seed == pytest.approx([alone[1]])
