"""Per-example sufficient statistics of the official metrics, for resampling and subset scores.

Every official XTREME score used here is a function of *sums* of per-example numbers, so the score
of any subset (a length bucket, a bootstrap resample with repeated examples) is recomputed exactly
from those numbers, without re-running the scorer:

* ``accuracy`` — ``correct`` (0/1) per prediction line; accuracy = 100 · mean.
* ``squad`` / ``mlqa`` — ``exact_match`` (0/1) and ``f1`` (in [0, 1]) per question: the official
  maximum over the gold answers (a missing prediction scores 0); EM/F1 = 100 · mean.
* ``seqeval`` — ``tp``, ``n_pred``, ``n_gold`` (chunks), ``tokens``, ``tokens_correct`` per
  sentence; P = Σtp/Σn_pred, R = Σtp/Σn_gold, F1 = 2PR/(P+R) (each 0 when undefined) × 100.
* ``tagging_accuracy`` — ``tokens``, ``tokens_correct`` per sentence; 100 · Σcorrect / Σtokens.

Chunk counts add up over sentences because evaluate.py scores the concatenation of the sentences
with an ``O`` between them, so no chunk crosses a sentence boundary; :func:`example_stats` checks
that the per-sentence counts sum to the whole-file counts and raises otherwise.

:func:`metrics_from_sums` is the vectorised form (any leading axes, e.g. one row per bootstrap
resample) that :func:`aggregate` and :mod:`xstilts.analysis` share. BUCC (a threshold chosen on
the whole file) and SQuAD v2.0 (no-answer threshold search) do not decompose and are refused.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from xstilts.errors import ConfigError, DataError, UnknownNameError
from xstilts.metrics.qa import SQUAD, iter_questions, mlqa_normaliser, score_question
from xstilts.metrics.tagging import get_chunks

STAT_FIELDS: dict[str, tuple[str, ...]] = {
    "accuracy": ("correct",),
    "squad": ("exact_match", "f1"),
    "mlqa": ("exact_match", "f1"),
    "seqeval": ("tp", "n_pred", "n_gold", "tokens", "tokens_correct"),
    "tagging_accuracy": ("tokens", "tokens_correct"),
}
NOT_DECOMPOSABLE = {
    "bucc2018": "BUCC F1 depends on a threshold optimised over the whole candidate file",
    "squad_v2": "SQuAD v2.0 scores depend on a no-answer threshold chosen over all questions",
}


def stat_fields(metric_name: str) -> tuple[str, ...]:
    """The per-example fields of ``metric_name`` (in the column order of :func:`stats_matrix`)."""
    try:
        return STAT_FIELDS[metric_name]
    except KeyError:
        if metric_name in NOT_DECOMPOSABLE:
            raise ConfigError(f"metric {metric_name!r} has no per-example statistics: "
                              f"{NOT_DECOMPOSABLE[metric_name]}") from None
        raise UnknownNameError("per-example metric", metric_name, list(STAT_FIELDS)) from None


# ---------------------------------------------------------------- per-example statistics


def example_stats(metric_name: str, gold, predictions, language: str | None = None) -> list[dict]:
    """Per-example statistics of ``metric_name`` on ``gold``/``predictions``.

    Inputs are shaped as the metric functions take them (:mod:`xstilts.metrics`): label lists for
    ``accuracy``; lists of tag sentences for ``seqeval``/``tagging_accuracy``; the SQuAD ``data``
    list and ``{question id: answer}`` for ``squad``/``mlqa`` (``language`` picks the MLQA
    normalisation). QA statistics come in the gold question order, with the question id under
    ``"id"``; accuracy statistics are one per *prediction* line (the official denominator);
    tagging statistics one per sentence.
    """
    stat_fields(metric_name)
    if metric_name == "accuracy":
        return _accuracy_stats(gold, predictions)
    if metric_name in ("squad", "mlqa"):
        normaliser = SQUAD if metric_name == "squad" else mlqa_normaliser(language)
        return _qa_stats(gold, predictions, normaliser)
    return _tagging_stats(gold, predictions, chunks=metric_name == "seqeval")


def _accuracy_stats(gold: Sequence, predictions: Sequence) -> list[dict]:
    # evaluate.py: #equal pairs of zip(predictions, gold) / #predictions, so a prediction line
    # beyond the gold is wrong and gold lines beyond the predictions are not scored.
    if not predictions:
        raise DataError(None, "no predictions to score")
    return [{"correct": int(i < len(gold) and p == gold[i])} for i, p in enumerate(predictions)]


def _qa_stats(dataset: Sequence[Mapping], predictions: Mapping[str, str], normaliser) -> list[dict]:
    out = []
    for q in iter_questions(dataset):
        if q.id not in predictions:  # scores 0, stays in the denominator (official)
            out.append({"id": q.id, "exact_match": 0, "f1": 0.0})
            continue
        if not q.answers:
            raise DataError(None, "question has no gold answers (the SQuAD v1.1/MLQA scorers need one)",
                            record=q.id, field="answers")
        em, f1 = score_question(predictions[q.id], q.answers, normaliser)
        out.append({"id": q.id, "exact_match": int(em), "f1": float(f1)})
    if not out:
        raise DataError(None, "the gold data has no questions")
    return out


def _sentences(sequences: Sequence) -> list[list[str]]:
    # A flat list of tags is one sequence (as the metric functions read it).
    if any(isinstance(s, (list, tuple)) for s in sequences):
        return [list(s) for s in sequences]
    return [list(sequences)]


def _tagging_stats(gold: Sequence, predictions: Sequence, *, chunks: bool) -> list[dict]:
    gold_s, pred_s = _sentences(gold), _sentences(predictions)
    if len(gold_s) != len(pred_s):
        raise DataError(None, f"{len(gold_s)} gold sentences but {len(pred_s)} predicted ones")
    out = []
    for i, (g, p) in enumerate(zip(gold_s, pred_s)):
        if len(g) != len(p):
            # The official scorer would misalign every later sentence; per-sentence counts cannot
            # reproduce that, so refuse rather than return a different number.
            raise DataError(None, f"{len(g)} gold tags but {len(p)} predicted tags", record=str(i))
        row = {"tokens": len(g), "tokens_correct": sum(a == b for a, b in zip(g, p))}
        if chunks:
            gc, pc = set(get_chunks([g])), set(get_chunks([p]))
            row = {"tp": len(gc & pc), "n_pred": len(pc), "n_gold": len(gc), **row}
        out.append(row)
    if chunks:
        _check_chunks_add_up(gold, predictions, out)
    return out


def _check_chunks_add_up(gold: Sequence, predictions: Sequence, stats: list[dict]) -> None:
    """Per-sentence chunk counts must sum to the counts of the whole file (they do unless a tag's
    type is ``O``, e.g. ``X-O``, which lets a chunk run through the separating ``O``)."""
    gc, pc = set(get_chunks(gold)), set(get_chunks(predictions))
    whole = (len(gc & pc), len(pc), len(gc))
    summed = tuple(sum(s[k] for s in stats) for k in ("tp", "n_pred", "n_gold"))
    if whole != summed:
        raise DataError(None, f"chunk counts per sentence {summed} differ from the whole file's {whole} "
                              "(a chunk crosses a sentence boundary)")


# ---------------------------------------------------------------- scores from sums


def stats_matrix(metric_name: str, stats: Sequence[Mapping]) -> np.ndarray:
    """``(n_examples, len(fields))`` float64 array of the statistics, columns in field order."""
    fields = stat_fields(metric_name)
    try:
        return np.array([[s[f] for f in fields] for s in stats], dtype=np.float64).reshape(len(stats), len(fields))
    except KeyError as e:
        raise DataError(None, f"per-example statistics of {metric_name!r} lack field {e.args[0]!r}") from None


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den where den > 0, else 0 (the official convention for P/R/F1 without chunks)."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)


def metrics_from_sums(metric_name: str, sums: np.ndarray, n: np.ndarray | float,
                      *, with_token_accuracy: bool = False) -> dict[str, np.ndarray]:
    """Official scores from summed statistics, vectorised over leading axes.

    ``sums[..., j]`` is the (weighted) sum of field ``j`` of :func:`stat_fields`; ``n`` the
    (weighted) number of examples. Where ``n == 0`` a mean-type score is NaN (the official
    scorers refuse empty input). ``with_token_accuracy`` adds ``token_accuracy`` for ``seqeval``,
    as :func:`xstilts.pipeline.evaluation.score` reports it.
    """
    fields = stat_fields(metric_name)
    sums = np.asarray(sums, dtype=np.float64)
    if sums.shape[-1] != len(fields):
        raise ValueError(f"{metric_name}: sums have {sums.shape[-1]} columns, expected {len(fields)} {fields}")
    col = {f: sums[..., j] for j, f in enumerate(fields)}
    n = np.asarray(n, dtype=np.float64)

    def mean100(total: np.ndarray, count: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, 100.0 * total / np.where(count > 0, count, 1.0), np.nan)

    if metric_name == "accuracy":
        return {"accuracy": mean100(col["correct"], n)}
    if metric_name in ("squad", "mlqa"):
        return {"exact_match": mean100(col["exact_match"], n), "f1": mean100(col["f1"], n)}
    if metric_name == "tagging_accuracy":
        return {"accuracy": mean100(col["tokens_correct"], col["tokens"])}
    precision = _ratio(col["tp"], col["n_pred"])
    recall = _ratio(col["tp"], col["n_gold"])
    f1 = _ratio(2 * precision * recall, precision + recall)
    out = {"f1": f1 * 100, "precision": precision * 100, "recall": recall * 100}
    out = {k: np.where(n > 0, v, np.nan) for k, v in out.items()}  # no sentence: no score
    if with_token_accuracy:
        out["token_accuracy"] = mean100(col["tokens_correct"], col["tokens"])
    return out


def aggregate(metric_name: str, stats: Sequence[Mapping], *, with_token_accuracy: bool = False) -> dict[str, float]:
    """The official score of the examples in ``stats`` (same keys and values as the metric).

    Repeated entries count as often as they occur (that is what a bootstrap resample needs).
    ``with_token_accuracy`` adds seqeval's ``token_accuracy`` (the extra number results carry).
    """
    if not stats:
        raise DataError(None, "no examples to score")
    matrix = stats_matrix(metric_name, stats)
    scores = metrics_from_sums(metric_name, matrix.sum(axis=0), len(stats), with_token_accuracy=with_token_accuracy)
    return {k: float(v) for k, v in scores.items()}


__all__ = ["STAT_FIELDS", "aggregate", "example_stats", "metrics_from_sums", "stat_fields", "stats_matrix"]
