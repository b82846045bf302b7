"""Executors run a run graph (:mod:`xstilts.pipeline.graph`): one module each, one registration.

An executor is a function ``run(graph, out, spec, *, workers, echo, progress) -> {node id: state}`` that
gets every runnable node of ``graph`` done under the grid folder ``out``. All of them claim nodes
through :mod:`xstilts.pipeline.grid`, so executors, drivers and hand-started workers can share a
grid. Register a new one with :func:`register` in its module and import it below.
"""

from __future__ import annotations

from typing import Callable

from xstilts.errors import UnknownNameError

EXECUTORS: dict[str, Callable] = {}


def register(name: str):
    def add(fn: Callable) -> Callable:
        EXECUTORS[name] = fn
        return fn

    return add


def get_executor(name: str) -> Callable:
    if name not in EXECUTORS:
        raise UnknownNameError("executor", name, tuple(EXECUTORS))
    return EXECUTORS[name]


from xstilts.pipeline.executors import inline, local, slurm  # noqa: E402,F401  (registrations)
