"""The append-only results table (``results.jsonl``): one tidy row per
run × phase × task × language × split × bucket × metric.

Rows are appended with one ``write`` on a file opened in append mode under an exclusive lock, so
concurrent runs (local processes, Slurm array jobs on a shared file system) never interleave
half-lines. Nothing is ever rewritten; readers take the last row of a key if a phase was re-run.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from xstilts import __version__

ROW_FIELDS = (
    "run_id", "config_hash", "phase", "intermediate", "intermediate_max_len", "compute_policy", "target", "task",
    "language", "split", "bucket", "metric", "value", "n", "seed", "higher_is_better",
    "xstilts_version", "git_sha",
)
# ``intermediate`` is part of the key: one run scores retrieval before and after intermediate training.
KEY_FIELDS = ("run_id", "phase", "intermediate", "task", "language", "split", "bucket", "metric")
LOWER_IS_BETTER = {"loss", "perplexity", "threshold", "share_truncated", "answers_lost"}


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The commit of the xstilts checkout that produced a row (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def make_row(**fields) -> dict:
    row = {"bucket": "all", "compute_policy": None, "xstilts_version": __version__, "git_sha": git_sha(),
           "higher_is_better": fields.get("metric") not in LOWER_IS_BETTER, **fields}
    missing = [f for f in ROW_FIELDS if f not in row]
    if missing:
        raise ValueError(f"result row lacks {missing}")
    return {f: row[f] for f in ROW_FIELDS}


def append_rows(path: str | Path, rows: Iterable[dict]) -> None:
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows)
    if not payload:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(payload)
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def row_key(row: dict) -> tuple:
    """The identity of a result: rows with the same key are re-runs of one measurement."""
    return tuple(json.dumps(row.get(k)) for k in KEY_FIELDS)


def read_rows(path: str | Path) -> Iterator[dict]:
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def latest_rows(path: str | Path) -> list[dict]:
    """Rows with re-runs collapsed: the last row of each key wins."""
    latest: dict[tuple, dict] = {}
    for row in read_rows(path):
        latest[row_key(row)] = row
    return list(latest.values())
