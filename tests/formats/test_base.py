import numpy as np
import pytest

from xstilts.formats.base import Features, collate, encode_pairs


def _xnli_pairs(data_dir, n=400):
    rows = [l.rstrip("\n").split("\t") for l in open(data_dir / "xtreme/download/xnli/dev-de.tsv", encoding="utf-8")]
    rng = np.random.default_rng(0)
    # Repeat texts so that many pairs need truncation, on either side.
    a = [r[0] * int(rng.integers(1, 5)) for r in rows[:n]]
    b = [r[1] * int(rng.integers(1, 5)) for r in rows[:n]]
    return a, b


@pytest.mark.parametrize("max_length", [8, 17, 32, 128])
def test_encode_pairs_equals_hf_longest_first(data_dir, mini_tokenizer, max_length):
    a, b = _xnli_pairs(data_dir)
    enc = encode_pairs(mini_tokenizer, a, b, max_length)
    ref = mini_tokenizer(a, b, truncation="longest_first", max_length=max_length)["input_ids"]
    assert [list(x) for x in enc.input_ids] == ref
    full = mini_tokenizer(a, b)["input_ids"]
    assert enc.full_length.tolist() == [len(x) for x in full]
    assert enc.truncated.tolist() == [len(x) > max_length for x in full]


def test_encode_single_equals_hf(data_dir, mini_tokenizer):
    a, _ = _xnli_pairs(data_dir, 100)
    enc = encode_pairs(mini_tokenizer, a, None, 20)
    assert [list(x) for x in enc.input_ids] == mini_tokenizer(a, truncation=True, max_length=20)["input_ids"]


def test_encode_pairs_rejects_too_small_window(mini_tokenizer):
    with pytest.raises(ValueError, match="no room"):
        encode_pairs(mini_tokenizer, ["a"], ["b"], 4)


def test_features_select_and_collate():
    f = Features({"input_ids": [np.array([5, 6, 7]), np.array([8])], "example_index": np.array([0, 1]),
                  "labels": [np.array([1, -100, 2]), np.array([3])]})
    assert len(f) == 2
    sub = f.select([1])
    assert sub["input_ids"][0].tolist() == [8] and sub.example_index.tolist() == [1]
    batch = collate([f.row(0), f.row(1)], pad_token_id=1)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch["labels"].tolist() == [[1, -100, 2], [3, -100, -100]]
    assert batch["example_index"].tolist() == [0, 1]


def test_features_reject_ragged_columns_of_different_length():
    with pytest.raises(ValueError, match="differ in length"):
        Features({"a": np.zeros(2), "b": np.zeros(3)})


def test_concat_of_chunks_equals_one_call(data_dir, mini_tokenizer):
    from xstilts.data.loading import load_examples
    from xstilts.formats import span_qa

    ex = load_examples("xquad", "test", "de", data_dir=data_dir)[:60]
    kw = dict(max_length=128, doc_stride=32, max_query_length=32)
    whole = span_qa.featurize(ex, mini_tokenizer, **kw)
    chunks = [ex[:25], ex[25:25], ex[25:]]
    joined = Features.concat([span_qa.featurize(c, mini_tokenizer, **kw) if c else Features({}) for c in chunks],
                             [len(c) for c in chunks])
    assert set(joined.columns) == set(whole.columns)
    for name, col in whole.columns.items():
        for a, b in zip(col, joined[name]):
            assert np.array_equal(a, b), name
