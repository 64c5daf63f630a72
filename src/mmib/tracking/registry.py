"""The logger registry: what ``train.loggers`` names.

A :class:`LoggerSpec` says what a tracker is, which Python packages it needs (checked by
:func:`mmib.engine.check_config` before any training, so a missing install is one line at
once) and how to open one for a run. Opening is the only place a tracker's library is
imported: with ``train.loggers = []`` (the default) none is ever imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..registry import Registry


@dataclass
class RunInfo:
    """What a logger gets when a run starts: its folder, its name as trackers show it, the
    resolved config (TOML and flattened to dotted keys), extra parameters (a sweep cell's
    grid values, the seed of a group), the tracking settings and the epoch training resumes
    after (0: a new run)."""

    run_dir: Path
    name: str
    config_toml: str
    params: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    tracking_uri: str = ""
    experiment: str = "mmib"
    resumed_from: int = 0


class Logger(Protocol):
    """An open tracker run. ``log_metrics`` gets flat {name: float} at a step (the epoch,
    counted from 1); ``finish`` gets the final summary (valid and test metrics of the selected
    epoch) and whether the run completed."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def finish(self, summary: dict[str, Any] | None, ok: bool) -> None: ...


@dataclass(frozen=True)
class LoggerSpec:
    """One tracker: a description, the import names it needs, ``open(RunInfo) -> Logger``."""

    description: str
    open: Callable[[RunInfo], Logger]
    requires: tuple[str, ...] = ()
    extra: str = "track"

    def missing(self) -> list[str]:
        """The required packages that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


LOGGERS: Registry[LoggerSpec] = Registry("logger", key="train.loggers")


def need_packages(name: str) -> None:
    """Raise ImportError naming the extra to install when logger ``name``'s packages are missing."""
    spec = LOGGERS.get(name)
    missing = spec.missing()
    if missing:
        raise ImportError(f"train.loggers: {name!r} needs the package(s) {', '.join(missing)}: "
                          f"pip install 'mmib[{spec.extra}]'")


__all__ = ["LOGGERS", "Logger", "LoggerSpec", "RunInfo", "need_packages"]
