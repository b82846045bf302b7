"""On-disk feature cache: tokenized features keyed by everything that changes them, memory-mapped.

The key hashes task, task version, format version, split, language, the tokenizer's full
serialisation and every featurization setting (max_length, doc_stride, ...), so changing any of
them makes a new entry and a stale entry is never reused. Entries are written to a temporary
folder and renamed into place (atomic; concurrent builders of one entry are harmless: the first
rename wins). Columns are ``.npy`` files opened with ``mmap_mode="r"``; ragged columns are stored
flat with per-row offsets and shapes, and rows are sliced lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from xstilts.formats.base import Features

CACHE_LAYOUT_VERSION = 1
_TOKENIZER_FINGERPRINTS: dict[int, str] = {}


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of the tokenizer's complete serialisation (vocabulary, normaliser, special tokens)."""
    key = id(tokenizer)
    if key not in _TOKENIZER_FINGERPRINTS:
        h = hashlib.sha256()
        backend = getattr(tokenizer, "backend_tokenizer", None)
        h.update(backend.to_str().encode() if backend is not None else repr(tokenizer.get_vocab()).encode())
        h.update(json.dumps(tokenizer.all_special_tokens).encode())
        h.update(type(tokenizer).__name__.encode())
        _TOKENIZER_FINGERPRINTS[key] = h.hexdigest()
    return _TOKENIZER_FINGERPRINTS[key]


def cache_key(parts: Mapping[str, object]) -> str:
    payload = json.dumps({"layout": CACHE_LAYOUT_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class RaggedColumn(Sequence):
    """Rows of different shapes stored flat; ``column[i]`` is a view into the memory map."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray, shapes: np.ndarray):
        self.values, self.offsets, self.shapes = values, offsets, shapes

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        return self.values[self.offsets[i]:self.offsets[i + 1]].reshape(self.shapes[i])


# Rows per write of a ragged column's values: bounds the extra memory of saving to one chunk's
# copy (a column of 400k rows of 128 int64 tokens is ~400 MB: concatenating it whole, then
# ``astype``-copying it, doubled the peak memory of building a large entry).
_WRITE_ROWS = 8192


def _save_flat(path: Path, rows: Sequence[np.ndarray], dtype: np.dtype, total: int) -> None:
    """``np.save(path, np.concatenate([r.ravel() for r in rows]).astype(dtype))``, byte for byte,
    written a chunk of rows at a time instead of from one concatenated copy."""
    with open(path, "wb") as f:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (total,)}
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, len(rows), _WRITE_ROWS):
            chunk = rows[start:start + _WRITE_ROWS]
            np.concatenate([r.ravel() for r in chunk]).astype(dtype, copy=False).tofile(f)


def save_features(features: Features, directory: Path, meta: Mapping[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    columns = {}
    for name, col in features.columns.items():
        if isinstance(col, np.ndarray):
            np.save(directory / f"{name}.npy", col)
            columns[name] = "dense"
        else:
            rows = [np.asarray(r) for r in col]
            dtype = np.result_type(*rows) if rows else np.dtype(np.int64)
            sizes = np.array([r.size for r in rows], dtype=np.int64)
            _save_flat(directory / f"{name}.values.npy", rows, dtype, int(sizes.sum()))
            np.save(directory / f"{name}.offsets.npy", np.concatenate([[0], np.cumsum(sizes)]))
            ndim = max((r.ndim for r in rows), default=1)
            np.save(directory / f"{name}.shapes.npy", np.array([r.shape for r in rows], dtype=np.int64).reshape(len(rows), ndim))
            columns[name] = "ragged"
    (directory / "meta.json").write_text(json.dumps({"columns": columns, **meta}, indent=1, default=str))


def load_features(directory: Path) -> Features:
    meta = json.loads((directory / "meta.json").read_text())
    cols = {}
    for name, kind in meta["columns"].items():
        if kind == "dense":
            cols[name] = np.load(directory / f"{name}.npy", mmap_mode="r")
        else:
            cols[name] = RaggedColumn(
                np.load(directory / f"{name}.values.npy", mmap_mode="r"),
                np.load(directory / f"{name}.offsets.npy"),
                np.load(directory / f"{name}.shapes.npy"),
            )
    return Features(cols)


class FeatureCache:
    """``get(parts, build)``: the cached features for ``parts``, building and storing them if absent."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, parts: Mapping[str, object]) -> Path:
        return self.root / cache_key(parts)

    def get(self, parts: Mapping[str, object], build: Callable[[], Features]) -> Features:
        target = self.path(parts)
        if (target / "meta.json").exists():
            self.hits += 1
            return load_features(target)
        self.misses += 1
        features = build()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            save_features(features, tmp, {"key": dict(parts)})
            try:
                os.rename(tmp, target)
            except OSError:  # another process stored the same entry first: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return load_features(target)
