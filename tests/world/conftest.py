"""Fixtures of the synthetic-world tests: one tiny world per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.world import build, generate


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> tuple[Path, dict]:
    """(folder, manifest) of the tiny world of seed 0."""
    out = tmp_path_factory.mktemp("world") / "tiny"
    return out, generate(out, seed=0, size="tiny")


@pytest.fixture(scope="session")
def tiny_world_memory():
    """The same world in memory (abstract items, corpus documents with their fact keys)."""
    return build(seed=0, size="tiny")
