"""Shared plumbing for the file readers: bytes → text → lines/records, each step saying *where*.

Every reader goes through these helpers so a malformed file fails the same way everywhere: a
:class:`~xstilts.errors.DataError` naming the file, the 1-based line (or the record id) and the
field. What lives here:

* :func:`read_text` / :func:`read_lines` — strict UTF-8 decoding (the line and field of the first
  bad byte are reported), empty files rejected, line numbers preserved;
* :func:`load_json` / :func:`iter_jsonl` — JSON with the parser's line/column in the error and, as
  the field, the last key before the error;
* :func:`split_tsv` — tab-separated lines with a column-count check;
* :class:`Where` — a position in a file, with helpers to fetch typed fields and check labels;
* :class:`Examples` — the list a reader returns, carrying counts of rows excluded by a documented
  rule (SNLI's no-consensus pairs), so exclusions are visible rather than silent.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from xstilts.errors import DataError

log = logging.getLogger("xstilts.data.readers")


class Examples(list):
    """A reader's result: a plain list of examples plus ``excluded`` — rule name → rows dropped.

    Readers only ever drop rows under a rule written in their docstring (e.g. SNLI's ``"-"`` gold
    label); the count is kept here and logged, so a caller can report it.
    """

    def __init__(self, items=(), excluded: Mapping[str, int] | None = None):
        super().__init__(items)
        self.excluded: dict[str, int] = dict(excluded or {})

    def exclude(self, rule: str, count: int = 1) -> None:
        self.excluded[rule] = self.excluded.get(rule, 0) + count

    def log_exclusions(self, source: str | Path) -> None:
        for rule, count in self.excluded.items():
            log.info("%s: excluded %d rows (%s)", source, count, rule)


@dataclass(frozen=True)
class Where:
    """A position in a source — file (or hub dataset), line, record id — that raises precise errors."""

    path: str | Path | None
    line: int | None = None
    record: str | None = None

    def error(self, message: str, field: str | None = None) -> DataError:
        return DataError(self.path, message, line=self.line, record=self.record, field=field)

    def at(self, *, line: int | None = None, record: str | None = None) -> "Where":
        return Where(self.path, line if line is not None else self.line,
                     record if record is not None else self.record)

    def get(self, obj: Any, name: str, kind: type | tuple[type, ...] = str, *, optional: bool = False,
            field: str | None = None) -> Any:
        """``obj[name]`` checked to be a ``kind``; missing or mistyped → DataError naming the field.

        ``field`` is the name used in the error (e.g. ``question.stem`` for a nested key).
        """
        field = field or name
        if not isinstance(obj, Mapping):
            raise self.error(f"expected a JSON object, found {type(obj).__name__}", field)
        if name not in obj or obj[name] is None:
            if optional:
                return None
            raise self.error("missing required field", field)
        value = obj[name]
        # bool is an int in Python; a JSON true is never a valid offset or label index.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            expected = " or ".join(k.__name__ for k in _as_tuple(kind))
            raise self.error(f"expected {expected}, found {type(value).__name__} {value!r}", field)
        return value

    def label(self, value: str, labels: Sequence[str] | None, field: str = "label") -> str:
        """``value`` if it belongs to the task's label set (any value when the task declares none).

        The one label-set check every reader uses, so an unknown label reads the same everywhere.
        """
        if labels is not None and value not in labels:
            raise self.error(f"unknown label {value!r} (expected one of {', '.join(labels)})"
                             f"{_class_index_hint(value, labels)}", field)
        return value


def _class_index_hint(value: object, labels: Sequence[str]) -> str:
    """A hint when ``value`` looks like a class id in a task whose labels are names (0/1/2 for NLI)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and not any(
            label.isdigit() for label in labels):
        return "; this looks like a class index, but the task's labels are names"
    return ""


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def read_text(path: str | Path, columns: Sequence[str] | None = None) -> str:
    """The whole file as text: strict UTF-8 (a leading BOM is dropped), never empty.

    ``columns`` names the tab-separated fields of a line-based file, so that an undecodable byte
    can be reported with its field; otherwise the JSON key before it is named, if there is one.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "expected a file, found a directory") from None
    if not data.strip():
        # An empty data file is a truncated download or a wrong path, never a valid split.
        raise DataError(path, "file is empty (no line 1)", line=1, field=columns[0] if columns else None)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        before = data[line_start:e.start].decode("utf-8", errors="replace")
        if columns is not None:
            k = before.count("\t")
            field = columns[k] if k < len(columns) else f"column {k + 1}"
        else:
            field = json_key_before(data[:e.start].decode("utf-8", errors="replace"))
        bad = data[e.start:e.end].hex(" ")
        raise DataError(path, f"not valid UTF-8: byte(s) {bad} at character {len(before) + 1} of the "
                        f"line ({e.reason})", line=line, field=field) from None


_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


def json_key_before(text: str, window: int = 4000) -> str | None:
    """The last ``"key":`` in ``text`` (its tail only): the field a JSON error most likely sits in."""
    keys = _JSON_KEY.findall(text[-window:])
    return keys[-1] if keys else None


def split_lines(text: str) -> list[str]:
    """Lines without their terminator (``\\n`` or ``\\r\\n``); no phantom line after a final newline.

    ``str.splitlines`` is not used on purpose: it also breaks on U+2028, U+0085 and friends,
    which occur inside real sentences and would shift every later line number.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(path: str | Path, columns: Sequence[str] | None = None) -> list[str]:
    """The file's lines (see :func:`split_lines`); ``lines[i]`` is line ``i + 1``."""
    return split_lines(read_text(path, columns))


