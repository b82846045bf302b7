"""``inline``: every node in this process, one after the other (a laptop, or one GPU)."""

from __future__ import annotations

import os
import socket

from functools import partial

from xstilts.pipeline.executors import register
from xstilts.pipeline.grid import _run_inline, work


@register("inline")
def run(graph, out, spec, *, workers: int = 1, echo=print, progress: bool = False):
    return work(graph, out, spec, worker=f"inline-{socket.gethostname()}-{os.getpid()}", echo=echo,
                launcher=partial(_run_inline, progress=progress))
