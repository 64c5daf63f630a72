"""The loggers of one run, fed by the engine: one call per epoch, one at the end.

``metrics.jsonl`` stays the source of truth; a tracker gets the same numbers under flat
names: every number of an epoch's record, nested keys joined by ``/`` (``train/loss``,
``train/kl/fused``, ``valid/MAE``, ``seconds``), plus the learning rate of each parameter
group (``lr/<group>``) at the epoch's end, and at the end the selected epoch's ``test/...``
and ``best/valid/...`` metrics. A tracker that fails never stops training: its error is
reported once through ``warn`` and it is dropped.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .registry import LOGGERS, Logger, RunInfo

STATE_FILE = "tracking.json"
"""Per-run file where a tracker keeps what it needs to continue the same run on --resume."""


class TrackerWarning(UserWarning):
    """A tracker failed; training went on without it."""


def flatten(d: dict[str, Any], prefix: str = "", sep: str = "/") -> dict[str, float]:
    """{"train": {"kl": {"fused": 0.1}}} -> {"train/kl/fused": 0.1}: numbers only (bools dropped)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key, sep))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def flat_params(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config dict -> {dotted key: scalar}; lists and dicts become JSON text."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flat_params(v, key))
        elif isinstance(v, (list, tuple, dict)):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def epoch_metrics(record: dict[str, Any], lrs: Iterable[tuple[str, float]] = ()) -> dict[str, float]:
    """The flat metrics of one metrics.jsonl record (its ``epoch`` is the step, not a metric)."""
    m = flatten({k: v for k, v in record.items() if k != "epoch"})
    m.update({f"lr/{name}": float(lr) for name, lr in lrs})
    return m


def final_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The selected epoch's metrics as trackers show them at the end."""
    return {**flatten({"test": summary.get("test", {})}), **flatten({"best/valid": summary.get("valid", {})})}


class Trackers:
    """The open loggers of a run (none when ``names`` is empty)."""

    def __init__(self, names: Iterable[str], info: RunInfo | None, warn: Callable[[str], None] | None = None):
        self._warn = warn or (lambda m: warnings.warn(m, TrackerWarning, stacklevel=3))
        self.loggers: dict[str, Logger] = {}
        for name in names:
            assert info is not None
            try:
                self.loggers[name] = LOGGERS.get(name).open(info)
            except Exception as e:  # noqa: BLE001 - a tracker must not stop training
                self._warn(f"logger {name!r} could not start ({type(e).__name__}: {e}); training goes on without it")

    def _each(self, what: str, call: Callable[[Logger], None]) -> None:
        for name, logger in list(self.loggers.items()):
            try:
                call(logger)
            except Exception as e:  # noqa: BLE001
                self._warn(f"logger {name!r} failed to {what} ({type(e).__name__}: {e}); it is stopped")
                self.loggers.pop(name)

    def epoch(self, record: dict[str, Any], lrs: Iterable[tuple[str, float]] = ()) -> None:
        metrics = epoch_metrics(record, lrs)
        self._each("log an epoch", lambda lg: lg.log_metrics(metrics, int(record["epoch"])))

    def finish(self, summary: dict[str, Any] | None, ok: bool = True) -> None:
        self._each("finish", lambda lg: lg.finish(summary, ok))
        self.loggers.clear()


def read_state(run_dir: Path) -> dict[str, Any]:
    f = Path(run_dir) / STATE_FILE
    try:
        return json.loads(f.read_text()) if f.exists() else {}
    except (OSError, json.JSONDecodeError):
        return {}


def write_state(run_dir: Path, key: str, value: Any) -> None:
    state = read_state(run_dir)
    state[key] = value
    (Path(run_dir) / STATE_FILE).write_text(json.dumps(state, indent=1))


__all__ = ["STATE_FILE", "TrackerWarning", "Trackers", "epoch_metrics", "final_metrics", "flat_params", "flatten",
           "read_state", "write_state"]
