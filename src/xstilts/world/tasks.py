"""The examples of every ``syn_*`` task, built from scenes as abstract sentences.

Items hold :class:`~xstilts.world.render.Sentence` objects, not text: :mod:`xstilts.world.write`
renders each in every language of its split, so the dev/test sets of the targets are parallel
(the same items in every language, as XNLI and XQuAD are translations).

| task | role | built from | label / answer |
|---|---|---|---|
| ``syn_nli``, ``syn_xnli`` | pair classification | premise = 1–30 facts of a scene | entailment / neutral / contradiction (below) |
| ``syn_story`` | multiple choice | story = 2–4 facts; the subject of an ending | the one ending consistent with the story |
| ``syn_longqa`` | extractive QA | a document of 2–300 facts | where_live, what_job, who_gave |
| ``syn_qa`` | extractive QA | a document of 2–300 facts | how_old, what_colour, what_gift |
| ``syn_tags`` / ``syn_pos`` | tagging | single sentences | CCG categories / UPOS |
| ``syn_tatoeba`` | retrieval | distinct single sentences | the translation |

NLI hypotheses (each label is negated in ~40% of the cases, so "not" is no cue to the label):
entailment = a premise fact restated, paraphrased ("works as a doctor" ↔ "is a doctor") or a
wrong value negated ("Anna does not live in Holmvik"); contradiction = a functional fact with
another value, or a premise fact negated; neutral = a fact the premise says nothing about.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from xstilts.world.config import WorldConfig
from xstilts.world.facts import FUNCTIONAL, Fact, Priors, Scene, other_value, sample_scene
from xstilts.world.languages import COLOURS, GIFTS, PROFESSIONS, Lexicon, Vocabulary
from xstilts.world.render import (
    ENDING_RELATIONS, INTERMEDIATE_QUESTIONS, QUESTION_TYPES, TARGET_QUESTIONS, Sentence, Word,
    coordination, ending, question, render, statement,
)

NLI_LABELS = ("entailment", "neutral", "contradiction")
QUESTIONS_OF = {"syn_longqa": INTERMEDIATE_QUESTIONS, "syn_qa": TARGET_QUESTIONS}
QUESTION_OF_RELATION = {  # relation → question types that ask about it (corpora use every one)
    rel: tuple(q for q, (r, _) in QUESTION_TYPES.items() if r == rel) for rel in FUNCTIONAL + ("owns", "gave")
}


@dataclass(frozen=True)
class Context:
    """What every builder needs: the knobs, the vocabulary, the lexicon and the world's priors."""

    config: WorldConfig
    vocab: Vocabulary
    lexicon: Lexicon
    priors: Priors

    def scene(self, rng: np.random.Generator, n_people: int) -> Scene:
        return sample_scene(rng, self.vocab, self.priors, n_people)


@dataclass(frozen=True)
class PairItem:
    id: str
    premise: tuple[Sentence, ...]
    hypothesis: Sentence
    label: str
    construction: str


@dataclass(frozen=True)
class StoryItem:
    id: str
    context: tuple[Sentence, ...]
    endings: tuple[Sentence, ...]
    label: int
    relation: str


@dataclass(frozen=True)
class Question:
    id: str
    qtype: str
    sentence: Sentence
    evidence: int   # index of the evidence sentence in its document
    answer: Word    # the answer word of that sentence (found by identity after rendering)


@dataclass(frozen=True)
class QADoc:
    id: str
    sentences: tuple[Sentence, ...]
    questions: tuple[Question, ...]


