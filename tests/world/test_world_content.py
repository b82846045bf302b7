"""What the examples say: QA answers and document lengths, disjoint question families, non-parallel
corpora, and labels that follow from the facts."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from xstilts.data.loading import load_examples
from xstilts.world import generate
from xstilts.world.facts import owner
from xstilts.world.languages import CODES
from xstilts.world.render import INTERMEDIATE_QUESTIONS, TARGET_QUESTIONS, render

QA = {"syn_longqa": ("train", "dev"), "syn_qa": ("train", "dev", "test")}


def _meta(root: Path, task: str, split: str, lang: str) -> list[dict]:
    return [json.loads(x) for x in (root / f"meta/{task}/{split}-{lang}.jsonl").read_text().splitlines()]


def test_answers_are_the_evidence_tokens_at_their_offsets(tiny_world):
    root, _ = tiny_world
    for task, splits in QA.items():
        for split in splits:
            for lang in (("en",) if split == "train" or task == "syn_longqa" else CODES):
                examples = load_examples(task, split, lang, data_dir=root, require_labels=True)
                meta = {m["id"]: m for m in _meta(root, task, split, lang)}
                for ex in examples:
                    (answer,) = ex.answers
                    m = meta[ex.id]
                    assert ex.context[answer.start:answer.start + len(answer.text)] == answer.text == m["answer"]
                    assert answer.start == m["answer_char"]
                    assert ex.context.split(" ")[m["answer_token"]] == answer.text
                    assert len(ex.context.split()) == m["doc_tokens"]


def test_documents_span_the_length_range(tiny_world, tmp_path):
    root, manifest = tiny_world
    lengths = [m["doc_tokens"] for m in _meta(root, "syn_qa", "train", "en")]
    assert min(lengths) < 64 and max(lengths) > 500
    stats = manifest["lengths"]["syn_qa"]["train"]["en"]
    assert stats["max"] == max(lengths) and stats["min"] == min(lengths)
    positions = [m["relative_position"] for m in _meta(root, "syn_longqa", "train", "en")]
    assert min(positions) < 0.25 and max(positions) > 0.75  # evidence anywhere in the document
    # The long-document knob: every document well over 1,000 words, in every language.
    long = generate(tmp_path / "long", seed=0, size="tiny", qa_doc_sentences=(220, 240),
                    sizes={"syn_qa": {"train": 2, "dev": 2, "test": 2}})
    for split in ("train", "dev", "test"):
        for lang, stats in long["lengths"]["syn_qa"][split].items():
            assert stats["min"] > 1000 and stats["over_1000"] == stats["n"], (split, lang, stats)


def test_question_families_are_disjoint(tiny_world):
    root, _ = tiny_world
    qtypes = {task: {m["qtype"] for s in splits for m in _meta(root, task, s, "en")} for task, splits in QA.items()}
    assert qtypes["syn_longqa"] == set(INTERMEDIATE_QUESTIONS)
    assert qtypes["syn_qa"] == set(TARGET_QUESTIONS)
    # The same on the surface: question templates (names, numbers and cities masked) never overlap.
    def templates(task, splits):
        return {re.sub(r"\b[A-Z]\w*|\b\d+\b", "X", ex.question)
                for s in splits for ex in load_examples(task, s, "en", data_dir=root)}
    intermediate, target = templates("syn_longqa", QA["syn_longqa"]), templates("syn_qa", QA["syn_qa"])
    assert intermediate and target and not intermediate & target


def test_corpora_are_not_parallel(tiny_world_memory):
    world = tiny_world_memory
    keys = {}
    for i, lang in enumerate(CODES):
        docs = world.corpora[lang]["train"] + world.corpora[lang]["dev"]
        keys[lang] = set().union(*(d.keys for d in docs))
        # Every fact of a language's corpus is one that language owns.
        assert all(owner(f, world.salt, len(CODES)) == i for d in docs for s in d.sentences for f in s.said)
    for a, b in itertools.combinations(CODES, 2):
        assert not keys[a] & keys[b], (a, b)
    # ... and so no sentence of one corpus is the translation of a sentence of another.
    lex = world.context.lexicon
    english = {render(s, "en", lex).text for d in world.corpora["en"]["train"] for s in d.sentences}
    for lang in ("xa", "xb", "xc"):
        translated = {render(s, "en", lex).text for d in world.corpora[lang]["train"] for s in d.sentences}
        assert not english & translated


def test_corpora_file_layout(tiny_world):
    root, manifest = tiny_world
    for lang in CODES:
        lines = (root / f"corpora/train.{lang}.txt").read_text().splitlines()
        assert len(lines) == manifest["corpora"][lang]["train"]["documents"] and all(lines)
        assert manifest["corpora"][lang]["train"]["sentences"] >= manifest["config"]["corpus_sentences"]


def test_nli_labels_follow_from_the_premise(tiny_world):
    root, _ = tiny_world
    for task, split in (("syn_nli", "train"), ("syn_xnli", "train")):
        examples = load_examples(task, split, "en", data_dir=root)
        meta = _meta(root, task, split, "en")
        assert {ex.label for ex in examples} == {"entailment", "neutral", "contradiction"}
        for ex, m in zip(examples, meta):
            assert ex.label == m["label"]
            if m["construction"] == "restatement":
                assert ex.text_b[:-2] in ex.text_a  # the hypothesis is a premise sentence
            if m["construction"] in ("negated premise fact", "negated other value", "unrelated negated"):
                assert " not " in ex.text_b


def test_stories_have_one_consistent_ending(tiny_world):
    root, _ = tiny_world
    for ex in load_examples("syn_story", "train", "en", data_dir=root):
        assert len(set(ex.choices)) == 4
        assert ex.question in ex.context  # the ending's subject is in the story


def test_nli_negation_share_zero_writes_no_not(tmp_path):
    root = tmp_path / "w"
    generate(root, seed=0, size="tiny", xnli_negation_share=0.0)
    hypotheses = [ex.text_b for ex in load_examples("syn_xnli", "train", "en", data_dir=root)]
    assert hypotheses and not any(" not " in h for h in hypotheses)
    # The intermediate task keeps its own share.
    assert any(" not " in ex.text_b for ex in load_examples("syn_nli", "train", "en", data_dir=root))


def test_sharper_priors_tie_professions_to_cities_and_ages():
    from collections import Counter, defaultdict

    import numpy as np

    from xstilts.world import build

    def sample(world) -> tuple[float, float]:
        """Share of people living in their profession's most common city; mean age spread per profession."""
        rng = np.random.default_rng(0)
        homes, ages = defaultdict(Counter), defaultdict(list)
        for _ in range(400):
            for p in world.context.scene(rng, 4).people:
                homes[p.job][p.city] += 1
                ages[p.job].append(int(p.age))
        top = sum(c.most_common(1)[0][1] for c in homes.values()) / sum(sum(c.values()) for c in homes.values())
        return top, float(np.mean([np.std(a) for a in ages.values()]))

    loose_top, loose_sd = sample(build(seed=0, size="tiny"))
    sharp_top, sharp_sd = sample(build(seed=0, size="tiny", city_concentration=0.05, age_sd=(1, 2)))
    assert sharp_top > loose_top + 0.2
    assert sharp_sd < loose_sd / 2



