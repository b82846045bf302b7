"""Extractive-QA scores equal to the official scorers: SQuAD v1.1, MLQA and SQuAD v2.0.

All three score a prediction against each gold answer and keep the best; they differ only in how
an answer is normalised and tokenised, so one :class:`Normaliser` carries that difference and the
EM/F1 machinery is shared:

* SQuAD v1.1 (XTREME's ``third_party/evaluate_squad.py``; XQuAD and TyDiQA-GoldP): lower-case, drop
  ASCII punctuation, English articles → space, whitespace tokens. The same in every language.
* MLQA (``third_party/evaluate_mlqa.py``): lower-case, drop every Unicode ``P*`` code point plus
  ASCII punctuation, language-specific articles, and for Chinese one token per CJK ideograph.
* SQuAD v2.0 (the official ``evaluate-v2.0.py``): SQuAD normalisation, but a question without
  answers is only matched by an empty prediction, empty-vs-empty F1 is 1, and a no-answer
  probability per question can override the prediction (``exact``/``f1``/``HasAns_*``/``NoAns_*``
  plus the best-threshold search).

Gold is the SQuAD ``data`` list (articles → paragraphs → qas, as evaluate.py's ``read_squad``
returns it); predictions map question id → answer text. Scores are on the 0–100 scale.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

from xstilts.errors import ConfigError, DataError, UnknownNameError

_ASCII_PUNCTUATION = frozenset(string.punctuation)


def _is_ascii_punctuation(ch: str) -> bool:
    return ch in _ASCII_PUNCTUATION


def _is_unicode_punctuation(ch: str) -> bool:
    # evaluate_mlqa.py precomputes this set over the whole code space; asking unicodedata per
    # character is the same test (same Unicode database) without a 1.1M-entry set at import.
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def _cjk_segmentation(text: str) -> list[str]:
    """MLQA's Chinese "mixed segmentation": each ideograph U+4E00–U+9FA5 is a token, the rest is
    split on whitespace.

    (The official function also cuts at punctuation, but punctuation is already gone by then.)
    """
    tokens: list[str] = []
    pending: list[str] = []
    for ch in text:
        if "\u4e00" <= ch <= "\u9fa5":
            tokens.extend("".join(pending).split())
            pending.clear()
            tokens.append(ch)
        else:
            pending.append(ch)
    tokens.extend("".join(pending).split())
    return tokens


@dataclass(frozen=True)
class Normaliser:
    """How one scorer turns an answer into tokens: punctuation test, article pattern, tokeniser.

    ``normalise`` returns the official normalised string (tokens joined by one space), which is
    what exact match compares; F1 compares the multisets of ``tokens``.
    """

    name: str
    is_punctuation: Callable[[str], bool]
    articles: re.Pattern | None
    tokenise: Callable[[str], list[str]] = str.split

    def normalise(self, text: str) -> str:
        text = "".join(ch for ch in text.lower() if not self.is_punctuation(ch))
        if self.articles is not None:
            text = self.articles.sub(" ", text)
        return " ".join(self.tokenise(text))

    def tokens(self, text: str) -> list[str]:
        return self.normalise(text).split()


SQUAD = Normaliser("squad", _is_ascii_punctuation, re.compile(r"\b(a|an|the)\b"))

_MLQA_ARTICLES: dict[str, str | None] = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "hi": None,
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    # The official pattern is '\sال^|ال'; its first branch can never match ('^' after two
    # characters), so every 'ال' — also inside a word — becomes a space.
    "ar": r"ال",
    "zh": None,
}
MLQA_NORMALISERS: dict[str, Normaliser] = {
    lang: Normaliser(
        f"mlqa-{lang}",
        _is_unicode_punctuation,
        None if pattern is None else re.compile(pattern),
        _cjk_segmentation if lang == "zh" else str.split,
    )
    for lang, pattern in _MLQA_ARTICLES.items()
}
MLQA_LANGUAGES: tuple[str, ...] = tuple(MLQA_NORMALISERS)


def mlqa_normaliser(language: str | None) -> Normaliser:
    """The MLQA normaliser of ``language``; MLQA's scorer knows only en, es, hi, vi, de, ar, zh."""
    if language is None:
        raise ConfigError(f"the MLQA scorer needs the answer language (one of {', '.join(MLQA_LANGUAGES)})")
    try:
        return MLQA_NORMALISERS[language]
    except KeyError:
        raise UnknownNameError("MLQA scorer language", language, MLQA_LANGUAGES) from None


