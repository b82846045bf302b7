"""``pretrained``: where the encoder comes from — a hub id or model folder (loaded; nothing is
trained or shared), or ``from_scratch``: a tokenizer and a small MLM trained on the corpora of
``from_scratch.corpus_task`` with the length curriculum (:func:`xstilts.pretraining.pretrain`),
saved once to ``OUT/shared/pretrained-<key>/model`` (its MLM head with it, as ``lm_head``) and
loaded from there like a hub checkpoint (:func:`checkpoint` says from where, for a later phase
that continues the checkpoint's MLM head).

Reads no model (it makes the first one). From scratch it writes the model folder, the dev loss and
perplexity rows, and ``done.json`` with one record per curriculum stage.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from xstilts.errors import ConfigError
from xstilts.formats.base import Features
from xstilts.modeling import MultiTaskModel, head_spec_for
from xstilts.pipeline.phases import PhaseKind, get_phase_kind, register
from xstilts.pipeline.run import Run, finish
from xstilts.tasks import get_task
from xstilts.training import distributed


@register
class Pretrained(PhaseKind):
    kind = "pretrained"
    trains = True
    reads_model = False
    writes = "shared"
    reads = "a hub id or model folder; from scratch, the MLM corpora of from_scratch.corpus_task"

    def shares(self, phase) -> bool:
        return phase.from_scratch is not None  # a hub checkpoint is loaded where it is

    def train_tokens(self, resolved, phase) -> int | None:
        spec, args = phase.from_scratch, getattr(phase.from_scratch, "training", None)
        if spec is None or args.max_steps <= 0:
            return None
        return args.max_steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * spec.max_length

    def run(self, run: Run, phase, index: int, folder: Path, *, load_model: bool = True, **context) -> None:
        """Load the encoder named by ``model``, or pretrain one ``from_scratch`` (once; then reload it);
        ``load_model=False``: the tokenizer only (a later finished phase's model follows)."""
        from transformers import AutoTokenizer

        # training.dropout of the first phase that trains on tasks applies to the encoder from the start.
        trained = (get_phase_kind(p.kind).training_args(p) for p in run.config.phases)
        args = next((a for a in trained if a is not None), None)
        dropout = args.dropout if args is not None else None
        source, revision, tokenizer_source = phase.model, phase.revision, phase.tokenizer or phase.model
        if phase.from_scratch is not None:
            if (folder / "done.json").exists():
                run.log("phase 0-pretrained already done: loading its model")
            else:
                _from_scratch(run, phase.from_scratch, folder)
            # Always reload from disk, so a fresh run and a resumed one continue from identical state.
            source = tokenizer_source = str(folder / "model")
            revision = None
        run.tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, revision=revision)
        if not load_model:
            return
        run.model = MultiTaskModel.from_pretrained(source, revision=revision, dropout=dropout,
                                                   random_init_seed=run.config.seed if phase.random_init else None)


def checkpoint(run: Run) -> tuple[str, str | None]:
    """Where the run's encoder was loaded from, as ``(hub id or directory, revision)``: phase 0's
    ``model``, or the folder a ``from_scratch`` phase saved its model to (an HF masked-LM
    directory, MLM head included: :func:`xstilts.pretraining.save_pretrained`)."""
    from xstilts.pipeline.runner import shared_dir

    phase = run.config.phases[0]
    if phase.from_scratch is None:
        return phase.model, phase.revision
    return str(shared_dir(run, 0) / "model"), None


def _from_scratch(run: Run, spec, folder: Path) -> None:
    """Train the tokenizer, build the encoder, pretrain it (or not: the control), save, finish."""
    from xstilts import pretraining
    from xstilts.formats import mlm

    task = get_task(spec.corpus_task)
    if task.format != "mlm":
        raise ConfigError(f"from_scratch.corpus_task {task.name!r} is a {task.format} task, not mlm")
    train_ex = {lang: run.examples(task, "train", lang, spec.max_examples_per_language) for lang in spec.languages}
    dev_ex = {lang: run.examples(task, "dev", lang, spec.max_examples_per_language) for lang in spec.languages
              if task.has("dev", lang)}
    run.log(f"pretraining from scratch on {', '.join(f'{k}={len(v)}' for k, v in train_ex.items())} texts")
    started = time.perf_counter()
    positions = max(spec.max_positions or spec.max_length, spec.max_length)
    run.tokenizer = pretraining.train_tokenizer(pretraining.corpus_texts(train_ex), spec.tokenizer,
                                                model_max_length=positions)
    run.log(f"trained a {spec.tokenizer.kind} tokenizer: {len(run.tokenizer)} pieces "
            f"in {time.perf_counter() - started:.1f}s")
    seed = spec.seed if spec.seed is not None else run.config.seed
    run.model = MultiTaskModel(pretraining.build_encoder(run.tokenizer, spec.model, positions, seed))
    run.model.add_head("mlm", head_spec_for(task, vocab_size=len(run.tokenizer)))

    if not spec.pretrain:  # the control: same tokenizer and shape, random weights
        if distributed.is_main():
            pretraining.save_pretrained(run.model, run.tokenizer, folder / "model")
        finish(run, folder, [], {"steps": 0, "vocab_size": len(run.tokenizer), "pretrained": False})
        return

    @functools.cache
    def tokens(split: str, lang: str):  # once per text, however many block lengths the curriculum cuts
        run.log(f"tokenizing {task.name} {split}-{lang}")
        return mlm.tokenize((train_ex if split == "train" else dev_ex)[lang], run.tokenizer)

    def blocks(split: str, length: int) -> Features | None:
        """Every language's texts of ``split`` as ``length``-token MLM blocks, language by language."""
        examples = train_ex if split == "train" else dev_ex
        if not examples:
            return None
        parts = [mlm.blocks(tokens(split, lang), run.tokenizer, max_length=length) for lang in examples]
        return Features.concat(parts, [len(ex) for ex in examples.values()])

    done = pretraining.pretrain(run.model, run.tokenizer, spec, blocks, out_dir=folder, seed=seed, log=run.log,
                                progress=run.progress)
    if distributed.is_main():
        pretraining.save_pretrained(run.model, run.tokenizer, folder / "model")
    rows = ([] if done.dev is None else
            run.rows("pretrained", task.name, "+".join(spec.languages), "dev", done.dev, done.dev_blocks))
    stages = done.stages
    finish(run, folder, rows, {"steps": sum(s["steps"] for s in stages),
                               "wall_seconds": sum(s["wall_seconds"] for s in stages),
                               "vocab_size": len(run.tokenizer), "train_blocks": done.train_blocks,
                               **({"curriculum": stages} if len(stages) > 1 else {})})
