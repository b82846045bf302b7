import os
import time

import numpy as np
import pytest
import torch

from xstilts.errors import ConfigError
from xstilts.formats import retrieval
from xstilts.formats.retrieval import knn, margin_scores, mine_candidates, resolve_layer, tatoeba_predict
from xstilts.tasks import get_task

# ---------------------------------------------------------------- layer resolution


def test_resolve_layer_converts_xtreme_specific_layer_to_hidden_states_index():
    options = get_task("tatoeba").options
    # XTREME's --specific_layer 7 is hidden_states[8]: it drops the embedding output first.
    assert resolve_layer(12, options) == 8
    assert resolve_layer(24, options) == 14
    assert resolve_layer(12, {"layer_by_depth": {"12": 7}}) == 8  # keys read back from YAML/JSON
    assert resolve_layer(6, {**options, "layer": 3}) == 3
    assert resolve_layer(6, {**options, "layer": -1}) == 6
    with pytest.raises(ConfigError, match="6-layer encoder.*12, 24"):
        resolve_layer(6, options)
    with pytest.raises(ConfigError, match="out of range"):
        resolve_layer(6, {"layer": 7})


def test_synthetic_retrieval_takes_xtremes_relative_depth_at_every_depth():
    options = get_task("syn_tatoeba").options
    assert resolve_layer(12, options) == resolve_layer(12, get_task("tatoeba").options) == 8
    assert [resolve_layer(n, options) for n in (1, 2, 4, 6)] == [1, 2, 3, 4]  # the demo encoder: 4 layers


# ---------------------------------------------------------------- search, by hand (faiss when installed)

X = np.array([[1.0, 0.0], [0.0, 1.0]])
Y = np.array([[1.0, 0.0], [0.6, 0.8]])  # cos(X, Y) = [[1, .6], [0, .8]]


def test_knn_orders_by_similarity_then_index():
    y = np.array([[1, 0], [0, 1], [1, 0], [0.6, 0.8]], dtype=np.float32)
    sims, inds = knn(np.array([[1.0, 0.0], [0.0, 1.0]]), y, 3)
    assert inds.tolist() == [[0, 2, 3], [1, 3, 0]]
    np.testing.assert_allclose(sims, [[1, 1, 0.6], [1, 0.8, 0]], atol=1e-7)
    with pytest.raises(ValueError):
        knn(X, Y, 3)


def test_knn_in_blocks_equals_dense(monkeypatch):
    monkeypatch.setenv("XSTILTS_FAISS", "0")  # the numpy search's blocks
    rng = np.random.default_rng(0)
    x = retrieval.normalize(rng.normal(size=(97, 16)))
    y = retrieval.normalize(rng.normal(size=(131, 16)))
    y[7] = y[3]  # an exact tie
    monkeypatch.setattr(retrieval, "_BLOCK_BYTES", 4 * 131 * 10)  # 10 rows per block
    sims, inds = knn(x, y, 5)
    dense = x @ y.T
    ref = np.array([np.lexsort((np.arange(len(y)), -row))[:5] for row in dense])
    assert (inds == ref).all()
    np.testing.assert_allclose(sims, np.take_along_axis(dense, ref, 1), rtol=1e-6)


def test_margin_scores_by_hand():
    # k=1: neighbourhood means fwd = [1, .8], bwd = [1, .8].
    np.testing.assert_allclose(margin_scores(X, 3 * Y, k=1), [[1, 0.6 / 0.9], [0, 1]], atol=1e-6)
    # k=2: fwd = [.8, .4], bwd = [.5, .7]; ratio = cos / ((fwd_i + bwd_j) / 2).
    np.testing.assert_allclose(margin_scores(X, Y, k=2),
                               [[1 / 0.65, 0.6 / 0.75], [0, 0.8 / 0.55]], atol=1e-6)
    np.testing.assert_allclose(margin_scores(X, Y, k=2, margin="distance"),
                               [[0.35, -0.15], [-0.45, 0.25]], atol=1e-6)
    np.testing.assert_allclose(margin_scores(X, Y, k=4, margin="absolute"), [[1, 0.6], [0, 0.8]], atol=1e-6)


