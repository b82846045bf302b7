"""Properties of token tagging (first-subword labels, one tag per word), for any words and window.

The contract (see :mod:`xstilts.formats.tagging`): no word is ever dropped or reported as
unrepresentable. Every word of every example is labelled at exactly one position — its first
subword — across the example's windows, in word order; a word with no subwords (empty,
whitespace, zero-width characters) is represented by the tokenizer's unk token; a word with more
subwords than a window holds keeps its first ``max_length − specials`` subwords. So for any
``max_length`` that leaves room for one subword, decode gives exactly one tag per word, and
logits peaked at the gold tags decode to the gold tags.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from prop_text import FRAGMENTS, property_settings, texts
from xstilts.data.examples import TaggingExample
from xstilts.formats import tagging

SETTINGS = property_settings(400)
TAGS = ("O", "B-PER", "I-PER", "NOUN", "VERB", "X")

word = st.one_of(
    texts(1, 4),  # mostly short words of arbitrary characters
    st.sampled_from(["", " ", "\u200b", "\ufeff", "\u200d", "▁", "\u00ad", "\t", "\x00"]),  # no subwords
    st.sampled_from(FRAGMENTS),
    texts(1, 4),
    # very long words: longer than any window drawn below
    st.tuples(st.sampled_from(["x", "中", "👍🏽", "e\u0301", "a1"]), st.integers(20, 120)).map(
        lambda t: t[0] * t[1]),
)


@st.composite
def sentences(draw):
    examples = []
    for k in range(draw(st.integers(1, 3))):
        words = tuple(draw(st.lists(word, min_size=0, max_size=12)))
        tags = draw(st.one_of(st.none(), st.lists(st.sampled_from(TAGS), min_size=len(words),
                                                  max_size=len(words)).map(tuple)))
        examples.append(TaggingExample(f"s{k}", words, tags))
    return examples


def _reference_pieces(tok, words):
    """Each word's subwords, tokenized as a pre-split word (what the model sees), [unk] if none."""
    if not words:
        return []
    enc = tok([list(words)], is_split_into_words=True, add_special_tokens=False)
    pieces = [[] for _ in words]
    for wid, tid in zip(enc.word_ids(0), enc["input_ids"][0]):
        assert wid is not None
        pieces[wid].append(tid)
    return [p or [tok.unk_token_id] for p in pieces]


@pytest.mark.parametrize("name", ["xlmr", "odd"])
@SETTINGS
@given(examples=sentences(), extra=st.integers(1, 24), data=st.data())
def test_one_label_per_word_at_its_first_subword(tokenizers, name, examples, extra, data):
    tok = tokenizers[name]
    prefix, suffix = tagging.special_tokens(tok)
    max_length = len(prefix) + len(suffix) + extra
    budget = extra
    labelled = any(ex.tags is not None for ex in examples)
    f = tagging.featurize(examples, tok, max_length=max_length, label_list=TAGS if labelled else None)
    assert ("labels" in f) == labelled
    for e, ex in enumerate(examples):
        rows = np.flatnonzero(f.example_index == e)
        if not ex.tokens:
            assert len(rows) == 0  # nothing to predict, no window
            continue
        event(f"windows: {min(len(rows), 4)}")
        ref = _reference_pieces(tok, ex.tokens)
        if any(len(p) > budget for p in ref):
            event("a word longer than the window")
        seen = []
        kept = []  # the subwords of each word, as featurized, in order
        for r in rows:
            ids, words = f["input_ids"][r], f["word_index"][r]
            assert len(ids) <= max_length and len(words) == len(ids) == len(f["attention_mask"][r])
            assert ids[:len(prefix)].tolist() == prefix and ids[len(ids) - len(suffix):].tolist() == suffix
            assert len(ids) > len(prefix) + len(suffix)  # no empty window
            body = slice(len(prefix), len(ids) - len(suffix))
            assert (words[:len(prefix)] == -1).all() and (words[body.stop:] == -1).all()
            firsts = np.flatnonzero(words >= 0)
            assert words[body][0] >= 0  # a window starts at a word's first subword
            bounds = list(firsts) + [body.stop]
            for k, pos in enumerate(firsts):
                w = int(words[pos])
                seen.append(w)
                kept.append(ids[pos:bounds[k + 1]].tolist())
                if "labels" in f:
                    lab = f["labels"][r]
                    expect = -100 if ex.tags is None else TAGS.index(ex.tags[w])
                    assert lab[pos] == expect
                    assert (lab[pos + 1:bounds[k + 1]] == -100).all()
            if "labels" in f:
                assert (f["labels"][r][words < 0][:len(prefix)] == -100).all()
        assert seen == list(range(len(ex.tokens)))  # every word once, in order
        assert kept == [p[:budget] for p in ref]  # its subwords, cut only if longer than a window

    # Decode: one tag per word; peaked at the gold tags (plus noise), the gold tags.
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    logits = []
    for r in range(len(f)):
        e = int(f.example_index[r])
        gold = np.zeros(len(f["input_ids"][r]), dtype=np.int64)
        words = f["word_index"][r]
        tags = examples[e].tags
        for pos in np.flatnonzero(words >= 0):
            gold[pos] = TAGS.index(tags[words[pos]]) if tags is not None else 0
        noise = rng.uniform(-1, 1, size=(len(gold), len(TAGS)))
        logits.append(noise + 10 * np.eye(len(TAGS))[gold])
    decoded = tagging.decode(examples, f, {"logits": logits}, TAGS)
    assert [len(d) for d in decoded] == [len(ex.tokens) for ex in examples]
    for ex, d in zip(examples, decoded):
        assert d == (list(ex.tags) if ex.tags is not None else [TAGS[0]] * len(ex.tokens))
