"""One MLM training step: xstilts (vocabulary projection at the masked positions only) vs. HF's
``XLMRobertaForMaskedLM`` (projection at every position), same encoder shape, same batch.

    python benchmarks/mlm_step.py [--repeats 5]

Prints seconds per step (forward + backward + AdamW, best of N) and tokens per second for the demo's
tiny encoder and for a small encoder with XLM-R's 250k vocabulary, on whatever device torch uses.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import best_time

SHAPES = {  # name: (vocab, hidden, layers, heads, ffn, batch, length)
    "demo tiny (vocab 2k)": (2000, 128, 4, 4, 256, 16, 256),
    "XLM-R vocab (250k), hidden 384": (250_002, 384, 4, 6, 1536, 8, 128),
}


def batch(vocab: int, rows: int, length: int, seed: int = 0) -> dict:
    from xstilts.formats.mlm import mask_tokens

    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(rows, length))
    masked, labels = mask_tokens(ids, mask_token_id=4, vocab_size=vocab, special_ids=[0, 1, 2, 3, 4],
                                 mlm_probability=0.15, rng=rng)
    return {"input_ids": torch.as_tensor(masked), "attention_mask": torch.ones(rows, length, dtype=torch.long),
            "labels": torch.as_tensor(labels)}


def best_step(step, repeats: int) -> float:
    step()  # warm-up: allocations and optimizer state
    return best_time(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM, XLMRobertaModel

    from xstilts.modeling import HeadSpec, MultiTaskModel

    print(f"{'shape':<32} {'xstilts s/step':>15} {'HF s/step':>10} {'xstilts tok/s':>14} {'HF tok/s':>9} {'speed-up':>9}")
    for name, (vocab, hidden, layers, heads, ffn, rows, length) in SHAPES.items():
        config = XLMRobertaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                  num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=length + 2,
                                  type_vocab_size=1, tie_word_embeddings=False)
        data = batch(vocab, rows, length)
        torch.manual_seed(0)
        ours = MultiTaskModel(XLMRobertaModel(config, add_pooling_layer=False))
        ours.add_head("mlm", HeadSpec("mlm", {"vocab_size": vocab}, None))
        torch.manual_seed(0)
        peer = XLMRobertaForMaskedLM(config)

        def stepper(model, loss_of):
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

            def step():
                loss = loss_of()
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            return step

        t_ours = best_step(stepper(ours, lambda: ours.loss("mlm", ours("mlm", data), data)), args.repeats)
        t_peer = best_step(stepper(peer, lambda: peer(**data).loss), args.repeats)
        tokens = rows * length
        print(f"{name:<32} {t_ours:>15.3f} {t_peer:>10.3f} {tokens / t_ours:>14,.0f} {tokens / t_peer:>9,.0f} "
              f"{t_peer / t_ours:>8.2f}x")


if __name__ == "__main__":
    main()
