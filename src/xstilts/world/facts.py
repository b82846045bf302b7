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
from typing import NamedTuple

import numpy as np

from xstilts.world.languages import AGES, COLOURS, GIFTS, OWNED, PROFESSIONS, Vocabulary

RELATIONS = ("lives", "age", "job", "owns", "visited", "knows", "gave")
FUNCTIONAL = ("lives", "age", "job")
AGE_MIN, AGE_MAX = int(AGES[0]), int(AGES[-1])


class Fact(NamedTuple):
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
    """Which of ``n`` languages may say ``fact`` in its corpus (a stable hash of the key).

    A corpus only holds sentences whose every said fact (see ``Sentence.said``) its language
    owns, so no sentence of one corpus — in any form — has its translation in another.
    """
    return zlib.crc32(f"{salt}:{fact.key}".encode()) % n


@dataclass(frozen=True)
class Priors:
    """World regularities shared by every language (sampled once per seed).

    Rows follow ``PROFESSIONS`` / ``OWNED``; ``*_cdf`` are cumulative distributions (one row each).
    """

    age_mean: np.ndarray   # per profession
    age_sd: np.ndarray     # per profession
    city_cdf: np.ndarray   # profession × city
    colour_cdf: np.ndarray  # owned kind × colour
    gift_cdf: np.ndarray   # over gifts (Zipf-like popularity)


def build_priors(rng: np.random.Generator, vocab: Vocabulary, *, city_concentration: float = 0.7,
                 colour_concentration: float = 1.0, age_sd: tuple[int, int] = (5, 12)) -> Priors:
    n_jobs = len(PROFESSIONS)
    age_mean, age_sd = rng.uniform(25, 70, n_jobs), rng.uniform(*age_sd, n_jobs)
    city = rng.dirichlet(np.full(len(vocab.cities), city_concentration), n_jobs)
    colour = rng.dirichlet(np.full(len(COLOURS), colour_concentration), len(OWNED))
    zipf = 1.0 / np.arange(1, len(GIFTS) + 1)
    gift = zipf[rng.permutation(len(GIFTS))]
    return Priors(age_mean, age_sd, np.cumsum(city, axis=1), np.cumsum(colour, axis=1), np.cumsum(gift / gift.sum()))


def _draw(cdf: np.ndarray, u: np.ndarray) -> list[int]:
    """Indices drawn from the rows of ``cdf`` (one row per draw, or one row for all) by uniforms ``u``."""
    cdf = np.atleast_2d(cdf)
    return np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), cdf.shape[1] - 1).tolist()


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


_U_COLUMNS = 15 + 12  # job, home, 8 kind keys, 3 colours, 2 gifts, then the 12 integers below


def _int_bounds(n: int, n_cities: int) -> np.ndarray:
    """Upper bounds (exclusive) of the 12 integer columns of a scene's uniform matrix."""
    others = max(n - 1, 1)
    return np.array([4, 3, 3, 3, n_cities, n_cities, others, others, others, others, n_cities, n_cities])


def sample_scene(rng: np.random.Generator, vocab: Vocabulary, priors: Priors, n_people: int) -> Scene:
    """``n_people`` people (distinct names) with their attributes, possessions and events.

    Constraints that keep questions answerable: one thing per owned kind per person; a giver
    gives a receiver at most one gift; a receiver gets a given gift from at most one giver.
    All random numbers of a scene are drawn in a few vectorised calls (scenes are many).
    """
    n = min(n_people, len(vocab.names))
    cities, n_cities = vocab.cities, len(vocab.cities)
    names = [vocab.names[i] for i in rng.permutation(len(vocab.names))[:n].tolist()]
    # One matrix of uniforms per scene; column blocks are the draws below (numpy calls are the cost).
    u = rng.random((n, _U_COLUMNS))
    jobs = (u[:, 0] * len(PROFESSIONS)).astype(int)
    ages = np.clip(np.rint(priors.age_mean[jobs] + priors.age_sd[jobs] * rng.standard_normal(n)), AGE_MIN, AGE_MAX)
    homes = _draw(priors.city_cdf[jobs], u[:, 1])
    kinds = np.argsort(u[:, 2:2 + len(OWNED)], axis=1)[:, :3]
    colours = _draw(priors.colour_cdf[kinds.ravel()], u[:, 10:13].ravel())
    gifts = _draw(priors.gift_cdf, u[:, 13:15].ravel())
    ints = (u[:, 15:] * _int_bounds(n, n_cities)).astype(int).tolist()
    kinds, ages, jobs = kinds.tolist(), ages.astype(int).tolist(), jobs.tolist()
    people = []
    received: set[tuple[str, str]] = set()  # (gift, receiver)
    for i in range(n):
        # counts (owned kinds, visits, known people, gifts), 2 visited cities, 4 others, 2 gift cities
        n_own, n_visit, n_know, n_give, visit0, visit1, *others, city0, city1 = ints[i]
        person = Person(names[i], str(ages[i]), PROFESSIONS[jobs[i]], cities[homes[i]])
        for k in range(n_own):
            person.owns[OWNED[kinds[i][k]]] = COLOURS[colours[3 * i + k]]
        for k in range(n_visit):
            place = cities[(visit0, visit1)[k]]
            if place != person.city and place not in person.visited:
                person.visited.append(place)
        if n > 1:
            # The k-th other person: index k of everyone but i.
            other = [names[j + (j >= i)] for j in others]
            for k in range(n_know):
                if other[k] not in person.knows:
                    person.knows.append(other[k])
            for k in range(n_give):
                gift, to = GIFTS[gifts[2 * i + k]], other[2 + k]
                if (gift, to) in received or (k and person.gave and person.gave[0][1] == to):
                    continue
                received.add((gift, to))
                person.gave.append((gift, to, cities[(city0, city1)[k]]))
        people.append(person)
    return Scene(people)


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


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
