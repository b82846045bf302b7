"""A named registry: ``@registry.register(name)`` to add, ``registry.get(name)`` to look up.

Unknown names fail with "did you mean"; a name registered twice is an error, never a silent
overwrite. Used for file readers and hub mappers (task declarations have their own, data-shaped one).
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from xstilts.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, load: Callable[[], None] | None = None):
        self.kind = kind
        self._load = load  # imports the modules whose decorators fill the registry
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = item
            return item

        return wrap

    def get(self, name: str) -> T:
        if self._load is not None:
            self._load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        if self._load is not None:
            self._load()
        return list(self._items)
