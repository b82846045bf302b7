"""``encode_pairs`` (one untruncated pass, then the closed form of ``longest_first``) equals the
tokenizer's own ``truncation="longest_first"`` for any texts and any allowed ``max_length``.

Extends tests/formats/test_base.py (real XNLI pairs at four lengths) to arbitrary unicode, empty
and zero-token texts, special tokens written as text, batches mixing all of them, every
``max_length`` from the smallest allowed up, and a second, odd vocabulary.
"""

from __future__ import annotations


import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from prop_text import property_settings, texts
from xstilts.formats.base import _longest_first, encode_pairs

SETTINGS = property_settings(300)


@pytest.mark.parametrize("name", ["xlmr", "odd"])
@SETTINGS
@given(pairs=st.lists(st.tuples(texts(0, 30), texts(0, 30)), min_size=1, max_size=4),
       extra=st.integers(0, 40))
def test_encode_pairs_equals_hf_longest_first(tokenizers, name, pairs, extra):
    tok = tokenizers[name]
    max_length = tok.num_special_tokens_to_add(pair=True) + 2 + extra  # the smallest allowed, and up
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    enc = encode_pairs(tok, a, b, max_length)
    ref = tok(a, b, truncation="longest_first", max_length=max_length)["input_ids"]
    assert [x.tolist() for x in enc.input_ids] == ref
    full = tok(a, b)["input_ids"]
    assert enc.full_length.tolist() == [len(x) for x in full]
    assert enc.truncated.tolist() == [len(x) > max_length for x in full]
    event("truncated" if enc.truncated.any() else "fits")


@pytest.mark.parametrize("name", ["xlmr", "odd"])
@SETTINGS
@given(sentences=st.lists(texts(0, 30), min_size=1, max_size=4), extra=st.integers(0, 40))
def test_encode_single_equals_hf_truncation(tokenizers, name, sentences, extra):
    tok = tokenizers[name]
    max_length = tok.num_special_tokens_to_add(pair=False) + 2 + extra
    enc = encode_pairs(tok, sentences, None, max_length)
    assert [x.tolist() for x in enc.input_ids] == tok(sentences, truncation=True, max_length=max_length)["input_ids"]


@SETTINGS
@given(n_a=st.integers(0, 300), n_b=st.integers(0, 300), budget=st.integers(1, 300))
# Not the rule of HF's old Python tokenizers, which on a tie cut the second segment ((1, 0) here):
# the Rust rule that fast tokenizers apply (and test_encode_pairs_equals_hf_longest_first checks)
# gives an odd last token to the second of two equal segments.
@example(n_a=1, n_b=1, budget=1)
@example(n_a=3, n_b=2, budget=3)  # ... and to the longer of two unequal ones: (2, 1)
def test_longest_first_closed_form_is_an_iterative_rule(n_a, n_b, budget):
    """The closed form == cutting one token at a time from the currently longer segment; on a tie,
    from the one that was shorter to begin with (the first if they began equal)."""
    a, b = n_a, n_b
    while a + b > budget:
        if a > b or (a == b and n_a <= n_b):
            a -= 1
        else:
            b -= 1
    assert _longest_first(n_a, n_b, budget) == (a, b)
