"""Run.text_lengths: the lengths results are bucketed by, tokenized once per test set and tokenizer."""

from __future__ import annotations

import numpy as np

from xstilts.data.cache import FeatureCache
from xstilts.data.examples import Answer, QAExample
from xstilts.data.lengths import text_lengths
from xstilts.pipeline.run import Run
from xstilts.tasks import get_task


def _run(tmp_path, tokenizer) -> Run:
    return Run(config=None, out_dir=tmp_path, run_dir=tmp_path, tokenizer=tokenizer, model=None,
               cache=FeatureCache(tmp_path / "cache"), progress=False, resolved=None)


def test_lengths_are_the_formats_and_are_cached_by_content(tmp_path, mini_tokenizer):
    task = get_task("xquad")
    examples = [QAExample(id=f"q{i}", question="Who wrote it?", context="Ada wrote it. " * (i + 1),
                          answers=(Answer(text="Ada", start=0),)) for i in range(5)]
    run = _run(tmp_path, mini_tokenizer)
    first = run.text_lengths(task, "test", "en", examples)
    np.testing.assert_array_equal(first, text_lengths(task.format, examples, mini_tokenizer))
    assert (run.cache.misses, run.cache.hits) == (1, 0)
    again = _run(tmp_path, mini_tokenizer).text_lengths(task, "test", "en", list(examples))  # another run, same set
    np.testing.assert_array_equal(again, first)
    other = run.text_lengths(task, "test", "en", examples[:3])  # other examples: another key
    np.testing.assert_array_equal(other, first[:3])
    assert (run.cache.misses, run.cache.hits) == (2, 0)
    # the features of the same examples are a different entry
    assert run.features(task, "test", "en", examples, {"max_length": 64, "doc_stride": 16, "max_query_length": 16}) is not None
    assert run.cache.misses == 3
