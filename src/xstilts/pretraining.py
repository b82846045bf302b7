"""The ``pretrained: {from_scratch: ...}`` phase: train a subword tokenizer on raw multilingual text,
build a small XLM-R-shaped encoder, pretrain it with masked language modelling (:func:`pretrain`:
the block-length curriculum, then ``max_length``), and save an HF model directory that every later
phase loads like a hub checkpoint. The phase itself (data, ``done.json``, rows) is
:mod:`xstilts.pipeline.phases.pretrained`. :func:`mlm_loss` also scores the MLM that an intermediate
phase continues on multilingual corpora (:mod:`xstilts.pipeline.phases.intermediate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from xstilts.config import FromScratch, ModelShape, TokenizerSpec, equal_tokens_batch
from xstilts.formats.base import Features, collate

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # XLM-R's ids 0..4 layout


def train_tokenizer(texts: Iterable[str], spec: TokenizerSpec, *, model_max_length: int):
    """A fast tokenizer in XLM-R's style (sentencepiece-like ``▁`` word boundaries, ``<s> A </s></s> B </s>``)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if spec.kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=spec.vocab_size, min_frequency=spec.min_frequency,
                                      special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=spec.vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                          unk_token="<unk>", show_progress=False)
    tok.normalizer = normalizers.NFKC()
    # Split on whitespace first so character offsets never include the space (as XLM-R's fast tokenizer).
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()])
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=model_max_length)


def build_encoder(tokenizer, shape: ModelShape, max_length: int, seed: int):
    """A randomly initialised ``XLMRobertaModel`` (seeded) sized for ``tokenizer``."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), **shape.model_dump(),
        # XLM-R offsets positions by padding_idx + 1.
        max_position_embeddings=max_length + tokenizer.pad_token_id + 1,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        type_vocab_size=1,
    )
    torch.manual_seed(seed)
    return XLMRobertaModel(config, add_pooling_layer=False)


@torch.no_grad()
def mlm_loss(model, head: str, features: Features, tokenizer, *, mlm_probability: float, seed: int,
             batch_size: int) -> dict[str, float]:
    """Mean masked-LM loss on ``features`` with a fixed masking (seeded), and its perplexity."""
    from xstilts.formats.mlm import masking

    transform = masking(tokenizer, mlm_probability)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for b, start in enumerate(range(0, len(features), batch_size)):
        rows = [{"input_ids": features["input_ids"][i], "attention_mask": features["attention_mask"][i]}
                for i in range(start, min(len(features), start + batch_size))]
        batch = transform(collate(rows, tokenizer.pad_token_id), np.random.default_rng([seed, b]))
        batch = {k: torch.as_tensor(v).to(device) for k, v in batch.items()}
        n = int((batch["labels"] != -100).sum())
        if n:
            total += float(model.loss(head, model(head, batch), batch)) * n
            count += n
    model.train(was_training)
    loss = total / max(1, count)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


@dataclass
class Pretrained:
    """What :func:`pretrain` did: one record per stage (``max_length`` last), the MLM blocks of the
    final stage, and the selected model's dev loss and perplexity (None without dev blocks)."""

    stages: list[dict]
    train_blocks: int
    dev: dict[str, float] | None
    dev_blocks: int