def test_tatoeba_with_few_names_has_no_identifying_anchors(tmp_path):
    root = tmp_path / "w"
    generate(root, seed=0, size="tiny", tatoeba_names=3)
    lexicon = {row.split("\t")[0]: row.split("\t")[1] for row in (root / "lexicon.tsv").read_text().splitlines()[1:]}
    english = (root / "xtreme/download/syn_tatoeba/xa-en.en").read_text().splitlines()
    assert len(set(english)) == len(english) == 20
    kinds = {lexicon.get(w) for line in english for w in line.split()}
    names = {w for line in english for w in line.split() if lexicon.get(w) == "name"}
    assert len(names) <= 3 and "city" not in kinds and "number" not in kinds
    # The default keeps sentences about anyone (cities and numbers included).
    generate(tmp_path / "d", seed=0, size="tiny")
    words = (tmp_path / "d/xtreme/download/syn_tatoeba/xa-en.en").read_text().split()
    assert len({w for w in words if lexicon.get(w) == "name"}) > 3


def test_tatoeba_variants_share_their_anchors_with_other_sentences(tmp_path):
    root = tmp_path / "w"
    generate(root, seed=0, size="tiny", tatoeba_variants=True)
    lexicon = {row.split("\t")[0]: row.split("\t")[1] for row in (root / "lexicon.tsv").read_text().splitlines()[1:]}
    english = (root / "xtreme/download/syn_tatoeba/xa-en.en").read_text().splitlines()
    assert len(set(english)) == len(english) == 20
    anchors = [tuple(sorted(w for w in line.split() if lexicon.get(w) in ("name", "city", "number")))
               for line in english]
    # Every sentence has a twin with the same anchors (the last group may be cut short).
    alone = [a for a in anchors if anchors.count(a) == 1]
    assert len(alone) <= 1
    assert any(" not " in line for line in english) and any(" not " not in line for line in english)
