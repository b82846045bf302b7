import numpy as np

from xstilts.data.lengths import assign_buckets, fixed_bucket_names, text_lengths, windows_per_example
from xstilts.data.loading import load_examples
from xstilts.formats import span_qa
from xstilts.formats.base import Features


def test_fixed_and_quartile_buckets_partition_examples():
    lengths = np.array([5, 128, 129, 256, 257, 384, 385, 1000])
    b = assign_buckets(lengths, windows=np.array([1, 1, 1, 1, 2, 2, 3, 4]))
    assert fixed_bucket_names() == ["tokens:<=128", "tokens:129-256", "tokens:257-384", "tokens:>384"]
    assert [b[n].tolist() for n in fixed_bucket_names()] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    quartiles = np.concatenate([b[f"quartile:{k}"] for k in range(1, 5)])
    assert sorted(quartiles.tolist()) == list(range(8))
    assert b["long:top_quartile"].tolist() == [6, 7] == b["quartile:4"].tolist()
    assert b["long:multi_window"].tolist() == [4, 5, 6, 7]


def test_windows_count_truncation_as_needing_more():
    f = Features({"example_index": np.array([0, 1, 1, 2]), "truncated": np.array([True, False, False, False])})
    assert windows_per_example(f, 4).tolist() == [2, 2, 1, 0]


def test_qa_lengths_are_context_tokens_and_match_windows(data_dir, mini_tokenizer):
    ex = load_examples("xquad", "test", "de", data_dir=data_dir)[:200]
    lengths = text_lengths("span_qa", ex, mini_tokenizer)
    assert lengths[0] == len(mini_tokenizer(ex[0].context, add_special_tokens=False)["input_ids"])
    feats = span_qa.featurize(ex, mini_tokenizer, max_length=128, doc_stride=32, max_query_length=32)
    windows = windows_per_example(feats, len(ex))
    assert (windows[lengths > 128] > 1).all()  # a context longer than the window needs several
    assert (windows[lengths < 60] == 1).all()
