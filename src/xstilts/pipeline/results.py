"""The append-only results table (``results.jsonl``): one tidy row per
run × phase × task × language × split × bucket × metric; ``example_scores.jsonl`` is written the same way.

**Writing** (:func:`append_rows`) is safe for many writers at once — local processes and threads,
and Slurm array jobs on several hosts sharing one NFS file system:

* The whole batch is encoded first and written with one ``os.write`` on an ``O_APPEND`` descriptor,
  while the writer holds an exclusive POSIX record lock (``fcntl.lockf``) on the file. ``flock`` is
  not used: on NFS it is either local to one host or emulated, whereas Linux maps POSIX record locks
  to NFS byte-range locks (NLM / NFSv4 locks) that the server arbitrates across hosts. Taking the
  lock also makes the NFS client revalidate its cached size, and releasing it flushes the write to
  the server, so the next writer appends after it. (``O_APPEND`` alone is atomic on a local file
  system only; NFS clients emulate it with "stat, then write at that offset", which races.)
* A short write (``os.write`` returning fewer bytes, as a full disk or a signal can cause) is
  continued while the lock is still held, so no other writer gets between the two halves of a
  line; if the rest cannot be written, the file is truncated back to its size before the batch, so
  a failed append leaves nothing behind (and raises).
* POSIX locks belong to a process, not to a thread, so threads of one process are serialised by
  an in-process lock as well.
* A writer killed in mid-append (possible where appends are not atomic) leaves a last line without
  its newline. The next writer, under the lock, cuts that torn tail off (with a warning) before it
  appends, so a good row never gets glued to it; a last line that is complete JSON but merely lacks
  its newline (an edit by hand) gets the newline instead.
* If the file system refuses locks (an NFS mount without a lock manager), the row batch is still
  written — one ``O_APPEND`` write, atomic on a local disk — after a warning.

Nothing is ever rewritten otherwise; readers take the last row of a key if a phase was re-run
(:func:`latest_rows`).

**Reading** (:func:`read_rows`) checks every line and raises :class:`~xstilts.errors.DataError`
naming the file, the line and what is wrong; the only line it skips (with a :class:`TornLineWarning`)
is a last line without a newline that does not parse, the trace of a writer killed in mid-append.
The reader takes a shared lock just long enough to learn the file's size, then reads up to it, so a
report built while runs are appending never sees half a batch.

:func:`load_results` (``xstilts results`` on the command line) returns the table as a
``pandas.DataFrame``, optionally filtered.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import subprocess
import threading
import warnings
from functools import lru_cache
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from xstilts import __version__
from xstilts.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas

ROW_FIELDS = (
    "run_id", "config_hash", "phase", "intermediate", "intermediate_max_len", "compute_policy", "target", "task",
    "language", "split", "bucket", "metric", "value", "n", "seed", "higher_is_better",
    "xstilts_version", "git_sha",
)
# ``intermediate`` is part of the key: one run scores retrieval before and after intermediate training.
KEY_FIELDS = ("run_id", "phase", "intermediate", "task", "language", "split", "bucket", "metric")
# Fields only some rows carry, part of the key where present: the retrieval sweep's rows (phase
# ``retrieval_sweep``) differ only in the hidden layer and pooling they score. A row without them
# has the key it always had.
EXTRA_KEY_FIELDS = ("layer", "pooling")
LOWER_IS_BETTER = {"loss", "perplexity", "threshold", "share_truncated", "answers_lost"}

# What :func:`read_rows` requires of a row, per kind of file.
REQUIRED_FIELDS = {
    "results": ("run_id", "metric", "value"),
    "examples": ("run_id", "metric", "example_id", "stats"),
    "any": (),
}


class TornLineWarning(UserWarning):
    """A last line without a newline that does not parse: a writer was killed in mid-append."""


class LockWarning(UserWarning):
    """The file system refused a POSIX lock; the append went ahead without one."""


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


# ------------------------------------------------------------------------------------------ writing

_THREAD_LOCK = threading.Lock()  # POSIX record locks do not exclude threads of one process
_LOCK_FAILURES = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def _lock(fd: int, kind: int, path: Path, *, warn: bool) -> bool:
    """Lock the whole file (POSIX record lock, ``len=0``: to the end and beyond); False where the file
    system has no locks."""
    try:
        fcntl.lockf(fd, kind)
        return True
    except OSError as err:
        if err.errno not in _LOCK_FAILURES:
            raise
        if warn:
            warnings.warn(f"{path}: the file system refused a lock ({os.strerror(err.errno)}); "
                          "appending without one", LockWarning, stacklevel=3)
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - a regular file reports an error instead
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[written:]


def _line_start(fd: int, end: int) -> int:
    """The offset just after the last newline before ``end`` (0 if there is none)."""
    pos = end
    while pos > 0:
        start = max(0, pos - 65536)
        chunk = os.pread(fd, pos - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def _mend_tail(fd: int, path: Path, size: int) -> bytes:
    """Under the writer's lock: make the file end with a newline before appending. Returns the bytes to
    put before the payload (a newline after a complete last line), after cutting off a torn one."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return b""
    start = _line_start(fd, size)
    tail = os.pread(fd, size - start, start)
    try:
        json.loads(tail)
        return b"\n"  # complete, just unterminated (an edit by hand): keep it
    except ValueError:
        pass
    warnings.warn(f"{path}:{_count_lines(fd, start) + 1}: cut off a torn last line ({size - start} bytes without "
                  "a newline, left by a writer killed in mid-append) before appending", TornLineWarning, stacklevel=3)
    os.ftruncate(fd, start)
    return b""


