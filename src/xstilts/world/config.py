"""Size presets and the knobs of the synthetic world.

A preset is a :class:`WorldConfig`; any field can be overridden (``generate(..., anchor_share=0.2)``,
``xstilts world --set anchor_share=0.2``). ``sizes`` gives the number of examples per task and
split — per language for the parallel dev/test splits; questions for QA, sentences for tagging,
sentence pairs for Tatoeba — and is merged task by task with an override.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from xstilts.errors import ConfigError, UnknownNameError

Range = tuple[int, int]


@dataclass(frozen=True)
class WorldConfig:
    """Every knob of the world (see docs/world.md)."""

    # Vocabulary and languages.
    n_names: int = 120
    n_cities: int = 30
    anchor_share: float = 1.0        # names, cities and numbers spelled alike in every language
    shared_word_share: float = 0.0   # other words borrowed unchanged from English
    # How strongly the world ties a value to others (professions → typical cities and ages, kinds
    # of things → colours): Dirichlet concentrations (lower: fewer, more typical values) and the
    # spread of a profession's ages. Sharper priors give the words of every language more
    # distinctive contexts, which is what cross-lingual alignment of an MLM rests on (docs/world.md).
    city_concentration: float = 0.7
    colour_concentration: float = 1.0
    age_sd: Range = (5, 12)
    # Monolingual corpora (per language): sentences in train / dev, sentences per document.
    corpus_sentences: int = 25_000
    corpus_dev_sentences: int = 1_000
    corpus_doc_sentences: Range = (3, 12)
    # QA documents: sentences per document (log-uniform, stratified), questions per document,
    # share of distractors written as a negated wrong value ("Anna does not live in Holmvik").
    qa_doc_sentences: Range = (2, 300)
    longqa_doc_sentences: Range = (2, 300)
    questions_per_doc: int = 2
    qa_negated_distractors: float = 0.1
    # Sentence-pair and story tasks: facts in the premise / story context.
    nli_premise_facts: Range = (2, 5)
    xnli_premise_facts: Range = (1, 3)
    # Share of NLI hypotheses built with "not" (half of every label's constructions; 0: none).
    nli_negation_share: float = 0.4
    xnli_negation_share: float = 0.4
    story_context_facts: Range = (2, 4)
    # syn_tatoeba: 0 = sentences about anyone (names, cities, numbers identify most translations);
    # k > 0 = only k names, and only jobs, possessions and acquaintances (no cities, no numbers).
    tatoeba_names: int = 0
    # syn_tatoeba in groups of minimal variants sharing every anchor (statement / negation,
    # lives / visited, the two people swapped, story ending): the words around the anchors decide.
    tatoeba_variants: bool = False
    # The English intermediate tasks' train and dev sets also in xa/xb/xc (the same items rendered
    # in each language, in the same files' schema under translated/): the translate-train baseline.
    translations: bool = True
    # Examples per task and split (dev/test of targets: per language, parallel across languages).
    sizes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def size(self, task: str, split: str) -> int:
        return int(self.sizes.get(task, {}).get(split, 0))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["sizes"] = {t: dict(s) for t, s in self.sizes.items()}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _sizes(nli, story, longqa, tags, xnli, qa, pos, tatoeba) -> dict[str, dict[str, int]]:
    return {
        "syn_nli": dict(zip(("train", "dev"), nli)),
        "syn_story": dict(zip(("train", "dev"), story)),
        "syn_longqa": dict(zip(("train", "dev"), longqa)),
        "syn_tags": dict(zip(("train", "dev"), tags)),
        "syn_xnli": dict(zip(("train", "dev", "test"), xnli)),
        "syn_qa": dict(zip(("train", "dev", "test"), qa)),
        "syn_pos": dict(zip(("train", "dev", "test"), pos)),
        "syn_tatoeba": {"test": tatoeba},
    }


PRESETS: dict[str, WorldConfig] = {
    # Unit tests: a few seconds, every file and layout, a few long QA documents.
    "tiny": WorldConfig(
        n_names=60, n_cities=12, corpus_sentences=400, corpus_dev_sentences=40,
        translations=False,  # the unit tests' world stays minimal; translations=True adds them
        qa_doc_sentences=(2, 240), longqa_doc_sentences=(2, 240),
        sizes=_sizes(nli=(40, 20), story=(40, 20), longqa=(24, 10), tags=(40, 20),
                     xnli=(40, 20, 20), qa=(24, 10, 10), pos=(40, 20, 20), tatoeba=20),
    ),
    # The embedded demo: a tiny MLM learns from the corpora in minutes on two cores.
    "demo": WorldConfig(
        city_concentration=0.1, colour_concentration=0.1, age_sd=(2, 3),
        nli_premise_facts=(2, 30),  # up to ~200 tokens: the intermediate max length matters
        xnli_premise_facts=(1, 2), xnli_negation_share=0.0, tatoeba_variants=True,
        sizes=_sizes(nli=(4000, 500), story=(3000, 500), longqa=(2000, 300), tags=(3000, 500),
                     xnli=(4000, 300, 600), qa=(2000, 200, 400), pos=(2000, 300, 500), tatoeba=500),
    ),
    # A GPU-sized world: larger corpora and training sets, the same languages.
    "large": WorldConfig(
        n_names=300, n_cities=60, corpus_sentences=250_000, corpus_dev_sentences=5_000,
        city_concentration=0.1, colour_concentration=0.1, age_sd=(2, 3), nli_premise_facts=(2, 30),
        sizes=_sizes(nli=(40000, 2000), story=(20000, 2000), longqa=(20000, 1000), tags=(20000, 2000),
                     xnli=(40000, 1000, 2000), qa=(20000, 500, 1000), pos=(10000, 1000, 2000),
                     tatoeba=1000),
    ),
}


def resolve_config(size: str, overrides: Mapping[str, Any] | None = None) -> WorldConfig:
    """The preset ``size`` with ``overrides`` applied (``sizes`` merged task by task)."""
    if size not in PRESETS:
        raise UnknownNameError("world size", size, list(PRESETS))
    config = PRESETS[size]
    overrides = dict(overrides or {})
    known = {f.name: f for f in dataclasses.fields(WorldConfig)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in known:
            raise UnknownNameError("world setting", key, list(known))
        default = getattr(config, key)
        if key == "sizes":
            value = _sizes_override(config, value)
        elif isinstance(default, tuple):
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(_whole(v) is not None for v in value)):
                raise ConfigError(f"{key}: expected a range [low, high] with 1 <= low <= high, got {value!r}")
            value = tuple(_whole(v) for v in value)
            if not 1 <= value[0] <= value[1]:
                raise ConfigError(f"{key}: expected a range [low, high] with 1 <= low <= high, got {list(value)}")
        elif isinstance(default, bool):  # before int: bool is an int
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: expected true or false, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key}: expected a number in [0, 1], got {value!r}")
            value = float(value)
        elif isinstance(default, int):
            low = 1 if key in ("n_names", "n_cities", "questions_per_doc") else 0
            whole = _whole(value)
            if whole is None or whole < low:
                raise ConfigError(f"{key}: expected a whole number >= {low}, got {value!r}")
            value = whole
        changes[key] = value
    config = dataclasses.replace(config, **changes)
    for key in ("city_concentration", "colour_concentration"):
        if getattr(config, key) <= 0:
            raise ConfigError(f"{key} must be > 0 (a Dirichlet concentration), got {getattr(config, key)}")
    if config.n_names < 8 or config.n_cities < 4:
        raise ConfigError("the world needs at least 8 names and 4 cities")
    return config


def _whole(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (``3``, ``3.0``), else None (``1.5``, ``"3"``, ``True``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _sizes_override(config: WorldConfig, value: Any) -> dict[str, dict[str, int]]:
    """The preset's ``sizes`` with ``value`` (task → split → count) merged in, every count checked."""
    merged = {t: dict(s) for t, s in config.sizes.items()}
    if not isinstance(value, Mapping):
        raise ConfigError(f"sizes: expected a mapping task → {{split: count}}, got {value!r}")
    for task, splits in value.items():
        if task not in merged:
            raise ConfigError(f"sizes: unknown task {task!r} (known: {', '.join(merged)})")
        if not isinstance(splits, Mapping):
            raise ConfigError(f"sizes.{task}: expected a mapping split → count, got {splits!r}")
        for split, count in splits.items():
            if split not in merged[task]:
                raise ConfigError(f"sizes.{task}: unknown split {split!r} (known: {', '.join(merged[task])})")
            whole = _whole(count)
            if whole is None or whole < 0:
                raise ConfigError(f"sizes.{task}.{split}: expected a whole number >= 0, got {count!r}")
            merged[task][split] = whole
    return merged
