"""Readers of the label-folder files XTREME's evaluate.py scores, validating as they read.

The label folder holds ``<task>/test-<lang>.<ext>`` for the gold labels and, in the same
formats, for a system's predictions:

* one label per line (XNLI, PAWS-X, Tatoeba) — :func:`read_labels`;
* one tag per line, a blank line after each sentence (UD-POS, PAN-X) — :func:`read_tags`;
* SQuAD JSON (XQuAD, MLQA, TyDiQA): gold ``{"data": [...]}`` — :func:`read_squad_gold`,
  predictions ``{question_id: answer}`` — :func:`read_squad_predictions`;
* ``src_id<TAB>trg_id`` lines (BUCC 2018) — :func:`read_pairs`.

Each reader returns what evaluate.py's reader returns (lines stripped, as there) inside a
:class:`LabelFile` that also remembers where every item starts, so a later mismatch can name a
line. Where evaluate.py would silently read nonsense or crash, these raise a
:class:`~xstilts.errors.DataError` naming the file, the line or record, and the field: bytes that
are not UTF-8, an empty file, bad JSON, a blank or multi-column line, an empty sentence.
:func:`check_labels` rejects a label or tag outside the task's label set (evaluate.py would score
it as a plain wrong answer), naming its line.

Also here, for :func:`xstilts.metrics.bucc.bucc_eval`: the BUCC candidate file written by
margin-based mining (:func:`read_bucc_candidates`) and a text/id file pair
(:func:`read_bucc_sentences`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from xstilts.data.readers._io import Where, check_columns, load_json, read_lines
from xstilts.errors import DataError

_PAIR_COLUMNS = ("src_id", "trg_id")
_CANDIDATE_COLUMNS = ("score", "src_sentence", "trg_sentence")


@dataclass(frozen=True)
class LabelFile:
    """A parsed label file: ``items`` as evaluate.py reads them, and where each item starts.

    ``lines[i]`` is the 1-based line of item ``i`` (a sentence's first tag); ``n_lines`` is the
    number of lines in the file. Both are empty/0 for JSON files and in-memory data.
    """

    path: Path | None
    items: Any
    lines: list[int] = field(default_factory=list)
    n_lines: int = 0

    def line_of(self, index: int) -> int | None:
        """The line of item ``index``; one past the end for the item after the last."""
        if not self.lines:
            return None
        return self.lines[index] if index < len(self.lines) else self.n_lines + 1


def check_labels(f: LabelFile, labels: Sequence[str] | None, field: str = "label") -> None:
    """Every label of ``f`` — every tag of every sentence when ``field`` is ``"tag"`` — is in ``labels``.

    The first one outside is a DataError naming its line (the item, ``label 3`` or
    ``sentence 2, tag 1``, for in-memory data) and the value. ``labels=None``: no closed set.
    """
    if labels is None:
        return
    for i, item in enumerate(f.items):
        for j, value in enumerate(item if field == "tag" else (item,)):
            if value not in labels:
                _item_where(f, i, j, field).label(value, labels, field)


def _item_where(f: LabelFile, i: int, j: int, field: str) -> Where:
    """Where item ``i`` (tag ``j`` of sentence ``i``) is: a sentence's tags are consecutive lines."""
    if f.lines:
        return Where(f.path, f.lines[i] + j)
    return Where(f.path, record=f"sentence {i + 1}, tag {j + 1}" if field == "tag" else f"label {i + 1}")


def read_labels(path: str | Path) -> LabelFile:
    """One label per line, stripped (evaluate.py ``read_label``); blank or multi-column lines are errors."""
    path = Path(path)
    lines = read_lines(path, columns=("label",))
    labels = []
    for number, raw in enumerate(lines, start=1):
        label = raw.strip()
        where = Where(path, number)
        if not label:
            raise where.error("blank line where a label was expected (evaluate.py would score it as the label '')")
        check_columns(label.split("\t"), ("label",), where)
        labels.append(label)
    return LabelFile(path, labels, list(range(1, len(labels) + 1)), len(lines))


def read_tags(path: str | Path) -> LabelFile:
    """Sentences of tags, one tag per line and a blank line after each (evaluate.py ``read_tag``).

    A blank line that would end an empty sentence (two in a row, or one at the start) is an
    error: evaluate.py would read an empty sentence there and shift every later one.
    """
    path = Path(path)
    lines = read_lines(path, columns=("tag",))
    sentences: list[list[str]] = []
    starts: list[int] = []
    current: list[str] = []
    for number, raw in enumerate(lines, start=1):
        tag = raw.strip()
        where = Where(path, number)
        if not tag:
            if not current:
                raise where.error("empty sentence: a blank line must follow a sentence's last tag")
            sentences.append(current)
            current = []
            continue
        fields = tag.split()
        if len(fields) != 1:
            raise where.error(f"expected one tag per line, found {len(fields)} whitespace-separated fields",
                              "tag")
        if not current:
            starts.append(number)
        current.append(tag)
    if current:
        sentences.append(current)
    return LabelFile(path, sentences, starts, len(lines))


def read_pairs(path: str | Path) -> LabelFile:
    """``src_id<TAB>trg_id`` lines, stripped (evaluate.py reads BUCC files with ``read_label``)."""
    path = Path(path)
    lines = read_lines(path, columns=_PAIR_COLUMNS)
    pairs = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        where = Where(path, number)
        if not line:
            raise where.error("blank line where a 'src_id<TAB>trg_id' pair was expected")
        check_columns(line.split("\t"), _PAIR_COLUMNS, where)
        pairs.append(line)
    return LabelFile(path, pairs, list(range(1, len(pairs) + 1)), len(lines))


def read_squad_gold(path: str | Path) -> LabelFile:
    """A SQuAD-format gold file; ``items`` is its ``data`` list (evaluate.py ``read_squad``).

    Checked: articles → ``paragraphs`` → ``qas`` with a string ``id`` (unique) and ``answers``, a
    list of objects with a string ``text``. A question may have no answers (SQuAD v2.0).
    """
    path = Path(path)
    doc = load_json(path)
    where = Where(path)
    if not isinstance(doc, dict) or "data" not in doc:
        raise where.error("expected a SQuAD gold file, a JSON object with a 'data' list", "data")
    data = where.get(doc, "data", list)
    seen: set[str] = set()
    for a, article in enumerate(data):
        at = where.at(record=f"data[{a}]")
        for p, paragraph in enumerate(at.get(article, "paragraphs", list)):
            at = where.at(record=f"data[{a}].paragraphs[{p}]")
            for q, qa in enumerate(at.get(paragraph, "qas", list)):
                at = where.at(record=f"data[{a}].paragraphs[{p}].qas[{q}]")
                qid = at.get(qa, "id", str)
                at = where.at(record=qid)
                if qid in seen:
                    raise at.error("duplicate question id", "id")
                seen.add(qid)
                for i, answer in enumerate(at.get(qa, "answers", list)):
                    at.get(answer, "text", str, field=f"answers[{i}].text")
    if not seen:
        raise where.error("the file has no questions", "data")
    return LabelFile(path, data)


def read_squad_predictions(path: str | Path) -> LabelFile:
    """A SQuAD-format prediction file: a JSON object mapping question id → answer text."""
    path = Path(path)
    doc = load_json(path)
    where = Where(path)
    if not isinstance(doc, dict):
        raise where.error(f"expected a JSON object mapping question id to answer, found {type(doc).__name__}")
    if isinstance(doc.get("data"), list):
        raise where.error("this is a gold file; predictions map question id to answer text", "data")
    for qid, answer in doc.items():
        if not isinstance(answer, str):
            raise where.at(record=qid).error(f"expected the answer text, found {type(answer).__name__} {answer!r}",
                                             "answer")
    return LabelFile(path, doc)


def read_bucc_candidates(path: str | Path) -> list[tuple[float, str, str]]:
    """Candidate rows ``score<TAB>src_sentence<TAB>trg_sentence`` as mining writes them."""
    path = Path(path)
    rows = []
    for number, line in enumerate(read_lines(path, columns=_CANDIDATE_COLUMNS), start=1):
        where = Where(path, number)
        fields = line.split("\t")
        check_columns(fields, _CANDIDATE_COLUMNS, where)
        try:
            score = float(fields[0])
        except ValueError:
            raise where.error(f"expected a number, found {fields[0]!r}", "score") from None
        rows.append((score, fields[1], fields[2]))
    return rows


def read_bucc_sentences(text_path: str | Path, id_path: str | Path) -> list[tuple[str, str]]:
    """``(id, sentence)`` rows from a BUCC text file and its id file (line ``i`` ↔ line ``i``)."""
    sentences, ids = read_lines(text_path), read_lines(id_path)
    if len(sentences) != len(ids):
        raise DataError(id_path, f"{len(ids)} ids but {len(sentences)} sentences in {text_path}",
                        line=min(len(ids), len(sentences)) + 1)
    return list(zip(ids, sentences))
