"""The answer to xstilts' question, as the numbers the report's answer paragraph needs.

*How does the maximum sequence length used when training on an English intermediate task change
zero-shot cross-lingual transfer on the long-document parts of XTREME?* — answered by the
interaction test of :mod:`xstilts.analysis.trend`: the slope of the gain over the baseline per
doubling of the intermediate max length on long documents, the same on short ones, and their
difference. The effect counts as significant only when the difference's interval excludes 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

from xstilts.analysis.bootstrap import Estimate, ExampleTable
from xstilts.analysis.trend import Interaction, interaction_test

NO_EFFECT = "no significant effect"


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
    p_value: float                # two-sided bootstrap p-value of the difference
    significant: bool             # the difference's interval excludes 0
    verdict: str
    gains_long: tuple[Estimate, ...]   # gain over the baseline at each max length
    gains_short: tuple[Estimate, ...]
    n_long: int                   # examples in the long bucket (all units)
    n_short: int
    languages: tuple[str, ...]    # "target/language" units with the long bucket
    seeds: tuple
    n_resamples: int
    confidence: float
    seed_design: str

    @classmethod
    def from_interaction(cls, it: Interaction) -> "Answer":
        significant = not it.difference.includes_zero
        if not significant:
            verdict = NO_EFFECT
        elif it.difference.value > 0:
            verdict = "significant: a longer intermediate max length helps long documents more than short ones"
        else:
            verdict = "significant: a longer intermediate max length helps long documents less than short ones"
        return cls(
            intermediate=it.long.intermediate, targets=it.long.targets, split=it.long.split,
            max_lens=it.long.max_lens, long_bucket=it.long.bucket, short_bucket=it.short.bucket,
            slope_long=it.long.slope, slope_short=it.short.slope, difference=it.difference,
            p_value=it.p_value, significant=significant, verdict=verdict, gains_long=it.long.gains,
            gains_short=it.short.gains, n_long=it.long.n_examples, n_short=it.short.n_examples,
            languages=it.long.languages, seeds=it.long.seeds, n_resamples=it.n_resamples,
            confidence=it.confidence, seed_design=it.seed_design)

    def summary(self) -> str:
        """One sentence with every number, for the report."""
        pct = f"{100 * self.confidence:g}%"

        def num(x: float) -> str:
            return f"{x:+.2f}" if round(x, 2) else "0.00"  # no "-0.00" for a rounding-level value

        def est(e: Estimate) -> str:
            return f"{num(e.value)} [{num(e.low)}, {num(e.high)}]"

        return (f"Per doubling of the {'+'.join(self.intermediate)} max length "
                f"({', '.join(map(str, self.max_lens))}), the gain over no intermediate training on "
                f"{', '.join(self.targets)} ({self.split}) changes by {est(self.slope_long)} points on long "
                f"documents ({self.long_bucket}, n={self.n_long}) and {est(self.slope_short)} on short ones "
                f"({self.short_bucket}, n={self.n_short}); difference {est(self.difference)} "
                f"({pct} paired bootstrap CI, {self.n_resamples} resamples, {len(self.seeds)} seed(s)), "
                f"p = {self.p_value:.3g}: {self.verdict}.")

    def as_dict(self) -> dict:
        return asdict(self)


def answer_question(example_rows: Iterable[Mapping] | ExampleTable, **options) -> Answer:
    """:func:`xstilts.analysis.trend.interaction_test` (same keyword options) as an :class:`Answer`."""
    return Answer.from_interaction(interaction_test(example_rows, **options))


__all__ = ["Answer", "NO_EFFECT", "answer_question"]
