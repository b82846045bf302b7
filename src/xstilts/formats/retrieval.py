"""Bitext retrieval (Tatoeba, BUCC 2018): sentence embeddings from a hidden layer, then search.

No head and no training: :func:`embed` pools one hidden layer of the encoder (XTREME's
``third_party/evaluate_retrieval.py``), and pure numpy functions do the search:

* Tatoeba — :func:`tatoeba_predict`: for every English (target) sentence, the nearest non-English
  (source) sentence by cosine, as XTREME's ``similarity_search`` (faiss ``IndexFlatL2`` over the
  L2-normalised source embeddings, queried with the target ones).
* BUCC — :func:`mine_candidates`: LASER's margin-based mining as XTREME's BUCC evaluation calls
  ``utils_retrieve.mine_bitext`` (mode ``mine``, retrieval ``max``, margin ``ratio``, k = 4,
  cosine, threshold 0). The candidates go to the BUCC metric, which picks the F1-optimal threshold.

Search is exact and brute force, in row blocks so that 10^4 × 10^4 sentences fit in memory; no faiss.

Layer numbering: ``layer`` indexes ``hidden_states`` (0 = embedding output, L = last layer).
XTREME's ``--specific_layer k`` is NOT that index: evaluate_retrieval.py first drops the embedding
output (``all_layer_outputs[-num_layers:]``), so its layer k is ``hidden_states[k + 1]``.
The task catalog's ``layer_by_depth`` holds XTREME's numbers; :func:`resolve_layer` converts them.
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import numpy as np
import torch

from xstilts.errors import ConfigError
from xstilts.formats.base import count_tokens

Pooling = Literal["mean", "cls"]
Margin = Literal["ratio", "distance", "absolute"]
Mode = Literal["max", "fwd", "bwd", "intersect"]
# Bytes of one similarity block (rows × database × 4): bounds memory whatever the input size.
_BLOCK_BYTES = 64 * 2**20


def resolve_layer(num_hidden_layers: int, options: Mapping[str, object]) -> int:
    """The ``hidden_states`` index to pool, from a task's retrieval options.

    ``options["layer"]``, when present and not None, is taken as a ``hidden_states`` index
    (negative counts from the end). Otherwise ``options["layer_by_depth"]`` maps the encoder
    depth to XTREME's ``specific_layer`` (7 of 12, 13 of 24), returned here as that + 1 (see
    the module docstring). A depth missing from the table is an error, not a silent default.
    """
    n = num_hidden_layers
    explicit = options.get("layer")
    if explicit is not None:
        layer = int(explicit)
        if not -(n + 1) <= layer <= n:
            raise ConfigError(f"retrieval layer {layer} out of range for a {n}-layer encoder "
                              f"(hidden_states has {n + 1} entries, 0 = embeddings)")
        return layer % (n + 1)
    table = {int(k): int(v) for k, v in dict(options.get("layer_by_depth") or {}).items()}
    if n not in table:
        raise ConfigError(
            f"no retrieval layer for a {n}-layer encoder: layer_by_depth covers depths "
            f"{sorted(table)}; set the task option 'layer' (a hidden_states index, 0 = embeddings)")
    return table[n] + 1


def embed(
    model,
    tokenizer,
    sentences: Sequence[str],
    *,
    layer: int,
    pooling: Pooling,
    max_length: int,
    batch_size: int,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """``(len(sentences), hidden)`` float32 embeddings of ``hidden_states[layer]``, in input order.

    Each sentence is tokenized alone, truncated to ``max_length`` tokens special tokens included
    (XTREME keeps the first ``max_length - 2`` subwords). ``mean`` averages every non-padding
    position, special tokens INCLUDED (XTREME's default: ``--pool_skip_special_token`` is off in
    its scripts); ``cls`` takes position 0. Batches are formed from length-sorted sentences so
    little padding is computed. Runs in eval mode without gradients, restoring the model's mode;
    ``device`` (default: where the model is) moves the model there.
    """
    if pooling not in ("mean", "cls"):
        raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
    if device is None:
        device = next(model.parameters()).device
    else:
        model.to(device)
    if len(sentences) == 0:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    enc = tokenizer(list(sentences), add_special_tokens=True, truncation=True, max_length=max_length,
                    return_attention_mask=False, verbose=False)
    ids = enc["input_ids"]
    types = enc.get("token_type_ids")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = np.argsort([-len(x) for x in ids], kind="stable")
    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                width = max(len(ids[i]) for i in rows)
                input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    input_ids[r, :len(ids[i])] = torch.as_tensor(ids[i])
                    mask[r, :len(ids[i])] = 1
                inputs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
                if types is not None:
                    # Single sentences: segment 0 everywhere, as XTREME passes explicitly.
                    inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
                hidden = model(**inputs, output_hidden_states=True).hidden_states
                if not -len(hidden) <= layer < len(hidden):
                    raise ValueError(f"layer {layer} out of range: the model returns "
                                     f"{len(hidden)} hidden states (0 = embeddings)")
                states = hidden[layer].float()
                if pooling == "cls":
                    pooled = states[:, 0]
                else:
                    m = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
                    pooled = (states * m).sum(1) / m.sum(1)
                out[rows] = pooled.cpu().numpy()
    finally:
        model.train(was_training)
    return out


# ---------------------------------------------------------------- pure numpy search


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm in float32; all-zero rows stay zero (as faiss.normalize_L2)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1).astype(np.float32)


def _block_rows(n_db: int) -> int:
    return max(1, _BLOCK_BYTES // (4 * max(n_db, 1)))


def tatoeba_predict(source_emb: np.ndarray, target_emb: np.ndarray) -> np.ndarray:
    """For each target (English) row, the index of the most cosine-similar source row.

    Ties go to the lowest source index (faiss ``IndexFlatL2`` order). Source rows that are equal
    after normalisation are merged first, so duplicated sentences tie exactly whatever the BLAS
    rounding, and the first of them wins.
    """
    src, trg = normalize(source_emb), normalize(target_emb)
    if len(src) == 0:
        raise ValueError("no source sentences to search")
    unique, first = np.unique(src, axis=0, return_index=True)
    # Back to first-occurrence order, so argmax's first maximum is the lowest source index.
    order = np.argsort(first)
    unique, first = unique[order], first[order]
    pred = np.empty(len(trg), dtype=np.int64)
    step = _block_rows(len(unique))
    for start in range(0, len(trg), step):
        pred[start:start + step] = first[(trg[start:start + step] @ unique.T).argmax(axis=1)]
    return pred


def knn(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``y`` with the largest inner product with each row of ``x``.

    Returns ``(sims, inds)``, each ``(len(x), k)``, best first; equal similarities are ordered by
    index. Pass L2-normalised rows for cosine (faiss ``IndexFlatIP``, as LASER/XTREME do).
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if not 1 <= k <= len(y):
        raise ValueError(f"k={k} but the database has {len(y)} rows")
    sims = np.empty((len(x), k), dtype=np.float32)
    inds = np.empty((len(x), k), dtype=np.int64)
    step = _block_rows(len(y))
    for start in range(0, len(x), step):
        block = x[start:start + step] @ y.T
        if k < len(y):
            # Keep all ties of the k-th value: then sorting by (-sim, index) picks lowest indices.
            kth = -np.partition(-block, k - 1, axis=1)[:, k - 1:k]
            cand = [np.flatnonzero(row >= t) for row, t in zip(block, kth[:, 0])]
        else:
            cand = [np.arange(len(y))] * len(block)
        for r, (row, c) in enumerate(zip(block, cand)):
            best = c[np.lexsort((c, -row[c]))[:k]]
            sims[start + r], inds[start + r] = row[best], best
    return sims, inds


def _margin_fn(margin: Margin):
    if margin == "ratio":
        return lambda a, b: a / b
    if margin == "distance":
        return lambda a, b: a - b
    if margin == "absolute":
        return lambda a, b: a
    raise ValueError(f"margin must be 'ratio', 'distance' or 'absolute', not {margin!r}")


def _neighbourhood_means(x: np.ndarray, y: np.ndarray, k: int):
    """kNN both ways on normalised rows, and the mean similarity of each row's k neighbours."""
    fwd_sim, fwd_ind = knn(x, y, min(k, len(y)))
    bwd_sim, bwd_ind = knn(y, x, min(k, len(x)))
    return fwd_sim, fwd_ind, fwd_sim.mean(axis=1), bwd_sim, bwd_ind, bwd_sim.mean(axis=1)


