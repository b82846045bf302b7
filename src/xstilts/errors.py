"""Error types shared by every layer.

A :class:`DataError` always says *where*: the file, the line or record id, and the field, so a
researcher can open the file and fix it. Nothing is skipped silently: readers raise instead.
"""

from __future__ import annotations

import difflib
from pathlib import Path


class XstiltsError(Exception):
    """Base class for every error xstilts raises on purpose (the CLI prints these without a traceback)."""


class DataError(XstiltsError, ValueError):
    """Malformed input: names the file, the line (1-based) or record id, and the field."""

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        record: str | None = None,
        field: str | None = None,
    ):
        self.path = None if path is None else str(path)
        self.line = line
        self.record = record
        self.field = field
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where += f":{line}"
        parts = [where]
        if record is not None:
            parts.append(f"record {record!r}")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(": ".join(parts) + ": " + message)


class UnknownNameError(XstiltsError, KeyError):
    """An unknown task/format/metric/reader name, with "did you mean" suggestions."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        msg = f"unknown {kind} {name!r}{hint} (known: {', '.join(self.known)})"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


class ConfigError(XstiltsError, ValueError):
    """An invalid setting (config file, CLI option, environment variable)."""
