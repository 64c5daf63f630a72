"""The reader registry: one entry per pickle layout, each owning its "looks like" test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...registry import Registry
from ..corpus import Corpus


@dataclass(frozen=True)
class ReaderSpec:
    """A pickle layout.

    read: ``fn(obj, path) -> Corpus`` on the safely unpickled top level.
    looks_like: ``fn(train_split) -> bool``: whether a file's train split has this layout
        (``data.format = "auto"`` asks each reader in ``priority`` order, lowest first).
    """

    description: str
    read: Callable[[Any, Path], Corpus]
    looks_like: Callable[[Any], bool]
    priority: int = 100


READERS: Registry[ReaderSpec] = Registry("data format", key="data.format")

__all__ = ["READERS", "ReaderSpec"]
