"""The world: people with attributes, the events between them, and the facts that state them.

A **scene** is a handful of people sampled from the world's :class:`Priors`; every sentence the
world writes states (or negates, or asks about) one :class:`Fact` of some scene. Scenes are
independent: a name is a label, not a fixed individual, so a model cannot answer a question
from memory and must read the document.

Facts (``rel(args)``):

| rel | args | functional | sentence |
|---|---|---|---|
| ``lives`` | person, city | yes | Anna lives in Marburg . |
| ``age`` | person, number | yes | Anna is 34 years old . |
| ``job`` | person, profession | yes | Anna works as a doctor . / Anna is a doctor . |
| ``owns`` | person, kind, colour | one per kind | Anna has a red car . |
| ``visited`` | person, city | no | Anna visited Holmvik . |
| ``knows`` | person, person | no | Anna knows Bela . |
| ``gave`` | person, gift, person, city | no | Anna gave a book to Bela in Marburg . |

*Functional* relations have one value per person, so a different value contradicts a stated one
(the NLI tasks rely on this). The priors are the regularities every language's text shares —
professions have typical ages and cities, kinds of things typical colours, gifts a Zipf-like
popularity — so that the monolingual corpora describe the *same kind* of world.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from xstilts.world.languages import AGES, COLOURS, GIFTS, OWNED, PROFESSIONS, Vocabulary

RELATIONS = ("lives", "age", "job", "owns", "visited", "knows", "gave")
FUNCTIONAL = ("lives", "age", "job")
AGE_MIN, AGE_MAX = int(AGES[0]), int(AGES[-1])


@dataclass(frozen=True, slots=True)
class Fact:
    """One proposition, e.g. ``Fact("lives", ("Anna", "Marburg"))``."""

    rel: str
    args: tuple[str, ...]

    @property
    def key(self) -> str:
        """A stable id of the proposition (the same in every language and form)."""
        return f"{self.rel}({','.join(self.args)})"

    @property
    def person(self) -> str:
        return self.args[0]


def owner(fact: Fact, salt: int, n: int) -> int:
    """Which of ``n`` languages may state ``fact`` in its corpus (a stable hash of the key).

    The corpora are built so that every fact (and so every sentence, in any form) belongs to
    exactly one language: no sentence of one corpus has its translation in another.
    """
    return zlib.crc32(f"{salt}:{fact.key}".encode()) % n


@dataclass(frozen=True)
class Priors:
    """World regularities shared by every language (sampled once per seed)."""

    job_age: dict[str, tuple[float, float]]   # profession → (mean, sd) of age
    job_city: dict[str, np.ndarray]           # profession → probabilities over cities
    kind_colour: dict[str, np.ndarray]        # owned kind → probabilities over colours
    gift: np.ndarray                          # probabilities over gifts


def build_priors(rng: np.random.Generator, vocab: Vocabulary) -> Priors:
    n_cities = len(vocab.cities)
    job_age = {j: (float(rng.uniform(25, 70)), float(rng.uniform(5, 12))) for j in PROFESSIONS}
    job_city = {j: rng.dirichlet(np.full(n_cities, 0.7)) for j in PROFESSIONS}
    kind_colour = {k: rng.dirichlet(np.full(len(COLOURS), 1.0)) for k in OWNED}
    zipf = 1.0 / np.arange(1, len(GIFTS) + 1)
    gift = zipf[rng.permutation(len(GIFTS))]
    return Priors(job_age, job_city, kind_colour, gift / gift.sum())


@dataclass
class Person:
    name: str
    age: str
    job: str
    city: str
    owns: dict[str, str] = field(default_factory=dict)          # kind → colour
    visited: list[str] = field(default_factory=list)
    knows: list[str] = field(default_factory=list)
    gave: list[tuple[str, str, str]] = field(default_factory=list)  # (gift, receiver, city)

    def facts(self) -> list[Fact]:
        n = self.name
        out = [Fact("lives", (n, self.city)), Fact("age", (n, self.age)), Fact("job", (n, self.job))]
        out += [Fact("owns", (n, kind, colour)) for kind, colour in self.owns.items()]
        out += [Fact("visited", (n, c)) for c in self.visited]
        out += [Fact("knows", (n, other)) for other in self.knows]
        out += [Fact("gave", (n, gift, to, city)) for gift, to, city in self.gave]
        return out


@dataclass
class Scene:
    """People who appear together in one text; names are unique within a scene."""

    people: list[Person]

    def facts(self) -> list[Fact]:
        return [f for p in self.people for f in p.facts()]

    def person(self, name: str) -> Person:
        return next(p for p in self.people if p.name == name)


def _pick(rng: np.random.Generator, items, p=None):
    if p is None:
        return items[int(rng.integers(len(items)))]
    return items[int(rng.choice(len(items), p=p))]


def sample_scene(rng: np.random.Generator, vocab: Vocabulary, priors: Priors, n_people: int) -> Scene:
    """``n_people`` people (distinct names) with their attributes, possessions and events.

    Constraints that keep questions answerable: one thing per owned kind per person; a giver
    gives a receiver at most one gift; a receiver gets a given gift from at most one giver.
    """
    n_people = min(n_people, len(vocab.names))
    names = [vocab.names[i] for i in rng.choice(len(vocab.names), n_people, replace=False)]
    people = []
    for name in names:
        job = _pick(rng, PROFESSIONS)
        mean, sd = priors.job_age[job]
        age = str(int(np.clip(round(rng.normal(mean, sd)), AGE_MIN, AGE_MAX)))
        city = _pick(rng, vocab.cities, priors.job_city[job])
        person = Person(name, age, job, city)
        for k in rng.choice(len(OWNED), int(rng.integers(0, 4)), replace=False):
            kind = OWNED[int(k)]
            person.owns[kind] = _pick(rng, COLOURS, priors.kind_colour[kind])
        for _ in range(int(rng.integers(0, 3))):
            place = _pick(rng, vocab.cities)
            if place != city and place not in person.visited:
                person.visited.append(place)
        people.append(person)
    if n_people > 1:
        received: set[tuple[str, str]] = set()  # (gift, receiver)
        for person in people:
            others = [p.name for p in people if p.name != person.name]
            for _ in range(int(rng.integers(0, 3))):
                other = _pick(rng, others)
                if other not in person.knows:
                    person.knows.append(other)
            for _ in range(int(rng.integers(0, 3))):
                gift, to = _pick(rng, GIFTS, priors.gift), _pick(rng, others)
                if (gift, to) in received or any(r == to for _, r, _ in person.gave):
                    continue
                received.add((gift, to))
                person.gave.append((gift, to, _pick(rng, vocab.cities)))
    return Scene(people)


def other_value(rng: np.random.Generator, fact: Fact, vocab: Vocabulary) -> Fact:
    """The same functional fact with a different value (a contradiction of ``fact``)."""
    person, value = fact.args
    if fact.rel == "age":
        delta = int(rng.integers(1, 15)) * (1 if rng.random() < 0.5 else -1)
        new = int(value) + delta
        if not AGE_MIN <= new <= AGE_MAX:
            new = int(value) - delta
        return Fact("age", (person, str(new)))
    pool = vocab.cities if fact.rel == "lives" else PROFESSIONS
    while True:
        new = _pick(rng, pool)
        if new != value:
            return Fact(fact.rel, (person, new))
