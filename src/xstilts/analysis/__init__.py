"""Statistics of the results: gains over the no-intermediate baseline, paired-bootstrap intervals,
trends over the intermediate max length, and the long-vs-short interaction that answers the
project's question. Pure functions of result rows (numpy only; no torch, no plotting).

* :mod:`.tables` — conditions, XTREME's main metric and averaging, point gains from
  ``results.jsonl`` rows (or from example scores via :func:`results_from_examples`);
* :mod:`.bootstrap` — the paired (example × seed) bootstrap over ``example_scores.jsonl`` rows;
* :mod:`.trend` — gain vs log2(max length) per bucket and the interaction test;
* :mod:`.multiplicity` — Holm's adjustment over the tests one statement makes;
* :mod:`.answer` — the numbers of the answer paragraph, decided on Holm-adjusted p-values.
"""

from xstilts.analysis.answer import NO_EFFECT, Answer, answer_family, answer_question, answer_questions
from xstilts.analysis.bootstrap import (
    DEFAULT_RESAMPLES, Estimate, ExampleTable, bootstrap_gains, bootstrap_p_value, percentile_interval,
)
from xstilts.analysis.tables import (
    Condition, condition_of, gains_table, main_metric_value, main_scores, results_from_examples, xtreme_average,
)
from xstilts.analysis.trend import (
    DEFAULT_LONG_BUCKETS, DEFAULT_MIN_BUCKET_SIZE, DEFAULT_SHORT_BUCKETS, Interaction, Trend, choose_bucket,
    gain_trends, interaction_test, least_squares_slope,
)
from xstilts.analysis.multiplicity import holm

__all__ = [
    "Answer", "Condition", "DEFAULT_LONG_BUCKETS", "DEFAULT_MIN_BUCKET_SIZE", "DEFAULT_RESAMPLES",
    "DEFAULT_SHORT_BUCKETS", "Estimate", "ExampleTable", "Interaction", "NO_EFFECT", "Trend", "answer_family",
    "answer_question", "answer_questions", "bootstrap_gains", "bootstrap_p_value", "choose_bucket", "condition_of",
    "gain_trends", "gains_table", "holm", "interaction_test", "least_squares_slope", "main_metric_value",
    "main_scores", "percentile_interval", "results_from_examples", "xtreme_average",
]
