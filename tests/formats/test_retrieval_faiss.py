"""Retrieval search with faiss: it must return what the numpy search returns, ties included."""

import sys

import numpy as np
import pytest
import torch

from xstilts.formats import retrieval
from xstilts.formats.retrieval import knn, normalize, tatoeba_predict


@pytest.fixture
def faiss(monkeypatch):
    """faiss, switched on whatever the environment says."""
    monkeypatch.delenv("XSTILTS_FAISS", raising=False)
    return pytest.importorskip("faiss")


def numpy_and_faiss(monkeypatch, faiss, search):
    """``search()`` by numpy (XSTILTS_FAISS=0), then by the default backend, which must be faiss;
    also the number of rows the faiss path handed back to numpy."""
    monkeypatch.setenv("XSTILTS_FAISS", "0")
    expected = search()
    monkeypatch.delenv("XSTILTS_FAISS")
    built, redone = [], []
    faiss_knn, knn_numpy = faiss.knn, retrieval._knn_numpy
    monkeypatch.setattr(faiss, "knn", lambda x, y, k, **kw: built.append(k) or faiss_knn(x, y, k, **kw))
    monkeypatch.setattr(retrieval, "_knn_numpy", lambda x, y, k: redone.append(len(x)) or knn_numpy(x, y, k))
    got = search()
    assert built, "the faiss path did not search"
    return expected, got, sum(redone)


def assert_same_knn(expected, got):
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[0], expected[0], atol=1e-6, rtol=0)


def tied_data(rng, m=1200, dim=384, queries=400):
    """Unit rows of ``y`` where ten base rows each come 2-7 times, scattered; queries: the base rows
    (their copies tie at 1, across the k-th place for k below the count), near copies of them, and
    random rows. At this size (not at 64 queries × dim 32) faiss's BLAS sums were seen to round
    equal rows of ``y`` apart: the faiss path's near-tie check must catch that, not just exact ties."""
    y = normalize(rng.normal(size=(m, dim)))
    base = normalize(rng.normal(size=(10, dim)))
    places = rng.permutation(m)
    at = 0
    for row, count in zip(base, rng.integers(2, 8, size=len(base))):
        y[places[at:at + count]] = row
        at += count
    near = normalize(base + 0.05 * rng.normal(size=base.shape))
    return np.vstack([base, near, normalize(rng.normal(size=(queries - 20, dim)))]), y


@pytest.mark.parametrize("k", [1, 2, 4, 7])
def test_faiss_knn_equals_numpy_on_random_rows(monkeypatch, faiss, k):
    rng = np.random.default_rng(k)
    x, y = normalize(rng.normal(size=(64, 24))), normalize(rng.normal(size=(300, 24)))
    expected, got, redone = numpy_and_faiss(monkeypatch, faiss, lambda: knn(x, y, k))
    assert_same_knn(expected, got)
    assert redone < len(x) / 10  # near ties are rare here: faiss answered (nearly) every row


@pytest.mark.parametrize("k", [1, 2, 4, 7, "all"])
def test_faiss_knn_equals_numpy_with_exact_ties(monkeypatch, faiss, k):
    x, y = tied_data(np.random.default_rng(0))
    k = len(y) if k == "all" else k
    expected, got, redone = numpy_and_faiss(monkeypatch, faiss, lambda: knn(x, y, k))
    assert_same_knn(expected, got)
    assert redone >= 20  # at least the base rows and their near copies went back to numpy
    if k < len(y):
        assert redone < len(x)


@pytest.mark.parametrize("k", [1, 4, 29, 30])
def test_faiss_knn_equals_numpy_on_small_integer_rows(monkeypatch, faiss, k):
    """Ties everywhere, exactly: small integers multiply exactly in float32, unnormalised too."""
    rng = np.random.default_rng(1)
    x, y = rng.integers(-2, 3, (40, 3)).astype(np.float32), rng.integers(-2, 3, (30, 3)).astype(np.float32)
    expected, got, _ = numpy_and_faiss(monkeypatch, faiss, lambda: knn(x, y, k))
    assert_same_knn(expected, got)
    np.testing.assert_array_equal(got[0], np.take_along_axis(x @ y.T, got[1], axis=1))


def test_faiss_tatoeba_predict_equals_numpy_with_duplicated_sources(monkeypatch, faiss):
    rng = np.random.default_rng(2)
    src = rng.normal(size=(1500, 16)).astype(np.float32)
    dup = rng.choice(len(src), 300, replace=False)
    src[dup[150:]] = src[dup[:150]] * 2  # equal after normalisation: must merge, the first copy winning
    trg = np.vstack([src[dup[:40]], src[dup[150:190]] + 0.01 * rng.normal(size=(40, 16)), np.zeros((2, 16)),
                     rng.normal(size=(30, 16))])
    expected, got, _ = numpy_and_faiss(monkeypatch, faiss, lambda: tatoeba_predict(src, trg))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[:40], np.minimum(dup[:40], dup[150:190]))
    assert got[80:82].tolist() == [0, 0]  # a zero row ties with every source


def test_faiss_searches_on_torchs_threads(monkeypatch, faiss):
    # Asked of faiss, not read back: where faiss and torch share one OpenMP runtime, torch's
    # setting reaches faiss anyway.
    calls = []
    monkeypatch.setattr(faiss, "omp_set_num_threads", calls.append)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    knn(np.eye(3), np.eye(3), 1)
    assert calls == [3]


def test_xstilts_faiss_0_searches_with_numpy(monkeypatch, faiss):
    assert retrieval._faiss() is faiss
    monkeypatch.setenv("XSTILTS_FAISS", "0")
    assert retrieval._faiss() is None

    def refuse(*args, **kwargs):
        raise AssertionError("faiss searched under XSTILTS_FAISS=0")

    monkeypatch.setattr(faiss, "knn", refuse)
    assert knn(np.eye(3), np.eye(3), 1)[1][:, 0].tolist() == [0, 1, 2]
    assert tatoeba_predict(np.eye(3), np.eye(3)).tolist() == [0, 1, 2]


def test_without_faiss_installed_searches_with_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises ImportError
    assert retrieval._faiss() is None
    assert knn(np.eye(3), np.eye(3), 2)[1].tolist() == [[0, 1], [1, 0], [2, 0]]
