"""XTREME's own tab-separated files in ``download/``: sentence pairs and token-per-line tagging.

``xtreme_pair_tsv`` (XNLI, PAWS-X): one example per line, ``sentence1<TAB>sentence2<TAB>label``,
written by XTREME's ``utils_preprocess`` with ``csv.writer(delimiter='\\t')``. That writer *quotes*
a field holding a double quote (``"Die ""IPA"" besteht …"``), so each line is decoded as one CSV
record with the same dialect, which gives back the original sentence. (XTREME's own processors read
these files with ``csv.reader(quotechar=None)`` and so feed the quoting characters to the model;
we do not copy that artefact.) Test files have no label column: labels then come from the gold
file ``labels/<task>/test-<lang>.tsv``, one label per line, in the same order.

``xtreme_conll_tsv`` (UD-POS, PAN-X): ``token<TAB>tag`` per line, a blank line between sentences.
Test files hold the tokens only; the tags come from the gold file in the label-folder layout
(evaluate.py's ``read_tag``): one tag per line, aligned 1:1 with the token lines, blank lines at the
same places.

Both check every label/tag against the task's label set; any mismatch between a data file and its
gold file (count, alignment, disagreeing labels) is an error naming both files and the line.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from xstilts.data.examples import ClassificationExample, TaggingExample
from xstilts.data.readers import reader
from xstilts.data.readers._io import Where, check_columns, count_mismatch, read_lines
from xstilts.errors import DataError

PAIR_COLUMNS = ("sentence1", "sentence2", "label")
TAG_COLUMNS = ("token", "tag")


@reader("xtreme_pair_tsv")
def read_pair_tsv(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                  labels: Sequence[str] | None = None) -> list[ClassificationExample]:
    """Sentence pairs with a string label (``None`` for a test file read without its gold file)."""
    rows: list[tuple[Path, int, str, str, str | None]] = []  # (file, line, sentence1, sentence2, label)
    for path in paths:
        rows.extend(_pair_rows(path, split, labels))
    if gold is not None:
        gold_labels = _gold_labels(gold, labels)
        if len(gold_labels) != len(rows):
            raise count_mismatch(", ".join(str(p) for p in paths), len(rows), gold, len(gold_labels), "labels")
        for k, ((path, number, _, _, own), label) in enumerate(zip(rows, gold_labels)):
            if own is not None and own != label:
                raise Where(gold, k + 1).error(f"gold label {label!r} disagrees with {own!r} at "
                                               f"{path}:{number}", "label")
        rows = [(path, number, a, b, label) for (path, number, a, b, _), label in zip(rows, gold_labels)]
    return [ClassificationExample(f"{split}-{language}-{i}", a, b, label)
            for i, (_, _, a, b, label) in enumerate(rows)]


def _pair_rows(path: Path, split: str, labels: Sequence[str] | None):
    # Train and dev files always carry the label column (XTREME writes it); only test may lack it.
    allowed = (2, 3) if split == "test" else (3,)
    width = None
    # Where objects are built only on errors: XNLI's train file has 392k lines.
    for number, line in enumerate(read_lines(path, PAIR_COLUMNS), start=1):
        # csv.reader gives the same as split for a line without quotes, ten times slower.
        fields = line.split("\t") if '"' not in line else _unquote(line, Where(path, number))
        # All rows of one file have the same width; the first row decides which of the allowed.
        width = width or (len(fields) if len(fields) in allowed else max(allowed))
        if len(fields) != width:
            check_columns(fields, PAIR_COLUMNS[:width], Where(path, number))
        label = fields[2] if width == 3 else None
        if label is not None and labels is not None and label not in labels:
            Where(path, number).label(label, labels)
        yield path, number, fields[0], fields[1], label


def _unquote(line: str, where: Where) -> list[str]:
    """One line as the csv.writer(delimiter='\\t') record it was written as."""
    try:
        return next(csv.reader([line], delimiter="\t", strict=True), [])
    except csv.Error as e:
        # Name the field of the first quote: the quoting that went wrong starts there.
        k = line[:line.index('"')].count("\t")
        raise where.error(f"malformed CSV quoting: {e}",
                          PAIR_COLUMNS[k] if k < len(PAIR_COLUMNS) else f"column {k + 1}") from None


def _gold_labels(gold: Path, labels: Sequence[str] | None) -> list[str]:
    lines = read_lines(gold, ("label",))
    for number, line in enumerate(lines, start=1):
        Where(gold, number).label(line, labels)
    return lines


@reader("xtreme_conll_tsv")
def read_conll_tsv(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                   labels: Sequence[str] | None = None) -> list[TaggingExample]:
    """Pre-tokenized sentences with one tag per token (``tags is None`` for unlabelled test files)."""
    if gold is not None and len(paths) != 1:
        raise DataError(gold, f"a tag gold file pairs with exactly one data file, got {len(paths)}")
    sentences: list[tuple[list[str], list[str] | None]] = []
    for path in paths:
        lines = read_lines(path, TAG_COLUMNS)
        if gold is not None:
            # Tags come from the gold file: attach them line by line before splitting sentences.
            lines = _merge_gold(path, lines, gold, labels)
        sentences.extend(_sentences(path, lines, split, labels))
    return [TaggingExample(f"{split}-{language}-{i}", tuple(tokens), None if tags is None else tuple(tags))
            for i, (tokens, tags) in enumerate(sentences)]


def _sentences(path: Path, lines: list[str], split: str, labels: Sequence[str] | None):
    allowed = (1, 2) if split == "test" else (2,)
    width = None
    tokens: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(lines + [""], start=1):  # the sentinel closes the last sentence
        if not line.strip():
            if tokens:
                yield tokens, (tags if width == 2 else None)
            tokens, tags = [], []
            continue
        fields = line.split("\t")
        width = width or (len(fields) if len(fields) in allowed else max(allowed))
        # Where objects are built only on errors (a train file has ~200k token lines).
        if len(fields) != width:
            check_columns(fields, TAG_COLUMNS[:width], Where(path, number))
        if not fields[0].strip():
            raise Where(path, number).error("empty token", "token")
        tokens.append(fields[0])
        if width == 2:
            if labels is not None and fields[1] not in labels:
                Where(path, number).label(fields[1], labels, "tag")
            tags.append(fields[1])


def _merge_gold(path: Path, lines: list[str], gold: Path, labels: Sequence[str] | None) -> list[str]:
    """The data lines as ``token<TAB>tag``, tags taken from ``gold`` (aligned 1:1, blanks included)."""
    gold_lines = read_lines(gold, ("tag",))
    # Trailing blank lines carry nothing; evaluate.py's read_tag ignores them as well.
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while gold_lines and not gold_lines[-1].strip():
        gold_lines = gold_lines[:-1]
    merged = []
    for number, (line, tag) in enumerate(zip(lines, gold_lines), start=1):
        blank, gold_blank = not line.strip(), not tag.strip()
        if blank != gold_blank:
            side = "the data file has a sentence break" if blank else "the gold file has a sentence break"
            raise Where(gold, number).error(f"not aligned with {path}:{number}: {side} here", "tag")
        if blank:
            merged.append("")
            continue
        where = Where(gold, number)
        tag = where.label(tag, labels, "tag")
        fields = line.split("\t")
        if len(fields) == 2 and fields[1] != tag:
            raise where.error(f"gold tag {tag!r} disagrees with {fields[1]!r} at {path}:{number}", "tag")
        merged.append(f"{fields[0]}\t{tag}" if len(fields) <= 2 else line)
    if len(lines) != len(gold_lines):
        raise count_mismatch(path, len(lines), gold, len(gold_lines), "lines", field="tag")
    return merged

