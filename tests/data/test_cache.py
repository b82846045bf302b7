import numpy as np

from xstilts.data.cache import FeatureCache, tokenizer_fingerprint
from xstilts.formats.base import Features


def _features():
    return Features({
        "input_ids": [np.array([0, 5, 6, 2]), np.array([0, 7, 2])],
        "offsets": [np.array([[0, 0], [0, 3], [4, 6], [0, 0]]), np.array([[0, 0], [0, 1], [0, 0]])],
        "choices": [np.ones((3, 4), dtype=np.int64), np.zeros((3, 2), dtype=np.int64)],
        "example_index": np.array([0, 1]),
    })


def test_round_trip_is_memory_mapped(tmp_path):
    cache = FeatureCache(tmp_path)
    calls = []
    parts = {"task": "xquad", "split": "test", "language": "de", "max_length": 384, "doc_stride": 128}

    def build():
        calls.append(1)
        return _features()

    a = cache.get(parts, build)
    b = cache.get(parts, build)
    assert calls == [1] and cache.hits == 1 and cache.misses == 1
    for name in ("input_ids", "offsets", "choices"):
        for x, y in zip(_features()[name], b[name]):
            assert np.array_equal(x, y) and x.shape == y.shape
    assert isinstance(b["example_index"], np.memmap)
    assert a.select([1])["input_ids"][0].tolist() == [0, 7, 2]


def test_any_setting_change_is_a_new_entry(tmp_path):
    cache = FeatureCache(tmp_path)
    base = {"task": "xquad", "split": "test", "language": "de", "max_length": 384, "doc_stride": 128}
    paths = {cache.path(base), cache.path({**base, "max_length": 256}), cache.path({**base, "doc_stride": 64}),
             cache.path({**base, "tokenizer": "other"}), cache.path({**base, "format_version": 2})}
    assert len(paths) == 5


def test_no_partial_entries_left_on_failure(tmp_path):
    cache = FeatureCache(tmp_path)

    def boom():
        raise RuntimeError("tokenizer crashed")

    try:
        cache.get({"task": "x"}, boom)
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def test_tokenizer_fingerprint_depends_on_content(mini_tokenizer):
    fp = tokenizer_fingerprint(mini_tokenizer)
    assert len(fp) == 64 and fp == tokenizer_fingerprint(mini_tokenizer)


def test_ragged_columns_reload_as_memory_maps(tmp_path):
    """A warm reload must not read the token columns into memory: their values stay a memory
    map and a row is a view of it (what keeps reopening a 400k-pair entry fast and small)."""
    from xstilts.data.cache import RaggedColumn

    cache = FeatureCache(tmp_path)
    feats = cache.get({"task": "x"}, _features)
    for name in ("input_ids", "offsets", "choices"):
        col = feats[name]
        assert isinstance(col, RaggedColumn) and isinstance(col.values, np.memmap), name
        assert isinstance(col[1], np.memmap) and np.shares_memory(col[1], col.values), name


def test_ragged_values_file_is_np_save_byte_for_byte(tmp_path, monkeypatch):
    """The chunked writer keeps the layout: the file equals ``np.save`` of the concatenated rows,
    across chunk boundaries, for mixed row dtypes and for an empty column."""
    import xstilts.data.cache as cache_mod
    from xstilts.data.cache import save_features

    monkeypatch.setattr(cache_mod, "_WRITE_ROWS", 3, raising=False)
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 1000, size=int(n), dtype=np.int32 if i % 2 else np.int64)
            for i, n in enumerate(rng.integers(0, 9, size=11))]
    save_features(Features({"ids": rows, "empty": [np.zeros(0, np.int64)] * 11}), tmp_path / "a", {})
    for name, col in (("ids", rows), ("empty", [np.zeros(0, np.int64)] * 11)):
        np.save(tmp_path / "expected.npy", np.concatenate([r.ravel() for r in col]).astype(np.result_type(*col)))
        assert (tmp_path / "a" / f"{name}.values.npy").read_bytes() == (tmp_path / "expected.npy").read_bytes()


def test_saving_a_ragged_column_makes_no_whole_copy(tmp_path, monkeypatch):
    """Saving writes a chunk of rows at a time: the extra memory is a chunk, not the column
    (concatenating a 400k-row column whole, then copying it by ``astype``, doubled a large
    build's peak)."""
    import tracemalloc

    import xstilts.data.cache as cache_mod
    from xstilts.data.cache import save_features

    monkeypatch.setattr(cache_mod, "_WRITE_ROWS", 1024, raising=False)
    rows = [np.full(128, i, dtype=np.int64) for i in range(20_000)]  # 20 MB of values
    column_bytes = sum(r.nbytes for r in rows)
    tracemalloc.start()
    try:
        save_features(Features({"input_ids": rows}), tmp_path / "e", {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < column_bytes / 4, f"saving traced {peak / 2**20:.1f} MB for a {column_bytes / 2**20:.1f} MB column"
    values = np.load(tmp_path / "e" / "input_ids.values.npy", mmap_mode="r")
    assert values.shape == (20_000 * 128,) and values[128 * 777] == 777 and values[-1] == 19_999
