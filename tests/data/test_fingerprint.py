"""Data-file fingerprints: sha256 of the bytes, cached by (path, size, mtime_ns), refreshed on change."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from xstilts.data.fingerprint import CACHE_ENV, CACHE_FILE, cache_dir, file_digest
from xstilts.data.loading import data_fingerprints
from xstilts.errors import DataError
from xstilts.tasks import get_task


def _write(path, text: str, mtime_ns: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_digest_is_the_sha256_of_the_bytes(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_bytes(b"Al\tPROPN\n")
    assert file_digest(f, cache=tmp_path / "cache") == hashlib.sha256(b"Al\tPROPN\n").hexdigest()
    entries = json.loads((tmp_path / "cache" / CACHE_FILE).read_text())
    assert entries[str(f.resolve())]["sha256"] == hashlib.sha256(b"Al\tPROPN\n").hexdigest()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [CACHE_FILE]  # no temp file left behind


def test_cache_is_reused_while_path_size_and_mtime_are_unchanged_and_refreshed_after(tmp_path):
    f, cache = tmp_path / "train.tsv", tmp_path / "cache"
    _write(f, "aaaa\n", 1_000_000_000_000_000_000)
    first = file_digest(f, cache=cache)
    # Same size and mtime, other bytes: the cached digest is returned, i.e. the file was not re-read.
    _write(f, "bbbb\n", 1_000_000_000_000_000_000)
    assert file_digest(f, cache=cache) == first
    # A new mtime (what rewriting a file in place gives) is hashed again.
    os.utime(f, ns=(1_000_000_000_000_000_001, 1_000_000_000_000_000_001))
    second = file_digest(f, cache=cache)
    assert second == hashlib.sha256(b"bbbb\n").hexdigest() != first
    # So is a new size at the old mtime.
    _write(f, "bbbbb\n", 1_000_000_000_000_000_001)
    assert file_digest(f, cache=cache) == hashlib.sha256(b"bbbbb\n").hexdigest()


def test_repeated_lookups_in_one_process_read_neither_the_file_nor_the_cache(tmp_path):
    f, cache = tmp_path / "train.tsv", tmp_path / "cache"
    _write(f, "aaaa\n", 1_000_000_000_000_000_000)
    first = file_digest(f, cache=cache)
    # Other bytes at the same size and mtime, and no cache file: a re-read of either would notice.
    _write(f, "bbbb\n", 1_000_000_000_000_000_000)
    (cache / CACHE_FILE).unlink()
    assert file_digest(f, cache=cache) == first
    os.utime(f, ns=(1_000_000_000_000_000_002, 1_000_000_000_000_000_002))  # still checked against the stat
    assert file_digest(f, cache=cache) == hashlib.sha256(b"bbbb\n").hexdigest()


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "xc"))
    assert cache_dir() == tmp_path / "xc"
    f = tmp_path / "a.txt"
    f.write_text("x")
    file_digest(f)
    assert str(f.resolve()) in json.loads((tmp_path / "xc" / CACHE_FILE).read_text())


def test_a_corrupt_cache_file_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / CACHE_FILE).write_text("{not json")
    f = tmp_path / "a.txt"
    f.write_text("x")
    assert file_digest(f, cache=cache) == hashlib.sha256(b"x").hexdigest()
    assert str(f.resolve()) in json.loads((cache / CACHE_FILE).read_text())


def test_data_fingerprints_name_every_file_a_split_reads(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    udpos = get_task("udpos")
    (tmp_path / "xtreme/download/udpos").mkdir(parents=True)
    (tmp_path / "xtreme/download/udpos/train-en.tsv").write_text("Al\tPROPN\n")
    got = data_fingerprints(udpos, "train", "en", data_dir=tmp_path)
    assert got == {"xtreme/download/udpos/train-en.tsv": hashlib.sha256(b"Al\tPROPN\n").hexdigest()}
    # The test split's gold labels live in the label folder: absent, they are recorded as absent.
    (tmp_path / "xtreme/download/udpos/test-en.tsv").write_text("Al\n")
    test = data_fingerprints(udpos, "test", "en", data_dir=tmp_path)
    assert test["xtreme/labels/udpos/test-en.tsv"] is None
    # A missing data file is an error naming it, unless the caller does not require the data.
    with pytest.raises(DataError, match="dev-en.tsv"):
        data_fingerprints(udpos, "dev", "en", data_dir=tmp_path)
    assert data_fingerprints(udpos, "dev", "en", data_dir=tmp_path, require=False) == {
        "xtreme/download/udpos/dev-en.tsv": None}


def test_hub_sources_fingerprint_as_dataset_config_and_revision():
    assert data_fingerprints("udpos", "train", "en", data_dir=None, source="hub") == {
        "hf://google/xtreme/udpos.English[train]": "main"}
