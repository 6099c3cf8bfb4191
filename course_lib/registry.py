"""A small name -> factory registry, shared by models and attention modules."""

from __future__ import annotations

import difflib
from collections.abc import Callable


class Registry:
    """Maps names to factories; an unknown name gets an error that lists the valid ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable] = {}

    def register(self, name: str) -> Callable[[Callable], Callable]:
        def add(factory: Callable) -> Callable:
            key = name.lower()
            if key in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[key] = factory
            return factory

        return add

    def get(self, name: str) -> Callable:
        key = name.lower()
        if key not in self._factories:
            close = difflib.get_close_matches(key, self._factories, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}.{hint} Valid names: {', '.join(self.names())}"
            )
        return self._factories[key]

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._factories
