"""Content fingerprints of data files, so a file replaced in place never reuses a model trained on the old one.

A fingerprint is the sha256 of the file's bytes. Hashing a multi-GB training file on every run or
dry run would be slow, so digests are cached in one JSON file, ``fingerprints.json`` under
:func:`cache_dir`, keyed by the file's absolute path and valid while its size and ``mtime_ns`` are
unchanged: a file rewritten in place gets a new mtime (or size) and is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

CACHE_ENV = "XSTILTS_CACHE"
CACHE_FILE = "fingerprints.json"
_CHUNK = 1 << 20
# This process's digests, under the same (size, mtime_ns) rule: a grid asks for the same files' keys
# thousands of times, and re-reading a cache of thousands of entries each time cost seconds per run.
_MEMO: dict[tuple[str, str], tuple[int, int, str]] = {}


def cache_dir() -> Path:
    """Where xstilts caches machine-wide state: ``$XSTILTS_CACHE``, else ``~/.cache/xstilts``."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "xstilts"


def file_digest(path: str | Path, *, cache: str | Path | None = None) -> str:
    """The sha256 (hex) of the bytes of ``path``, from the cache in ``cache`` (default
    :func:`cache_dir`) while the file's size and mtime_ns are those it was hashed at.

    A missing file raises ``FileNotFoundError``; callers decide whether that is an error.
    """
    path = Path(path).resolve()
    stat = path.stat()  # taken before hashing: a write during hashing changes mtime, so the next call re-hashes
    cache_file = Path(cache if cache is not None else cache_dir()) / CACHE_FILE
    key = (str(cache_file), str(path))
    memo = _MEMO.get(key)
    if memo is not None and memo[:2] == (stat.st_size, stat.st_mtime_ns):
        return memo[2]
    entry = _read(cache_file).get(str(path))
    if isinstance(entry, dict) and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        _MEMO[key] = (stat.st_size, stat.st_mtime_ns, entry["sha256"])
        return entry["sha256"]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    _MEMO[key] = (stat.st_size, stat.st_mtime_ns, digest)
    _store(cache_file, str(path), {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest})
    return digest


def _read(cache_file: Path) -> dict:
    # A cache, not input: an unreadable or foreign file only costs re-hashing (and is rewritten).
    try:
        entries = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _store(cache_file: Path, key: str, entry: dict) -> None:
    """Add one entry: re-read (other processes may have added theirs), then write a temp file and rename."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        entries = _read(cache_file)
        entries[key] = entry
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=f".{cache_file.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entries, f, indent=0, sort_keys=True)
            os.replace(tmp, cache_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:  # the digest is still right; only the next call pays for hashing again
        warnings.warn(f"cannot write the fingerprint cache {cache_file} ({err}); set {CACHE_ENV} to a writable "
                      "folder to avoid re-hashing data files", stacklevel=3)
