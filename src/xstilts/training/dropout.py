"""Dropout on CPU: attention dropout without SDPA's math path, and masks without ``bernoulli_``.

torch's fused CPU attention kernel (flash) takes no dropout, so an encoder trained with its config's
attention dropout (0.1 in XLM-R and BERT) falls back to SDPA's math path: it materialises the scores,
the probabilities, a float mask and the dropped probabilities, and keeps most of them for backward.
Its masks come from ``bernoulli_``, 8 ns an element on this AMD CPU (MKL's path is Intel's only). At
512 tokens that is three quarters of a multilingual-e5-small training step here.

:func:`dropout_attention` computes the same function, ``dropout(softmax(Q·Kᵀ·scale + mask))·V``, a
few batch rows at a time (at most 16 MB of scores exist at once), keeps only the boolean mask for backward and
recomputes the probabilities there, as flash attention does. The ``1/(1-p)`` of inverted dropout
multiplies the small ``[L, head_dim]`` outputs and gradients instead of the ``[L, L]`` probabilities
(every step after the mask is linear). :class:`Dropout` is ``nn.Dropout`` with the same masks.

A mask keeps an element where 32 random bits, read as an unsigned integer, are at least
``round(p·2³²)``: dropout with p to within 2⁻³³. The bits come from numpy's PCG64 (0.7 ns per 64
bits here, where ``torch.rand`` takes 3 ns a float), seeded by a draw from torch's generator: torch's
seed, and a resumed run's restored RNG state, decide every mask.

Everywhere else — no dropout, evaluation, no gradient, a GPU, autocast — both are torch's own (HF's
SDPA attention, ``nn.Dropout``), unchanged. :func:`use_for_training` switches an encoder to them
(the attention registered with transformers as ``"xstilts_sdpa"``) and :func:`restore` back.
"""

from __future__ import annotations

import math

import numpy as np
import torch

NAME = "xstilts_sdpa"
_CHUNK_ELEMENTS = 1 << 22  # scores of this many elements (16 MB in fp32) per chunk of batch rows


class _DropoutAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, bias, p: float, scale: float, generator):
        # q: [B, H, Lq, D], k and v: [B, H, Lk, D]; bias: additive, broadcastable to [B, H, Lq, Lk], or None
        q = q * scale  # on [L, head_dim], not on the [L, L] scores; also the contiguous copy of HF's view
        k, v = k.contiguous(), v.contiguous()  # HF's are head-transposed views: copy once
        bits = _bits(generator)
        step = _rows_per_chunk(q, k)
        out = torch.empty(q.shape[:-1] + v.shape[-1:], dtype=q.dtype)
        keep = torch.empty(q.shape[:-1] + k.shape[-2:-1], dtype=torch.bool)
        for a in range(0, q.shape[0], step):
            rows = slice(a, a + step)
            kept = _fill_keep(keep[rows], p, bits)
            probs = _probs(q[rows], k[rows], None if bias is None else bias[rows])
            torch.matmul(probs.mul_(kept.view(torch.uint8)), v[rows], out=out[rows])
        ctx.save_for_backward(q, k, v, bias, keep)
        ctx.p, ctx.scale = p, scale
        return out.mul_(1 / (1 - p))

    @staticmethod
    def backward(ctx, grad):
        q, k, v, bias, keep = ctx.saved_tensors
        inverted, scale = 1 / (1 - ctx.p), ctx.scale
        dq, dk, dv = (torch.empty(t.shape, dtype=t.dtype) for t in (q, k, v))
        step = _rows_per_chunk(q, k)
        for a in range(0, q.shape[0], step):
            rows = slice(a, a + step)
            kept, g = keep[rows].view(torch.uint8), grad[rows].contiguous()
            probs = _probs(q[rows], k[rows], None if bias is None else bias[rows])
            torch.matmul((probs * kept).transpose(-1, -2), g, out=dv[rows])
            dprobs = torch.matmul(g, v[rows].transpose(-1, -2)).mul_(kept)
            dscores = torch._softmax_backward_data(dprobs, probs, -1, probs.dtype)
            torch.matmul(dscores, k[rows], out=dq[rows])
            torch.matmul(dscores.transpose(-1, -2), q[rows], out=dk[rows])
        return dq.mul_(inverted * scale), dk.mul_(inverted), dv.mul_(inverted), None, None, None, None


