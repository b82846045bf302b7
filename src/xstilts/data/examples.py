"""Plain, validated example types: what every reader returns and every format consumes.

One type per format. Labels are kept as the strings the source files use (XTREME's evaluate.py
compares strings), ``None`` where a split ships without labels (XTREME strips test labels).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClassificationExample:
    """A single sentence (``text_b is None``) or a sentence pair with a string label."""

    id: str
    text_a: str
    text_b: str | None
    label: str | None


@dataclass(frozen=True, slots=True)
class MultipleChoiceExample:
    """A context (+ optional question) and N candidate endings; ``label`` is the 0-based answer index."""

    id: str
    context: str
    question: str
    choices: tuple[str, ...]
    label: int | None


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer span: its text and its character offset in the context."""

    text: str
    start: int


@dataclass(frozen=True, slots=True)
class QAExample:
    """Extractive QA (SQuAD layout). ``answers`` is empty for unanswerable (SQuAD v2) or unlabelled ones."""

    id: str
    question: str
    context: str
    answers: tuple[Answer, ...]
    is_impossible: bool = False
    title: str = ""


@dataclass(frozen=True, slots=True)
class TaggingExample:
    """A pre-tokenized sentence and one tag per token (``tags is None`` when unlabelled)."""

    id: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Sentence:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class RetrievalExample:
    """One bitext retrieval problem (a Tatoeba or BUCC language pair).

    ``source`` are the non-English sentences, ``target`` the English ones, in file order.
    ``gold`` holds the true ``(source_id, target_id)`` pairs (empty when unlabelled).
    """

    id: str
    source: tuple[Sentence, ...]
    target: tuple[Sentence, ...]
    gold: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TextExample:
    """Raw text for masked language modelling."""

    id: str
    text: str


Example = (
    ClassificationExample
    | MultipleChoiceExample
    | QAExample
    | TaggingExample
    | RetrievalExample
    | TextExample
)
