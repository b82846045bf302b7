"""Claims: one holder at a time across processes; a dead holder's claim expires and is taken over."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

from xstilts.pipeline import claims


def test_one_holder_until_released(tmp_path):
    path = tmp_path / "n.claim"
    a, b = claims.Claim(path, owner="a", lease=30), claims.Claim(path, owner="b", lease=30)
    assert a.acquire() and not b.acquire()
    assert claims.alive(path)["owner"] == "a"
    a.release()
    assert not path.exists() and b.acquire()
    b.release()


def test_heartbeat_keeps_a_live_claim_fresh(tmp_path):
    path = tmp_path / "n.claim"
    a = claims.Claim(path, owner="a", lease=0.4)
    assert a.acquire()
    time.sleep(1.0)  # 2.5 leases: only the heartbeat keeps it alive
    assert not claims.Claim(path, owner="b", lease=0.4).acquire()
    a.release()


def test_expired_claim_of_a_dead_worker_is_taken_over(tmp_path):
    path = tmp_path / "n.claim"
    dead = claims.Claim(path, owner="dead", lease=1)
    assert dead.acquire()
    dead._stop.set()  # the worker dies: no more heartbeats (its file stays behind)
    old = time.time() - 5
    os.utime(path, (old, old))
    taker = claims.Claim(path, owner="taker", lease=1)
    assert taker.acquire()
    assert claims.read(path)["owner"] == "taker"
    assert list(tmp_path.glob("n.claim.expired-*"))  # the dead claim is kept, renamed, not lost
    dead._beat.join()
    dead.release()  # a late release of the dead claim must not remove the taker's
    assert claims.read(path)["owner"] == "taker"
    taker.release()


def _contend(path: str, owner: str, lease: float, start: float, queue) -> None:
    while time.time() < start:
        pass
    claim = claims.Claim(path, owner=owner, lease=lease)
    queue.put((owner, claim.acquire()))
    time.sleep(0.5)  # hold while the others try


def _winners(path, processes: int, lease: float) -> int:
    """How many of ``processes`` spawned at the same instant get the claim at ``path``."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start = time.time() + 1.5
    procs = [ctx.Process(target=_contend, args=(str(path), f"p{i}", lease, start, queue)) for i in range(processes)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return sum(won for _, won in results)


def test_exactly_one_of_eight_processes_wins(tmp_path):
    assert _winners(tmp_path / "n.claim", 8, lease=30) == 1


def test_racing_breakers_of_one_stale_claim_leave_one_holder(tmp_path):
    path = tmp_path / "n.claim"
    dead = claims.Claim(path, owner="dead", lease=2)
    assert dead.acquire()
    dead._stop.set()
    dead._beat.join()
    old = time.time() - 10
    os.utime(path, (old, old))
    assert _winners(path, 6, lease=2) == 1


def test_a_requeued_worker_takes_back_its_own_claim_at_once(tmp_path):
    path = tmp_path / "n.claim"
    first = claims.Claim(path, owner="slurm-4242", lease=300)
    assert first.acquire()
    first._stop.set()  # preempted: the process is gone, its claim is fresh
    first._beat.join()
    assert not claims.Claim(path, owner="slurm-5151", lease=300).acquire()  # others wait for the lease
    again = claims.Claim(path, owner="slurm-4242", lease=300)
    assert again.acquire() and claims.read(path)["token"] == again.token
    again.release()


def _prepare(out: str, log: str) -> None:
    from xstilts.pipeline.grid import GridSpec, exclusive

    with exclusive(out, "prepare", GridSpec(poll_seconds=0.05)):
        with open(log, "a") as f:
            f.write(f"start {time.time()}\n")
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write(f"end {time.time()}\n")


def test_drivers_prepare_the_data_one_at_a_time(tmp_path):
    ctx = mp.get_context("spawn")
    log = tmp_path / "log"
    procs = [ctx.Process(target=_prepare, args=(str(tmp_path), str(log))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    events = [line.split()[0] for line in log.read_text().splitlines()]
    assert events == ["start", "end"] * 3  # never two inside at once
