"""BUCC 2018 bitext mining scores: evaluate.py's pair F1 and utils_retrieve's threshold machinery.

Two official pieces, both pure here:

* :func:`bucc_f1` — evaluate.py ``bucc_f1``: P/R/F1 of the predicted ``src_id<TAB>trg_id`` lines
  against the gold lines, as sets.
* :func:`bucc_eval` — utils_retrieve ``bucc_eval`` on candidate rows ``(score, src_sentence,
  trg_sentence)`` (what margin-based mining writes): map sentences to ids, keep the best score of
  a repeated pair, choose the F1-optimal threshold on the gold pairs, and extract every pair
  scoring at least the threshold (no one-to-one constraint). The extracted pairs are what goes
  into the prediction file that :func:`bucc_f1` later scores.

Sentences are matched after ``strip()``; a sentence that occurs more than once in its text file
has no id (it is ambiguous), and candidates using it are ignored — as in the official code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable, Mapping, Sequence

from xstilts.errors import ConfigError

Pair = tuple[str, str]


def _prf(n_correct: int, n_predicted: int, n_gold: int) -> tuple[float, float, float]:
    if n_correct == 0:
        return 0.0, 0.0, 0.0
    precision = n_correct / n_predicted
    recall = n_correct / n_gold
    return precision, recall, 2 * precision * recall / (precision + recall)


def bucc_f1(gold: Sequence[str], predictions: Sequence[str], language: str | None = None) -> dict[str, float]:
    """evaluate.py ``bucc_f1``: ``f1``/``precision``/``recall`` × 100 over distinct tab-split lines."""
    gold_set = {tuple(line.split("\t")) for line in gold}
    pred_set = {tuple(line.split("\t")) for line in predictions}
    precision, recall, f1 = _prf(len(gold_set & pred_set), len(pred_set), len(gold_set))
    return {"f1": f1 * 100, "precision": precision * 100, "recall": recall * 100}


def sentence_ids(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Sentence → id from ``(id, sentence)`` rows (both stripped); repeated sentences are left out."""
    ids: dict[str, str] = {}
    repeated: set[str] = set()
    for id_, sentence in rows:
        id_, sentence = id_.strip(), sentence.strip()
        if sentence in ids:
            repeated.add(sentence)
        else:
            ids[sentence] = id_
    for sentence in repeated:
        del ids[sentence]
    return ids


def candidate_scores(
    candidates: Iterable[tuple[float | str, str, str]],
    src_ids: Mapping[str, str],
    trg_ids: Mapping[str, str],
) -> dict[Pair, float]:
    """``(src_id, trg_id) → score`` from candidate rows, in order of first appearance.

    Rows whose sentences have no id are ignored; a pair seen again keeps its highest score (and
    its first position, which decides ties in the threshold search).
    """
    scores: dict[Pair, float] = {}
    for score, src, trg in candidates:
        score = float(score)
        src, trg = src.strip(), trg.strip()
        if src in src_ids and trg in trg_ids:
            pair = (src_ids[src], trg_ids[trg])
            scores[pair] = max(score, scores.get(pair, score))
    return scores


def optimise_threshold(scores: Mapping[Pair, float], gold: Collection[str]) -> float:
    """utils_retrieve ``bucc_optimize``: the threshold of best F1 against ``gold`` (``"src\\ttrg"`` lines).

    Candidates are walked by descending score (stable: ties keep their order); after each one F1
    is computed, and on a strict improvement the threshold becomes the midpoint between its
    score and the next one's. When the improvement comes at the very last candidate (where the
    official code indexes past the end and crashes) the threshold is that candidate's score, which
    keeps every candidate — the only extraction consistent with the walk. 0 if nothing is right.
    """
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    n_correct = 0
    best_f1 = 0.0
    threshold = 0.0
    for n_extracted, ((src, trg), score) in enumerate(ranked, start=1):
        if f"{src}\t{trg}" in gold:
            n_correct += 1
        if n_correct == 0:
            continue
        f1 = _prf(n_correct, n_extracted, len(gold))[2]
        if f1 > best_f1:
            best_f1 = f1
            threshold = (score + ranked[n_extracted][1]) / 2 if n_extracted < len(ranked) else score
    return threshold


def extract(scores: Mapping[Pair, float], threshold: float) -> list[str]:
    """utils_retrieve ``bucc_extract``: every ``"src\\ttrg"`` whose score is ≥ ``threshold``, in order."""
    return [f"{src}\t{trg}" for (src, trg), score in scores.items() if score >= threshold]


@dataclass(frozen=True)
class BuccEvaluation:
    """The outcome of :func:`bucc_eval`; P/R/F1 (× 100) are ``None`` without gold pairs."""

    threshold: float
    pairs: list[str]
    n_candidates: int
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None

    def official(self) -> dict[str, float]:
        """utils_retrieve ``bucc_eval``'s dict: ``best-threshold``, ``precision``, ``recall``, ``F1``."""
        return {"best-threshold": self.threshold, "precision": self.precision,
                "recall": self.recall, "F1": self.f1}


def bucc_eval(
    candidates: Iterable[tuple[float | str, str, str]],
    src_sentences: Iterable[tuple[str, str]],
    trg_sentences: Iterable[tuple[str, str]],
    gold: Iterable[str] | None = None,
    *,
    threshold: float | None = None,
) -> BuccEvaluation:
    """Map, optimise the threshold on ``gold`` (unless one is given), extract, and score.

    ``src_sentences``/``trg_sentences`` are ``(id, sentence)`` rows of the two text/id files,
    ``gold`` the ``src_id<TAB>trg_id`` lines. An explicit ``threshold`` is always used (the
    official ``bucc_eval`` silently ignores it whenever a gold file is given and re-optimises on
    that gold; pass ``threshold=None`` for that behaviour).
    """
    scores = candidate_scores(candidates, sentence_ids(src_sentences), sentence_ids(trg_sentences))
    gold_set = None if gold is None else {line.strip() for line in gold}
    if threshold is None:
        if gold_set is None:
            raise ConfigError("bucc_eval needs gold pairs to optimise the threshold, or a threshold")
        threshold = optimise_threshold(scores, gold_set)
    pairs = extract(scores, threshold)
    if gold_set is None:
        return BuccEvaluation(threshold, pairs, len(scores))
    precision, recall, f1 = _prf(len(gold_set.intersection(pairs)), len(pairs), len(gold_set))
    return BuccEvaluation(threshold, pairs, len(scores), 100 * precision, 100 * recall, 100 * f1)
