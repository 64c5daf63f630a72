"""Validation and repair shared by the readers.

Errors name the file, split, field and utterance index and say what was expected;
NaN / +inf / -inf feature values (common in COVAREP audio) are replaced by zero and
counted per field and split, so every repair is visible in the log and in ``data.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .budget import short

SPLITS = ("train", "valid", "test")
MAX_FEATURE = 1e8
"""Feature values beyond +-MAX_FEATURE are repaired like NaN / inf (replaced by 0 and counted):
no extractor produces them, and in a Transformer they overflow float32 within a few layers."""
_KINDS = ("nan", "posinf", "neginf", "huge")


class DataError(ValueError):
    """A data file does not have the structure or values a reader expects. The message is one
    line by construction: line breaks that came from the file are shown escaped."""

    def __init__(self, message: object = "", *args: object) -> None:
        text = str(message)
        super().__init__(text.replace("\r", "\\r").replace("\n", "\\n"), *args)


def where(path: str | Path, split: str | None = None, field: str | None = None,
          index: int | None = None) -> str:
    """``file: split 'train', field 'audio', index 17`` (the parts that are known)."""
    parts = []
    if split is not None:
        parts.append(f"split {split!r}")
    if field is not None:
        parts.append(f"field {field!r}")
    if index is not None:
        parts.append(f"index {index}")
    return f"{path}: " + ", ".join(parts) if parts else str(path)


def fail(path: str | Path, split: str | None, field: str | None, index: int | None,
         expected: str, got: Any) -> DataError:
    """An error to raise: ``<where>: expected <expected>, got <got>``."""
    return DataError(f"{where(path, split, field, index)}: expected {expected}, got {got}")


def describe(x: Any) -> str:
    """A short description of a value for error messages (type and shape, never the data)."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__} of length {len(x)}"
    if isinstance(x, dict):
        return f"dict of {len(x)} keys {short(sorted(str(k)[:40] for k in list(x)[:12]))}"
    return f"{type(x).__name__} {short(x)}"[:120]  # never the repr of a whole (possibly huge) object


def as_array(x: Any, path: str | Path, split: str, field: str, ndim: int | tuple[int, ...],
             expected: str) -> np.ndarray:
    """``x`` as a numeric NumPy array with ``ndim`` axes, or an error naming the field."""
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        raise fail(path, split, field, None, expected, describe(x)) from None
    if arr.dtype == object or arr.dtype.kind not in "biuf" or arr.ndim not in ndims:
        raise fail(path, split, field, None, expected, describe(arr))
    return arr


def check_count(path: str | Path, split: str, field: str, n: int, expected_n: int, ref: str) -> None:
    """Every per-utterance field of a split must have one entry per utterance."""
    if n != expected_n:
        raise fail(path, split, field, None, f"{expected_n} utterances (as many as {ref!r})", f"{n}")


class RepairLog:
    """Counts of non-finite values replaced by zero, per field and split."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, dict[str, int]]] = {}

    def fix(self, arr: np.ndarray, split: str, field: str) -> np.ndarray:
        """Replace NaN / +inf / -inf and values beyond +-MAX_FEATURE in the float array ``arr``
        by 0 in place; returns ``arr``."""
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (np.abs(arr) > MAX_FEATURE)
        if bad.any():
            c = self.counts.setdefault(field, {}).setdefault(split, {"nan": 0, "posinf": 0, "neginf": 0})
            vals = arr[bad]
            c["nan"] += int(np.isnan(vals).sum())
            c["posinf"] += int(np.isposinf(vals).sum())
            c["neginf"] += int(np.isneginf(vals).sum())
            huge = int(np.isfinite(vals).sum())
            if huge:
                c["huge"] = c.get("huge", 0) + huge
            arr[bad] = 0
        return arr

    def merge(self, counts: dict[str, dict[str, dict[str, int]]]) -> None:
        for field, per_split in counts.items():
            for split, c in per_split.items():
                mine = self.counts.setdefault(field, {}).setdefault(split, {"nan": 0, "posinf": 0, "neginf": 0})
                for k, v in c.items():
                    mine[k] = mine.get(k, 0) + int(v)

    def totals(self) -> dict[str, dict[str, int]]:
        """Per field: NaN / +inf / -inf counts summed over the splits."""
        out = {}
        for field, per_split in self.counts.items():
            t = {k: sum(c.get(k, 0) for c in per_split.values()) for k in _KINDS}
            out[field] = t if t["huge"] else {k: v for k, v in t.items() if k != "huge"}
        return out

    def lines(self, prefix: str = "") -> list[str]:
        """One human-readable line per repaired field."""
        out = []
        for field, t in sorted(self.totals().items()):
            per = ", ".join(f"{s} {sum(self.counts[field][s].values())}" for s in SPLITS
                            if s in self.counts[field])
            huge = f", {t['huge']} beyond +-{MAX_FEATURE:g}" if t.get("huge") else ""
            out.append(f"{prefix}{field}: replaced {t['nan']} NaN, {t['posinf']} +inf, "
                       f"{t['neginf']} -inf{huge} values by 0 ({per})")
        return out