def _int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi]."""
    return int(rng.integers(lo, hi + 1))


def _choose(rng: np.random.Generator, items: list, k: int) -> list:
    if k >= len(items):
        return list(items)
    return [items[int(i)] for i in sorted(rng.choice(len(items), k, replace=False))]


def _variant(rng: np.random.Generator, fact: Fact) -> int:
    return int(rng.integers(2)) if fact.rel == "job" else 0


# --------------------------------------------------------------------------- sentence pairs


def nli_items(rng: np.random.Generator, ctx: Context, n: int, prefix: str, facts: tuple[int, int],
              negation: float) -> list[PairItem]:
    return [_nli_item(rng, ctx, f"{prefix}-{i:06d}", facts, negation) for i in range(n)]


def _nli_item(rng: np.random.Generator, ctx: Context, uid: str, n_facts: tuple[int, int],
              negation: float) -> PairItem:
    k = _int(rng, *n_facts)
    # A person has ~8 facts; one more person per 6 premise facts leaves room to choose (ANLI-like
    # contexts of 100+ words).
    scene = ctx.scene(rng, max(_int(rng, 1, 3), -(-k // 6)))
    facts = scene.facts()
    functional = [f for f in facts if f.rel in FUNCTIONAL]
    anchor = _pick(rng, functional)  # at least one functional fact: every label is constructible
    rest = [f for f in facts if f is not anchor]
    premise = [anchor] + _choose(rng, rest, k - 1)
    premise = [premise[int(i)] for i in rng.permutation(len(premise))]
    variants = [_variant(rng, f) for f in premise]
    label = NLI_LABELS[int(rng.integers(3))]
    negate = rng.random() < negation
    premise_functional = [f for f in premise if f.rel in FUNCTIONAL]
    if label == "entailment" and negate:
        hyp = statement(other_value(rng, _pick(rng, premise_functional), ctx.vocab), neg=True)
        how = "negated other value"
    elif label == "entailment":
        k = int(rng.integers(len(premise)))
        jobs = [i for i, f in enumerate(premise) if f.rel == "job"]
        if jobs and rng.random() < 0.4:
            k, how = jobs[0], "paraphrase"  # "works as a doctor" <-> "is a doctor"
            hyp = statement(premise[k], variant=1 - variants[k])
        else:
            hyp, how = statement(premise[k], variant=variants[k]), "restatement"
    elif label == "contradiction" and negate:
        k = int(rng.integers(len(premise)))
        hyp, how = statement(premise[k], neg=True, variant=variants[k]), "negated premise fact"
    elif label == "contradiction":
        fact = other_value(rng, _pick(rng, premise_functional), ctx.vocab)
        hyp, how = statement(fact, variant=_variant(rng, fact)), "other value"
    else:
        fact = _unrelated(rng, ctx, scene, premise)
        hyp = statement(fact, neg=negate, variant=_variant(rng, fact))
        how = "unrelated negated" if negate else "unrelated"
    sentences = tuple(statement(f, variant=v) for f, v in zip(premise, variants))
    return PairItem(uid, sentences, hyp, label, how)


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _unrelated(rng: np.random.Generator, ctx: Context, scene: Scene, premise: list[Fact]) -> Fact:
    """A fact whose truth the premise does not settle, in either polarity: not stated, and not a
    functional relation (or owned kind) of a person the premise gives a value for."""

    def slot(f: Fact) -> tuple:
        return (f.rel, f.person, f.args[1]) if f.rel == "owns" else (f.rel, f.person)

    stated = {f.key for f in premise}
    settled = {slot(f) for f in premise if f.rel in FUNCTIONAL or f.rel == "owns"}
    pool = [f for f in scene.facts() if f.key not in stated and slot(f) not in settled]
    if pool:
        return _pick(rng, pool)
    # Everything about the scene is said: a fact about someone else.
    names = {p.name for p in scene.people}
    while True:
        other = ctx.scene(rng, 1)
        if other.people[0].name not in names:
            return _pick(rng, other.facts())


# --------------------------------------------------------------------------- stories


def story_items(rng: np.random.Generator, ctx: Context, n: int, prefix: str) -> list[StoryItem]:
    return [_story_item(rng, ctx, f"{prefix}-{i:06d}") for i in range(n)]


def _story_item(rng: np.random.Generator, ctx: Context, uid: str) -> StoryItem:
    while True:
        scene = ctx.scene(rng, _int(rng, 2, 3))
        facts = scene.facts()
        key = _pick(rng, [f for f in facts if f.rel in ENDING_RELATIONS])
        # Context: the key fact, facts holding other values of the same type (so that every
        # ending's value may occur in the story: word overlap does not give the answer away),
        # and other facts.
        n = _int(rng, *ctx.config.story_context_facts)
        hard = [f for f in facts if f != key and _values(f, key.rel)]
        chosen = [key] + _choose(rng, hard, min(len(hard), max(1, n - 2)))
        chosen += _choose(rng, [f for f in facts if f not in chosen], n - len(chosen))
        wrong = _wrong_endings(rng, ctx, scene, key, chosen)
        if len(wrong) == 3:
            break
    context = [chosen[int(i)] for i in rng.permutation(len(chosen))]
    label = int(rng.integers(4))
    endings = wrong[:label] + [key] + wrong[label:]
    return StoryItem(uid, tuple(statement(f, variant=_variant(rng, f)) for f in context),
                     tuple(ending(f) for f in endings), label, key.rel)


def _values(fact: Fact, rel: str) -> list[str]:
    """The values in ``fact`` of the type an ending about a ``rel`` fact varies (cities for
    lives, professions for job, colours for owns, gifts for gave)."""
    if rel == "lives":
        return [fact.args[1]] if fact.rel in ("lives", "visited") else [fact.args[3]] if fact.rel == "gave" else []
    index = {"job": ("job", 1), "owns": ("owns", 2), "gave": ("gave", 1)}[rel]
    return [fact.args[index[1]]] if fact.rel == index[0] else []


def _wrong_endings(rng: np.random.Generator, ctx: Context, scene: Scene, key: Fact, context: list[Fact]) -> list[Fact]:
    """Three endings that contradict the story: the same person with another value, preferring
    values that occur in the story (hard negatives), then any value of the type."""
    a = key.args
    near = [v for f in context for v in _values(f, key.rel)]
    if key.rel == "lives":
        pool, make = ctx.vocab.cities, lambda v: Fact("lives", (a[0], v))
    elif key.rel == "job":
        pool, make = PROFESSIONS, lambda v: Fact("job", (a[0], v))
    elif key.rel == "owns":
        pool, make = COLOURS, lambda v: Fact("owns", (a[0], a[1], v))
    else:  # gave: "<receiver> now has a <gift>" — never a gift the receiver really got
        got = {f.args[1] for f in scene.facts() if f.rel == "gave" and f.args[2] == a[2]}
        near = [v for v in near if v not in got]
        pool = tuple(g for g in GIFTS if g not in got)
        make = lambda v: Fact("gave", (a[0], v, a[2], a[3]))  # noqa: E731
    true = a[2] if key.rel == "owns" else a[1]
    out: list[str] = []
    for values in (near, pool):
        for i in rng.permutation(len(values)):
            v = values[int(i)]
            if v != true and v not in out and len(out) < 3:
                out.append(v)
    return [make(v) for v in out]


# --------------------------------------------------------------------------- QA documents


def doc_lengths(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[int]:
    """``n`` sentence counts, log-uniform on [lo, hi] and stratified (one per quantile), shuffled:
    every split covers the whole range, its longest document close to ``hi``."""
    u = (np.arange(n) + rng.random(n)) / max(n, 1)
    lengths = np.exp(np.log(lo) + u * (np.log(hi + 1) - np.log(lo))).astype(int)
    return [int(x) for x in np.clip(lengths, lo, hi)[rng.permutation(n)]]


def qa_docs(rng: np.random.Generator, ctx: Context, n_questions: int, prefix: str, qtypes: tuple[str, ...],
            doc_sentences: tuple[int, int]) -> list[QADoc]:
    per_doc = ctx.config.questions_per_doc
    n_docs = -(-n_questions // per_doc)
    docs, made = [], 0
    for d, length in enumerate(doc_lengths(rng, n_docs, *doc_sentences)):
        k = min(per_doc, n_questions - made)
        doc = _qa_doc(rng, ctx, f"{prefix}-doc{d:05d}", length, qtypes, k, prefix, made)
        made += len(doc.questions)
        docs.append(doc)
    return docs


def _qa_doc(rng: np.random.Generator, ctx: Context, doc_id: str, length: int, qtypes: tuple[str, ...],
            n_questions: int, prefix: str, first: int) -> QADoc:
    while True:
        scene = ctx.scene(rng, max(2, -(-length // 5) + 1))
        facts = scene.facts()
        by_type = {q: [f for f in facts if f.rel == QUESTION_TYPES[q][0]] for q in qtypes}
        if sum(len(v) for v in by_type.values()) >= n_questions:
            break
    # Question types uniformly (not by how many facts of each relation the scene has), then a fact.
    asked: list[tuple[str, Fact]] = []
    while len(asked) < n_questions:
        open_types = [q for q in qtypes if any(f not in [g for _, g in asked] for f in by_type[q])]
        q = _pick(rng, open_types)
        f = _pick(rng, [f for f in by_type[q] if f not in [g for _, g in asked]])
        asked.append((q, f))
    evidence = [f for _, f in asked]
    others = [f for f in facts if f not in evidence]
    # Distractors of the asked relations are three times as likely: the name must be matched.
    asked_rels = {f.rel for f in evidence}
    weights = np.array([3.0 if f.rel in asked_rels else 1.0 for f in others])
    k = min(len(others), max(0, length - len(evidence)))
    picked = [others[int(i)] for i in rng.choice(len(others), k, replace=False, p=weights / weights.sum())] if k else []
    chosen = evidence + picked
    order = [int(i) for i in rng.permutation(len(chosen))]
    sentences: list[Sentence] = []
    answers: dict[int, Word] = {}
    for pos, j in enumerate(order):
        fact = chosen[j]
        if j >= len(evidence) and fact.rel in FUNCTIONAL and rng.random() < ctx.config.qa_negated_distractors:
            sentences.append(statement(other_value(rng, fact, ctx.vocab), neg=True))
            continue
        sentence = statement(fact, variant=_variant(rng, fact))
        sentences.append(sentence)
        if j < len(evidence):
            answers[j] = sentence.args[QUESTION_TYPES[asked[j][0]][1]]
    questions = tuple(
        Question(f"{prefix}-{first + i:06d}", q, question(q, f), order.index(i), answers[i])
        for i, (q, f) in enumerate(asked))
    return QADoc(doc_id, tuple(sentences), questions)


# --------------------------------------------------------------------------- single sentences

# Tatoeba sentences with few anchors, as real Tatoeba's (a few names, no cities or numbers): a
# relation whose values are all words of the language, and names from a small pool.
TATOEBA_RELATIONS = ("job", "owns", "knows")


def tatoeba_sentences(rng: np.random.Generator, ctx: Context, n: int) -> list[Sentence]:
    """``n`` distinct sentences for retrieval; with ``tatoeba_variants``, in groups of
    :func:`minimal_variants`; with ``tatoeba_names`` > 0 only about the first names of the
    vocabulary and only of :data:`TATOEBA_RELATIONS`. Both keep shared spellings (anchors) from
    identifying a translation."""
    if ctx.config.tatoeba_variants:
        return _variant_groups(rng, ctx, n)
    k = ctx.config.tatoeba_names
    if not k:
        return sentence_mix(rng, ctx, n, questions=True, unique=True)
    few = dataclasses.replace(ctx, vocab=dataclasses.replace(ctx.vocab, names=ctx.vocab.names[:k]))
    return sentence_mix(rng, few, n, questions=True, unique=True, relations=TATOEBA_RELATIONS)


def minimal_variants(fact: Fact) -> list[Sentence]:
    """Sentences with exactly the anchors of ``fact`` that say different things, as Tatoeba's
    "Tom is here." / "Tom isn't here.": the statement and its negation, the other place relation
    (lives ↔ visited), the two people swapped (knows, gave), and the story ending."""
    facts = [fact]
    if fact.rel in ("lives", "visited"):
        facts.append(Fact("visited" if fact.rel == "lives" else "lives", fact.args))
    elif fact.rel == "knows":
        facts.append(Fact("knows", fact.args[::-1]))
    elif fact.rel == "gave":
        giver, gift, receiver, city = fact.args
        facts.append(Fact("gave", (receiver, gift, giver, city)))
    out = [statement(f, neg=neg) for f in facts for neg in (False, True)]
    return out + ([ending(fact)] if fact.rel in ENDING_RELATIONS else [])


def _variant_groups(rng: np.random.Generator, ctx: Context, n: int) -> list[Sentence]:
    """``n`` distinct sentences, the minimal variants of one fact after another (the last group
    cut at ``n``)."""
    out: list[Sentence] = []
    seen: set[str] = set()
    while len(out) < n:
        fact = _pick(rng, ctx.scene(rng, 2).facts())
        out += [s for s in minimal_variants(fact)[: n - len(out)] if _new_text(s, ctx, seen)]
    return out


def _new_text(sentence: Sentence, ctx: Context, seen: set[str]) -> bool:
    """Whether ``sentence``'s English text is not in ``seen`` (it is added)."""
    text = render(sentence, "en", ctx.lexicon).text
    if text in seen:
        return False
    seen.add(text)
    return True


