"""The answer to xstilts' question, as the numbers the report's answer paragraph needs.

*How does the maximum sequence length used when training on an English intermediate task change
zero-shot cross-lingual transfer on the long-document parts of XTREME?* — answered by the
interaction test of :mod:`xstilts.analysis.trend`: the slope of the gain over the baseline per
doubling of the intermediate max length on long documents, the same on short ones, and their
difference.

The answer makes one test per intermediate task set. Those tests are one *family*: an effect is
called significant only when its Holm-adjusted p-value (:func:`xstilts.analysis.multiplicity.holm`
over every test the answer states) is below ``1 − confidence``, so the chance that the answer
calls any null effect stays at most that. The intervals stay the plain (unadjusted) ones. Every
verdict says how many seeds it rests on and, with two or more, how far the seeds' own
differences lie apart: the bootstrap resamples seeds, but two or three of them say little about
training randomness.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from xstilts.analysis.bootstrap import Estimate, ExampleTable
from xstilts.analysis.multiplicity import holm
from xstilts.analysis.tables import ZERO_SHOT_PHASE
from xstilts.analysis.trend import Interaction, interaction_test

NO_EFFECT = "no significant effect"


def seed_spread(values: Sequence[float], n_seeds: int | None = None) -> str:
    """``"one seed"``, or ``"3 seeds; per-seed difference −0.40 to +1.20, SD 0.81"`` (the range
    and the sample SD of the per-seed estimates)."""
    n = len(values) if n_seeds is None else n_seeds
    if n <= 1:
        return "one seed"
    if len(values) < 2:
        return f"{n} seeds"
    sd = float(np.std(values, ddof=1))
    return f"{n} seeds; per-seed difference {min(values):+.2f} to {max(values):+.2f}, SD {sd:.2f}"


def verdict(difference: float, significant: bool, n_tests: int, seeds: str) -> str:
    """The decision in words, with the correction it survived and the seeds it rests on."""
    correction = f" after Holm's correction for {n_tests} tests" if n_tests > 1 else ""
    if not significant:
        return f"{NO_EFFECT}{correction} ({seeds})"
    direction = "more" if difference > 0 else "less"
    return (f"significant{correction}: a longer intermediate max length helps long documents {direction} than "
            f"short ones ({seeds})")


@dataclass(frozen=True)
class Answer:
    """Slopes are in main-metric points per doubling of the intermediate max length."""

    intermediate: tuple[str, ...]
    targets: tuple[str, ...]
    split: str
    max_lens: tuple[int, ...]
    long_bucket: str
    short_bucket: str
    slope_long: Estimate
    slope_short: Estimate
    difference: Estimate          # slope_long − slope_short
    p_value: float                # two-sided bootstrap p-value of the difference, unadjusted
    p_holm: float                 # Holm-adjusted over the n_tests tests of the answer
    n_tests: int                  # tests in the family (1: no adjustment)
    significant: bool             # p_holm < 1 − confidence
    verdict: str
    gains_long: tuple[Estimate, ...]   # gain over the baseline at each max length
    gains_short: tuple[Estimate, ...]
    n_long: int                   # examples in the long bucket (all units)
    n_short: int
    languages: tuple[str, ...]    # "target/language" units with the long bucket
    seeds: tuple
    difference_by_seed: tuple[float, ...]  # the difference of each seed alone
    n_resamples: int
    confidence: float
    seed_design: str

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @classmethod
    def from_interaction(cls, it: Interaction, *, p_holm: float | None = None, n_tests: int = 1) -> "Answer":
        """The answer of one test; ``p_holm`` and ``n_tests`` place it in a family
        (:func:`answer_family`), else it is a family of one."""
        p_holm = it.p_value if p_holm is None else p_holm
        significant = bool(math.isfinite(p_holm) and p_holm < 1.0 - it.confidence)
        seeds = seed_spread(it.difference_by_seed, len(it.long.seeds))
        return cls(
            intermediate=it.long.intermediate, targets=it.long.targets, split=it.long.split,
            max_lens=it.long.max_lens, long_bucket=it.long.bucket, short_bucket=it.short.bucket,
            slope_long=it.long.slope, slope_short=it.short.slope, difference=it.difference,
            p_value=it.p_value, p_holm=float(p_holm), n_tests=n_tests, significant=significant,
            verdict=verdict(it.difference.value, significant, n_tests, seeds), gains_long=it.long.gains,
            gains_short=it.short.gains, n_long=it.long.n_examples, n_short=it.short.n_examples,
            languages=it.long.languages, seeds=it.long.seeds, difference_by_seed=it.difference_by_seed,
            n_resamples=it.n_resamples, confidence=it.confidence, seed_design=it.seed_design)

    def summary(self) -> str:
        """One sentence with every number, for the report."""
        pct = f"{100 * self.confidence:g}%"

        def num(x: float) -> str:
            return f"{x:+.2f}" if round(x, 2) else "0.00"  # no "-0.00" for a rounding-level value

        def est(e: Estimate) -> str:
            return f"{num(e.value)} [{num(e.low)}, {num(e.high)}]"

        adjusted = f", Holm-adjusted p = {self.p_holm:.3g}" if self.n_tests > 1 else ""
        return (f"Per doubling of the {'+'.join(self.intermediate)} max length "
                f"({', '.join(map(str, self.max_lens))}), the gain over no intermediate training on "
                f"{', '.join(self.targets)} ({self.split}) changes by {est(self.slope_long)} points on long "
                f"documents ({self.long_bucket}, n={self.n_long}) and {est(self.slope_short)} on short ones "
                f"({self.short_bucket}, n={self.n_short}); difference {est(self.difference)} "
                f"({pct} paired bootstrap CI, {self.n_resamples} resamples), "
                f"p = {self.p_value:.3g}{adjusted}: {self.verdict}.")

    def as_dict(self) -> dict:
        return asdict(self) | {"alpha": self.alpha}


def answer_family(interactions: Sequence[Interaction]) -> list[Answer]:
    """The answers of tests stated together, each decided on its Holm-adjusted p-value over all of
    them (a test without a p-value is not counted)."""
    adjusted = holm([it.p_value for it in interactions])
    n_tests = sum(math.isfinite(a) for a in adjusted)
    return [Answer.from_interaction(it, p_holm=a, n_tests=n_tests) for it, a in zip(interactions, adjusted)]


def answer_question(example_rows: Iterable[Mapping] | ExampleTable, **options) -> Answer:
    """:func:`xstilts.analysis.trend.interaction_test` (same keyword options) as an :class:`Answer`
    that is the only test made (no adjustment); see :func:`answer_questions` for several."""
    return Answer.from_interaction(interaction_test(example_rows, **options))


def answer_questions(example_rows: Iterable[Mapping] | ExampleTable, *,
                     intermediates: Sequence[Sequence[str]] | None = None,
                     phase: str | None = ZERO_SHOT_PHASE, **options) -> list[Answer]:
    """One interaction test per intermediate task set (default: every set with a max length in the
    data), Holm-adjusted together (:func:`answer_family`); other keyword options as
    :func:`xstilts.analysis.trend.interaction_test`."""
    table = example_rows if isinstance(example_rows, ExampleTable) else ExampleTable(example_rows, phase=phase)
    if intermediates is None:
        intermediates = sorted({c.intermediate for c in table.conditions()
                                if not c.is_baseline and c.intermediate_max_len is not None})
    return answer_family([interaction_test(table, intermediate=inter, **options) for inter in intermediates])


__all__ = ["Answer", "NO_EFFECT", "answer_family", "answer_question", "answer_questions", "seed_spread", "verdict"]
