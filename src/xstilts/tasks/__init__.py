"""The task registry: one small declaration per task (see :mod:`xstilts.tasks.catalog`).

>>> from xstilts.tasks import get_task
>>> get_task("xnli").languages[:3]
('ar', 'bg', 'de')
"""

from xstilts.tasks.registry import (
    FORMATS,
    HubSource,
    Task,
    all_tasks,
    get_task,
    register,
    task_names,
)
from xstilts.tasks import catalog as _catalog  # noqa: F401  (fills the registry)

__all__ = ["FORMATS", "HubSource", "Task", "all_tasks", "get_task", "register", "task_names"]
