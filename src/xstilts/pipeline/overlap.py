"""Train/test contamination guard: no example a model trains or selects on may be one it is scored on.

XQuAD is a translation of 240 paragraphs of SQuAD v1.1 dev (its ids are SQuAD's), SQuAD v2.0 dev
shares articles with v1.1 dev, and a config that trains on "the first 800 SQuAD-dev questions" and
scores XQuAD silently measures memory, not transfer. Before any training phase runs, the runner
fingerprints that phase's English train and dev examples and the examples of every later
evaluation phase and compares them (:func:`find_overlaps`). A phase with a ``source_language``
other than English is compared in each language it trains on: training on German dev sentences and
scoring German dev is an overlap, scoring German test is not (nor are other languages' files,
unless translations kept the source's ids, as XQuAD keeps SQuAD's).

A fingerprint key is either

* an **id** that names the example in its source (SQuAD/XQuAD/MLQA ids, ANLI uids, MNLI pairIDs):
  translations keep them, so they catch XQuAD-de against SQuAD-en. Ids that xstilts readers make
  from a position (``dev-en-12``, ``test-3``, all-digit line numbers) mean nothing across files
  and are left out; or
* the **normalised text** of the part an example is built around: a QA context, an NLI premise,
  a multiple-choice context + question, a tagged sentence, a retrieval sentence (NFKC, case-folded,
  whitespace collapsed) — same-language reuse under other ids. Texts shorter than
  :data:`MIN_TEXT_CHARS` are left out: short sentences recur on their own (UD English EWT has
  "Thanks ." and "what do you think ?" in train and test), and are no evidence of a shared source.

Pure functions over example objects; the runner decides what to load and what to do on overlap.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from xstilts.data.examples import (
    ClassificationExample, MultipleChoiceExample, QAExample, RetrievalExample, TaggingExample, TextExample,
)

# Ids built from a position by xstilts' readers: "<split>-<lang>-<n>", "<split>-<n>", "<n>".
_POSITIONAL = re.compile(r"(?:[A-Za-z_]+-)?(?:[A-Za-z_]+-)?\d+")
FIRST_IDS = 5  # how many overlapping ids an error or a record names
MIN_TEXT_CHARS = 64


def normalise(text: str) -> str:
    """NFKC, case-folded, runs of whitespace as one space, stripped."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _texts(example) -> Iterable[str]:
    if isinstance(example, QAExample):
        yield example.context
    elif isinstance(example, ClassificationExample):
        yield example.text_a
    elif isinstance(example, MultipleChoiceExample):
        yield f"{example.context} {example.question}"
    elif isinstance(example, TaggingExample):
        yield " ".join(example.tokens)
    elif isinstance(example, RetrievalExample):
        yield from (s.text for s in (*example.source, *example.target))
    elif isinstance(example, TextExample):
        yield example.text
    else:
        raise TypeError(f"no fingerprint for {type(example).__name__}")


def fingerprints(examples: Sequence) -> dict[str, str]:
    """Fingerprint key → the id of the first example that has it."""
    out: dict[str, str] = {}
    for ex in examples:
        if not isinstance(ex, RetrievalExample) and not _POSITIONAL.fullmatch(ex.id):
            out.setdefault(f"id:{ex.id}", ex.id)
        for text in _texts(ex):
            if len(key := normalise(text)) >= MIN_TEXT_CHARS:
                out.setdefault(f"text:{key}", ex.id)
    return out


@dataclass(frozen=True)
class Overlap:
    """Examples of ``evaluated`` that share a fingerprint with examples of ``trained``."""

    trained: str       # e.g. "squad_v1/dev[0:800] (xquad train)"
    evaluated: str     # e.g. "xquad/test-de"
    count: int         # evaluation examples with at least one shared key
    total: int         # evaluation examples compared
    first_ids: tuple[str, ...]

    def describe(self) -> str:
        return (f"{self.trained} and {self.evaluated} share {self.count} of {self.total} examples "
                f"(first ids: {', '.join(self.first_ids)})")

    def as_dict(self) -> dict:
        return {"trained": self.trained, "evaluated": self.evaluated, "count": self.count, "total": self.total,
                "first_ids": list(self.first_ids)}