def _count_lines(fd: int, end: int) -> int:
    count, pos = 0, 0
    while pos < end:
        chunk = os.pread(fd, min(1 << 20, end - pos), pos)
        count += chunk.count(b"\n")
        pos += len(chunk)
    return count


def append_rows(path: str | Path, rows: Iterable[dict]) -> None:
    """Append ``rows`` as JSON lines: all or nothing, never interleaved with another writer's rows
    (see the module docstring for how)."""
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows).encode("utf-8")
    if not payload:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            locked = _lock(fd, fcntl.LOCK_EX, path, warn=True)
            try:
                size = os.fstat(fd).st_size
                data = payload
                if locked:  # without the lock another writer may be mid-append: leave the tail alone
                    data = _mend_tail(fd, path, size) + payload
                    size = os.fstat(fd).st_size
                try:
                    _write_all(fd, data)
                except BaseException:
                    if locked:  # take back the part that was written: no half line stays
                        try:
                            os.ftruncate(fd, size)
                        except OSError:  # pragma: no cover
                            pass
                    raise
                if locked:
                    os.fsync(fd)  # on the server before the next writer (any host) gets the lock
            finally:
                if locked:
                    fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------------------------ reading

def row_key(row: dict) -> tuple:
    """The identity of a result: rows with the same key are re-runs of one measurement."""
    key = tuple(json.dumps(row.get(k)) for k in KEY_FIELDS)
    return key + tuple(f"{k}={json.dumps(row[k])}" for k in EXTRA_KEY_FIELDS if k in row)


def _kind_of(path: Path) -> str:
    return "examples" if path.name.startswith("example_scores") else "results"


def _stable_size(f, path: Path) -> int:
    """The file's size at a moment when no cooperating writer is mid-append (a shared lock, held only
    for the ``fstat``); every byte before it is final, as nothing is rewritten."""
    fd = f.fileno()
    locked = _lock(fd, fcntl.LOCK_SH, path, warn=False)
    try:
        return os.fstat(fd).st_size
    finally:
        if locked:
            fcntl.lockf(fd, fcntl.LOCK_UN)


def _check(row, path: Path, lineno: int, required: tuple[str, ...]) -> dict:
    if not isinstance(row, dict):
        raise DataError(path, f"not a JSON object (a JSON {_json_type(row)})", line=lineno)
    record = row.get("run_id") if isinstance(row.get("run_id"), str) else None
    for name in required:
        if name not in row:
            raise DataError(path, f"missing (every row needs {', '.join(required)})", line=lineno, record=record,
                            field=name)
    if "value" in required:
        value = row["value"]
        if isinstance(value, bool) or not isinstance(value, Real):
            raise DataError(path, f"not a number: {value!r}", line=lineno, record=record, field="value")
    if "stats" in required and not isinstance(row["stats"], dict):
        raise DataError(path, f"not a JSON object: {row['stats']!r}", line=lineno, record=record, field="stats")
    return row


