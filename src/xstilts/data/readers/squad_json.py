"""SQuAD-layout JSON: SQuAD v1.1 / v2.0, XQuAD, MLQA and TyDiQA-GoldP (``squad_json``).

Layout: ``{"version", "data": [{"title"?, "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}``. Every answer is checked against
its context (``context[start:start + len(text)] == text``); a SQuAD v2 question marked
``is_impossible`` must have no answers, any other question at least one.

XTREME's ``download/`` test files (XQuAD, MLQA test, TyDiQA) are blanked by its
``remove_qa_test_annotations``: one paragraph per question, answers replaced by the single marker
``{"answer_start": 0, "text": ""}``, titles dropped. Such questions are read as unlabelled; when the
gold file (the original release file, ``labels/<task>/test-<lang>.json``) is given, the answers and
titles come from it, after checking that it holds exactly the same question ids with the same
questions and contexts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from xstilts.data.examples import Answer, QAExample
from xstilts.data.readers import reader
from xstilts.data.readers._io import Where, load_json

# What remove_qa_test_annotations leaves in place of the answers.
_BLANKED = [{"answer_start": 0, "text": ""}]


@reader("squad_json")
def read_squad_json(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                    labels: Sequence[str] | None = None) -> list[QAExample]:
    """One :class:`QAExample` per question, in file order; answers from ``gold`` when given."""
    examples: list[QAExample] = []
    for path in paths:
        examples.extend(read_squad_file(path))
    _check_unique(examples, Where(", ".join(str(p) for p in paths)))
    if gold is not None:
        examples = _merge_gold(examples, read_squad_file(gold), gold)
    return examples


def read_squad_file(path: Path) -> list[QAExample]:
    """Every question of one SQuAD-layout file, validated."""
    doc = load_json(path)
    data = Where(path).get(doc, "data", list)
    out = []
    for i, article in enumerate(data):
        at = Where(path, record=f"data[{i}]")
        title = at.get(article, "title", str, optional=True) or ""
        for j, paragraph in enumerate(at.get(article, "paragraphs", list)):
            at_par = Where(path, record=f"data[{i}].paragraphs[{j}]")
            context = at_par.get(paragraph, "context", str)
            for k, qa in enumerate(at_par.get(paragraph, "qas", list)):
                at_q = Where(path, record=f"data[{i}].paragraphs[{j}].qas[{k}]")
                qid = at_q.get(qa, "id", str)
                out.append(_question(Where(path, record=qid), qa, context, title))
    return out


def _question(where: Where, qa: dict, context: str, title: str) -> QAExample:
    question = where.get(qa, "question", str)
    raw = where.get(qa, "answers", list)
    impossible = where.get(qa, "is_impossible", bool, optional=True) or False
    if raw == _BLANKED:
        answers: tuple[Answer, ...] = ()  # a stripped test file: unlabelled, not unanswerable
    else:
        pairs = []
        for n, answer in enumerate(raw):
            field = f"answers[{n}]"
            pairs.append((where.get(answer, "text", str, field=f"{field}.text"),
                          where.get(answer, "answer_start", int, field=f"{field}.answer_start")))
        answers = make_answers(context, pairs, where)
        if impossible and answers:
            raise where.error("a question marked is_impossible has answers", "answers")
        if not impossible and not answers:
            raise where.error("no answers, and the question is not marked is_impossible", "answers")
    return QAExample(where.record, question, context, answers, impossible, title)


def make_answers(context: str, pairs: Iterable[tuple[str, int]], where: Where) -> tuple[Answer, ...]:
    """Answers checked against ``context``: inside it, non-empty, and the text at the offset."""
    out = []
    for n, (text, start) in enumerate(pairs):
        field = f"answers[{n}]"
        if not text:
            raise where.error("empty answer text", f"{field}.text")
        if not 0 <= start <= len(context) - len(text):
            raise where.error(f"answer_start {start} (+ {len(text)} characters) lies outside the "
                              f"context of {len(context)} characters", f"{field}.answer_start")
        found = context[start:start + len(text)]
        if found != text:
            raise where.error(f"context[{start}:{start + len(text)}] is {found!r}, not the answer "
                              f"text {text!r}", f"{field}.answer_start")
        out.append(Answer(text, start))
    return tuple(out)


def _check_unique(examples: list[QAExample], where: Where) -> None:
    seen: set[str] = set()
    for ex in examples:
        if ex.id in seen:
            raise where.at(record=ex.id).error("question id occurs twice", "id")
        seen.add(ex.id)


def _merge_gold(examples: list[QAExample], gold_examples: list[QAExample], gold: Path) -> list[QAExample]:
    by_id = {ex.id: ex for ex in gold_examples}
    _check_unique(gold_examples, Where(gold))
    if len(by_id) != len(examples):
        raise Where(gold).error(f"{len(by_id)} questions in the gold file but {len(examples)} in "
                                "the data file(s)", "id")
    out = []
    for ex in examples:
        where = Where(gold, record=ex.id)
        truth = by_id.get(ex.id)
        if truth is None:
            raise where.error("question id of the data file is missing from the gold file", "id")
        for field in ("question", "context"):
            if getattr(truth, field) != getattr(ex, field):
                raise where.error(f"the gold file's {field} differs from the data file's", field)
        if ex.answers and ex.answers != truth.answers:
            raise where.error("the gold file's answers differ from the data file's", "answers")
        out.append(truth)
    return out
