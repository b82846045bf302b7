"""Monolingual corpora for MLM pretraining: one document per line, every language on its own.

Each language's corpus describes scenes of the same world (same priors, same grammar, every
sentence form: statements, negations, questions followed by their answer, story endings,
coordinations), but the corpora are **not parallel**: what a sentence says (its facts, arguments
it leaves out masked: ``Sentence.said``) may only be written in the language that
:func:`~xstilts.world.facts.owner` assigns it to, so no sentence of one corpus — in any form —
has its translation in another. Alignment has to come from the shared world, the anchors
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
        """What this document's sentences say (see :attr:`Sentence.said`)."""
        return {f.key for s in self.sentences for f in s.said}


def corpus(rng: np.random.Generator, ctx: Context, lang: str, n_sentences: int, salt: int) -> list[CorpusDoc]:
    """Documents in ``lang`` holding ``n_sentences`` sentences in all, each saying only what
    ``lang`` owns."""
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
    """One or two sentences about the next fact of ``order`` (consumed from it), in a form whose
    every said fact the language owns (else a plain statement, which it does)."""
    fact = order.pop()
    r = rng.random()
    out: list[Sentence] = []
    if r < 0.25:
        if fact.rel in QUESTION_OF_RELATION and room >= 2:  # a question followed by its answer
            out = [question(_pick(rng, QUESTION_OF_RELATION[fact.rel]), fact),
                   statement(fact, variant=_variant(rng, fact))]
    elif r < 0.45:
        if fact.rel in FUNCTIONAL:
            # A wrong value negated ("Anna does not live in Holmvik"); a few tries to find one it owns.
            for _ in range(4):
                out = [statement(other_value(rng, fact, ctx.vocab), neg=True)]
                if mine(out[0].fact):
                    break
    elif r < 0.6:
        if fact.rel in ENDING_RELATIONS:
            out = [ending(fact)]
    elif r < 0.7:
        if order:
            second = order.pop()
            out = [coordination(statement(fact, variant=_variant(rng, fact)),
                                statement(second, variant=_variant(rng, second)))]
    if out and all(mine(f) for s in out for f in s.said):
        return out
    return [statement(fact, variant=_variant(rng, fact))]
