"""Claims: at most one worker runs a node, across processes, machines and drivers.

A claim is a file created atomically with ``os.link`` (atomic on NFS as on local disks, unlike
``O_EXCL`` on old NFS clients and ``flock`` across hosts). Its owner refreshes the file's mtime
every ``lease / 4`` seconds (the heartbeat). A claim whose mtime is older than ``lease`` belongs to
a worker that was killed or lost its machine: another worker breaks it and claims the node. On the
claim's own machine a holder whose process is gone is stale at once (a killed `xstilts run`
resumes without waiting out the lease), and a claim under the claimant's own name (a requeued
Slurm job keeps its job id) is taken back at once.

Breaking is serialised by a second linked file (``<claim>.break``), and the breaker re-reads the
claim's token under it, so two workers that both see a stale claim cannot break a fresh one that a
third worker just created. A ``.break`` file left by a breaker killed in those few milliseconds
expires after ``lease`` as well.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path


class Claim:
    """``with Claim(path, owner=..., lease=...) as c: if c.held: ...`` — or acquire/release."""

    def __init__(self, path: str | Path, *, owner: str, lease: float = 300.0):
        self.path = Path(path)
        self.owner = owner
        self.lease = float(lease)
        self.token = uuid.uuid4().hex
        self.held = False
        self.lost = False  # set by the heartbeat if another worker broke this claim
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # ------------------------------------------------------------------ acquire / release

    def acquire(self) -> bool:
        """Claim the node; False if a live worker holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(8):
            if _link_new(self.path, self._record()):
                self.held = True
                self._beat = threading.Thread(target=self._heartbeat, daemon=True, name=f"claim {self.path.name}")
                self._beat.start()
                return True
            holder = read(self.path)
            if holder is None:
                continue  # released between our attempt and the read: try again
            # Our own name on a claim we do not hold: an earlier life of this worker (a Slurm job
            # requeued after preemption keeps its job id) — take it back without waiting a lease.
            mine = holder.get("owner") == self.owner
            if not mine and not self._stale(holder):
                return False
            self._break(holder, mine)
        return False

    def release(self) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        holder = read(self.path)
        if holder is not None and holder.get("token") == self.token:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self) -> "Claim":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------ internals

    def _record(self) -> dict:
        return {"token": self.token, "owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "since": time.time(), "lease": self.lease}

    def _stale(self, holder: dict) -> bool:
        if holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid")):
            return True  # its process is gone from this machine: no need to wait out the lease
        return time.time() - holder["mtime"] > float(holder.get("lease") or self.lease)

    def _break(self, seen: dict, mine: bool = False) -> None:
        lock = self.path.with_name(self.path.name + ".break")
        if not _link_new(lock, {"token": self.token, "host": socket.gethostname(), "pid": os.getpid()}):
            try:
                if time.time() - lock.stat().st_mtime > self.lease:
                    lock.unlink()  # a breaker died holding it
            except FileNotFoundError:
                pass
            time.sleep(0.05)
            return
        try:
            now = read(self.path)
            if now is not None and now.get("token") == seen.get("token") and (mine or self._stale(now)):
                self.path.rename(self.path.with_name(f"{self.path.name}.expired-{uuid.uuid4().hex[:8]}"))
        except FileNotFoundError:
            pass
        finally:
            lock.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease / 4):
            holder = read(self.path)
            if holder is None or holder.get("token") != self.token:
                self.lost = True
                return
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self.lost = True
                return


def read(path: str | Path) -> dict | None:
    """The claim's record with its ``mtime`` (last heartbeat), or None if there is no claim."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
        record = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return {**record, "mtime": mtime}


def alive(path: str | Path, lease: float | None = None) -> dict | None:
    """The holder of a live (not expired) claim at ``path``, else None."""
    holder = read(path)
    if holder is None:
        return None
    limit = float(holder.get("lease") or lease or 300.0)
    return holder if time.time() - holder["mtime"] <= limit else None


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True  # someone else's process, or no pid recorded: trust the lease
    return True


def _link_new(path: Path, record: dict) -> bool:
    """Create ``path`` with ``record`` atomically; False if it exists."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