def normalize_squad(text: str) -> str:
    """SQuAD v1.1/v2.0 ``normalize_answer``."""
    return SQUAD.normalise(text)


def normalize_mlqa(text: str, language: str) -> str:
    """MLQA ``normalize_answer(text, lang)``."""
    return mlqa_normaliser(language).normalise(text)


# ---------------------------------------------------------------- per-answer scores


def _overlap_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    """Token F1 on multisets; 0 without a common token (so empty-vs-empty is 0 here)."""
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, ground_truth: str, normaliser: Normaliser = SQUAD) -> int:
    """1 if both normalise to the same string (two empty answers match), else 0."""
    return int(normaliser.normalise(prediction) == normaliser.normalise(ground_truth))


def token_f1(prediction: str, ground_truth: str, normaliser: Normaliser = SQUAD) -> float:
    """SQuAD v1.1 / MLQA token F1 in [0, 1]."""
    return _overlap_f1(normaliser.tokens(prediction), normaliser.tokens(ground_truth))


def token_f1_v2(prediction: str, ground_truth: str) -> float:
    """SQuAD v2.0 token F1: as v1.1, except that an empty side scores 1 iff both are empty."""
    pred, gold = SQUAD.tokens(prediction), SQUAD.tokens(ground_truth)
    if not pred or not gold:
        return float(pred == gold)
    return _overlap_f1(pred, gold)


def score_question(prediction: str, ground_truths: Sequence[str],
                   normaliser: Normaliser = SQUAD) -> tuple[int, float]:
    """(exact match, F1) of one prediction: the best over the gold answers."""
    if not ground_truths:
        raise ValueError("a question needs at least one gold answer")
    em = max(exact_match(prediction, g, normaliser) for g in ground_truths)
    f1 = max(token_f1(prediction, g, normaliser) for g in ground_truths)
    return em, f1


# ---------------------------------------------------------------- dataset-level scores


@dataclass(frozen=True)
class Question:
    id: str
    answers: tuple[str, ...]


def iter_questions(dataset: Sequence[Mapping]) -> Iterator[Question]:
    """Every question of a SQuAD ``data`` list, in file order, with its gold answer texts."""
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield Question(qa["id"], tuple(a["text"] for a in qa["answers"]))


def _em_f1(dataset: Sequence[Mapping], predictions: Mapping[str, str], normaliser: Normaliser) -> dict[str, float]:
    # A question without a prediction scores 0 but stays in the denominator; prediction ids that
    # are not in the gold are ignored (both as in the official scripts).
    exact = f1 = 0.0
    total = 0
    for q in iter_questions(dataset):
        total += 1
        if q.id not in predictions:
            continue
        if not q.answers:
            raise DataError(None, "question has no gold answers (the SQuAD v1.1/MLQA scorers need one)",
                            record=q.id, field="answers")
        em_q, f1_q = score_question(predictions[q.id], q.answers, normaliser)
        exact += em_q
        f1 += f1_q
    if total == 0:
        raise DataError(None, "the gold data has no questions")
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def squad_em_f1(dataset: Sequence[Mapping], predictions: Mapping[str, str],
                language: str | None = None) -> dict[str, float]:
    """SQuAD v1.1 ``evaluate`` (XQuAD, TyDiQA): ``exact_match`` and ``f1``; ``language`` is ignored."""
    return _em_f1(dataset, predictions, SQUAD)


