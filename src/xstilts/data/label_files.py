"""Readers of the label-folder files XTREME's evaluate.py scores, validating as they read.

The label folder holds ``<task>/test-<lang>.<ext>`` for the gold labels and, in the same
formats, for a system's predictions:

* one label per line (XNLI, PAWS-X) — :func:`read_labels`; one sentence index per line
  (Tatoeba) — :func:`read_indices`;
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
it as a plain wrong answer), naming its line; :func:`check_indices` and :func:`check_pairs` do the
same for Tatoeba's sentence indices and BUCC's sentence ids, and :func:`check_last_line` tells a
file cut off inside its last line from a hand-written one without a final newline.

Also here, for :func:`xstilts.metrics.bucc.bucc_eval`: the BUCC candidate file written by
margin-based mining (:func:`read_bucc_candidates`) and a text/id file pair
(:func:`read_bucc_sentences`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from xstilts.data.readers._io import (
    Where,
    check_columns,
    json_key_before,
    load_json,
    read_lines,
    read_text,
    split_lines,
)
from xstilts.errors import DataError

_PAIR_COLUMNS = ("src_id", "trg_id")
_CANDIDATE_COLUMNS = ("score", "src_sentence", "trg_sentence")


@dataclass(frozen=True)
class LabelFile:
    """A parsed label file: ``items`` as evaluate.py reads them, and where each item starts.

    ``lines[i]`` is the 1-based line of item ``i`` (a sentence's first tag); ``n_lines`` is the
    number of lines in the file. Both are empty/0 for JSON files and in-memory data.
    ``unterminated``: the last line has content but no newline — a hand-written file, or one cut
    off inside its last line (:func:`check_last_line` tells which where the content can).
    """

    path: Path | None
    items: Any
    lines: list[int] = field(default_factory=list)
    n_lines: int = 0
    unterminated: bool = False

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
    return Where(f.path, record=f"sentence {i + 1}, tag {j + 1}" if field == "tag" else f"{field} {i + 1}")


def check_last_line(f: LabelFile, complete: Callable[[str], bool], field: str, why: str, *,
                    decidable: bool = True) -> None:
    """A last line without newline is an error unless its value is ``complete`` (for its format).

    A file cut off inside its last line keeps its line count, so the pairing check cannot see
    it; a hand-written file often lacks the final newline too. So the content decides where it
    can: a closed label set (XNLI, PAWS-X, UD-POS, PAN-X: no label is a prefix of another), a
    one-character value (nothing shorter is a value), a BUCC id shaped like the gold's ids. Where
    it cannot (a Tatoeba index cut short, ``998`` → ``99``, is still an index) the missing
    newline alone is the error (``decidable=False``: the file *may* be cut off); ``why`` says which.
    Nothing to check for in-memory data.
    """
    if not f.unterminated or not f.items:
        return
    value = f.items[-1][-1] if field == "tag" else f.items[-1]
    if not complete(value):
        raise _cut_off(f, f"the last line {value!r} has no newline and {why}", field, decidable)


def _cut_off(f: LabelFile, message: str, field: str, decidable: bool) -> DataError:
    return DataError(f.path, f"{message}: the file {'looks' if decidable else 'may be'} cut off (if it is complete, "
                     "end it with a newline)", line=f.n_lines, field=field)


_INDEX = re.compile(r"0|[1-9][0-9]*")


def check_indices(f: LabelFile, n_sentences: int | None = None, source: str | None = None) -> None:
    """Every item of ``f`` is a sentence index: a whole number in decimal, without sign or leading
    zeros (evaluate.py compares the text, so ``07`` would never equal ``7``), below ``n_sentences``
    when that is known (``source`` then says where it comes from). The first bad one is a
    DataError naming its line and the value.
    """
    for i, value in enumerate(f.items):
        where = _item_where(f, i, 0, "index")
        if not isinstance(value, str) or not _INDEX.fullmatch(value):
            hint = ""
            if isinstance(value, str) and value[:1] == "-" and value[1:].isdigit():
                hint = "; an index is never negative"
            elif isinstance(value, str) and value.isdigit():
                hint = ("; it has a leading zero, and evaluate.py compares the text, so it would never equal "
                        f"{str(int(value))!r}")
            elif isinstance(value, int) and not isinstance(value, bool):
                hint = f"; pass the text a file holds ({str(value)!r}): evaluate.py compares text"
            raise where.error(f"expected a sentence index (0, 1, 2, ...), found {value!r}{hint}", "index")
        if n_sentences is not None and int(value) >= n_sentences:
            raise where.error(f"sentence index {value} is out of range 0-{n_sentences - 1}"
                              + (f" ({source})" if source else ""), "index")


_ID_SHAPE = re.compile(r"(.*?)([0-9]+)")


def _id_shape(id_: str) -> tuple[str, int] | None:
    match = _ID_SHAPE.fullmatch(id_)
    return (match.group(1), len(match.group(2))) if match else None


def pair_id_shapes(gold: LabelFile) -> tuple[tuple[str, int] | None, ...]:
    """Per column, the shape ``(prefix, digits)`` every gold id has (BUCC: ``de-`` and 9 digits), or None.

    A BUCC sentence pool numbers its sentences ``<lang>-<9 digits>``, so an id of another shape
    (swapped columns, another language, a word, an id cut short) cannot be in the pool; a column
    whose gold ids do not share one shape gives no such rule.
    """
    shapes = []
    for c in range(len(_PAIR_COLUMNS)):
        columns = (_split_pair(line) for line in gold.items)
        seen = {_id_shape(fields[c]) if len(fields) > c else None for fields in columns}
        shapes.append(seen.pop() if len(seen) == 1 else None)
    return tuple(shapes)


def _split_pair(line: Any) -> list[str]:
    return line.split("\t") if isinstance(line, str) else [line]


def check_pairs(f: LabelFile, shapes: Sequence[tuple[str, int] | None] = (None, None),
                gold: str | None = None) -> None:
    """Every item is ``src_id<TAB>trg_id`` with ids that could be in the sentence pools.

    An id must be non-empty without whitespace around it (evaluate.py splits on the tab only, so
    ``de-1 `` never equals ``de-1``), and of the column's gold shape (:func:`pair_id_shapes`). The
    error names the first bad pair's line and column, and counts the pairs with an id of the wrong
    shape. A last line without newline must be a pair of complete ids (:func:`check_last_line`).
    """
    bad: list[tuple[int, int, str]] = []
    for i, line in enumerate(f.items):
        where = _item_where(f, i, 0, "pair")
        fields = _split_pair(line)
        check_columns(fields, _PAIR_COLUMNS, where)
        first_bad = None
        for c, (name, id_, shape) in enumerate(zip(_PAIR_COLUMNS, fields, shapes)):
            if not id_ or id_ != id_.strip():
                raise where.error(f"{name} {id_!r} is empty or has whitespace around it (evaluate.py splits on the "
                                  "tab only, so it would never equal a gold id)", name)
            if first_bad is None and shape is not None and _id_shape(id_) != shape:
                first_bad = (i, c, id_)
        if first_bad is not None:
            bad.append(first_bad)
    if f.unterminated and f.items:
        last = len(f.items) - 1
        wrong = [b for b in bad if b[0] == last]
        if wrong or None in shapes:
            c = wrong[0][1] if wrong else shapes.index(None)
            why = (f"its {_PAIR_COLUMNS[c]} is not shaped like the gold file's ({_shape_text(shapes[c])})" if wrong
                   else f"a {_PAIR_COLUMNS[c]} cut short cannot be told from a complete one (the gold's ids do not "
                   "share one shape)")
            raise _cut_off(f, f"the last line {f.items[-1]!r} has no newline and {why}", _PAIR_COLUMNS[c], bool(wrong))
    if bad:
        i, c, id_ = bad[0]
        name = _PAIR_COLUMNS[c]
        first = ", ".join(repr(b[2]) for b in bad[:3])
        of = f" of the gold file {gold}" if gold else " of the gold pairs"
        raise _item_where(f, i, 0, "pair").error(
            f"{'1 pair names an id' if len(bad) == 1 else f'{len(bad)} pairs name ids'} that cannot be in the "
            "sentence pools: "
            f"every {name}{of} is {_shape_text(shapes[c])} (first: {first})", name)


def _shape_text(shape: tuple[str, int] | None) -> str:
    if shape is None:
        return "of no one shape"
    prefix, digits = shape
    return f"{prefix!r} and {digits} digits" if prefix else f"{digits} digits"


def read_labels(path: str | Path) -> LabelFile:
    """One label per line, stripped (evaluate.py ``read_label``); blank or multi-column lines are errors."""
    return _read_values(path, "label")


def read_indices(path: str | Path) -> LabelFile:
    """One Tatoeba sentence index per line, as text: :func:`read_labels`, with ``index`` as the field.

    Whether each line is an index in range is :func:`check_indices`'s job (the range comes from the gold).
    """
    return _read_values(path, "index")


def _read_values(path: str | Path, field: str) -> LabelFile:
    path = Path(path)
    lines, unterminated = _read_lines(path, (field,))
    values = []
    for number, raw in enumerate(lines, start=1):
        value = raw.strip()
        where = Where(path, number)
        if not value:
            raise where.error(f"blank line where a {field} was expected (evaluate.py would score it as the {field} '')")
        check_columns(value.split("\t"), (field,), where)
        values.append(value)
    return LabelFile(path, values, list(range(1, len(values) + 1)), len(lines), unterminated)


def _read_lines(path: Path, columns: Sequence[str]) -> tuple[list[str], bool]:
    """The file's lines (as :func:`~xstilts.data.readers._io.read_lines` reads them) and whether
    the last one, not blank, lacks its newline."""
    text = read_text(path, columns)
    lines = split_lines(text)
    return lines, bool(lines) and not text.endswith("\n") and bool(lines[-1].strip())


def read_tags(path: str | Path) -> LabelFile:
    """Sentences of tags, one tag per line and a blank line after each (evaluate.py ``read_tag``).

    A blank line that would end an empty sentence (two in a row, or one at the start) is an
    error: evaluate.py would read an empty sentence there and shift every later one.
    """
    path = Path(path)
    lines, unterminated = _read_lines(path, ("tag",))
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
    return LabelFile(path, sentences, starts, len(lines), unterminated)


def read_pairs(path: str | Path) -> LabelFile:
    """``src_id<TAB>trg_id`` lines, stripped (evaluate.py reads BUCC files with ``read_label``)."""
    path = Path(path)
    lines, unterminated = _read_lines(path, _PAIR_COLUMNS)
    pairs = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        where = Where(path, number)
        if not line:
            raise where.error("blank line where a 'src_id<TAB>trg_id' pair was expected")
        check_columns(line.split("\t"), _PAIR_COLUMNS, where)
        pairs.append(line)
    return LabelFile(path, pairs, list(range(1, len(pairs) + 1)), len(lines), unterminated)


def read_squad_gold(path: str | Path) -> LabelFile:
    """A SQuAD-format gold file; ``items`` is its ``data`` list (evaluate.py ``read_squad``).

    Checked: articles → ``paragraphs`` → ``qas`` with a string ``id`` (unique) and ``answers``, a
    list of objects with a string ``text``. A question may have no answers (SQuAD v2.0).
    """
    path = Path(path)
    doc = _load_json(path)
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
    """A SQuAD-format prediction file: a JSON object mapping question id → answer text (not empty)."""
    path = Path(path)
    doc = _load_json(path)
    where = Where(path)
    if doc == {} or doc == []:
        raise where.error(f"no predictions in {path}: the file holds {json.dumps(doc)}")
    if not isinstance(doc, dict):
        raise where.error(f"expected a JSON object mapping question id to answer, found {type(doc).__name__}")
    if isinstance(doc.get("data"), list):
        raise where.error("this is a gold file; predictions map question id to answer text", "data")
    for qid, answer in doc.items():
        if not isinstance(answer, str):
            raise where.at(record=qid).error(f"expected the answer text, found {type(answer).__name__} {answer!r}",
                                             "answer")
    return LabelFile(path, doc)


def _load_json(path: Path) -> Any:
    """:func:`~xstilts.data.readers._io.load_json`, saying so when the text ends before the document.

    A JSON document cut off anywhere never parses (its closing brace is gone), so truncation is
    always an error; it is named as such when the parser ran out of text: the error sits at the
    end, or a string opened there never closes (nothing after an unclosed string could close the
    document either).
    """
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        message = f"invalid JSON: {e.msg} (column {e.colno})"
        if not text[e.pos:].strip() or e.msg.startswith("Unterminated string"):
            message += "; the file ends before the JSON document does: it looks cut off"
        raise DataError(path, message, line=e.lineno, field=json_key_before(text[:e.pos])) from None
    except RecursionError:  # nested too deeply for the parser: load_json's own error for it
        return load_json(path)


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
