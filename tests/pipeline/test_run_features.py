"""Run.features: the cached features of a split equal one featurize call on the whole split."""

from __future__ import annotations

import numpy as np

from xstilts.data.cache import FeatureCache
from xstilts.data.examples import TextExample
from xstilts.formats import mlm
from xstilts.pipeline import run as runs
from xstilts.tasks import get_task


def test_mlm_blocks_run_across_the_chunks_progress_is_shown_in(tmp_path, mini_tokenizer, monkeypatch):
    # Featurizing in chunks (for a progress bar) once restarted MLM blocks at every chunk: a short
    # block per 2,000 texts, unlike the one stream the format describes.
    monkeypatch.setattr(runs, "FEATURIZE_CHUNK", 4)
    examples = [TextExample(str(i), f"Sentence number {i} of the corpus.") for i in range(11)]
    run = runs.Run(config=None, out_dir=tmp_path, run_dir=tmp_path, tokenizer=mini_tokenizer, model=None,
                   cache=FeatureCache(tmp_path / "cache"), progress=False, resolved=None)
    got = run.features(get_task("syn_mlm"), "train", "en", examples, {"max_length": 16})
    want = mlm.featurize(examples, mini_tokenizer, max_length=16)
    assert [np.asarray(r).tolist() for r in got["input_ids"]] == [r.tolist() for r in want["input_ids"]]
    assert np.asarray(got["example_index"]).tolist() == want["example_index"].tolist()