def sentence_mix(rng: np.random.Generator, ctx: Context, n: int, *, questions: bool,
                 unique: bool = False, relations: tuple[str, ...] | None = None) -> list[Sentence]:
    """Single sentences of every form: statements (both job variants), negations, story endings,
    coordinations and (if ``questions``) questions. ``unique``: no two with the same English text;
    ``relations``: only facts of these relations."""
    out: list[Sentence] = []
    seen: set[str] = set()
    while len(out) < n:
        scene = ctx.scene(rng, _int(rng, 2, 3))
        facts = [f for f in scene.facts() if relations is None or f.rel in relations]
        if len(facts) < 2:
            continue
        fact = _pick(rng, facts)
        r = rng.random()
        sentence = None
        if r < 0.15:  # each form has its band; a form that does not apply gives a statement
            if questions and fact.rel in QUESTION_OF_RELATION:
                sentence = question(_pick(rng, QUESTION_OF_RELATION[fact.rel]), fact)
        elif r < 0.3:
            sentence = statement(fact, neg=True, variant=_variant(rng, fact))
        elif r < 0.4:
            if fact.rel in ENDING_RELATIONS:
                sentence = ending(fact)
        elif r < 0.55:
            second = _pick(rng, [f for f in facts if f != fact])
            sentence = coordination(statement(fact, variant=_variant(rng, fact)),
                                    statement(second, variant=_variant(rng, second)))
        if sentence is None:
            sentence = statement(fact, variant=_variant(rng, fact))
        if unique and not _new_text(sentence, ctx, seen):
            continue
        out.append(sentence)
    return out