def find_overlaps(trained: Sequence[tuple[str, Sequence]], evaluated: Sequence[tuple[str, Sequence]]) -> list[Overlap]:
    """Every (training set, evaluation set) pair that shares examples, in the given order.

    Counts evaluation examples (what a reader of the score cares about): one whose id or text is
    among the training set's keys counts once, however many keys match.
    """
    out = []
    train_keys = [(label, set(fingerprints(examples))) for label, examples in trained]
    for eval_label, examples in evaluated:
        per_example = [(ex.id, set(fingerprints([ex]))) for ex in examples]
        for train_label, keys in train_keys:
            hits = [ex_id for ex_id, mine in per_example if mine & keys]
            if hits:
                out.append(Overlap(train_label, eval_label, len(hits), len(examples), tuple(hits[:FIRST_IDS])))
    return out


def without(examples: Sequence, others: Sequence) -> list:
    """``examples`` minus those sharing a fingerprint with any of ``others`` (a disjoint slice)."""
    keys = set(fingerprints(others))
    return [ex for ex in examples if not set(fingerprints([ex])) & keys]


def slice_label(task: str, split: str, start: int = 0, stop: int | None = None, language: str = "en") -> str:
    """How a training slice is named in errors and records: ``squad_v1/dev[0:800]`` (English),
    ``udpos/dev-de[0:200]`` (another source language)."""
    where = split if language == "en" else f"{split}-{language}"
    return f"{task}/{where}[{start}:{'' if stop is None else stop}]"


def _selection_set(task: str, label: str, language: str = "en") -> str:
    """The evaluation-set name of a task's own dev slice in ``language`` (``udpos/dev-en``)."""
    where = label.partition("/")[2].partition("[")[0]
    return f"{task}/{where if language != 'en' else where + '-en'}"


def check_experiment(config, source: Callable, evaluated: Callable, languages: Callable) -> dict[int, list[Overlap]]:
    """Overlaps per training phase index of ``config``: its train and dev examples, in each of its
    source languages, against the examples of every later evaluation phase (``zero_shot_eval``,
    ``retrieval_eval``: the sets each phase kind says it trains on and evaluates,
    :mod:`xstilts.pipeline.phases`).

    One pair is not a contamination and is left out: a phase's *own* dev slice against the same
    task's dev split in the same language — the set the model is selected on, scored as such (its
    dev number is a selection score, as everywhere; zero-shot languages are other files). A
    *training* slice taken from a dev split is never left out: training on German dev and scoring
    German dev is an overlap.

    The runner passes its own data access, so the guard sees exactly what the run reads:
    ``source(task, role, limit, language) -> (label, examples)`` — a task's train/dev examples in
    ``language`` as the phase trains and selects on them; ``evaluated(task, split, language, limit)
    -> examples``; ``languages(task, split, requested) -> [language, ...]``.
    """
    from xstilts.config import source_languages
    from xstilts.pipeline.phases import get_phase_kind
    from xstilts.tasks import get_task

    cache: dict[tuple, list] = {}

    def eval_sets(task, splits, requested, limit):
        for split in (s for s in splits if s in task.splits):
            for lang in languages(task, split, requested):
                key = (task.name, split, lang, limit)
                if key not in cache:
                    cache[key] = evaluated(task, split, lang, limit)
                yield f"{task.name}/{split}-{lang}", cache[key]

    out: dict[int, list[Overlap]] = {}
    for i, phase in enumerate(config.phases):
        kind = get_phase_kind(phase.kind)  # what each phase trains on and evaluates is its kind's
        if not kind.trains_on(phase):
            continue
        args = kind.training_args(phase)
        trained = []
        for task in map(get_task, kind.trains_on(phase)):
            for lang in source_languages(phase):
                for role, limit in (("train", args.max_train_examples), ("dev", args.max_eval_examples)):
                    label, examples = source(task, role, limit, lang)
                    own = (_selection_set(task.name, label, lang)
                           if role == "dev" and label.startswith(f"{task.name}/") else None)
                    trained.append((f"{label} ({task.name} {role})", examples, own))
        later = []
        for j in range(i + 1, len(config.phases)):
            for name, splits, requested, limit in get_phase_kind(config.phases[j].kind).evaluates(config, j):
                later += eval_sets(get_task(name), splits, requested, limit)
        found = [o for label, examples, own in trained
                 for o in find_overlaps([(label, examples)], [(name, ex) for name, ex in later if name != own])]
        if found:
            out[i] = found
    return out