def margin_scores(x: np.ndarray, y: np.ndarray, k: int = 4, margin: Margin = "ratio") -> np.ndarray:
    """The dense ``(len(x), len(y))`` matrix of margin scores (small inputs; for inspection/tests).

    ``score(i, j) = margin(cos(x_i, y_j), (fwd_i + bwd_j) / 2)`` where ``fwd_i`` is the mean
    cosine of ``x_i``'s k nearest ``y`` rows and ``bwd_j`` that of ``y_j``'s k nearest ``x`` rows
    (k capped at the other side's size), as LASER/XTREME ``score``. ``ratio`` divides, ``distance``
    subtracts, ``absolute`` is the plain cosine.
    """
    x, y = normalize(x), normalize(y)
    *_, fwd_mean, _, _, bwd_mean = _neighbourhood_means(x, y, k)
    return _margin_fn(margin)(x @ y.T, (fwd_mean[:, None] + bwd_mean[None, :]) / 2)


def mine_candidates(
    src_sentences: Sequence[str],
    trg_sentences: Sequence[str],
    src_emb: np.ndarray,
    trg_emb: np.ndarray,
    k: int = 4,
    margin: Margin = "ratio",
    mode: Mode = "max",
    threshold: float = 0.0,
) -> list[tuple[float, str, str]]:
    """BUCC candidate pairs ``(score, src_sentence, trg_sentence)``, as XTREME's ``mine_bitext``.

    As there: identical sentences are merged (the embedding of the last copy is kept) and
    embeddings L2-normalised; each side's k-NN among the other side are scored with the margin;
    each sentence proposes its best-scored neighbour. ``mode`` is XTREME's ``retrieval``:
    ``fwd`` (every source proposes), ``bwd`` (every target proposes), ``intersect`` (mutual
    proposals, scored forward) or ``max`` (XTREME's BUCC setting: both directions' proposals,
    best score first, each sentence used at most once, kept if ``score > threshold``; the
    threshold is applied in ``max`` mode only, as there). Rows come in that output order.
    """
    margin_fn = _margin_fn(margin)
    src, x = _unify(src_sentences, src_emb)
    trg, y = _unify(trg_sentences, trg_emb)
    if len(src) == 0 or len(trg) == 0:
        return []
    fwd_sim, fwd_ind, fwd_mean, bwd_sim, bwd_ind, bwd_mean = _neighbourhood_means(x, y, k)
    fwd_scores = margin_fn(fwd_sim, (fwd_mean[:, None] + bwd_mean[fwd_ind]) / 2)
    bwd_scores = margin_fn(bwd_sim, (bwd_mean[:, None] + fwd_mean[bwd_ind]) / 2)
    # argmax takes the first maximum: on equal scores the nearer (earlier) neighbour wins.
    fwd_best = fwd_ind[np.arange(len(x)), fwd_scores.argmax(axis=1)]
    bwd_best = bwd_ind[np.arange(len(y)), bwd_scores.argmax(axis=1)]
    fwd_max, bwd_max = fwd_scores.max(axis=1), bwd_scores.max(axis=1)

    if mode == "fwd":
        return [(float(fwd_max[i]), src[i], trg[j]) for i, j in enumerate(fwd_best)]
    if mode == "bwd":
        return [(float(bwd_max[j]), src[i], trg[j]) for j, i in enumerate(bwd_best)]
    if mode == "intersect":
        return [(float(fwd_max[i]), src[i], trg[j]) for i, j in enumerate(fwd_best)
                if bwd_best[j] == i]
    if mode != "max":
        raise ValueError(f"mode must be 'max', 'fwd', 'bwd' or 'intersect', not {mode!r}")
    pairs_src = np.concatenate([np.arange(len(x)), bwd_best])
    pairs_trg = np.concatenate([fwd_best, np.arange(len(y))])
    scores = np.concatenate([fwd_max, bwd_max])
    out: list[tuple[float, str, str]] = []
    seen_src, seen_trg = set(), set()
    # XTREME sorts with np.argsort(-scores) (unstable); stable here so ties are reproducible.
    for p in np.argsort(-scores, kind="stable"):
        i, j = int(pairs_src[p]), int(pairs_trg[p])
        if i in seen_src or j in seen_trg:
            continue
        seen_src.add(i)
        seen_trg.add(j)
        if scores[p] > threshold:
            out.append((float(scores[p]), src[i], trg[j]))
    return out


def _unify(sentences: Sequence[str], emb: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Unique sentences in first-seen order, each with the embedding of its LAST copy, normalised.

    XTREME's text_load_unify/unique_embeddings do this (the last copy because a dict comprehension
    overwrites); the copies' embeddings differ only by batching round-off anyway.
    """
    emb = np.asarray(emb)
    if len(sentences) != len(emb):
        raise ValueError(f"{len(sentences)} sentences but {len(emb)} embeddings")
    last: dict[str, int] = {}
    for i, s in enumerate(sentences):
        last[s] = i  # dict keeps first-insertion order, value = last index
    return list(last), normalize(emb[list(last.values())]) if last else emb[:0]


# ------------------------------------------------------------------ what the pipeline asks of the format

# Retrieval trains nothing and is scored by its own phase
# (``retrieval_eval``), not through evaluation's adapters.
TARGET_COLUMNS: tuple[str, ...] = ()
TOKEN_LEVEL = False
SETTINGS: tuple[str, ...] = ()
LABELS = False
ADAPTER = None


def text_lengths(sentences: Sequence, tokenizer) -> np.ndarray:
    """The sentences of one side."""
    return count_tokens(tokenizer, [s.text for s in sentences])
