"""The ``pretrained: {from_scratch: ...}`` phase: train a subword tokenizer on raw multilingual text,
build a small XLM-R-shaped encoder, pretrain it with masked language modelling, and save an HF model
directory that every later phase loads like a hub checkpoint.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from xstilts.config import FromScratch, ModelShape, TokenizerSpec
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


def corpus_texts(examples_by_language: dict[str, Sequence]) -> list[str]:
    """Texts in a fixed order (language by language) so tokenizer training is reproducible."""
    return [ex.text for lang in sorted(examples_by_language) for ex in examples_by_language[lang]]


def save_pretrained(model, tokenizer, directory: Path) -> None:
    """The encoder and tokenizer as an HF model directory (safetensors), loadable by ``AutoModel``."""
    model.encoder.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


__all__ = ["FromScratch", "build_encoder", "corpus_texts", "mlm_loss", "save_pretrained", "train_tokenizer"]