class _Dropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p: float, generator):
        keep = _fill_keep(torch.empty(x.shape, dtype=torch.bool), p, _bits(generator)).view(torch.uint8)
        ctx.save_for_backward(keep)
        ctx.p = p
        return x.mul(keep).mul_(1 / (1 - p))

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return grad.mul(keep).mul_(1 / (1 - ctx.p)), None, None


def _bits(generator) -> np.random.PCG64:
    return np.random.PCG64(int(torch.randint(0, 2**62, (1,), generator=generator)))


def _fill_keep(keep: torch.Tensor, p: float, bits: np.random.PCG64) -> torch.Tensor:
    """Fill the contiguous boolean ``keep`` with True at probability 1 - p; returns it."""
    n = keep.numel()
    words = bits.random_raw(n // 2 + 1).view(np.uint32)[:n].reshape(keep.shape)
    np.greater_equal(words, np.uint32(min(round(p * 2**32), 2**32 - 1)), out=keep.numpy())
    return keep


def _fits(x: torch.Tensor, p: float) -> bool:
    return (p > 0 and x.device.type == "cpu" and x.dtype == torch.float32 and torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu"))


def _rows_per_chunk(q: torch.Tensor, k: torch.Tensor) -> int:
    return max(1, _CHUNK_ELEMENTS // (q.shape[1] * q.shape[2] * k.shape[2]))


def _probs(q, k, bias) -> torch.Tensor:
    scores = torch.matmul(q, k.transpose(-1, -2))
    if bias is not None:
        scores.add_(bias)
    return torch.softmax(scores, -1)


def dropout_attention(q, k, v, mask, p: float, scale: float | None = None, generator=None) -> torch.Tensor:
    """``softmax(q·kᵀ·scale + mask)`` with dropout ``p`` (inverted, as ``nn.Dropout``), times ``v``:
    ``[B, H, Lq, D]``. ``mask``: boolean (True attends) or additive, broadcastable to ``[B, H, Lq, Lk]``."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = None
    if mask is not None:
        bias = mask if mask.dtype != torch.bool else torch.zeros(mask.shape, dtype=q.dtype).masked_fill_(
            ~mask, torch.finfo(q.dtype).min)
        bias = bias.expand(q.shape[0], *bias.shape[1:])
    return _DropoutAttention.apply(q, k, v, bias, p, scale, generator)


def attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """HF attention interface: :func:`dropout_attention` where it pays (CPU, dropout, gradients),
    HF's ``sdpa_attention_forward`` everywhere else."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    simple = (getattr(module, "num_key_value_groups", 1) == 1 and not getattr(module, "is_causal", False)
              and kwargs.get("position_bias") is None)
    if not (_fits(query, dropout) and simple):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    out = dropout_attention(query, key, value, attention_mask, dropout, scaling)
    return out.transpose(1, 2).contiguous(), None


class Dropout(torch.nn.Dropout):
    """``nn.Dropout`` whose CPU training masks come from :func:`_fill_keep`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not self.inplace and _fits(x, self.p):
            return _Dropout.apply(x, self.p, None)
        return super().forward(x)


def register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)


def use_for_training(encoder: torch.nn.Module) -> str | None:
    """Switch an HF encoder's ``nn.Dropout`` modules to :class:`Dropout` and, where it attends with
    SDPA, its attention to :data:`NAME`; returns the attention implementation to :func:`restore`."""
    for module in encoder.modules():
        if type(module) is torch.nn.Dropout:
            module.__class__ = Dropout  # same state; restore() swaps it back
    before = getattr(encoder.config, "_attn_implementation", None)
    if before != "sdpa":
        return None
    register()
    try:
        encoder.set_attn_implementation(NAME)
    except ValueError:  # an architecture without transformers' attention interface keeps SDPA
        return None
    return before


def restore(encoder: torch.nn.Module, before: str | None) -> None:
    for module in encoder.modules():
        if type(module) is Dropout:
            module.__class__ = torch.nn.Dropout
    if before is not None:
        encoder.set_attn_implementation(before)
