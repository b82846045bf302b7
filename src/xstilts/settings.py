"""Where data lives. One setting, resolved explicitly; never a hidden default path.

The data root holds XTREME's ``download/`` folder as ``xtreme/download``, the label folder read by
XTREME's evaluate.py as ``xtreme/labels``, and the official English releases as ``english/``
(see docs/data.md). It comes from an explicit argument, else the ``XSTILTS_DATA_DIR`` environment
variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from xstilts.errors import ConfigError

DATA_DIR_ENV = "XSTILTS_DATA_DIR"


def data_dir(explicit: str | Path | None = None) -> Path:
    """The data root: ``explicit`` if given, else ``$XSTILTS_DATA_DIR``; it must exist."""
    value = explicit if explicit is not None else os.environ.get(DATA_DIR_ENV)
    if not value:
        raise ConfigError(
            f"no data directory: pass --data-dir or set {DATA_DIR_ENV} to the folder holding "
            "xtreme/download, xtreme/labels and english/"
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(f"data directory {path} does not exist ({DATA_DIR_ENV} or --data-dir)")
    return path


def cpu_cores() -> int:
    """The cores this process may run on (its affinity, which a Slurm or container limit sets)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
