"""Published XTREME numbers of XLM-R large and X-STILTs, each with where it was read.

The report shows them beside a run's own numbers when the run's encoder is XLM-R large
(:func:`is_xlmr_large`). Only numbers quoted from a source that was actually read are here; none is
recalled or recomputed. Every :class:`Published` says its source (document, table), the split when
the source says it, and the metric it is comparable with in XTREME's ``evaluate.py``.

What was read:

* Phang et al. 2020 (arXiv 2005.13013), abstract: X-STILTs — the best intermediate task per target —
  is "a 5.4 point improvement over XLM-R Large on the XTREME benchmark" (the gain only).
* The mT5 repository's README (google-research/multilingual-t5@319bb80, section "Results"):
  XLM-R and X-STILTs on XNLI, PAWS-X, WikiAnn-NER, XQuAD, MLQA, TyDiQA-GoldP, "XTREME zero-shot",
  "showing F1 scores" (so QA is F1 alone, not XTREME's (EM+F1)/2). It does not say test or dev.
* Chung et al., "Rethinking embedding coupling in pre-trained language models" (RemBERT), Table 7:
  "models on the xtreme leaderboard" (the leaderboard scores test predictions: XTREME README,
  "Submissions"), category averages for XLM-R and STiLTs (Phang et al., 2020); its Avg is over the
  three categories shown, without retrieval (its footnote 6), so it is not the XTREME score.

Not verified, so left out: every number of the XTREME paper's own tables (Hu et al. 2020, arXiv
2003.11080: XLM-R large per task, UD-POS, BUCC, Tatoeba, its overall average) and of Phang et al.'s
tables (the XLM-R baseline they report, the best intermediate task per target, the leaderboard
submission per task, its BUCC/Tatoeba/POS scores). Their text could not be read here. The two
secondary sources above disagree on X-STILTs (e.g. PAWS-X 87.7 in the mT5 README; RemBERT's per-task
appendix table lost its column names in the copy read, so none of its numbers is used).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

XLMR_LARGE = "XLM-R large"
X_STILTS = "X-STILTs"

MT5_README = ("google-research/multilingual-t5@319bb8015a21:README.md, 'Results' table (Xue et al. 2021, mT5; "
              "'XTREME zero-shot ... showing F1 scores')")
REMBERT_TABLE7 = ("Chung et al. 2021, 'Rethinking embedding coupling in pre-trained language models' (RemBERT), "
                  "Table 7: models on the XTREME leaderboard")
PHANG_ABSTRACT = ("Phang et al. 2020, 'English Intermediate-Task Training Improves Zero-Shot Cross-Lingual Transfer "
                  "Too' (arXiv 2005.13013), abstract")
NOT_STATED = "not stated by the source"

# What the report compares a category with: XTREME's group names (evaluate.py GROUP2TASK).
THREE_CATEGORIES = "classification+tagging+qa"


@dataclass(frozen=True)
class Published:
    """One published number.

    ``what``: an XTREME task code, a group of :data:`~xstilts.tasks.catalog.XTREME_GROUPS`,
    :data:`THREE_CATEGORIES` (the mean of those three group scores) or ``"xtreme_gain"`` (a model's
    XTREME score minus XLM-R large's). ``metric``: the ``evaluate.py`` metric it compares with
    (``accuracy``, ``f1``, or ``avg_metric`` — XTREME's per-task score — for groups and gains).
    ``split``: ``test``/``dev`` as the source says, else :data:`NOT_STATED`.
    """

    model: str
    what: str
    metric: str
    value: float
    split: str
    source: str
    note: str = ""


def _readme(model: str, values: dict[str, float]) -> list[Published]:
    metrics = {"xnli": "accuracy", "pawsx": "accuracy", "panx": "f1", "xquad": "f1", "mlqa": "f1", "tydiqa": "f1"}
    note = ("the README heads the table 'showing F1 scores'; XTREME scores XNLI and PAWS-X by accuracy only, "
            "QA here is F1 alone (XTREME's task score is (EM+F1)/2)")
    return [Published(model, task, metrics[task], value, NOT_STATED, MT5_README, note)
            for task, value in values.items()]


def _rembert(model: str, values: tuple[float, float, float, float]) -> list[Published]:
    whats = ("classification", "tagging", "qa", THREE_CATEGORIES)
    note = "leaderboard category averages (Sentence-pair Classification, Structured Prediction, Question Answering)"
    return [Published(model, what, "avg_metric", value, "test", REMBERT_TABLE7,
                      note + ("; Avg over these three only, no retrieval (its footnote 6)" if what == THREE_CATEGORIES
                              else ""))
            for what, value in zip(whats, values)]


PUBLISHED: tuple[Published, ...] = (
    *_readme(XLMR_LARGE, {"xnli": 79.2, "pawsx": 86.4, "panx": 65.4, "xquad": 76.6, "mlqa": 71.6, "tydiqa": 65.1}),
    *_readme(X_STILTS, {"xnli": 80.4, "pawsx": 87.7, "panx": 64.7, "xquad": 77.2, "mlqa": 72.3, "tydiqa": 76.0}),
    *_rembert(XLMR_LARGE, (82.8, 69.0, 62.3, 71.4)),
    *_rembert(X_STILTS, (83.9, 69.4, 67.2, 73.5)),
    Published(X_STILTS, "xtreme_gain", "avg_metric", 5.4, NOT_STATED, PHANG_ABSTRACT,
              "X-STILTs (best intermediate task per target) minus XLM-R large on the XTREME benchmark"),
)

UNVERIFIED = ("Not verified, so left out: the XTREME paper's XLM-R large table (Hu et al. 2020; UD-POS, BUCC, Tatoeba "
              "and the overall XTREME score among them) and Phang et al.'s own tables (their XLM-R baseline, the "
              "best intermediate task per target, the leaderboard submission per task)")


def is_xlmr_large(model: str | None) -> bool:
    """Whether an encoder name (hub id or local directory) is XLM-R large: its last path part is
    ``xlm-roberta-large`` (``FacebookAI/xlm-roberta-large``, ``xlm-roberta-large``, ``/models/xlm-roberta-large``)."""
    return bool(model) and Path(str(model).rstrip("/")).name.lower() == "xlm-roberta-large"


def published(what: str | None = None) -> list[Published]:
    """The published numbers, all or those of one task / group."""
    return [p for p in PUBLISHED if what is None or p.what == what]


__all__ = ["PUBLISHED", "Published", "UNVERIFIED", "XLMR_LARGE", "X_STILTS", "THREE_CATEGORIES", "is_xlmr_large",
           "published"]
