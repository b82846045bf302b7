"""A seeded synthetic multilingual world: the whole study offline, with known ground truth.

Four languages (``en`` and the generated ``xa``, ``xb``, ``xc``; see
:mod:`xstilts.world.languages`) describe one world of people, their attributes and the events
between them (:mod:`xstilts.world.facts`). :func:`generate` writes, in the real file layouts:

* English intermediate tasks ``syn_nli`` (ANLI jsonl), ``syn_story`` (HellaSwag jsonl),
  ``syn_longqa`` (SQuAD v1.1, long documents), ``syn_tags`` (CCG ``.stagged``), and (knob
  ``translations``) their train and dev sets in the other languages — the same items rendered by
  each language's grammar, same ids and labels, in the same schema — where translate-train
  (``source_language: [en, xa, xb, xc]``) reads them: ``<folder>/translated/<name>.<lang>.<ext>``;
* targets in XTREME's ``download/`` + ``labels/`` layout: ``syn_xnli``, ``syn_qa`` (a question
  family disjoint from ``syn_longqa``'s), ``syn_pos``, ``syn_tatoeba``;
* monolingual, non-parallel corpora ``corpora/{train,dev}.<lang>.txt`` (task ``syn_mlm``).

Point ``XSTILTS_DATA_DIR`` (or a config's ``data_dir``) at the folder and every ``syn_*`` task
loads with the ordinary readers. Everything is a function of ``(seed, size, overrides)``: each
component draws from its own random stream, keyed by the component's name, so the same
arguments write byte-identical files and adding a component changes no other.

>>> manifest = generate("/tmp/world", seed=0, size="tiny")  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from xstilts.settings import cpu_cores
from xstilts.world.config import PRESETS, WorldConfig, resolve_config
from xstilts.world.corpora import CorpusDoc, corpus
from xstilts.world.facts import build_priors
from xstilts.world.languages import CODES, build_lexicon, build_vocabulary
from xstilts.world.tasks import QUESTIONS_OF, Context, nli_items, qa_docs, sentence_mix, story_items, tatoeba_sentences

FORMAT_VERSION = 1
TARGET_LANGUAGES = CODES
RETRIEVAL_LANGUAGES = tuple(c for c in CODES if c != "en")
TRANSLATED_LANGUAGES = RETRIEVAL_LANGUAGES  # what the English intermediate tasks are also written in
INTERMEDIATE_TASKS = ("syn_nli", "syn_story", "syn_longqa", "syn_tags")
TARGET_TASKS = ("syn_xnli", "syn_qa", "syn_pos")  # and syn_tatoeba, test only
CORPUS_TASK = "syn_mlm"


def stream(seed: int, name: str) -> np.random.Generator:
    """The random stream of one component.

    Equivalent to ``SeedSequence(seed).spawn(...)`` children, but the child's spawn key is a
    stable hash of the component's name instead of its creation order, so adding, removing or
    resizing one component never shifts another's stream.
    """
    key = zlib.crc32(name.encode())
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


@dataclass
class World:
    """A generated world in memory: abstract items per task and split, corpus documents per
    language and split (nothing rendered yet)."""

    seed: int
    size: str
    config: WorldConfig
    context: Context
    salt: int
    tasks: dict[str, dict[str, list]] = field(default_factory=dict)
    corpora: dict[str, dict[str, list[CorpusDoc]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """One independent part of the world: the items of ``task`` and ``split``, rendered in
    ``langs``, or (task ``syn_mlm``) the corpus of the one language in ``langs``. Each draws from
    its own stream, so jobs may run in any order and in any process."""

    task: str
    split: str
    langs: tuple[str, ...]
    n: int  # items (corpus sentences) it makes


def jobs(config: WorldConfig) -> list[Job]:
    """Every job of the world, in the order the manifest lists their counts."""
    # The translations of the intermediate tasks render the English items in every other language.
    inter = ("en", *TRANSLATED_LANGUAGES) if config.translations else ("en",)
    out = [Job(task, split, inter, config.size(task, split))
           for split in ("train", "dev") for task in INTERMEDIATE_TASKS]
    out += [Job(task, split, ("en",) if split == "train" else TARGET_LANGUAGES, config.size(task, split))
            for split in ("train", "dev", "test") for task in TARGET_TASKS]
    out.append(Job("syn_tatoeba", "test", RETRIEVAL_LANGUAGES, config.size("syn_tatoeba", "test")))
    corpus_size = {"train": config.corpus_sentences, "dev": config.corpus_dev_sentences}
    out += [Job(CORPUS_TASK, split, (lang,), corpus_size[split]) for lang in CODES for split in ("train", "dev")]
    return out


# Every task's items, made from (its stream, the context, n, an id prefix, the config), and the Writer
# method that writes them: one row per task, so the jobs, the builder and the writer cannot disagree.
_TASKS = {
    "syn_nli": (lambda r, ctx, n, p, c: nli_items(r, ctx, n, p, c.nli_premise_facts, c.nli_negation_share), "anli"),
    "syn_story": (lambda r, ctx, n, p, c: story_items(r, ctx, n, p), "hellaswag"),
    "syn_longqa": (lambda r, ctx, n, p, c: qa_docs(r, ctx, n, p, QUESTIONS_OF["syn_longqa"], c.longqa_doc_sentences),
                   "squad"),
    "syn_tags": (lambda r, ctx, n, p, c: sentence_mix(r, ctx, n, questions=False), "stagged"),
    "syn_xnli": (lambda r, ctx, n, p, c: nli_items(r, ctx, n, p, c.xnli_premise_facts, c.xnli_negation_share),
                 "pair_tsv"),
    "syn_qa": (lambda r, ctx, n, p, c: qa_docs(r, ctx, n, p, QUESTIONS_OF["syn_qa"], c.qa_doc_sentences), "squad"),
    "syn_pos": (lambda r, ctx, n, p, c: sentence_mix(r, ctx, n, questions=True), "conll"),
    "syn_tatoeba": (lambda r, ctx, n, p, c: tatoeba_sentences(r, ctx, n), "tatoeba"),
}


def make_items(world: World, job: Job) -> list:
    """The items of ``job`` (corpus documents for ``syn_mlm``), drawn from its own stream."""
    if job.task == CORPUS_TASK:
        lang = job.langs[0]
        return corpus(stream(world.seed, f"corpus/{lang}/{job.split}"), world.context, lang, job.n, world.salt)
    make, _ = _TASKS[job.task]
    return make(stream(world.seed, f"{job.task}/{job.split}"), world.context, job.n, f"{job.task}-{job.split}",
                world.config)


def _empty_world(seed: int, size: str, overrides: dict[str, Any]) -> World:
    """The shared context of every job (vocabulary, lexicon, priors, corpus salt), no items yet."""
    config = resolve_config(size, overrides)
    vocab = build_vocabulary(stream(seed, "vocabulary"), n_names=config.n_names, n_cities=config.n_cities)
    lexicon = build_lexicon(stream(seed, "lexicon"), vocab, anchor_share=config.anchor_share,
                            shared_word_share=config.shared_word_share)
    priors = build_priors(stream(seed, "priors"), vocab, city_concentration=config.city_concentration,
                          colour_concentration=config.colour_concentration, age_sd=config.age_sd)
    salt = int(stream(seed, "corpus-owner").integers(2**31))
    return World(seed, size, config, Context(config, vocab, lexicon, priors), salt)


def build(*, seed: int = 0, size: str = "demo", **overrides: Any) -> World:
    """Generate the world in memory (see :func:`generate` for the knobs)."""
    world = _empty_world(seed, size, overrides)
    for job in jobs(world.config):
        into = world.corpora.setdefault(job.langs[0], {}) if job.task == CORPUS_TASK \
            else world.tasks.setdefault(job.task, {})
        into[job.split] = make_items(world, job)
    return world


# Below this many items and corpus sentences in all, generate() does not start a pool when
# ``workers`` is None. Measured on 2 cores: a unit costs ~0.13 ms in this process; two spawned
# workers take 0.3 s to start (0.7 s on a loaded machine: a fresh interpreter each, importing numpy,
# the task registry and the world), so halving the work pays from ~5,000-10,000 units. tiny
# (2,200 units): 0.2 s in this process, 0.5 s with a pool of two.
SERIAL_BELOW = 10_000


def generate(out_dir: str | Path, *, seed: int = 0, size: str = "demo", workers: int | None = None,
             **overrides: Any) -> dict:
    """Write the world of ``seed`` at preset ``size`` (``tiny``, ``demo``, ``large``) to ``out_dir``.

    ``overrides`` replace preset knobs (:class:`~xstilts.world.config.WorldConfig`), e.g.
    ``anchor_share=0.2``, ``corpus_sentences=50_000``, ``qa_doc_sentences=(2, 400)`` or
    ``sizes={"syn_qa": {"train": 5000}}``. The folder is replaced atomically (only if empty or an
    earlier world). Returns the manifest, also written to ``out_dir/manifest.json``.

    ``workers``: processes that build and write the jobs (:func:`jobs`); the files are the same
    for any number. ``None``: every usable core, but only this process for a small world
    (:data:`SERIAL_BELOW`); 1: this process only. The pool spawns fresh interpreters, so a script
    that calls this needs the usual ``if __name__ == "__main__":`` guard.
    """
    from xstilts.world.write import MANIFEST, Writer, atomic_dir, file_table, languages_summary

    world = _empty_world(seed, size, overrides)
    todo = jobs(world.config)
    if workers is None:
        small = sum(job.n for job in todo) < SERIAL_BELOW
        workers = 1 if small else cpu_cores()
    header = f"xstilts world --seed {seed} --size {size}" + "".join(
        f" --set {k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(overrides.items()))

    def write(root: Path) -> dict:
        counts: dict = {}
        lengths: dict = {}
        corpora: dict = {}
        # Merged in the jobs' order, not the order they finish in: the manifest keeps insertion order.
        for part_counts, part_lengths, part_corpora in _run_jobs(partial(_write_job, world, root, header), todo,
                                                                workers):
            _merge(counts, part_counts)
            _merge(lengths, part_lengths)
            _merge(corpora, part_corpora)
        words = Writer(root, world, header).lexicon_tsv()
        manifest = {
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "size": size,
            "command": header,
            "config": world.config.to_dict(),
            "languages": languages_summary(words),
            "anchors": {"shared": len([x for x in world.context.vocab.anchors if x in world.context.lexicon.shared]),
                        "total": len(world.context.vocab.anchors)},
            "counts": counts,
            "translations": translations_summary(world.config.translations),
            "corpora": corpora,
            "lengths": lengths,
            "files": file_table(root),
        }
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return manifest

    return atomic_dir(Path(out_dir), write)


def _write_job(world: World, root: Path, header: str, job: Job) -> tuple[dict, dict, dict]:
    """Build and write one job's files under ``root``. Returns its part of the manifest: counts,
    length statistics and (corpora) the corpus summary."""
    from xstilts.world.write import Writer

    # Items are rendered where they are built: the QA answers are found in the rendered text by
    # object identity, which a trip through pickle would not keep.
    items = make_items(world, job)
    w = Writer(root, world, header)
    corpora: dict = {}
    if job.task == CORPUS_TASK:
        corpora = w.corpora({job.langs[0]: {job.split: items}})
    else:
        getattr(w, _TASKS[job.task][1])(job.task, job.split, items, list(job.langs))
    return w.counts, w.lengths, corpora


def _run_jobs(fn: Callable[[Job], Any], todo: list[Job], workers: int) -> list:
    """``fn`` of every job, in the order of ``todo``; with ``workers`` > 1 in a pool of that many."""
    if workers <= 1:
        return [fn(job) for job in todo]
    # spawn, not fork: the caller may hold torch's OpenMP threads, which a forked child inherits broken.
    # No cyclic garbage collection in the workers: the items are trees, freed by reference counting,
    # and the collector's passes over them took a fifth of the time (demo: 9.5 s → 7.7 s, same peak memory).
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=gc.disable) as pool:
        # The largest first (items are a fair proxy of the cost), so the small ones fill the last gaps.
        futures = {job: pool.submit(fn, job) for job in sorted(todo, key=lambda job: -job.n)}
        return [futures[job].result() for job in todo]


def _merge(into: dict, part: dict) -> None:
    """Nested ``part`` added to nested ``into``, key by key."""
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def translations_summary(enabled: bool) -> dict:
    """The manifest's record of the translated intermediate files: languages, and per task and
    split the file of each language (relative to the world folder)."""
    from xstilts.data.loading import translated_files
    from xstilts.tasks import get_task

    if not enabled:
        return {"languages": [], "files": {}}
    files = {task: {split: {lang: translated_files(get_task(task), split, lang)[0].as_posix()
                            for lang in TRANSLATED_LANGUAGES} for split in ("train", "dev")}
             for task in INTERMEDIATE_TASKS}
    return {"languages": list(TRANSLATED_LANGUAGES), "files": files}


__all__ = ["PRESETS", "World", "WorldConfig", "build", "generate", "stream"]