def load_json(path: str | Path) -> Any:
    """A JSON document; a syntax error names its line and column."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno,
                        field=json_key_before(text[:e.pos])) from None
    except RecursionError:
        # The parser recurses per nesting level: a few thousand "[" must be a DataError as well,
        # not a RecursionError (found by tests/properties); name the line of the deepest level.
        raise DataError(path, "invalid JSON: nested too deeply to parse",
                        line=_deepest_line(text)) from None


def _deepest_line(text: str) -> int:
    """The 1-based line where ``[``/``{`` nesting (outside strings) is deepest."""
    depth = best = 0
    line = best_line = 1
    in_string = escaped = False
    for ch in text:
        if ch == "\n":
            line += 1
        elif in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif ch in "]}":
            depth -= 1
    return best_line


def iter_jsonl(path: str | Path) -> Iterator[tuple[Where, dict]]:
    """``(where, object)`` for each non-blank line of a JSON-lines file; each line must be an object."""
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue  # blank lines are not records (a trailing one is common)
        where = Where(path, number)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise where.error(f"invalid JSON: {e.msg} (column {e.colno})",
                              json_key_before(line[:e.pos])) from None
        except RecursionError:  # see load_json
            raise where.error("invalid JSON: nested too deeply to parse") from None
        if not isinstance(obj, dict):
            raise where.error(f"expected a JSON object per line, found {type(obj).__name__}")
        yield where, obj


def split_tsv(line: str, columns: Sequence[str], where: Where) -> list[str]:
    """``line`` split on tabs into exactly ``len(columns)`` fields (no quote processing).

    A wrong count names the first missing column, or says how many extra ones there are.
    """
    fields = line.split("\t")
    check_columns(fields, columns, where)
    return fields


def check_columns(fields: Sequence[str], columns: Sequence[str], where: Where, sep: str = "tab") -> None:
    """``len(fields) == len(columns)``, else a DataError naming the first missing (or extra) column."""
    if len(fields) == len(columns):
        return
    expected = f"expected {len(columns)} {sep}-separated column(s) ({', '.join(columns)}), found {len(fields)}"
    if len(fields) < len(columns):
        raise where.error(expected, columns[len(fields)])
    raise where.error(expected, f"column {len(columns) + 1}")


def count_mismatch(data: str | Path, n_data: int, gold: str | Path, n_gold: int, what: str,
                   field: str = "label") -> DataError:
    """The error for a gold file whose entries do not pair 1:1 with the data file's."""
    return DataError(gold, f"{n_gold} {what} in the gold file but {n_data} in the data file {data}",
                     line=min(n_data, n_gold) + 1, field=field)