def _json_type(value) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def read_rows(path: str | Path, *, kind: str | None = None) -> Iterator[dict]:
    """The rows of a JSON-lines table as written (no file: none).

    ``kind`` says what a row must hold: ``"results"`` (``run_id``, ``metric``, a numeric ``value``),
    ``"examples"`` (``run_id``, ``metric``, ``example_id``, a ``stats`` object) or ``"any"`` (a JSON
    object); by default ``"examples"`` for ``example_scores*.jsonl`` and ``"results"`` otherwise.
    Raises :class:`DataError` (file, line, what is wrong) for a bad line; a last line without a newline
    that does not parse (a writer killed in mid-append) is skipped with a :class:`TornLineWarning`.
    """
    path = Path(path)
    kind = kind or _kind_of(path)
    if kind not in REQUIRED_FIELDS:
        raise ValueError(f"kind must be one of {sorted(REQUIRED_FIELDS)}, not {kind!r}")
    required = REQUIRED_FIELDS[kind]
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        size = _stable_size(f, path)
        consumed = 0
        for lineno, raw in enumerate(f, 1):
            if consumed + len(raw) > size:  # appended after we looked: not ours to read
                raw = raw[: size - consumed]
            consumed += len(raw)
            text = raw.strip()
            if text:
                try:
                    row = json.loads(text)
                except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
                    if not raw.endswith(b"\n") and consumed >= size:
                        warnings.warn(f"{path}:{lineno}: skipped a torn last line ({len(raw)} bytes without a "
                                      "newline that do not parse: a writer was killed in mid-append)",
                                      TornLineWarning, stacklevel=2)
                        return
                    detail = f"{err.msg} (column {err.colno})" if isinstance(err, json.JSONDecodeError) else str(err)
                    raise DataError(path, f"not valid JSON: {detail}", line=lineno) from None
                yield _check(row, path, lineno, required)
            if consumed >= size:
                return


def latest_rows(path: str | Path) -> list[dict]:
    """Rows with re-runs collapsed: the last row of each key wins."""
    latest: dict[tuple, dict] = {}
    for row in read_rows(path):
        latest[row_key(row)] = row
    return list(latest.values())


# ------------------------------------------------------------------------------------------ DataFrame

def _as_text(value) -> str:
    """How ``where`` sees a cell: ``None`` is empty, an intermediate list is '+'-joined, booleans are
    lower case, whole floats drop their ``.0`` (so ``intermediate_max_len=128`` matches 128 and 128.0)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _results_file(out_dir_or_file: str | Path) -> Path:
    p = Path(out_dir_or_file)
    if p.is_dir():
        f = p / "results.jsonl"
        if not f.is_file():
            raise DataError(p, "no results.jsonl in this folder (expected the --out folder of `xstilts run` "
                               "or `xstilts study`)")
        return f
    if not p.exists():
        raise DataError(p, "no such file or directory (expected a run output folder or its results.jsonl)")
    return p


def load_results(out_dir_or_file: str | Path, where: dict[str, object] | None = None,
                 latest: bool = True) -> "pandas.DataFrame":
    """The results table of a run folder (``DIR/results.jsonl``) or of a ``.jsonl`` file as a DataFrame.

    One column per row field (:data:`ROW_FIELDS`, then any others the rows carry), one row per result;
    ``intermediate`` is a '+'-joined string (empty for the baseline), so it can be filtered and
    grouped. ``latest`` (default) keeps only the last row of each key (re-runs collapsed, as
    :func:`latest_rows`); ``latest=False`` keeps every row as written.

    ``where`` keeps rows whose column equals the value, compared as text (``{"seed": 1}``, ``{"seed": "1"}``
    and ``{"intermediate_max_len": "128"}`` all work; ``None`` or ``""`` matches an empty cell, booleans
    are ``true``/``false``); a list of values means any of them; several columns must all match.
    An unknown column raises :class:`ConfigError` naming the valid ones.
    """
    import pandas as pd

    path = _results_file(out_dir_or_file)
    rows = latest_rows(path) if latest else list(read_rows(path))
    columns = list(ROW_FIELDS) + sorted({k for r in rows for k in r} - set(ROW_FIELDS))
    wanted: dict[str, set[str]] = {}
    for column, value in (where or {}).items():
        if column not in columns:
            raise ConfigError(f"where: unknown column {column!r} (valid: {', '.join(columns)})")
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        wanted[column] = {v if isinstance(v, str) else _as_text(v) for v in values}
    kept = []
    for row in rows:
        if all(_matches(row.get(c), want) for c, want in wanted.items()):
            kept.append({c: (_as_text(row.get(c)) if c == "intermediate" else row.get(c)) for c in columns})
    frame = pd.DataFrame(kept, columns=columns)
    for column in columns:  # whole numbers with gaps stay whole (nullable Int64), not 128.0
        cells = [r[column] for r in kept if r[column] is not None]
        if cells and len(cells) < len(kept) and all(isinstance(v, int) and not isinstance(v, bool) for v in cells):
            frame[column] = frame[column].astype("Int64")
    return frame


def _matches(cell, want: set[str]) -> bool:
    text = _as_text(cell)
    if text in want:
        return True
    return isinstance(cell, bool) and text in {w.lower() for w in want}
