"""The synthetic languages: one English-like base and three generated languages.

Every language shares one grammar of *lexemes* (the English surface forms, plus ``QPART``, a
question particle English lacks). A language is two things:

* a **lexicon** — lexeme → surface word, word by word. English uses the lexemes themselves; the
  generated languages get pronounceable words built from their own syllable inventory, distinct
  from every other language's words, except the **anchors** (person names, city names, numbers:
  shared in all languages with probability ``anchor_share``) and, with probability
  ``shared_word_share``, other words borrowed unchanged from English;
* a :class:`LanguageSpec` — the word-order rules :mod:`xstilts.world.render` applies.

| code | order | adjectives | adpositions | articles | questions |
|---|---|---|---|---|---|
| ``en`` | SVO | before the noun | prepositions | yes | wh-fronting, do-support |
| ``xa`` | SVO (English order) | before the noun | prepositions | yes | as English |
| ``xb`` | SOV (verb-final) | before the noun | postpositions | yes | wh in situ + particle |
| ``xc`` | SVO | after the noun | prepositions | none | wh-fronting, pied-piping, no do-support |

The codes are deliberately not ISO 639-1 codes of real languages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- the languages


@dataclass(frozen=True)
class LanguageSpec:
    """Word-order rules of one language (see the module table)."""

    code: str
    description: str
    verb_final: bool = False        # SOV: objects, complements and obliques precede the verb
    adj_after_noun: bool = False    # "car red" instead of "red car"
    postpositions: bool = False     # "Paris in" instead of "in Paris"
    articles: bool = True           # "a"/"the" are written
    do_support: bool = True         # "does Anna live", "does not live"
    wh_front: bool = True           # question words move to the front
    wh_strand: bool = True          # "what does Anna work as" (else "as what ...")
    q_particle: bool = False        # a question particle before "?"
    phonology: str | None = None    # key of PHONOLOGIES; None: English words

    @property
    def word_order(self) -> str:
        return "SOV" if self.verb_final else "SVO"


LANGUAGES: dict[str, LanguageSpec] = {
    "en": LanguageSpec("en", "English-like base: SVO, adjective-noun, prepositions, articles"),
    "xa": LanguageSpec("xa", "English word order with its own vocabulary", phonology="xa"),
    "xb": LanguageSpec("xb", "verb-final (SOV), postpositions, wh in situ with a question particle",
                       verb_final=True, postpositions=True, do_support=False, wh_front=False,
                       q_particle=True, phonology="xb"),
    "xc": LanguageSpec("xc", "SVO, noun-adjective, no articles, wh-fronting without do-support, "
                       "pied-piping", adj_after_noun=True, articles=False, do_support=False,
                       wh_strand=False, phonology="xc"),
}
CODES: tuple[str, ...] = tuple(LANGUAGES)

# --------------------------------------------------------------------------- the lexemes

# Word classes of the base grammar: every lexeme the renderer can emit belongs to one.
PROFESSIONS = ("baker", "doctor", "farmer", "teacher", "pilot", "singer", "nurse", "lawyer",
               "painter", "driver", "cook", "tailor", "writer", "dancer", "sailor", "banker",
               "porter", "miner", "potter", "barber")
OWNED = ("car", "bike", "boat", "house", "phone", "bag", "hat", "coat")  # have a colour, one per kind
GIFTS = ("book", "cup", "flower", "letter", "cake", "key", "lamp", "ring", "map", "pen")
COLOURS = ("red", "blue", "green", "black", "white", "yellow", "brown", "grey", "pink", "purple")
AGES = tuple(str(n) for n in range(18, 90))
VERB_FORMS = ("lives", "live", "works", "work", "has", "have", "gave", "give", "visited", "visit",
              "knows", "know", "goes", "go", "takes", "take", "is")
FUNCTION = ("the", "a", "does", "did", "not", "in", "to", "as", "and", "years", "old", "now", "home",
            "where", "who", "what", "how", "colour")
PUNCT = (".", "?")
QPART = "QPART"  # the question particle of languages with ``q_particle``; English has no word for it

# Syllable inventories: (onsets, nuclei, codas, syllables of function words, of content words).
PHONOLOGIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "xa": (("p", "t", "k", "m", "n", "l", "s", "v", "f"), ("a", "e", "i", "o", "u"), ("",)),
    "xb": (("b", "d", "g", "r", "z", "h", "k", "j"), ("a", "o", "u", "ai", "au"), ("", "", "n", "r", "k")),
    "xc": (("sh", "th", "ch", "w", "y", "p", "r", "n"), ("e", "i", "y", "ea", "ee"), ("", "l", "s", "th")),
    # Anchors shared by every language: names and cities (English spelling conventions).
    "names": (("b", "d", "k", "l", "m", "n", "r", "s", "t", "v", "j", "h"), ("a", "e", "i", "o", "u", "ia", "ei"),
              ("", "", "n", "r", "l")),
}
CITY_SUFFIXES = ("ton", "vik", "burg", "holm", "dal", "ford", "stad", "mar")


@dataclass(frozen=True)
class Vocabulary:
    """The lexemes of one world: the fixed classes above plus generated names and cities."""

    names: tuple[str, ...]
    cities: tuple[str, ...]

    @property
    def anchors(self) -> tuple[str, ...]:
        return self.names + self.cities + AGES

    @property
    def words(self) -> tuple[str, ...]:
        """Every non-anchor, non-punctuation lexeme (QPART included)."""
        return PROFESSIONS + OWNED + GIFTS + COLOURS + VERB_FORMS + FUNCTION + (QPART,)

    @property
    def lexemes(self) -> tuple[str, ...]:
        return self.anchors + self.words + PUNCT

    def kind(self, lexeme: str) -> str:
        """The class of a lexeme, as written in ``lexicon.tsv``."""
        for name, members in (("name", self.names), ("city", self.cities), ("number", AGES),
                              ("profession", PROFESSIONS), ("owned", OWNED), ("gift", GIFTS),
                              ("colour", COLOURS), ("verb", VERB_FORMS), ("function", FUNCTION),
                              ("punct", PUNCT), ("particle", (QPART,))):
            if lexeme in members:
                return name
        raise KeyError(lexeme)


@dataclass(frozen=True)
class Lexicon:
    """Surface forms of every lexeme in every language; ``forms[lang][lexeme]`` (None: no word)."""

    vocab: Vocabulary
    forms: dict[str, dict[str, str | None]]
    shared: frozenset[str]  # lexemes spelled alike in every language (anchors and borrowed words)

    def word(self, lang: str, lexeme: str) -> str:
        form = self.forms[lang][lexeme]
        if form is None:
            raise KeyError(f"{lexeme!r} has no word in {lang}")
        return form

    def vocabulary_of(self, lang: str) -> set[str]:
        return {f for f in self.forms[lang].values() if f is not None}


# --------------------------------------------------------------------------- generation


def _word(rng: np.random.Generator, phonology: str, syllables: int) -> str:
    onsets, nuclei, codas = PHONOLOGIES[phonology]
    parts = []
    for _ in range(syllables):
        parts.append(onsets[rng.integers(len(onsets))] + nuclei[rng.integers(len(nuclei))])
    return "".join(parts) + codas[rng.integers(len(codas))]


def _fresh(rng: np.random.Generator, phonology: str, syllables: tuple[int, int], taken: set[str]) -> str:
    """A generated word not yet used by any language (case-insensitive)."""
    lo, hi = syllables
    for attempt in range(1000):
        # Grow the word after many collisions: small inventories run out of short words.
        n = int(rng.integers(lo, hi + 1)) + attempt // 200
        word = _word(rng, phonology, n)
        if word.lower() not in taken:
            taken.add(word.lower())
            return word
    raise RuntimeError(f"could not find a fresh word in phonology {phonology}")  # pragma: no cover


def build_vocabulary(rng: np.random.Generator, *, n_names: int, n_cities: int) -> Vocabulary:
    """Generated person names (``Tolvia``) and city names (``Marburg``), all distinct."""
    taken = {w.lower() for w in PROFESSIONS + OWNED + GIFTS + COLOURS + VERB_FORMS + FUNCTION + AGES}
    names = tuple(_fresh(rng, "names", (2, 3), taken).capitalize() for _ in range(n_names))
    cities = []
    while len(cities) < n_cities:
        city = (_word(rng, "names", 1) + CITY_SUFFIXES[rng.integers(len(CITY_SUFFIXES))]).capitalize()
        if city.lower() not in taken:
            taken.add(city.lower())
            cities.append(city)
    return Vocabulary(names, tuple(cities))


def build_lexicon(rng: np.random.Generator, vocab: Vocabulary, *, anchor_share: float,
                  shared_word_share: float) -> Lexicon:
    """Every language's word for every lexeme.

    ``anchor_share`` of the anchors (names, cities, numbers) and ``shared_word_share`` of the
    other words are spelled as in English in every language; the rest get a fresh word per
    language. Punctuation is always shared. Function words are short (1–2 syllables), content
    words 2–3.
    """
    for name, share in (("anchor_share", anchor_share), ("shared_word_share", shared_word_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {share}")
    anchors, words = vocab.anchors, tuple(w for w in vocab.words if w != QPART)
    shared = set(PUNCT)
    # A random permutation decides which anchors/words are shared, so the shared set grows
    # monotonically with the share for a fixed seed.
    for pool, share in ((anchors, anchor_share), (words, shared_word_share)):
        order = rng.permutation(len(pool))
        shared.update(pool[i] for i in order[: int(round(share * len(pool)))])
    taken = {w.lower() for w in vocab.lexemes}
    forms: dict[str, dict[str, str | None]] = {}
    for code, spec in LANGUAGES.items():
        table: dict[str, str | None] = {}
        for lexeme in vocab.lexemes:
            if lexeme == QPART:
                table[lexeme] = None if not spec.q_particle else _fresh(rng, spec.phonology, (1, 1), taken)
            elif spec.phonology is None or lexeme in shared:
                table[lexeme] = lexeme
            elif lexeme in anchors:
                # An unshared anchor: names and cities stay capitalised, numbers become words.
                fresh = _fresh(rng, spec.phonology, (2, 3), taken)
                table[lexeme] = fresh if lexeme in AGES else fresh.capitalize()
            else:
                syllables = (1, 2) if lexeme in FUNCTION else (2, 3)
                table[lexeme] = _fresh(rng, spec.phonology, syllables, taken)
        forms[code] = table
    return Lexicon(vocab, forms, frozenset(shared))