def test_mine_candidates_by_hand():
    rows = mine_candidates(["s0", "s1"], ["t0", "t1"], X, Y, k=2)
    assert [(a, b) for _, a, b in rows] == [("s0", "t0"), ("s1", "t1")]
    np.testing.assert_allclose([s for s, _, _ in rows], [1 / 0.65, 0.8 / 0.55], rtol=1e-6)
    # A threshold drops a pair but its sentences stay used (XTREME's max mode).
    assert [(a, b) for _, a, b in mine_candidates(["s0", "s1"], ["t0", "t1"], X, Y, k=2, threshold=1.5)] \
        == [("s0", "t0")]
    # Repeated sentences are merged before search, so each shows up once.
    rows = mine_candidates(["s0", "s1", "s0"], ["t0", "t1"], np.vstack([X, X[:1]]), Y, k=2)
    assert [(a, b) for _, a, b in rows] == [("s0", "t0"), ("s1", "t1")]


def _laser_reference(x, y, k, mode):
    """LASER/XTREME mine_bitext transliterated with plain loops (cosine, ratio margin)."""
    x, y = retrieval.normalize(x), retrieval.normalize(y)
    sim = x @ y.T
    kx, ky = min(k, len(y)), min(k, len(x))
    nx = [sorted(range(len(y)), key=lambda j: (-sim[i, j], j))[:kx] for i in range(len(x))]
    ny = [sorted(range(len(x)), key=lambda i: (-sim[i, j], i))[:ky] for j in range(len(y))]
    fm = [np.mean([sim[i, j] for j in nx[i]]) for i in range(len(x))]
    bm = [np.mean([sim[i, j] for i in ny[j]]) for j in range(len(y))]
    fwd = [max(nx[i], key=lambda j: sim[i, j] / ((fm[i] + bm[j]) / 2)) for i in range(len(x))]
    bwd = [max(ny[j], key=lambda i: sim[i, j] / ((fm[i] + bm[j]) / 2)) for j in range(len(y))]
    score = lambda i, j: sim[i, j] / ((fm[i] + bm[j]) / 2)  # noqa: E731
    if mode == "fwd":
        return [(i, j) for i, j in enumerate(fwd)]
    if mode == "bwd":
        return [(i, j) for j, i in enumerate(bwd)]
    if mode == "intersect":
        return [(i, j) for i, j in enumerate(fwd) if bwd[j] == i]
    cands = [(score(i, j), i, j) for i, j in enumerate(fwd)]
    cands += [(score(i, j), i, j) for j, i in enumerate(bwd)]
    out, seen_i, seen_j = [], set(), set()
    for s, i, j in sorted(cands, key=lambda c: -c[0]):
        if i not in seen_i and j not in seen_j:
            seen_i.add(i), seen_j.add(j)
            if s > 0:
                out.append((i, j))
    return out


@pytest.mark.parametrize("mode", ["max", "fwd", "bwd", "intersect"])
def test_mine_candidates_equals_loop_reference(mode, monkeypatch):
    rng = np.random.default_rng(3)
    # A shared component makes the pairs findable; noise makes hubs and near misses.
    base = rng.normal(size=(40, 12))
    x = np.vstack([base[:30] + 0.6 * rng.normal(size=(30, 12)), rng.normal(size=(8, 12))])
    y = np.vstack([base[5:40] + 0.6 * rng.normal(size=(35, 12)), rng.normal(size=(5, 12))])
    monkeypatch.setattr(retrieval, "_BLOCK_BYTES", 4 * 40 * 7)
    src = [f"s{i}" for i in range(len(x))]
    trg = [f"t{j}" for j in range(len(y))]
    rows = mine_candidates(src, trg, x, y, k=4, mode=mode)
    assert [(a, b) for _, a, b in rows] == [(src[i], trg[j]) for i, j in _laser_reference(x, y, 4, mode)]
    if mode == "max":
        scores = [s for s, _, _ in rows]
        assert scores == sorted(scores, reverse=True)