def pretrain(model, tokenizer, spec: FromScratch, blocks: Callable[[str, int], Features | None], *,
             out_dir: Path, seed: int, log: Callable[[str], None], progress: bool) -> Pretrained:
    """MLM-train ``model`` (head ``mlm``) as ``spec`` says: first on blocks of each length of its
    ``length_curriculum`` (each stage its own optimizer, schedule and checkpoints under
    ``out_dir/stage-<length>``, batches of as many tokens as a ``max_length`` batch), then on
    ``max_length`` blocks in ``out_dir``, selected on dev loss where there are dev blocks.

    ``blocks(split, length)``: the corpus's ``train`` or ``dev`` texts as MLM blocks of ``length``
    tokens, None when the split has no texts. Every stage seeds the global generators first, so a
    stage's numbers depend on ``seed`` and its position only.
    """
    from xstilts.formats import mlm
    from xstilts.training.loop import TrainStream, seed_everything, train

    def stream(features: Features) -> list[TrainStream]:
        return [TrainStream("mlm", features, mlm.TARGET_COLUMNS, mlm.masking(tokenizer, spec.mlm_probability))]

    *curriculum, (_, steps, lr) = spec.stages()
    stages = []  # one record per stage, max_length last

    def record(length: int, result, lr: float, batch: int) -> None:
        stages.append({"max_length": length, "steps": result.steps, "learning_rate": lr,
                       "per_device_train_batch_size": batch, "wall_seconds": result.wall_seconds})

    for i, (length, n, stage_lr) in enumerate(curriculum):
        stage = spec.training.model_copy(update={
            "max_steps": n, "learning_rate": stage_lr,
            "per_device_train_batch_size": equal_tokens_batch(spec.training.per_device_train_batch_size,
                                                              spec.max_length, length)})
        seed_everything(seed + 2 + i)
        result = train(model, stream(blocks("train", length)), stage, out_dir=out_dir / f"stage-{length}",
                       seed=seed + i, pad_token_id=tokenizer.pad_token_id, log=log, progress=progress)
        log(f"curriculum stage {i}: {result.steps} steps on {length}-token blocks, batch "
            f"{stage.per_device_train_batch_size}, lr {stage_lr:g}, in {result.wall_seconds:.1f}s")
        record(length, result, stage_lr, stage.per_device_train_batch_size)
    args = spec.training.model_copy(update={"max_steps": steps, "learning_rate": lr})
    train_feats = blocks("train", spec.max_length)
    dev_feats = blocks("dev", spec.max_length)
    evaluate = None
    if dev_feats is not None and len(dev_feats):
        evaluate = lambda m: mlm_loss(m, "mlm", dev_feats, tokenizer, mlm_probability=spec.mlm_probability,  # noqa: E731
                                      seed=seed, batch_size=args.per_device_eval_batch_size)
    seed_everything(seed + 1)
    result = train(model, stream(train_feats), args, out_dir=out_dir, seed=seed, pad_token_id=tokenizer.pad_token_id,
                   evaluate=evaluate, selection_metric="loss" if evaluate else None, greater_is_better=False,
                   log=log, progress=progress)
    log(f"pretrained {result.steps} steps in {result.wall_seconds:.1f}s (best dev loss {result.best_metric})")
    record(spec.max_length, result, lr, args.per_device_train_batch_size)
    # The selected model's dev numbers (fixed masking, no global generator: order-free).
    return Pretrained(stages, len(train_feats), evaluate(model) if evaluate else None,
                      len(dev_feats) if evaluate else 0)


def corpus_texts(examples_by_language: dict[str, Sequence]) -> list[str]:
    """Texts in a fixed order (language by language) so tokenizer training is reproducible."""
    return [ex.text for lang in sorted(examples_by_language) for ex in examples_by_language[lang]]


def save_pretrained(model, tokenizer, directory: Path, head: str = "mlm") -> None:
    """The encoder, its MLM head ``head`` and the tokenizer as an HF masked-LM directory
    (safetensors, ``XLMRobertaForMaskedLM``'s layout: the encoder under ``roberta.*``, the head under
    ``lm_head.*``), as XLM-R is published: ``AutoModel`` loads the encoder from it, and a later
    phase that continues MLM (an intermediate phase's ``mlm``) reads the head like a hub checkpoint's
    (:func:`xstilts.modeling.checkpoint_lm_head`)."""
    from transformers import AutoModelForMaskedLM

    encoder, mlm_head = model.encoder, model.heads[head]
    # Building the wrapper initialises weights it then drops: keep the global generators as they were,
    # so what runs after a save draws the same numbers as a run that reloads the saved model.
    with torch.random.fork_rng(devices=[]):
        lm = AutoModelForMaskedLM.from_config(encoder.config)
    setattr(lm, lm.base_model_prefix, encoder)
    lm.lm_head.dense.load_state_dict(mlm_head.dense.state_dict())
    lm.lm_head.layer_norm.load_state_dict(mlm_head.layer_norm.state_dict())
    with torch.no_grad():
        lm.lm_head.bias.copy_(mlm_head.decoder.bias)
        lm.lm_head.decoder.weight = mlm_head.decoder.weight  # the input embeddings when tied (XLM-R)
    lm.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


__all__ = ["FromScratch", "Pretrained", "build_encoder", "corpus_texts", "mlm_loss", "pretrain", "save_pretrained",
           "train_tokenizer"]
