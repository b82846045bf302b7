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

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


def build(*, seed: int = 0, size: str = "demo", **overrides: Any) -> World:
    """Generate the world in memory (see :func:`generate` for the knobs)."""
    config = resolve_config(size, overrides)
    vocab = build_vocabulary(stream(seed, "vocabulary"), n_names=config.n_names, n_cities=config.n_cities)
    lexicon = build_lexicon(stream(seed, "lexicon"), vocab, anchor_share=config.anchor_share,
                            shared_word_share=config.shared_word_share)
    priors = build_priors(stream(seed, "priors"), vocab, city_concentration=config.city_concentration,
                          colour_concentration=config.colour_concentration, age_sd=config.age_sd)
    ctx = Context(config, vocab, lexicon, priors)
    salt = int(stream(seed, "corpus-owner").integers(2**31))
    world = World(seed, size, config, ctx, salt)

    def items(task: str, split: str, make) -> None:
        n = config.size(task, split)
        world.tasks.setdefault(task, {})[split] = make(stream(seed, f"{task}/{split}"), n, f"{task}-{split}")

    for split in ("train", "dev"):
        items("syn_nli", split, lambda r, n, p: nli_items(r, ctx, n, p, config.nli_premise_facts,
                                                          config.nli_negation_share))
        items("syn_story", split, lambda r, n, p: story_items(r, ctx, n, p))
        items("syn_longqa", split, lambda r, n, p: qa_docs(r, ctx, n, p, QUESTIONS_OF["syn_longqa"],
                                                            config.longqa_doc_sentences))
        items("syn_tags", split, lambda r, n, p: sentence_mix(r, ctx, n, questions=False))
    for split in ("train", "dev", "test"):
        items("syn_xnli", split, lambda r, n, p: nli_items(r, ctx, n, p, config.xnli_premise_facts,
                                                           config.xnli_negation_share))
        items("syn_qa", split, lambda r, n, p: qa_docs(r, ctx, n, p, QUESTIONS_OF["syn_qa"], config.qa_doc_sentences))
        items("syn_pos", split, lambda r, n, p: sentence_mix(r, ctx, n, questions=True))
    items("syn_tatoeba", "test", lambda r, n, p: tatoeba_sentences(r, ctx, n))
    for lang in CODES:
        world.corpora[lang] = {
            "train": corpus(stream(seed, f"corpus/{lang}/train"), ctx, lang, config.corpus_sentences, salt),
            "dev": corpus(stream(seed, f"corpus/{lang}/dev"), ctx, lang, config.corpus_dev_sentences, salt),
        }
    return world


def generate(out_dir: str | Path, *, seed: int = 0, size: str = "demo", **overrides: Any) -> dict:
    """Write the world of ``seed`` at preset ``size`` (``tiny``, ``demo``, ``large``) to ``out_dir``.

    ``overrides`` replace preset knobs (:class:`~xstilts.world.config.WorldConfig`), e.g.
    ``anchor_share=0.2``, ``corpus_sentences=50_000``, ``qa_doc_sentences=(2, 400)`` or
    ``sizes={"syn_qa": {"train": 5000}}``. The folder is replaced atomically (only if empty or an
    earlier world). Returns the manifest, also written to ``out_dir/manifest.json``.
    """
    from xstilts.world.write import MANIFEST, Writer, atomic_dir, file_table, languages_summary

    world = build(seed=seed, size=size, **overrides)
    header = f"xstilts world --seed {seed} --size {size}" + "".join(
        f" --set {k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(overrides.items()))

    def write(root: Path) -> dict:
        w = Writer(root, world, header)
        t = world.tasks
        # The translations of the intermediate tasks render the English items in every other language.
        inter = ["en", *TRANSLATED_LANGUAGES] if world.config.translations else ["en"]
        for split in ("train", "dev"):
            w.anli("syn_nli", split, t["syn_nli"][split], inter)
            w.hellaswag("syn_story", split, t["syn_story"][split], inter)
            w.squad("syn_longqa", split, t["syn_longqa"][split], inter)
            w.stagged("syn_tags", split, t["syn_tags"][split], inter)
        for split in ("train", "dev", "test"):
            langs = ["en"] if split == "train" else list(TARGET_LANGUAGES)
            w.pair_tsv("syn_xnli", split, t["syn_xnli"][split], langs)
            w.squad("syn_qa", split, t["syn_qa"][split], langs)
            w.conll("syn_pos", split, t["syn_pos"][split], langs)
        w.tatoeba("syn_tatoeba", "test", t["syn_tatoeba"]["test"], RETRIEVAL_LANGUAGES)
        corpora = w.corpora(world.corpora)
        words = w.lexicon_tsv()
        manifest = {
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "size": size,
            "command": header,
            "config": world.config.to_dict(),
            "languages": languages_summary(words),
            "anchors": {"shared": len([x for x in world.context.vocab.anchors if x in world.context.lexicon.shared]),
                        "total": len(world.context.vocab.anchors)},
            "counts": w.counts,
            "translations": translations_summary(world.config.translations),
            "corpora": corpora,
            "lengths": w.lengths,
            "files": file_table(root),
        }
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return manifest

    return atomic_dir(Path(out_dir), write)


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
