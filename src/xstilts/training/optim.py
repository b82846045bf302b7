"""AdamW as HF ``Trainer`` sets it up, with the input embedding's gradient kept as rows.

A micro-batch of 16 × 128 tokens looks up at most 2,048 of XLM-R's 250,002 embedding rows, yet a
dense gradient makes every optimizer step fill, clip and update the whole 250k × hidden matrix and
both of its Adam moments: on CPU that is a large share of a step of an XLM-R-vocabulary encoder.
With ``nn.Embedding(sparse=True)`` the gradient holds only the rows looked up, and
:class:`RowSparseAdamW` does exactly what dense AdamW would do with it:

* decoupled weight decay multiplies every row (one pass over the matrix; none at weight decay 0);
* rows whose Adam moments are non-zero (touched by this step or an earlier one: "active") get the
  Adam update, computed on a gathered copy with the same operations as torch's AdamW;
* every other row has m = v = 0 and gradient 0, where dense AdamW's Adam update is exactly 0.

So the weights are those of dense AdamW up to float rounding (the gradient rows of repeated tokens
are summed in another order). Dense parameters go through torch's AdamW (fused where available).
Used where it is exact and supported: one process (DDP reduces dense gradients), no fp16 loss
scaling, and an embedding matrix that is not also a vocabulary projection (tied MLM heads).
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


class RowSparseAdamW(torch.optim.AdamW):
    """torch's AdamW; parameters whose gradient is sparse (COO, rows of a matrix) take the row path."""

    def step(self, closure=None):
        sparse = [(group, p) for group in self.param_groups for p in group["params"]
                  if p.grad is not None and p.grad.is_sparse]
        held = [p.grad for _, p in sparse]
        for _, p in sparse:
            p.grad = None  # torch's AdamW skips parameters without a gradient
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and "active" in self.state.get(p, {}):
                    self.state[p]["active"].fill_(True)  # a dense gradient moves every row
        try:
            loss = super().step(closure)
        finally:
            for (_, p), grad in zip(sparse, held):
                p.grad = grad
        with torch.no_grad():
            for group, p in sparse:
                self._row_step(group, p)
        return loss

    def _row_step(self, group: dict, p: torch.Tensor) -> None:
        if group["amsgrad"] or group["maximize"]:
            raise ValueError("RowSparseAdamW: amsgrad and maximize are not supported for sparse gradients")
        grad = p.grad.coalesce()
        rows, values = grad.indices()[0], grad.values()
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0, dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["active"] = torch.zeros(p.shape[0], dtype=torch.bool, device=p.device)
        state["step"] += 1
        step = float(state["step"])
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if decay:
            p.mul_(1 - lr * decay)
        active = state["active"]
        active[rows] = True
        index = active.nonzero().squeeze(1)  # sorted
        g = torch.zeros((len(index), *p.shape[1:]), dtype=p.dtype, device=p.device)
        g[torch.searchsorted(index, rows)] = values.to(p.dtype)
        exp_avg, exp_avg_sq = state["exp_avg"].index_select(0, index), state["exp_avg_sq"].index_select(0, index)
        exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**step)).add_(eps)
        p.index_copy_(0, index, p.index_select(0, index).addcdiv_(exp_avg, denom, value=-lr / (1 - beta1**step)))
        state["exp_avg"].index_copy_(0, index, exp_avg)
        state["exp_avg_sq"].index_copy_(0, index, exp_avg_sq)


def clip_grad_norm_(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` (L2) for dense and sparse gradients alike; a sparse gradient
    is coalesced in place first (its norm is that of its summed rows)."""
    params = [p for p in parameters if p.grad is not None]
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    norms = [torch.linalg.vector_norm(p.grad._values() if p.grad.is_sparse else p.grad) for p in params]
    if not norms:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack(norms))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        (p.grad._values() if p.grad.is_sparse else p.grad).mul_(coef)
    return total


def sparse_embeddings_apply(model: torch.nn.Module, *, processes: int, mixed_precision: str) -> bool:
    """Whether the row path is exact and supported for ``model``'s input word embeddings (see the
    module docstring); sets the embedding module's ``sparse`` flag to the answer."""
    embedding = input_embeddings(model)
    weight = embedding.weight
    shared = sum(p is weight for _, p in model.named_parameters(remove_duplicate=False)) > 1
    ok = (isinstance(embedding, torch.nn.Embedding) and weight.requires_grad and not shared
          and processes == 1 and mixed_precision != "fp16" and embedding.max_norm is None)
    embedding.sparse = ok
    return ok


def dense_embeddings(model: torch.nn.Module) -> None:
    """Back to dense embedding gradients (for whatever trains ``model`` next, outside :func:`train`)."""
    input_embeddings(model).sparse = False


def input_embeddings(model: torch.nn.Module) -> torch.nn.Module:
    """The input word embeddings of ``model``'s encoder (a MultiTaskModel's, or a bare HF model's)."""
    return getattr(model, "encoder", model).get_input_embeddings()


def build_optimizer(model: torch.nn.Module, args) -> torch.optim.Optimizer:
    """AdamW over ``model``'s trainable parameters, no weight decay on biases and LayerNorm weights
    (the HF / BERT convention); fused (one kernel over all parameters; the Trainer's default) where
    torch has it for these tensors."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = all(p.dtype in (torch.float32, torch.float16, torch.bfloat16) and p.device.type in ("cpu", "cuda")
                for g in groups for p in g["params"])
    return RowSparseAdamW(groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon,
                          fused=fused or None)
