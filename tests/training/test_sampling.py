import numpy as np
import pytest

from xstilts.training.sampling import TaskCursor, choose_task, epoch_batches, task_probabilities

SIZES = {"mnli": 900, "squad_v1": 90, "ccg": 10}


def test_sampler_probabilities():
    assert task_probabilities(SIZES, "proportional") == pytest.approx({"mnli": 0.9, "squad_v1": 0.09, "ccg": 0.01})
    assert task_probabilities(SIZES, "uniform") == pytest.approx({k: 1 / 3 for k in SIZES})
    t = task_probabilities(SIZES, "temperature", temperature=2.0)
    w = np.sqrt([900, 90, 10])
    assert list(t.values()) == pytest.approx(list(w / w.sum()))
    c = task_probabilities(SIZES, "examples_cap", examples_cap=100)
    assert c == pytest.approx({"mnli": 0.5, "squad_v1": 0.45, "ccg": 0.05})
    with pytest.raises(ValueError):
        task_probabilities(SIZES, "examples_cap")


def test_task_choice_is_a_function_of_seed_and_position():
    probs = task_probabilities(SIZES, "uniform")
    a = [choose_task(probs, 7, i) for i in range(300)]
    assert a == [choose_task(probs, 7, i) for i in range(300)]
    assert a != [choose_task(probs, 8, i) for i in range(300)]
    counts = {k: a.count(k) for k in SIZES}
    assert all(70 < v < 130 for v in counts.values())


def test_epoch_covers_every_row_once_and_groups_lengths():
    lengths = np.random.default_rng(0).integers(5, 500, size=1003)
    batches = epoch_batches(lengths, 8, seed=1, task_index=0, epoch=0)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1003))
    spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) == 8])
    assert spread < 60  # length-grouped: far below the ~330 of random batches
    assert not all(np.array_equal(a, b) for a, b in zip(batches, epoch_batches(lengths, 8, 1, 0, 1)))


def test_cursor_resumes_exactly():
    lengths = np.arange(50)
    full = TaskCursor(0)
    seq = [full.next_batch(lengths, 4, seed=3).tolist() for _ in range(40)]
    half = TaskCursor(0)
    first = [half.next_batch(lengths, 4, seed=3).tolist() for _ in range(17)]
    resumed = TaskCursor(**half.state())
    rest = [resumed.next_batch(lengths, 4, seed=3).tolist() for _ in range(23)]
    assert first + rest == seq
    assert resumed.epoch == 3
