"""Backends registered by name: one Registry per kind (validators, providers, installers)."""

from __future__ import annotations

from typing import Generic, TypeVar

from certplan.model.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> backend. Unknown names list the known ones; duplicates are refused."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise RegistryError(
                f"duplicate {self.kind} name {name!r}: {self._items[name]!r} and {item!r}"
            )
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