def test_tatoeba_predict_by_hand_and_ties():
    src = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 2, 0], [0, 1, 0]], dtype=np.float32)
    trg = np.array([[0, 0, 5], [0, 3, 0.1], [0.9, 0.1, 0], [0, 0, 0]], dtype=np.float32)
    # Rows 1, 3 and 4 tie exactly (same direction): the lowest index wins. A zero row ties all.
    assert tatoeba_predict(src, trg).tolist() == [2, 1, 0, 0]


def test_tatoeba_predict_in_blocks(monkeypatch):
    monkeypatch.setenv("XSTILTS_FAISS", "0")  # the numpy search's blocks
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(50, 8)), rng.normal(size=(23, 8))
    dense = (retrieval.normalize(t) @ retrieval.normalize(s).T).argmax(1)
    monkeypatch.setattr(retrieval, "_BLOCK_BYTES", 4 * 50 * 4)
    assert (tatoeba_predict(s, t) == dense).all()


# ---------------------------------------------------------------- embeddings from the mini encoder


@pytest.fixture(scope="module")
def encoder(mini_encoder_dir):
    from transformers import AutoModel

    # Under pytest-xdist every worker would start one torch thread per core: on CI's 2 cores with
    # -n 2 that oversubscription made embedding 2-3x slower than one thread per worker.
    threads = torch.get_num_threads()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, threads // workers))
    yield AutoModel.from_pretrained(str(mini_encoder_dir))
    torch.set_num_threads(threads)


SENTENCES = ["Ein kurzer Satz.", "Hi", "The quick brown fox jumps over the lazy dog near the river bank.",
             "", "Tom a dit qu'il viendrait demain matin."]


@pytest.mark.parametrize("pooling,layer", [("mean", 12), ("mean", 8), ("cls", 0), ("cls", -1)])
def test_embed_equals_one_sentence_forward(encoder, mini_tokenizer, pooling, layer):
    encoder.train()
    emb = retrieval.embed(encoder, mini_tokenizer, SENTENCES, layer=layer, pooling=pooling,
                          max_length=12, batch_size=2)
    assert encoder.training  # mode restored
    assert emb.shape == (len(SENTENCES), 384) and emb.dtype == np.float32
    encoder.eval()
    for s, e in zip(SENTENCES, emb):
        enc = mini_tokenizer(s, truncation=True, max_length=12, return_tensors="pt")
        with torch.no_grad():
            states = encoder(**enc, output_hidden_states=True).hidden_states[layer][0]
        # Mean pools every position, <s> and </s> included (XTREME's default).
        ref = states.mean(0) if pooling == "mean" else states[0]
        np.testing.assert_allclose(e, ref.numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="out of range"):
        retrieval.embed(encoder, mini_tokenizer, SENTENCES[:1], layer=13, pooling="mean",
                        max_length=12, batch_size=2)


def test_embed_edge_cases(encoder, mini_tokenizer):
    kw = dict(layer=8, pooling="mean", max_length=16, batch_size=3)
    assert retrieval.embed(encoder, mini_tokenizer, [], **kw).shape == (0, 384)
    one = retrieval.embed(encoder, mini_tokenizer, SENTENCES[:1], device="cpu", **kw)
    many = retrieval.embed(encoder, mini_tokenizer, SENTENCES, **kw)
    np.testing.assert_allclose(one[0], many[0], atol=2e-5)  # batching and padding do not matter
    with pytest.raises(ValueError, match="pooling"):
        retrieval.embed(encoder, mini_tokenizer, SENTENCES, layer=8, pooling="max", max_length=16,
                        batch_size=3)


