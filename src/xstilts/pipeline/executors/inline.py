"""``inline``: every node in this process, one after the other (a laptop, or one GPU)."""

from __future__ import annotations

import os
import socket

from xstilts.pipeline.executors import register
from xstilts.pipeline.grid import work


@register("inline")
def run(graph, out, spec, *, workers: int = 1, echo=print):
    return work(graph, out, spec, worker=f"inline-{socket.gethostname()}-{os.getpid()}", echo=echo)