def mlqa_em_f1(dataset: Sequence[Mapping], predictions: Mapping[str, str],
               language: str | None = None) -> dict[str, float]:
    """MLQA ``evaluate(dataset, predictions, lang)``: ``exact_match`` and ``f1``; needs ``language``."""
    return _em_f1(dataset, predictions, mlqa_normaliser(language))


# ---------------------------------------------------------------- SQuAD v2.0


def squad_v2(
    dataset: Sequence[Mapping],
    predictions: Mapping[str, str],
    language: str | None = None,
    *,
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float]:
    """The official SQuAD v2.0 evaluation.

    Returns ``exact``, ``f1``, ``total`` and, when the gold has such questions, ``HasAns_*`` and
    ``NoAns_*``. With ``na_probs`` (question id → probability of no answer) a question whose
    probability exceeds ``na_prob_thresh`` counts as answered "no answer", and ``best_exact``,
    ``best_exact_thresh``, ``best_f1``, ``best_f1_thresh`` give the best threshold. An empty
    prediction means "no answer". Unlike v1.1, every question needs a prediction (the official
    script fails on a missing one); ``language`` is ignored.
    """
    has_answer: dict[str, bool] = {}
    exact_raw: dict[str, int] = {}
    f1_raw: dict[str, float] = {}
    for q in iter_questions(dataset):
        has_answer[q.id] = bool(q.answers)
        if q.id not in predictions:
            raise DataError(None, "no prediction for this question (SQuAD v2.0 scores every question)",
                            record=q.id)
        # Gold answers that normalise to nothing are dropped; with none left only "" is right.
        golds = [a for a in q.answers if SQUAD.normalise(a)] or [""]
        pred = predictions[q.id]
        exact_raw[q.id] = max(exact_match(pred, g) for g in golds)
        f1_raw[q.id] = max(token_f1_v2(pred, g) for g in golds)
    if not has_answer:
        raise DataError(None, "the gold data has no questions")
    probs = {qid: 0.0 for qid in predictions} if na_probs is None else dict(na_probs)
    missing = [qid for qid in has_answer if qid not in probs]
    if missing:
        raise DataError(None, "no no-answer probability for this question", record=missing[0])

    def thresholded(raw: Mapping[str, float]) -> dict[str, float]:
        return {qid: float(not has_answer[qid]) if probs[qid] > na_prob_thresh else s
                for qid, s in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    out = _v2_block(exact, f1, list(has_answer))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid, has in has_answer.items() if has is wanted]
        if qids:
            out.update({f"{prefix}_{k}": v for k, v in _v2_block(exact, f1, qids).items()})
    if na_probs is not None:
        for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
            best, thresh = best_no_answer_threshold(predictions, raw, probs, has_answer)
            out[f"best_{name}"] = best
            out[f"best_{name}_thresh"] = thresh
    return out


def _v2_block(exact: Mapping[str, float], f1: Mapping[str, float], qids: Sequence[str]) -> dict[str, float]:
    total = len(qids)
    return {
        "exact": 100.0 * sum(exact[q] for q in qids) / total,
        "f1": 100.0 * sum(f1[q] for q in qids) / total,
        "total": total,
    }


def best_no_answer_threshold(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_answer: Mapping[str, bool],
) -> tuple[float, float]:
    """The official ``find_best_thresh``: (best score ×100, the no-answer probability achieving it).

    Start as if every question were answered "no answer" (all no-answer questions right), then
    admit questions in increasing no-answer probability (stable order), adding the answer's
    score for an answerable question and -1 for a non-empty answer to an unanswerable one; the
    threshold moves only on a strict improvement.
    """
    score = best = sum(1 for has in has_answer.values() if not has)
    threshold = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            score += scores[qid]
        elif predictions[qid]:
            score -= 1
        if score > best:
            best, threshold = score, na_probs[qid]
    return 100.0 * best / len(scores), threshold
