"""Hypothesis strategies shared by the property tests: unicode text that tokenizers find hard.

Text is drawn from arbitrary code points (surrogates excluded: they cannot be written as UTF-8)
mixed with fragments chosen for their behaviour under XLM-R's sentencepiece normalisation and
pre-tokenisation: combining marks, CJK (no spaces, ``▁`` split off as its own piece), emoji with
modifiers and joiners (several pieces with the same offsets), right-to-left text and direction
marks, zero-width characters (dropped: no token), runs and odd kinds of whitespace, characters
that NFKC expands (``½`` → ``1⁄2``, ``ﬁ`` → ``fi``) and the tokenizer's own special tokens
written as text.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def property_settings(max_examples: int) -> settings:
    """Settings for a property: ``max_examples`` scaled by ``$XSTILTS_PROPERTY_SCALE`` (default 1;
    e.g. 20 for a long bug hunt), no deadline (the machine is shared), and no example database
    (it would write ``.hypothesis/`` into the checkout; failures are kept as ``@example``s)."""
    scale = float(os.environ.get("XSTILTS_PROPERTY_SCALE", "1"))
    return settings(max_examples=max(1, round(max_examples * scale)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FRAGMENTS = (
    "the", " answer", "Denver", " 1990", ".", ",", "?", "'s", "-", "(", ")",
    "e\u0301", "\u0301", "\u0308", "a\u0308\u0301",  # combining marks, alone and stacked
    "中文", "東京", "の", "日本語", "한국어", "ภาษาไทย",  # CJK / Thai (no spaces)
    "👍", "🏽", "👍🏽", "👨\u200d👩\u200d👧", "🇩🇪",  # emoji, modifier, ZWJ sequence, flag
    "שלום", "مرحبا", "\u200f", "\u200e", "\u202e", "\u2067",  # RTL text and direction marks
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",  # zero-width / invisible
    " ", "  ", "\t", "\n", "\u3000", "\xa0", "\u2028", "\x85", "\u2009", " \t \n ",  # whitespace
    "½", "ﬁ", "Ⅻ", "ß", "İ", "ﾊﾟ", "㍿", "①",  # NFKC expansions / case oddities
    "<s>", "</s>", "<mask>", "<unk>", "<pad>",  # special tokens written as text
    "\x00", "\x07", "\x1b",  # control characters
)

# One "piece" of text: a fragment, or any code point but a surrogate.
piece = st.one_of(st.sampled_from(FRAGMENTS), st.characters(exclude_categories=("Cs",)))


def texts(min_pieces: int = 0, max_pieces: int = 40) -> st.SearchStrategy[str]:
    """Text of ``min_pieces``..``max_pieces`` pieces, the count drawn uniformly (plain lists favour
    short ones, and windows need long contexts)."""
    return st.integers(min_pieces, max_pieces).flatmap(
        lambda n: st.lists(piece, min_size=n, max_size=n)).map("".join)


def printable_field(exclude: str = "", min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """Arbitrary text without surrogates and without the characters in ``exclude``."""
    alphabet = st.one_of(st.sampled_from([f for f in FRAGMENTS if not set(f) & set(exclude)]),
                         st.characters(exclude_categories=("Cs",), exclude_characters=exclude))
    return st.lists(alphabet, min_size=min_size, max_size=max_size).map("".join).filter(
        lambda s: not set(s) & set(exclude))
