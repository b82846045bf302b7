"""Sentences and documents: facts → abstract clauses → words in each language's order → text.

One grammar serves every language. A builder (:func:`statement`, :func:`question`,
:func:`ending`, :func:`coordination`) turns a :class:`~xstilts.world.facts.Fact` into a
:class:`Sentence` of :class:`Clause` objects whose leaves are :class:`Word` s — an English lexeme
with its UPOS tag, PTB tag and CCG category. :func:`linearize` orders the words by a
:class:`~xstilts.world.languages.LanguageSpec` (verb-final or not, adjective after the noun,
postpositions, articles, wh-fronting, do-support, pied-piping, question particle), and
:func:`render` looks each lexeme up in the language's lexicon. Tokens are separated by single
spaces (punctuation included), so whitespace tokens are words in every language.

A ``Word`` compares by identity: the answer of a QA question is *the* word object of the evidence
sentence, found again after reordering by :meth:`Rendered.index_of`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from xstilts.world.facts import Fact
from xstilts.world.languages import LANGUAGES, QPART, LanguageSpec, Lexicon


@dataclass(slots=True, eq=False)
class Word:
    """A lexeme with its tags: UPOS (target tagging), PTB POS and CCG category (English supertags)."""

    lex: str
    upos: str
    ptb: str
    ccg: str


@dataclass(slots=True)
class NP:
    head: Word
    det: Word | None = None
    mods: tuple[Word, ...] = ()  # adjectives / wh-determiners, before the head in English


@dataclass(slots=True)
class PP:
    adp: Word
    np: NP


@dataclass(slots=True)
class Verb:
    tensed: Word            # lives / gave / is
    base: Word | None = None  # live / give under do-support; None for the copula
    aux: Word | None = None   # does / did


@dataclass(slots=True)
class Clause:
    """Constituents by grammatical role; ``wh`` names the questioned one (``subj``, ``obj``,
    ``comp``, ``obl<i>`` or ``obl<i>.np`` — the noun phrase inside the i-th oblique)."""

    subj: NP
    verb: Verb
    comp: NP | tuple[Word, ...] | None = None
    obj: NP | None = None
    obls: tuple[PP | Word, ...] = ()
    adv: Word | None = None
    neg: bool = False
    wh: str | None = None


@dataclass(slots=True)
class Sentence:
    """A sentence built from ``facts`` (one, or two when coordinated).

    ``args`` are the words that realise the first fact's arguments (None where a question word
    replaced one or the form leaves it out); ``said`` is what the text itself states or asks —
    the facts with every argument the text does not express replaced by ``?`` (``how old is
    Anna ?`` says ``age(Anna,?)``). Two sentences with the same text say the same.
    """

    clauses: tuple[Clause, ...]
    facts: tuple[Fact, ...]
    kind: str  # statement | negation | question | ending | coordination
    args: tuple[Word | None, ...] = ()
    said: tuple[Fact, ...] = ()

    @property
    def fact(self) -> Fact:
        return self.facts[0]

    @property
    def is_question(self) -> bool:
        return self.kind == "question"


def _said(fact: Fact, args: tuple[Word | None, ...]) -> Fact:
    return Fact(fact.rel, tuple(a if w is not None else "?" for a, w in zip(fact.args, args)))


# --------------------------------------------------------------------------- word factories


def _w(lex: str, upos: str, ptb: str, ccg: str) -> Word:
    return Word(lex, upos, ptb, ccg)


# Function words, verbs and punctuation are never answers: one shared object each (cached),
# which halves the generation time. Argument words (names, values) are always fresh.
_c = functools.lru_cache(maxsize=None)
_fw = _c(_w)  # a shared function word


def name(n: str) -> Word:
    return Word(n, "PROPN", "NNP", "NP")


def noun(x: str, ptb: str = "NN") -> Word:
    return Word(x, "NOUN", ptb, "N")


@_c
def det(x: str = "a") -> Word:
    return _w(x, "DET", "DT", "NP[nb]/N")


@_c
def adp(x: str, ccg: str = "PP/NP") -> Word:
    return _w(x, "ADP", "IN" if x != "to" else "TO", ccg)


ADJUNCT = "((S\\NP)\\(S\\NP))/NP"
VERBS = {  # lemma → (tensed, base, aux, PTB of the tensed form)
    "live": ("lives", "live", "does", "VBZ"),
    "work": ("works", "work", "does", "VBZ"),
    "have": ("has", "have", "does", "VBZ"),
    "give": ("gave", "give", "did", "VBD"),
    "visit": ("visited", "visit", "did", "VBD"),
    "know": ("knows", "know", "does", "VBZ"),
    "go": ("goes", "go", "does", "VBZ"),
    "take": ("takes", "take", "does", "VBZ"),
}


@_c
def verb(lemma: str, ccg: str) -> Verb:
    tensed, base, aux, ptb = VERBS[lemma]
    return Verb(_w(tensed, "VERB", ptb, ccg), _w(base, "VERB", "VB", ccg.replace("S[dcl]", "S[b]")),
                _w(aux, "AUX", ptb, "(S[dcl]\\NP)/(S[b]\\NP)"))


@_c
def copula(ccg: str) -> Verb:
    return Verb(_w("is", "AUX", "VBZ", ccg))


@_c
def _not() -> Word:
    return _w("not", "PART", "RB", "(S\\NP)\\(S\\NP)")


@_c
def _and() -> Word:
    return _w("and", "CCONJ", "CC", "conj")


@_c
def _punct(mark: str) -> Word:
    return _w(mark, "PUNCT", ".", ".")


# --------------------------------------------------------------------------- builders

STATEMENT_VARIANTS = {"job": 2}  # "works as a doctor" / "is a doctor"


def statement(fact: Fact, *, neg: bool = False, variant: int = 0) -> Sentence:
    """``fact`` as a declarative sentence (negated if ``neg``); fresh words every call."""
    clause, args = _clause(fact, variant)
    if neg:
        clause = _replace(clause, neg=True)
    return Sentence((clause,), (fact,), "negation" if neg else "statement", args, (fact,))


def _clause(fact: Fact, variant: int = 0) -> tuple[Clause, tuple[Word | None, ...]]:
    a = fact.args
    p = name(a[0])
    subj = NP(p)
    if fact.rel == "lives":
        c = name(a[1])
        return Clause(subj, verb("live", "(S[dcl]\\NP)/PP"), obls=(PP(adp("in"), NP(c)),)), (p, c)
    if fact.rel == "age":
        n = _w(a[1], "NUM", "CD", "N/N")
        comp = (n, _fw("years", "NOUN", "NNS", "N"), _fw("old", "ADJ", "JJ", "(S[adj]\\NP)\\NP"))
        return Clause(subj, copula("(S[dcl]\\NP)/(S[adj]\\NP)"), comp=comp), (p, n)
    if fact.rel == "job":
        j = noun(a[1])
        if variant == 1:
            return Clause(subj, copula("(S[dcl]\\NP)/NP"), comp=NP(j, det())), (p, j)
        return Clause(subj, verb("work", "(S[dcl]\\NP)/PP"), obls=(PP(adp("as"), NP(j, det())),)), (p, j)
    if fact.rel == "owns":
        k, c = noun(a[1]), _w(a[2], "ADJ", "JJ", "N/N")
        return Clause(subj, verb("have", "(S[dcl]\\NP)/NP"), obj=NP(k, det(), (c,))), (p, k, c)
    if fact.rel == "visited":
        c = name(a[1])
        return Clause(subj, verb("visit", "(S[dcl]\\NP)/NP"), obj=NP(c)), (p, c)
    if fact.rel == "knows":
        q = name(a[1])
        return Clause(subj, verb("know", "(S[dcl]\\NP)/NP"), obj=NP(q)), (p, q)
    if fact.rel == "gave":
        g, q, c = noun(a[1]), name(a[2]), name(a[3])
        return Clause(subj, verb("give", "((S[dcl]\\NP)/PP)/NP"), obj=NP(g, det()),
                      obls=(PP(adp("to"), NP(q)), PP(adp("in", ADJUNCT), NP(c)))), (p, g, q, c)
    raise ValueError(f"unknown relation {fact.rel!r}")


def _replace(clause: Clause, **changes) -> Clause:
    return dataclasses.replace(clause, **changes)


# Question types: name → (relation, index of the answer argument). Two disjoint families.
QUESTION_TYPES: dict[str, tuple[str, int]] = {
    "where_live": ("lives", 1),     # where does Anna live ?
    "what_job": ("job", 1),         # what does Anna work as ?
    "who_gave": ("gave", 0),        # who gave a book to Bela ?
    "how_old": ("age", 1),          # how old is Anna ?
    "what_colour": ("owns", 2),     # what colour car does Anna have ?
    "what_gift": ("gave", 1),       # what did Anna give to Bela ?
}
INTERMEDIATE_QUESTIONS = ("where_live", "what_job", "who_gave")
TARGET_QUESTIONS = ("how_old", "what_colour", "what_gift")


def question(qtype: str, fact: Fact) -> Sentence:
    """The ``qtype`` question whose answer is an argument of ``fact``."""
    rel, _ = QUESTION_TYPES[qtype]
    if fact.rel != rel:
        raise ValueError(f"a {qtype} question asks about a {rel} fact, not {fact.rel}")
    clause, args = _clause(fact)
    if qtype == "where_live":
        clause = _replace(clause, obls=(_w("where", "ADV", "WRB", "S[wq]/(S[q]/PP)"),), wh="obl0")
        args = (args[0], None)
    elif qtype == "what_job":
        what = NP(_w("what", "PRON", "WP", "S[wq]/(S[q]/NP)"))
        clause = _replace(clause, obls=(PP(adp("as"), what),), wh="obl0.np")
        args = (args[0], None)
    elif qtype == "who_gave":
        who = NP(_w("who", "PRON", "WP", "S[wq]/(S[dcl]\\NP)"))
        clause = _replace(clause, subj=who, obls=clause.obls[:1], wh="subj")
        args = (None, args[1], args[2], None)
    elif qtype == "how_old":
        how = (_w("how", "ADV", "WRB", "(S[wq]/(S[q]/(S[adj]\\NP)))/(S[adj]\\NP)"),
               _w("old", "ADJ", "JJ", "S[adj]\\NP"))
        clause = _replace(clause, comp=how, wh="comp")
        args = (args[0], None)
    elif qtype == "what_colour":
        mods = (_w("what", "DET", "WDT", "(S[wq]/(S[q]/NP))/N"), noun("colour"))
        clause = _replace(clause, obj=NP(clause.obj.head, None, mods), wh="obj")
        args = (args[0], args[1], None)
    elif qtype == "what_gift":
        clause = _replace(clause, obj=NP(_w("what", "PRON", "WP", "S[wq]/(S[q]/NP)")),
                          obls=clause.obls[:1], wh="obj")
        args = (args[0], None, args[2], None)
    return Sentence((clause,), (fact,), "question", args, (_said(fact, args),))


ENDING_RELATIONS = ("lives", "gave", "owns", "job")


def ending(fact: Fact) -> Sentence:
    """A story continuation that follows from ``fact`` (HellaSwag-style endings).

    lives → "Anna goes home to Marburg ."; gave → "Bela now has a book ." (the receiver);
    owns → "Anna takes the red car ."; job → "Anna goes to work as a doctor ."
    """
    a = fact.args
    if fact.rel == "lives":
        p, c = name(a[0]), name(a[1])
        home = _fw("home", "ADV", "RB", "(S\\NP)\\(S\\NP)")
        clause = Clause(NP(p), verb("go", "(S[dcl]\\NP)/PP"), obls=(home, PP(adp("to"), NP(c))))
        args: tuple[Word | None, ...] = (p, c)
    elif fact.rel == "gave":
        q, g = name(a[2]), noun(a[1])
        clause = Clause(NP(q), verb("have", "(S[dcl]\\NP)/NP"), obj=NP(g, det()),
                        adv=_fw("now", "ADV", "RB", "(S\\NP)/(S\\NP)"))
        args = (None, g, q, None)
    elif fact.rel == "owns":
        p, k, c = name(a[0]), noun(a[1]), _w(a[2], "ADJ", "JJ", "N/N")
        clause = Clause(NP(p), verb("take", "(S[dcl]\\NP)/NP"), obj=NP(k, det("the"), (c,)))
        args = (p, k, c)
    elif fact.rel == "job":
        p, j = name(a[0]), noun(a[1])
        clause = Clause(NP(p), verb("go", "(S[dcl]\\NP)/PP"),
                        obls=(PP(adp("to"), NP(_fw("work", "NOUN", "NN", "N"))), PP(adp("as", ADJUNCT), NP(j, det()))))
        args = (p, j)
    else:
        raise ValueError(f"no ending for a {fact.rel} fact")
    return Sentence((clause,), (fact,), "ending", args, (_said(fact, args),))


def coordination(first: Sentence, second: Sentence) -> Sentence:
    """Two declarative sentences joined by "and" (one final full stop)."""
    return Sentence(first.clauses + second.clauses, first.facts + second.facts, "coordination", first.args,
                    first.said + second.said)


# --------------------------------------------------------------------------- linearization


def linearize(sentence: Sentence, spec: LanguageSpec) -> list[Word]:
    """The sentence's words in ``spec``'s order, punctuation included."""
    out: list[Word] = []
    for i, clause in enumerate(sentence.clauses):
        if i:
            out.append(_and())
        out.extend(_clause_words(clause, spec))
    if sentence.is_question and spec.q_particle:
        out.append(_fw(QPART, "PART", "RP", "S[q]\\S[q]"))
    out.append(_punct("?" if sentence.is_question else "."))
    return out


def _np(np_: NP, spec: LanguageSpec) -> list[Word]:
    det_ = [np_.det] if np_.det is not None and spec.articles else []
    return det_ + ([np_.head, *np_.mods] if spec.adj_after_noun else [*np_.mods, np_.head])


def _pp(pp: PP, spec: LanguageSpec) -> list[Word]:
    inner = _np(pp.np, spec)
    return inner + [pp.adp] if spec.postpositions else [pp.adp] + inner


def _clause_words(c: Clause, spec: LanguageSpec) -> list[Word]:
    subj = _np(c.subj, spec)
    obj = _np(c.obj, spec) if c.obj is not None else []
    comp = _np(c.comp, spec) if isinstance(c.comp, NP) else list(c.comp or ())
    obls = [_pp(o, spec) if isinstance(o, PP) else [o] for o in c.obls]
    adv = [c.adv] if c.adv is not None else []
    v = c.verb
    is_copula = v.base is None
    front: list[Word] = []
    if c.wh is not None and spec.wh_front:
        # Move the questioned constituent to the front (stranding or pied-piping an adposition).
        if c.wh == "subj":
            front, subj = subj, []
        elif c.wh == "obj":
            front, obj = obj, []
        elif c.wh == "comp":
            front, comp = comp, []
        else:
            k = int(c.wh[3:].split(".")[0])
            if c.wh.endswith(".np") and spec.wh_strand:
                front, obls[k] = _np(c.obls[k].np, spec), [c.obls[k].adp]
            else:
                front, obls[k] = obls[k], []
    rest = [w for o in obls for w in o]
    if spec.verb_final:
        group = ([_not()] if c.neg else []) + [v.tensed]
        return front + subj + adv + rest + obj + comp + group
    if front and c.wh != "subj":
        if spec.do_support and not is_copula:
            return front + [v.aux] + subj + adv + [v.base] + comp + obj + rest
        if spec.do_support:
            return front + [v.tensed] + subj + adv + comp + obj + rest
    if c.neg and spec.do_support:
        group = [v.tensed, _not()] if is_copula else [v.aux, _not(), v.base]
    elif c.neg:
        group = [_not(), v.tensed]
    else:
        group = [v.tensed]
    return front + subj + adv + group + comp + obj + rest


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Rendered:
    """Text of one or more sentences in one language, with each token's word and offset."""

    text: str
    tokens: list[str]
    words: list[Word]
    starts: list[int]            # character offset of each token
    sentence_starts: list[int]   # token index where each sentence begins

    def index_of(self, word: Word) -> int:
        """Token index of ``word`` (by identity)."""
        for i, w in enumerate(self.words):
            if w is word:
                return i
        raise ValueError(f"word {word.lex!r} is not in this text")

    def sentence_of(self, token: int) -> int:
        k = 0
        while k + 1 < len(self.sentence_starts) and self.sentence_starts[k + 1] <= token:
            k += 1
        return k


def render(sentences: list[Sentence] | Sentence, lang: str, lexicon: Lexicon) -> Rendered:
    """``sentences`` written in ``lang``, joined by single spaces."""
    if isinstance(sentences, Sentence):
        sentences = [sentences]
    spec = LANGUAGES[lang]
    forms = lexicon.forms[lang]
    tokens: list[str] = []
    words: list[Word] = []
    starts: list[int] = []
    sentence_starts: list[int] = []
    pos = 0
    for sentence in sentences:
        sentence_starts.append(len(tokens))
        for word in linearize(sentence, spec):
            form = forms[word.lex]
            if form is None:  # pragma: no cover - linearize never emits a word a language lacks
                raise KeyError(f"{word.lex!r} has no word in {lang}")
            if tokens:
                pos += 1
            starts.append(pos)
            tokens.append(form)
            words.append(word)
            pos += len(form)
    return Rendered(" ".join(tokens), tokens, words, starts, sentence_starts)
