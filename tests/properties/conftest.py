"""Tokenizers for the property tests: XLM-R's real vocabulary (the mini encoder's) and an odd one.

The odd one is a byte-pair tokenizer trained here on a few lines, the way the from-scratch
pretraining phase trains one (NFKC, whitespace split, ``▁`` word marks): a 100-piece vocabulary
where most characters are ``<unk>`` and words split into single letters, so offsets, windows and
first-subword labels meet the shapes a real vocabulary rarely produces.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def odd_tokenizer():
    from xstilts.config import TokenizerSpec
    from xstilts.pretraining import train_tokenizer

    corpus = ["the answer is Denver in 1990 .", "who won the long season of close games ?",
              "über straße naïve café", "the the the answer answer"] * 3
    return train_tokenizer(corpus, TokenizerSpec(kind="bpe", vocab_size=100, min_frequency=1),
                           model_max_length=512)


@pytest.fixture(scope="session")
def tokenizers(mini_tokenizer, odd_tokenizer) -> dict:
    return {"xlmr": mini_tokenizer, "odd": odd_tokenizer}
