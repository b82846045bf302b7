"""Language properties: distinct vocabularies but for the anchors, and the declared word orders."""

from __future__ import annotations

import itertools
from pathlib import Path

from xstilts.data.loading import load_examples
from xstilts.world import build
from xstilts.world.facts import Fact
from xstilts.world.languages import AGES, CODES, LANGUAGES, PUNCT
from xstilts.world.render import question, render, statement

LANGS = ("en", "xa", "xb", "xc")


def _corpus_words(root: Path, lang: str) -> set[str]:
    return {w for split in ("train", "dev") for line in (root / f"corpora/{split}.{lang}.txt").read_text().splitlines()
            for w in line.split()}


def _shared(root: Path) -> set[str]:
    rows = [line.split("\t") for line in (root / "lexicon.tsv").read_text().splitlines()[1:]]
    return {r[0] for r in rows if r[2] == "yes"}


def test_codes_are_the_catalog_languages():
    from xstilts.tasks.catalog import SYN_LANGUAGES

    assert CODES == SYN_LANGUAGES == LANGS


def test_vocabularies_are_distinct_except_anchors(tiny_world):
    root, _ = tiny_world
    shared = _shared(root)
    words = {lang: _corpus_words(root, lang) for lang in LANGS}
    for a, b in itertools.combinations(LANGS, 2):
        common = words[a] & words[b]
        assert common <= shared, (a, b, sorted(common - shared)[:10])
        assert len(words[a] - shared) > 50  # each language has its own words
    # The anchors (names, numbers) really are shared: the corpora all use them.
    anchors_seen = words["xa"] & words["xb"] & words["xc"] & words["en"]
    assert any(w.isdigit() for w in anchors_seen) and any(w[0].isupper() for w in anchors_seen)


def test_anchor_share_zero_shares_nothing_but_punctuation():
    world = build(seed=0, size="tiny", anchor_share=0.0, corpus_sentences=10, corpus_dev_sentences=5)
    lex = world.context.lexicon
    assert lex.shared == frozenset(PUNCT)
    vocab = {c: lex.vocabulary_of(c) for c in CODES}
    for a, b in itertools.combinations(CODES, 2):
        assert vocab[a] & vocab[b] == set(PUNCT)
    # Unshared numbers become words; unshared names stay capitalised.
    assert not any(lex.forms["xa"][n].isdigit() for n in AGES)
    assert all(lex.forms["xb"][n][0].isupper() for n in world.context.vocab.names)


def test_shares_grow_monotonically():
    shared = [build(seed=0, size="tiny", anchor_share=s, shared_word_share=s, corpus_sentences=10,
                    corpus_dev_sentences=5).context.lexicon.shared for s in (0.2, 0.6)]
    assert shared[0] < shared[1]


def _words(world, lang: str, sentence) -> list[str]:
    return render(sentence, lang, world.context.lexicon).tokens


def test_word_orders_are_visible_in_rendered_sentences(tiny_world_memory):
    world = tiny_world_memory
    vocab = world.context.vocab
    w = lambda lang, lexeme: world.context.lexicon.word(lang, lexeme)  # noqa: E731
    anna, city = vocab.names[0], vocab.cities[0]
    owns = statement(Fact("owns", (anna, "car", "red")))
    lives = statement(Fact("lives", (anna, city)))
    assert _words(world, "en", owns) == [anna, "has", "a", "red", "car", "."]
    assert _words(world, "xa", owns) == [anna] + [w("xa", x) for x in ("has", "a", "red", "car")] + ["."]
    # xb: verb-final, postpositions.
    assert _words(world, "xb", owns) == [anna] + [w("xb", x) for x in ("a", "red", "car", "has")] + ["."]
    assert _words(world, "xb", lives) == [anna, city, w("xb", "in"), w("xb", "lives"), "."]
    # xc: noun before adjective, no article.
    assert _words(world, "xc", owns) == [anna] + [w("xc", x) for x in ("has", "car", "red")] + ["."]
    # Questions: fronting with do-support (en, xa), in situ with a particle (xb), no do-support (xc).
    q = question("where_live", Fact("lives", (anna, city)))
    assert _words(world, "en", q) == ["where", "does", anna, "live", "?"]
    assert _words(world, "xb", q) == [anna, w("xb", "where"), w("xb", "lives"), w("xb", "QPART"), "?"]
    assert _words(world, "xc", q) == [w("xc", "where"), anna, w("xc", "lives"), "?"]


def test_word_orders_hold_in_the_pos_files(tiny_world):
    root, _ = tiny_world
    for lang in LANGS:
        sentences = load_examples("syn_pos", "test", lang, data_dir=root, require_labels=True)
        statements = [s for s in sentences if s.tokens[-1] == "."]
        questions = [s for s in sentences if s.tokens[-1] == "?"]
        assert statements and questions
        last = {s.tags[-2] for s in statements}
        if LANGUAGES[lang].verb_final:
            assert last <= {"VERB", "AUX"}, last
            assert all(s.tags[-2] == "PART" for s in questions)  # the question particle
        else:
            assert last - {"VERB", "AUX"}, "an SVO language has statements ending in an argument"
        pairs = {(a, b) for s in sentences for a, b in zip(s.tags, s.tags[1:])}
        colours = {(a, b) for s in sentences for a, b in zip(s.tags, s.tags[1:]) if (a, b) == ("ADJ", "NOUN")}
        if LANGUAGES[lang].adj_after_noun:
            assert not colours and ("NOUN", "ADJ") in pairs
            assert "DET" not in {t for s in statements for t in s.tags}  # no articles
        else:
            assert colours
