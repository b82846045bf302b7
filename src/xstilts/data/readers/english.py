"""The English intermediate tasks in their official release formats (one reader per release).

* ``anli_jsonl`` — ANLI v1.0 ``R{1,2,3}/{train,dev,test}.jsonl``: ``uid``, ``context`` (the
  premise; also accepted under the name ``premise``), ``hypothesis``, ``label`` ``e``/``n``/``c``.
* ``glue_mnli_tsv`` — GLUE MNLI TSV with a header (``index, promptID, pairID, genre, …, sentence1,
  sentence2, label1, …, gold_label``); columns are found by header name, ``gold_label`` is absent
  from the test files. No quote processing: GLUE's TSVs contain bare ``"``.
* ``glue_qqp_tsv`` — GLUE QQP TSV (``id, qid1, qid2, question1, question2, is_duplicate``; test:
  ``id, question1, question2``).
* ``snli_jsonl`` — SNLI 1.0 jsonl (``sentence1, sentence2, gold_label, pairID``). Pairs whose
  ``gold_label`` is ``"-"`` (no majority among the annotators) have no label and are **excluded**,
  as in every SNLI loader; the count is kept in the result's ``excluded`` and logged.
* ``hellaswag_jsonl`` — HellaSwag (``ind, ctx_a, ctx_b, ctx, endings[4], label``): the context is
  ``ctx_a``, the question ``ctx_b`` (the start of the sentence each ending completes).
* ``commonsenseqa_jsonl`` — CommonsenseQA (``id, question{stem, choices[{label, text}]},
  answerKey``): five choices A–E, the label is the answer key's position.
* ``cosmosqa_csv`` — Cosmos QA CSV with a header (``id, context, question, answer0..answer3,
  label``), quoted fields may span lines.

Labels missing from a test release give ``label=None``; any other missing field is an error.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator, Sequence

from xstilts.data.examples import ClassificationExample, MultipleChoiceExample
from xstilts.data.readers import reader
from xstilts.data.readers._io import (
    Examples, Where, check_columns, iter_jsonl, read_lines, read_text,
)

ANLI_LABELS = {"e": "entailment", "n": "neutral", "c": "contradiction"}
SNLI_NO_CONSENSUS = "-"


@reader("anli_jsonl")
def read_anli(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
              labels: Sequence[str] | None = None) -> list[ClassificationExample]:
    out = []
    for path in paths:
        for where, row in iter_jsonl(path):
            uid = where.get(row, "uid", str)
            where = where.at(record=uid)
            # The official release names the premise "context"; some re-exports say "premise".
            premise_key = "context" if "context" in row else "premise"
            code = where.get(row, "label", str)
            if code not in ANLI_LABELS:
                raise where.error(f"unknown label {code!r} (expected one of e, n, c)", "label")
            out.append(ClassificationExample(
                uid, where.get(row, premise_key, str), where.get(row, "hypothesis", str),
                where.label(ANLI_LABELS[code], labels)))
    return out


@reader("snli_jsonl")
def read_snli(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
              labels: Sequence[str] | None = None) -> Examples:
    """SNLI pairs; ``"-"`` (no-consensus) pairs are excluded and counted in ``result.excluded``."""
    out = Examples()
    for path in paths:
        for where, row in iter_jsonl(path):
            pair_id = where.get(row, "pairID", str)
            where = where.at(record=pair_id)
            label = where.get(row, "gold_label", str)
            if label == SNLI_NO_CONSENSUS:
                out.exclude("gold_label '-' (no annotator majority)")
                continue
            out.append(ClassificationExample(
                pair_id, where.get(row, "sentence1", str), where.get(row, "sentence2", str),
                where.label(label, labels, "gold_label")))
        out.log_exclusions(path)
    return out


@reader("glue_mnli_tsv")
def read_glue_mnli(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                   labels: Sequence[str] | None = None) -> list[ClassificationExample]:
    out = []
    for path in paths:
        for where, row in _tsv_with_header(path, ("pairID", "sentence1", "sentence2"), ("gold_label",)):
            label = row.get("gold_label")
            out.append(ClassificationExample(
                row["pairID"], row["sentence1"], row["sentence2"],
                None if label is None else where.label(label, labels, "gold_label")))
    return out


@reader("glue_qqp_tsv")
def read_glue_qqp(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                  labels: Sequence[str] | None = None) -> list[ClassificationExample]:
    out = []
    for path in paths:
        for where, row in _tsv_with_header(path, ("id", "question1", "question2"), ("is_duplicate",)):
            label = row.get("is_duplicate")
            out.append(ClassificationExample(
                row["id"], row["question1"], row["question2"],
                None if label is None else where.label(label, labels, "is_duplicate")))
    return out


def _tsv_with_header(path: Path, required: Sequence[str], optional: Sequence[str] = ()
                     ) -> Iterator[tuple[Where, dict[str, str]]]:
    """Rows of a headed TSV as dicts of the ``required`` (+ present ``optional``) columns."""
    lines = read_lines(path)
    header = lines[0].split("\t")
    _check_header(header, required, Where(path, 1))
    index = {c: header.index(c) for c in (*required, *optional) if c in header}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        where = _row_where(Where(path, number), fields, index[required[0]])
        check_columns(fields, header, where)
        yield where, {c: fields[i] for c, i in index.items()}


def _row_where(where: Where, fields: Sequence[str], id_column: int) -> Where:
    """``where`` with the row's id as record, when the row reaches its id column."""
    return where.at(record=fields[id_column]) if id_column < len(fields) else where


