"""Bitext retrieval (Tatoeba, BUCC 2018): sentence embeddings from a hidden layer, then search.

No head and no training: :func:`embed` pools one hidden layer of the encoder (XTREME's
``third_party/evaluate_retrieval.py``), and an exact brute-force search follows:

* Tatoeba — :func:`tatoeba_predict`: for every English (target) sentence, the nearest non-English
  (source) sentence by cosine, as XTREME's ``similarity_search`` (faiss ``IndexFlatL2`` over the
  L2-normalised source embeddings, queried with the target ones).
* BUCC — :func:`mine_candidates`: LASER's margin-based mining as XTREME's BUCC evaluation calls
  ``utils_retrieve.mine_bitext`` (mode ``mine``, retrieval ``max``, margin ``ratio``, k = 4,
  cosine, threshold 0). The candidates go to the BUCC metric, which picks the F1-optimal threshold.

Search is exact and brute force. With faiss-cpu installed (the ``faiss`` extra), :func:`knn` and
:func:`tatoeba_predict` search with faiss (``faiss.knn`` by inner product: ``IndexFlatIP``'s search
without the index's copy of the database; numpy took 1.17× its time at 100k × 100k:
docs/retrieval.md) on ``torch.get_num_threads()`` threads, the share each local worker
is given; the environment variable ``XSTILTS_FAISS=0`` switches it off. Without it, numpy searches in
row blocks so that 10^4 × 10^4 sentences fit in memory. Both return the same neighbours in the same
order (equal similarities by index, also where a tie at the k-th place goes on among rows left out):
faiss is asked for one neighbour more, and the rows where two of them are within rounding of each
other (duplicated sentences, say) are searched again in numpy.

Layer numbering: ``layer`` indexes ``hidden_states`` (0 = embedding output, L = last layer).
XTREME's ``--specific_layer k`` is NOT that index: evaluate_retrieval.py first drops the embedding
output (``all_layer_outputs[-num_layers:]``), so its layer k is ``hidden_states[k + 1]``.
The task catalog's ``layer_by_depth`` holds XTREME's numbers; :func:`resolve_layer` converts them.

The paper's settings (the defaults; docs/retrieval.md has the whole story). Phang et al. 2020 ran
XTREME through jiant (nyu-mll/jiant@daa5a25 ``guides/projects/xstilts.md:31-47`` → its XTREME
benchmark guide), whose run-config writer gives BOTH retrieval tasks ``{"pooler_type": "mean",
"layer": 14}`` (``jiant/scripts/benchmarks/xtreme/xtreme_runconfig_writer.py:56,119-124``; "the
reference implementation from the XTREME paper uses layer 14"), where ``layer`` indexes the
encoder's ``hidden_states`` as here (``jiant/proj/main/modeling/taskmodels.py:336-337``):
``hidden_states[14]`` of XLM-R large = XTREME's ``--specific_layer 13`` (``run_tatoeba.sh:41``).

* layer — ``layer_by_depth`` {12: 7, 24: 13} (XTREME ``scripts/run_tatoeba.sh:28,41``), + 1 here.
  For BUCC, XTREME's ``run_bucc2018.sh:75`` passes ``--specific_layer 7`` for every model and no
  ``--num_layers`` (default 12, ``evaluate_retrieval.py:373``), so for a 24-layer model it pools
  ``hidden_states[20]``; jiant, and so the paper, used 14 for both tasks, which we follow.
* pooling — ``mean`` for both tasks: jiant's ``pooler_type``, and what XTREME's published numbers
  used, because ``evaluate_retrieval.py`` ignored ``--pool_type`` (so ``run_bucc2018.sh:66``'s
  ``cls`` never took effect) until google-research/xtreme#72 was fixed in 287a7b7 (Oct 2021).
* mean pools every non-padding position, ``<s>``/``</s>`` included: ``--pool_skip_special_token``
  is off in XTREME's scripts (``evaluate_retrieval.py:107-110``), and jiant's ``MeanPoolerHead``
  averages over ``input_mask`` (``jiant/proj/main/modeling/heads.py:308-315``).
* max length — 512 tokens, special tokens included (XTREME ``run_tatoeba.sh:26``,
  ``run_bucc2018.sh:26``, truncation to ``max_length - 2`` subwords in ``evaluate_retrieval.py:91``;
  jiant ``c_tokenize_and_cache.sh:142,154``); the catalog's ``max_length``.
* BUCC mining — ``mine_bitext`` defaults: mode ``mine``, retrieval ``max``, margin ``ratio``, k = 4,
  threshold 0 (``third_party/utils_retrieve.py:131-133``), cosine (``run_bucc2018.sh:76``); the
  threshold is then chosen for the best F1 on the gold pairs (``bucc_eval``).
* text prefix — none (our addition, for encoders trained with one, e.g. E5's ``"query: "``).

Batch size (XTREME: 100) is our choice: it changes nothing but round-off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from xstilts.errors import ConfigError
from xstilts.formats.base import count_tokens

Pooling = Literal["mean", "cls"]
POOLINGS: tuple[str, ...] = ("mean", "cls")
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


def layer_index(layer: int, num_states: int) -> int:
    """``layer`` as a non-negative index into ``num_states`` hidden states (negative counts from the end)."""
    if not -num_states <= int(layer) < num_states:
        raise ValueError(f"layer {layer} out of range: the model returns {num_states} hidden states "
                         f"(0 = embeddings, {num_states - 1} = last layer)")
    return int(layer) % num_states


def embed_layers(
    model,
    tokenizer,
    sentences: Sequence[str],
    *,
    layers: Sequence[int] | None = None,
    poolings: Sequence[str] = POOLINGS,
    max_length: int,
    batch_size: int,
    prefix: str = "",
    device: str | torch.device | None = None,
) -> dict[tuple[int, str], np.ndarray]:
    """Sentence embeddings of many layers at once: ``{(layer, pooling): (len(sentences), hidden)}``.

    One forward pass per batch returns every hidden state, so a sweep over layers costs one
    embedding run, not one per layer. ``layers`` are ``hidden_states`` indices (None: all of them,
    0 = embedding output … L = last layer; negative ones count from the end and are returned under
    their non-negative index). Memory: ``len(sentences) × layers × poolings × hidden × 4`` bytes.

    Each sentence (``prefix + sentence``: the prefix is part of the text, so it counts towards
    ``max_length`` and is pooled like any token, as E5 does) is tokenized alone and truncated to
    ``max_length`` tokens special tokens included (XTREME keeps the first ``max_length - 2``
    subwords). ``mean`` averages every non-padding position, special tokens INCLUDED (XTREME's and
    jiant's default: see the module docstring); ``cls`` takes position 0. Batches are formed from
    length-sorted sentences so little padding is computed. Runs in eval mode without gradients,
    restoring the model's mode; ``device`` (default: where the model is) moves the model there.
    """
    for pooling in poolings:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
    poolings = list(dict.fromkeys(poolings))
    num_states = model.config.num_hidden_layers + 1
    wanted = list(range(num_states)) if layers is None else list(dict.fromkeys(layer_index(l, num_states) for l in layers))
    if device is None:
        device = next(model.parameters()).device
    else:
        model.to(device)
    out = {(l, p): np.zeros((len(sentences), model.config.hidden_size), dtype=np.float32)
           for l in wanted for p in poolings}
    if len(sentences) == 0:
        return out
    enc = tokenizer([prefix + s for s in sentences], add_special_tokens=True, truncation=True,
                    max_length=max_length, return_attention_mask=False, verbose=False)
    ids = enc["input_ids"]
    types = enc.get("token_type_ids")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = np.argsort([-len(x) for x in ids], kind="stable")
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
                if len(hidden) != num_states:
                    raise ValueError(f"the model returns {len(hidden)} hidden states, not num_hidden_layers + 1 "
                                     f"= {num_states}")
                m = inputs["attention_mask"].unsqueeze(-1)
                for l in wanted:
                    states = hidden[l].float()
                    for p in poolings:
                        if p == "cls":
                            pooled = states[:, 0]
                        else:
                            pooled = (states * m).sum(1) / m.sum(1)
                        out[(l, p)][rows] = pooled.cpu().numpy()
    finally:
        model.train(was_training)
    return out


def embed(
    model,
    tokenizer,
    sentences: Sequence[str],
    *,
    layer: int,
    pooling: Pooling,
    max_length: int,
    batch_size: int,
    prefix: str = "",
    device: str | torch.device | None = None,
) -> np.ndarray:
    """``(len(sentences), hidden)`` float32 embeddings of ``hidden_states[layer]``, in input order:
    :func:`embed_layers` for one layer and one pooling."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
    index = layer_index(layer, model.config.num_hidden_layers + 1)
    return embed_layers(model, tokenizer, sentences, layers=[index], poolings=[pooling], max_length=max_length,
                        batch_size=batch_size, prefix=prefix, device=device)[(index, pooling)]


# ---------------------------------------------------------------- exact search (faiss when installed, else numpy)


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
    # Back to first-occurrence order: knn breaks ties by the lowest index, so the first copy wins.
    order = np.argsort(first)
    unique, first = unique[order], first[order]
    return first[knn(trg, unique, 1)[1][:, 0]]


def _faiss():
    """The faiss module to search with, or None for numpy (not installed, or ``XSTILTS_FAISS=0``)."""
    if os.environ.get("XSTILTS_FAISS") == "0":
        return None
    try:
        import faiss
    except ImportError:
        return None
    # faiss's OpenMP runtime, where it is not torch's, would take every core; a local worker's
    # share is what torch was given.
    faiss.omp_set_num_threads(torch.get_num_threads())
    return faiss


# Near ties, as a share of |x_i| max |y_j|: float32 faiss and numpy differ by up to ~3e-7 of it (measured,
# dims 64-1024), so rows whose faiss similarities are this close are left to numpy.
_NEAR_TIE = 1e-5
_ARGMAX_K = 16  # up to this k, repeated argmax beats a partition of every row (LASER/XTREME use k = 4)


def knn(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``y`` with the largest inner product with each row of ``x``.

    Returns ``(sims, inds)``, each ``(len(x), k)``, best first; equal similarities are ordered by
    index. Pass L2-normalised rows for cosine (faiss ``IndexFlatIP``, as LASER/XTREME do). Searched
    by faiss when installed (see the module docstring), else by :func:`_knn_numpy`.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not 1 <= k <= len(y):
        raise ValueError(f"k={k} but the database has {len(y)} rows")
    faiss = _faiss()
    if faiss is None:
        return _knn_numpy(x, y, k)
    # One neighbour more than asked, best first: a (k+1)-th close to the k-th may tie with it.
    # faiss.knn is IndexFlatIP's search without the index's copy of y.
    sims, inds = faiss.knn(x, y, min(k + 1, len(y)), metric=faiss.METRIC_INNER_PRODUCT)
    # faiss rounds differently from numpy, and not even equal rows of y alike (it depends on their
    # place in its blocks), so a near tie is faiss's to misorder and a tie at the k-th place may go
    # on among rows it left out: numpy searches those rows again, so the result is numpy's.
    scale = _NEAR_TIE * np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1).max()
    near = np.flatnonzero((sims[:, :-1] - sims[:, 1:] <= scale[:, None]).any(axis=1))
    sims, inds = np.ascontiguousarray(sims[:, :k]), np.ascontiguousarray(inds[:, :k])
    if len(near):
        sims[near], inds[near] = _knn_numpy(x[near], y, k)
    return sims, inds


def _knn_numpy(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn` in numpy, one row block of similarities at a time (float32 inputs, 1 <= k <= len(y))."""
    sims = np.empty((len(x), k), dtype=np.float32)
    inds = np.empty((len(x), k), dtype=np.int64)
    step = _block_rows(len(y))
    for start in range(0, len(x), step):
        block = x[start:start + step] @ y.T
        if k <= _ARGMAX_K and k < len(y):
            # k passes of argmax, each blanking what it found: argmax takes the first maximum, so
            # ties go to the lowest index with no sorting (faster than a partition for small k).
            rows = np.arange(len(block))
            for j in range(k):
                found = block.argmax(axis=1)
                sims[start:start + len(block), j], inds[start:start + len(block), j] = block[rows, found], found
                block[rows, found] = -np.inf
            continue
        if k < len(y):
            # The k best of each row at once; ordered by (-sim, index) within them.
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
            top_sims = np.take_along_axis(block, top, axis=1)
            order = np.lexsort((top, -top_sims), axis=1)
            best = np.take_along_axis(top, order, axis=1)
            sims[start:start + len(block)] = np.take_along_axis(top_sims, order, axis=1)
            inds[start:start + len(block)] = best
            # Where the k-th value ties with rows left out, argpartition chose among the tied ones
            # arbitrarily: those rows (rare but real: duplicated sentences) keep every tie and take
            # the lowest indices.
            kth = sims[start:start + len(block), k - 1:k]
            tied = np.flatnonzero((block >= kth).sum(axis=1) > k)
        else:
            tied = np.arange(len(block))
        for r in tied:
            row = block[r]
            c = np.flatnonzero(row >= (sims[start + r, k - 1] if k < len(y) else -np.inf))
            chosen = c[np.lexsort((c, -row[c]))[:k]]
            sims[start + r], inds[start + r] = row[chosen], chosen
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


# ------------------------------------------------------------------ scoring one language pair


def head(example, n: int):
    """The first ``n`` source sentences of a :class:`~xstilts.data.examples.RetrievalExample`, for quick looks.

    The target side drops the gold partners of the dropped source sentences (so Tatoeba stays a 1:1
    search among ``n`` pairs) and keeps at most ``n`` of the rest in file order (BUCC's unaligned
    sentences included); ``gold`` keeps the pairs whose two sentences stay.
    """
    source = example.source[:n]
    kept = {s.id for s in source}
    dropped_partners = {t for s, t in example.gold if s not in kept}
    target = tuple(t for t in example.target if t.id not in dropped_partners)[:n]
    kept_targets = {t.id for t in target}
    gold = tuple((s, t) for s, t in example.gold if s in kept and t in kept_targets)
    return type(example)(example.id, source, target, gold)


@dataclass(frozen=True)
class Scored:
    """One language pair scored at one setting: its metrics (none without gold), the ``n`` of its
    rows, the prediction file's lines, and for Tatoeba per English query the gold and predicted
    source ids (the example rows)."""

    metrics: dict[str, float]
    n: int
    predictions: list[str]
    gold: list | None = None
    predicted: list | None = None


def score(task, example, src_emb: np.ndarray, trg_emb: np.ndarray) -> Scored:
    """Search ``example`` (a :class:`~xstilts.data.examples.RetrievalExample`) with the given embeddings
    and score it as XTREME does: Tatoeba (``reader == "tatoeba"``) — nearest source per English
    sentence, accuracy; BUCC — margin mining with the task's ``k``/``margin`` options, then F1 (and
    precision, recall, threshold) at the F1-optimal threshold on the gold pairs."""
    from xstilts.metrics import get_metric
    from xstilts.metrics.bucc import bucc_eval

    if task.reader == "tatoeba":
        predicted = [example.source[int(i)].id for i in tatoeba_predict(src_emb, trg_emb)]
        gold_of = {t: s for s, t in example.gold}
        gold = [gold_of.get(t.id) for t in example.target]
        metrics = get_metric("accuracy")(gold, predicted, None) if example.gold else {}
        return Scored(metrics, len(gold), predicted, gold, predicted)
    candidates = mine_candidates([s.text for s in example.source], [t.text for t in example.target], src_emb, trg_emb,
                                 k=int(task.options.get("k", 4)), margin=task.options.get("margin", "ratio"))
    if not example.gold:
        return Scored({}, 0, [])
    r = bucc_eval(candidates, [(s.id, s.text) for s in example.source], [(t.id, t.text) for t in example.target],
                  [f"{a}\t{b}" for a, b in example.gold])
    return Scored({"f1": r.f1, "precision": r.precision, "recall": r.recall, "threshold": r.threshold},
                  len(example.gold), r.pairs)


def score_settings(
    model,
    tokenizer,
    task,
    example,
    settings: Sequence[tuple[int, str]],
    *,
    max_length: int,
    source_prefix: str = "",
    target_prefix: str = "",
    batch_size: int = 32,
) -> dict[tuple[int, str], Scored]:
    """:func:`score` of ``example`` at every ``(layer, pooling)`` of ``settings`` (``hidden_states``
    indices, negative from the end), each side embedded once for all of them (:func:`embed_layers`).
    Keys are the settings with non-negative layers, in the order given."""
    states = model.config.num_hidden_layers + 1
    cells = list(dict.fromkeys((layer_index(layer, states), pooling) for layer, pooling in settings))
    layers = sorted({layer for layer, _ in cells})
    poolings = list(dict.fromkeys(pooling for _, pooling in cells))

    def side(sentences, prefix):
        return embed_layers(model, tokenizer, [s.text for s in sentences], layers=layers, poolings=poolings,
                            max_length=max_length, batch_size=batch_size, prefix=prefix)

    src, trg = side(example.source, source_prefix), side(example.target, target_prefix)
    return {cell: score(task, example, src[cell], trg[cell]) for cell in cells}


def sweep(
    model,
    tokenizer,
    task,
    examples: Mapping[str, object],
    *,
    layers: Sequence[int] | None = None,
    poolings: Sequence[str] = POOLINGS,
    max_length: int,
    source_prefix: str = "",
    target_prefix: str = "",
    batch_size: int = 32,
) -> list[dict]:
    """Every layer (None: all hidden states, 0 = embeddings … L) × pooling for each language of
    ``examples`` (language → :class:`~xstilts.data.examples.RetrievalExample`): one record per
    language × layer × pooling × metric, with the setting it was scored at."""
    states = model.config.num_hidden_layers + 1
    wanted = range(states) if layers is None else layers
    cells = [(layer, pooling) for layer in sorted({layer_index(x, states) for x in wanted})
             for pooling in dict.fromkeys(poolings)]
    out = []
    for language, example in examples.items():
        scored = score_settings(model, tokenizer, task, example, cells, max_length=max_length,
                                source_prefix=source_prefix, target_prefix=target_prefix, batch_size=batch_size)
        for (layer, pooling), s in scored.items():
            out += [{"task": task.name, "language": language, "layer": layer, "pooling": pooling, "metric": m,
                     "value": float(v), "n": s.n, "max_length": max_length, "source_prefix": source_prefix,
                     "target_prefix": target_prefix} for m, v in s.metrics.items() if v is not None]
    return out


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
