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
