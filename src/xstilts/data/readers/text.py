"""Raw text for masked language modelling (``text_lines``).

One document or sentence per line. Blank (or whitespace-only) lines are separators, never
examples; every other line becomes one :class:`TextExample`, its text kept as written (without the
line terminator). Line numbers are not part of the id, so ids stay dense: ``<split>-<lang>-<n>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xstilts.data.examples import TextExample
from xstilts.data.readers import reader
from xstilts.data.readers._io import read_lines


@reader("text_lines")
def read_text_lines(paths: Sequence[Path], *, gold: Path | None = None, language: str, split: str,
                    labels: Sequence[str] | None = None) -> list[TextExample]:
    out = []
    for path in paths:
        for line in read_lines(path, ("text",)):
            if line.strip():
                out.append(TextExample(f"{split}-{language}-{len(out)}", line))
    return out
