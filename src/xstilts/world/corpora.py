"""Monolingual corpora for MLM pretraining: one document per line, every language on its own.

Each language's corpus describes scenes of the same world (same priors, same grammar, every
sentence form: statements, negations, questions followed by their answer, story endings,
coordinations), but the corpora are **not parallel**: a fact may only be written in the language
that :func:`~xstilts.world.facts.owner` assigns it to, so no sentence of one corpus — in any
form — has its translation in another. Alignment has to come from the shared world, the anchors
and the model, as for real monolingual pretraining data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xstilts.world.facts import FUNCTIONAL, Fact, other_value, owner
from xstilts.world.languages import CODES
from xstilts.world.render import ENDING_RELATIONS, Sentence, coordination, ending, question, statement
from xstilts.world.tasks import QUESTION_OF_RELATION, Context, _int, _pick, _variant


@dataclass(frozen=True)
class CorpusDoc:
    sentences: tuple[Sentence, ...]

    @property
    def keys(self) -> set[str]:
        """The facts this document states (in any form)."""
        return {f.key for s in self.sentences for f in s.facts}


def corpus(rng: np.random.Generator, ctx: Context, lang: str, n_sentences: int, salt: int) -> list[CorpusDoc]:
    """Documents in ``lang`` holding ``n_sentences`` sentences in all, of facts ``lang`` owns."""
    index, n_langs = CODES.index(lang), len(CODES)
    mine = lambda f: owner(f, salt, n_langs) == index  # noqa: E731
    lo, hi = ctx.config.corpus_doc_sentences
    docs: list[CorpusDoc] = []
    total = 0
    while total < n_sentences:
        scene = ctx.scene(rng, _int(rng, 2, 5))
        facts = [f for f in scene.facts() if mine(f)]
        want = min(_int(rng, lo, hi), n_sentences - total)
        sentences: list[Sentence] = []
        order = [facts[int(i)] for i in rng.permutation(len(facts))]
        while order and len(sentences) < want:
            sentences.extend(_sentences(rng, ctx, order, mine, want - len(sentences)))
        if sentences:
            docs.append(CorpusDoc(tuple(sentences)))
            total += len(sentences)
    return docs


def _sentences(rng: np.random.Generator, ctx: Context, order: list[Fact], mine, room: int) -> list[Sentence]:
    """One or two sentences about the next fact of ``order`` (consumed from it)."""
    fact = order.pop()
    r = rng.random()
    if r < 0.12 and fact.rel in QUESTION_OF_RELATION and room >= 2:
        # A question followed by its answer.
        return [question(_pick(rng, QUESTION_OF_RELATION[fact.rel]), fact), statement(fact, variant=_variant(rng, fact))]
    if r < 0.2 and fact.rel in FUNCTIONAL:
        wrong = other_value(rng, fact, ctx.vocab)
        if mine(wrong):
            return [statement(wrong, neg=True)]
    elif r < 0.3 and fact.rel in ENDING_RELATIONS:
        return [ending(fact)]
    elif r < 0.4 and order:
        second = order.pop()
        return [coordination(statement(fact, variant=_variant(rng, fact)),
                             statement(second, variant=_variant(rng, second)))]
    return [statement(fact, variant=_variant(rng, fact))]
