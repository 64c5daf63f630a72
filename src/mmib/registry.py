"""A tiny name -> object registry, one per pluggable concept (fusions, datasets, ...).

Each package that has pluggable parts keeps its registry in a small module of its own
(``fusion/registry.py``, ``models/variants.py``, ...) and ends its ``__init__`` with
``import_parts(__name__)``: every module of the package is imported, so a part is
registered by the file that defines it and adding a part is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps string names to classes, factories or specs so configs can name components.

    Example::

        FUSIONS = Registry("fusion", key="model.fusion")

        @FUSIONS.register("concat")
        class ConcatFusion(nn.Module): ...

        FUSIONS.get("concat")
    """

    def __init__(self, kind: str, key: str = "") -> None:
        self.kind = kind
        self.key = key
        """The config key whose values name entries (used in error messages)."""
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """``register(name)(obj)``, for specs built as values."""
        return self.register(name)(obj)

    def remove(self, name: str) -> T:
        """Unregister ``name`` (tests that add an entry take it out again); returns the entry."""
        return self._items.pop(name)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(self.unknown(name)) from None

    def unknown(self, name: object) -> str:
        """The error text for a name that is not registered: the key and the valid names."""
        if self.key:
            return f"{self.key}: unknown {self.kind} {name!r}; expected one of {', '.join(self.names())}"
        return f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}"

    def names(self) -> list[str]:
        """Registered names in registration order (built-ins first, as their files list them)."""
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


def import_parts(package: str) -> None:
    """Import every module and subpackage of ``package`` (its parts register themselves).

    Modules whose names start with ``_`` are skipped (private helpers)."""
    pkg = sys.modules[package]
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


__all__ = ["Registry", "import_parts"]
