"""``intermediate``: train the model on English intermediate tasks (several at once: sampled by
``sampler``) at the phase's ``max_length``, before the target task (:mod:`.finetune`).

One of the tasks may be masked language modelling on multilingual text (``mlm`` or ``syn_mlm``,
configured by the phase's ``mlm``): Phang et al. 2020's baseline that continues MLM during
intermediate training so that English-only training does not make the model forget the other
languages. It trains on the corpora of ``mlm.languages`` (:class:`MlmMix`), on the model's ``mlm``
head, which continues from the checkpoint's own MLM head (XLM-R's ``lm_head``), and it selects the
model only when it is the phase's only task.

Reads the model of the phases before it, the English train/dev slices of ``tasks`` and the MLM
corpora; writes the trained model to ``OUT/shared/intermediate-<key>``. Every later row names its
tasks (``intermediate``: ``syn_nli+syn_mlm`` is a condition of its own), its length and its compute
policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from xstilts.errors import ConfigError
from xstilts.formats import mlm as mlm_format
from xstilts.formats.base import Features
from xstilts.modeling import HeadSpec, checkpoint_lm_head, head_spec_for, tensors_digest
from xstilts.pipeline.phases import PhaseKind, finetune, pretrained, register
from xstilts.pipeline.run import Run
from xstilts.tasks import Task, get_task
from xstilts.training.loop import TrainStream, seed_everything

HEAD = "mlm"  # the model's MLM head, whichever corpus trains it (pretraining from scratch names it so)


@register
class Intermediate(PhaseKind):
    kind = "intermediate"
    trains = True
    reads_model = True
    writes = "shared"
    reads = "English train/dev slices of its tasks; the MLM corpora of mlm.languages"

    def trains_on(self, phase) -> list[str]:
        return list(phase.tasks)

    def training_args(self, phase):
        return phase.effective_training()  # batch size scaled under compute_policy equal_tokens

    def run(self, run: Run, phase, index: int, folder: Path, *, load_model: bool = True, ordinal: int,
            overlaps: Sequence = (), **context) -> None:
        tasks = [get_task(t) for t in phase.tasks]
        # The length rows name is the task inputs' (MLM blocks are not inputs of the length study).
        lengths = [run.settings(t)["max_length"] for t in tasks if t.format != "mlm"]
        run.intermediate_max_len = phase.max_length or _common(lengths or [run.settings(t)["max_length"] for t in tasks])
        run.compute_policy = phase.compute_policy
        args = self.training_args(phase)
        mix = None
        if phase.mlm is not None:
            mix = MlmMix(next(t for t in tasks if t.format == "mlm"), phase.mlm, args.per_device_eval_batch_size)
            if load_model and not (folder / "done.json").exists():
                mix.start_head(run, ordinal)  # before any data is read: a checkpoint without a head fails at once
        finetune.train_or_reload(run, phase, tasks, args, folder, load_model=load_model,
                                 index=ordinal, max_length=phase.max_length, overlaps=overlaps, mlm=mix)
        run.add_intermediate(phase)  # later rows name its tasks (and source languages other than English)


def _common(values: list[int]) -> int | None:
    """The one length every task has (rows name it), or None when they differ."""
    return values[0] if len(set(values)) == 1 else None


class MlmMix:
    """The MLM task of an intermediate phase (``phase.mlm``, :class:`xstilts.config.MlmMixing`).

    :meth:`start_head` gives the model its ``mlm`` head — the run's own where an earlier phase has
    one, else the checkpoint's (:func:`xstilts.pipeline.phases.pretrained.checkpoint`: the hub
    checkpoint, or the folder a from-scratch phase saved, read by
    :func:`xstilts.modeling.checkpoint_lm_head`), or a new one only under ``head: fresh`` — and
    records where it came from. :meth:`stream` is one training stream of every language's corpus in
    ``max_length``-token blocks (``group_texts``), masked per batch by the training loop's generator,
    seeded by the batch's position; :meth:`evaluate` the dev loss and perplexity (the mean over the
    languages' losses, and its exp), logged at every evaluation; :meth:`rows` and :meth:`record` what
    the phase writes of it.
    """

    def __init__(self, task: Task, spec, eval_batch_size: int):
        self.task, self.spec, self.eval_batch_size = task, spec, eval_batch_size
        self.head: dict | None = None  # where the head came from (done.json)
        self.train: dict = {}  # texts and blocks trained on (done.json's truncation, rows)
        self.dev: dict[str, Features] = {}  # dev blocks per language
        self._tokenizer, self._seed = None, 0

    def start_head(self, run: Run, index: int) -> None:
        """Give ``run.model`` the ``mlm`` head this phase continues (see the class)."""
        model = run.model
        spec = head_spec_for(self.task, vocab_size=model.encoder.config.vocab_size)
        if self.spec.head == "fresh":
            seed_everything(run.config.seed + 1000 * index + 2)  # a seed of its own: task heads keep theirs
            model.add_head(HEAD, spec)
            self.head = {"from": "fresh"}
            run.log(f"{self.task.name}: a new, randomly initialised MLM head (mlm.head: fresh)")
        elif HEAD in model.heads:
            self.head = {"from": "model"}
            run.log(f"{self.task.name}: continuing the model's MLM head (trained by an earlier phase)")
        else:
            source, revision = pretrained.checkpoint(run)
            if run.config.phases[0].random_init:
                raise ConfigError(f"{self.task.name}: the encoder is the random-init control of {source}: its MLM head "
                                  f"belongs to the pretrained weights; set mlm.head: fresh")
            if run.config.phases[0].from_scratch is None:
                # HF's LM head normalises with the encoder config's epsilon (XLM-R: 1e-5); one pretrained
                # from scratch was trained with the head's own default, and keeps it.
                eps = getattr(model.encoder.config, "layer_norm_eps", None)
                spec = HeadSpec(spec.format, {**spec.kwargs, **({"layer_norm_eps": eps} if eps else {})}, spec.labels)
            model.add_head(HEAD, spec, state=checkpoint_lm_head(source, revision=revision))
            self.head = {"from": "checkpoint", "checkpoint": source, **({"revision": revision} if revision else {})}
            run.log(f"{self.task.name}: the MLM head continues from the checkpoint's ({source})")
        self.head["sha256"] = tensors_digest(model.head_state(HEAD))

    def stream(self, run: Run, settings: dict) -> TrainStream:
        """The training stream (and the dev blocks) of every language's corpus, in ``settings``' blocks."""
        if self.head is None:  # train_phase without start_head (a caller of finetune's own)
            raise RuntimeError("MlmMix.start_head must run before the phase trains")
        self._tokenizer, self._seed = run.tokenizer, run.config.seed
        limit, parts, texts, ids = self.spec.max_examples_per_language, [], {}, []
        for lang in self.spec.languages:
            examples = run.examples(self.task, "train", lang, limit)
            if not examples:
                raise ConfigError(f"{self.task.name}: the {lang!r} corpus has no text (mlm.languages)")
            parts.append(run.features(self.task, "train", lang, examples, settings))
            texts[lang] = len(examples)
            ids += [f"{lang}:{ex.id}" for ex in examples]
        features = Features.concat(parts, list(texts.values()))
        for lang in (x for x in self.spec.languages if self.task.has("dev", x)):
            examples = run.examples(self.task, "dev", lang, limit)
            if examples:
                self.dev[lang] = run.features(self.task, "dev", lang, examples, settings)
        self.train = {"examples": sum(texts.values()), "blocks": len(features), "block_length": settings["max_length"],
                      "examples_per_language": texts}
        run.log(f"{self.task.name}: {len(features)} blocks of {settings['max_length']} tokens from "
                f"{', '.join(f'{k}={v}' for k, v in texts.items())} texts; dev in {', '.join(self.dev) or 'no language'}")
        return TrainStream(HEAD, features, mlm_format.TARGET_COLUMNS,
                           mlm_format.masking(run.tokenizer, self.spec.mlm_probability), example_ids=ids)

    def dev_losses(self, model) -> dict[str, dict[str, float]]:
        """Per language, the dev loss and perplexity under a fixed masking (seeded: comparable across evaluations)."""
        from xstilts.pretraining import mlm_loss

        return {lang: mlm_loss(model, HEAD, feats, self._tokenizer, mlm_probability=self.spec.mlm_probability,
                               seed=self._seed, batch_size=self.eval_batch_size)
                for lang, feats in self.dev.items()}

    def evaluate(self, model) -> dict[str, float]:
        """``<task>.loss`` (the mean over languages) and ``<task>.perplexity`` (its exp), for the log."""
        loss = float(np.mean([m["loss"] for m in self.dev_losses(model).values()]))
        return {f"{self.task.name}.loss": loss, f"{self.task.name}.perplexity": mlm_format.perplexity(min(loss, 50.0))}

    def rows(self, run: Run, kind: str) -> list[dict]:
        """The blocks trained on, and the (selected) model's dev loss and perplexity per language."""
        rows = run.rows(kind, self.task.name, "+".join(self.spec.languages), "train", {"blocks": self.train["blocks"]},
                        self.train["examples"])
        for lang, metrics in self.dev_losses(run.model).items():
            rows += run.rows(kind, self.task.name, lang, "dev", metrics, len(self.dev[lang]))
        return rows

    def record(self) -> dict:
        """What ``done.json`` keeps: the corpora, the masking and where the head came from."""
        return {"task": self.task.name, "languages": list(self.spec.languages),
                "max_examples_per_language": self.spec.max_examples_per_language,
                "mlm_probability": self.spec.mlm_probability, "head": self.head,
                "dev_blocks": {lang: len(f) for lang, f in self.dev.items()}}