def _tatoeba(data_dir, lang):
    """Source sentences, sorted English sentences, and XTREME's gold: per English line, the index
    of its source sentence (evaluate.py's layout, what similarity_search predicts)."""
    root = data_dir / "xtreme/download/tatoeba"
    src = [line.rstrip("\n") for line in open(root / f"{lang}-en.{lang}", encoding="utf-8")]
    trg = [line.rstrip("\n") for line in open(root / f"{lang}-en.en", encoding="utf-8")]
    gold = np.loadtxt(data_dir / f"xtreme/labels/tatoeba/test-{lang}.tsv", dtype=np.int64)
    assert sorted(gold.tolist()) == list(range(len(src)))
    return src, trg, gold


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["de", "fr"])
def test_tatoeba_accuracy_with_the_mini_encoder(data_dir, encoder, mini_tokenizer, lang):
    src, trg, gold = _tatoeba(data_dir, lang)
    # e5 is trained with mean pooling of its last layer; max_length 64 (not XTREME's 512) keeps CI
    # fast: only a handful of Tatoeba sentences are longer.
    kw = dict(layer=12, pooling="mean", max_length=64, batch_size=64)
    start = time.perf_counter()
    x = retrieval.embed(encoder, mini_tokenizer, src, **kw)
    y = retrieval.embed(encoder, mini_tokenizer, trg, **kw)
    seconds = time.perf_counter() - start
    accuracy = float((tatoeba_predict(x, y) == gold).mean())
    print(f"tatoeba {lang}: accuracy {accuracy:.3f}, embedding 2x{len(src)} sentences {seconds:.1f}s")
    assert accuracy > 0.9  # measured 0.971 (de), 0.937 (fr)


def test_bucc_style_mining_on_tatoeba(data_dir, encoder, mini_tokenizer):
    src, trg, gold = _tatoeba(data_dir, "de")
    rng = np.random.default_rng(0)
    english = rng.permutation(len(trg))
    aligned, trg_only, src_only = english[:200], english[200:300], gold[english[300:400]]
    src_pool = np.concatenate([gold[aligned], src_only])
    trg_pool = np.concatenate([aligned, trg_only])
    rng.shuffle(src_pool)
    rng.shuffle(trg_pool)
    src_text = [src[i] for i in src_pool]
    trg_text = [trg[j] for j in trg_pool]
    kw = dict(layer=12, pooling="mean", max_length=64, batch_size=64)
    x = retrieval.embed(encoder, mini_tokenizer, src_text, **kw)
    y = retrieval.embed(encoder, mini_tokenizer, trg_text, **kw)
    rows = mine_candidates(src_text, trg_text, x, y, k=4, margin="ratio", mode="max")
    pairs = {(src[gold[j]], trg[j]) for j in aligned}
    hits = np.array([(s, t) in pairs for _, s, t in rows])
    # Best F1 over thresholds, as the BUCC metric chooses it (rows come best score first).
    found = np.cumsum(hits)
    f1 = 2 * found / (np.arange(1, len(rows) + 1) + len(pairs))
    print(f"bucc-style: {len(rows)} candidates, {hits.sum()}/200 gold, best F1 {f1.max():.3f}")
    assert hits.sum() >= 190 and f1.max() > 0.93  # measured 197/200, F1 0.980


@pytest.mark.parametrize("backend", ["numpy", "default"])
def test_knn_equals_a_full_sort_by_similarity_then_index_with_many_ties(monkeypatch, backend):
    """The vectorised top-k (argpartition; faiss's k + 1) must break ties at the k-th value by the
    lowest index, as a full sort does: small integer vectors make exact ties everywhere."""
    if backend == "numpy":
        monkeypatch.setenv("XSTILTS_FAISS", "0")
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        k = int(rng.integers(1, m + 1))
        x = rng.integers(-2, 3, (n, 3)).astype(np.float32)
        y = rng.integers(-2, 3, (m, 3)).astype(np.float32)
        block = x @ y.T
        full = np.array([np.lexsort((np.arange(m), -row))[:k] for row in block])
        sims, inds = knn(x, y, k)
        np.testing.assert_array_equal(inds, full)
        np.testing.assert_array_equal(sims, np.take_along_axis(block, full, axis=1))