def _check_header(header: Sequence[str], required: Sequence[str], where: Where) -> None:
    for column in required:
        if column not in header:
            raise where.error(f"header lacks column {column!r} (found: {', '.join(header)})", column)


@reader("hellaswag_jsonl")
def read_hellaswag(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                   labels: Sequence[str] | None = None) -> list[MultipleChoiceExample]:
    out = []
    for path in paths:
        for where, row in iter_jsonl(path):
            ind = where.get(row, "ind", int)
            where = where.at(record=str(ind))
            endings = _choices(where, where.get(row, "endings", list), 4, "endings")
            label = where.get(row, "label", int, optional=True)
            if label is not None and not 0 <= label < len(endings):
                raise where.error(f"label {label} is not an index of the {len(endings)} endings", "label")
            out.append(MultipleChoiceExample(
                str(ind), where.get(row, "ctx_a", str), where.get(row, "ctx_b", str), endings, label))
    return out


@reader("commonsenseqa_jsonl")
def read_commonsenseqa(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                       labels: Sequence[str] | None = None) -> list[MultipleChoiceExample]:
    out = []
    for path in paths:
        for where, row in iter_jsonl(path):
            qid = where.get(row, "id", str)
            where = where.at(record=qid)
            question = where.get(row, "question", dict)
            stem = where.get(question, "stem", str, field="question.stem")
            raw = where.get(question, "choices", list, field="question.choices")
            if len(raw) != 5:
                raise where.error(f"expected 5 choices, found {len(raw)}", "question.choices")
            keys = [where.get(c, "label", str, field=f"question.choices[{n}].label") for n, c in enumerate(raw)]
            texts = tuple(where.get(c, "text", str, field=f"question.choices[{n}].text")
                          for n, c in enumerate(raw))
            if keys != list("ABCDE"):
                raise where.error(f"choice labels are {keys}, expected A-E in order", "question.choices")
            key = where.get(row, "answerKey", str, optional=True)
            if key is not None and key not in keys:
                raise where.error(f"answerKey {key!r} is none of the choice labels A-E", "answerKey")
            out.append(MultipleChoiceExample(qid, "", stem, texts, None if key is None else keys.index(key)))
    return out


COSMOS_COLUMNS = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3")


@reader("cosmosqa_csv")
def read_cosmosqa(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                  labels: Sequence[str] | None = None) -> list[MultipleChoiceExample]:
    out = []
    for path in paths:
        for where, row in _csv_with_header(path, COSMOS_COLUMNS, ("label",)):
            choices = _choices(where, [row[f"answer{k}"] for k in range(4)], 4, "answer0..answer3")
            label = row.get("label")
            if label is not None and label not in ("0", "1", "2", "3"):
                raise where.error(f"label {label!r} is not 0-3", "label")
            out.append(MultipleChoiceExample(row["id"], row["context"], row["question"], choices,
                                             None if label is None else int(label)))
    return out


def _csv_with_header(path: Path, required: Sequence[str], optional: Sequence[str] = ()
                     ) -> Iterator[tuple[Where, dict[str, str]]]:
    """Rows of a headed, quoted CSV (fields may span lines); ``where.line`` is a row's first line."""
    rows = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        header = next(rows)
        _check_header(header, required, Where(path, 1))
        start = rows.line_num  # the last physical line consumed so far
        index = {c: header.index(c) for c in (*required, *optional) if c in header}
        for fields in rows:
            where = _row_where(Where(path, start + 1), fields, index[required[0]])
            start = rows.line_num
            check_columns(fields, header, where, "comma")
            yield where, {c: fields[i] for c, i in index.items()}
    except csv.Error as e:
        raise Where(path, rows.line_num).error(f"malformed CSV: {e}") from None


def _choices(where: Where, values: list, n: int, field: str) -> tuple[str, ...]:
    if len(values) != n:
        raise where.error(f"expected {n} choices, found {len(values)}", field)
    for value in values:
        if not isinstance(value, str):
            raise where.error(f"expected text choices, found {type(value).__name__}", field)
    return tuple(values)
