"""Helpers the pickle readers share: splits, strings, ids, padding detection, label parsing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..corpus import Ragged
from ..validate import DataError, RepairLog, describe, fail

# CMU-MOSEI SDK label vector: [sentiment, happy, sad, anger, surprise, disgust, fear]
MOSEI_EMOTIONS = ["happy", "sad", "anger", "surprise", "disgust", "fear"]
IEMOCAP_EMOTIONS = ["neutral", "happy", "sad", "angry"]
SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "dev", "val"), "test": ("test",)}


def keys_of(d: dict) -> str:
    """A dict's keys for an error message: sorted as text, at most 12, each cut short."""
    keys = sorted(str(k)[:40] for k in list(d)[:200])
    return str(keys[:12])[:-1] + (f", ... {len(d)} in all]" if len(d) > 12 else "]")


def get_splits(obj: Any, path: Path) -> dict[str, Any]:
    """The train / valid / test entries of a top-level dict (``dev`` counts as valid)."""
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with train / valid (or dev) / test splits at the top "
                        f"level, got {describe(obj)}")
    out = {}
    for split, names in SPLIT_ALIASES.items():
        found = [n for n in names if n in obj]
        if not found:
            raise DataError(f"{path}: split {split!r} is missing (looked for {' or '.join(names)}); "
                            f"the file has keys {keys_of(obj)}")
        out[split] = obj[found[0]]
    return out


def to_str(x: Any) -> str:
    """A string from str / bytes / NumPy scalars / small sequences of those (joined by '$_$')."""
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="replace")
    if isinstance(x, str):
        return x
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return to_str(x.item())
        return "$_$".join(to_str(v) for v in x.reshape(-1))
    if isinstance(x, (list, tuple)):
        return "$_$".join(to_str(v) for v in x)
    return str(x)


def strings(x: Any, n: int, path: Path, split: str, field: str) -> list[str]:
    """``n`` strings from a per-utterance field."""
    try:
        items = list(x)
    except TypeError:
        raise fail(path, split, field, None, f"{n} strings, one per utterance", describe(x)) from None
    if len(items) != n:
        raise fail(path, split, field, None, f"{n} entries (one per utterance)", len(items))
    return [to_str(v) for v in items]


def nonzero_span(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the rows between the first and the last row that is not all zero.

    padded: (N, T, D). NaN / inf count as non-zero (they are data, repaired later).
    An utterance whose rows are all zero gets length 0.
    """
    # in blocks of utterances: (N, T, D) booleans at once would double a large file's memory
    nz = np.concatenate([np.any(padded[i:i + 1024] != 0, axis=2) for i in range(0, len(padded), 1024)]) \
        if len(padded) else np.zeros(padded.shape[:2], dtype=bool)  # (N, T)
    t = padded.shape[1]
    any_nz = nz.any(axis=1)
    first = np.where(any_nz, nz.argmax(axis=1), 0)
    last = np.where(any_nz, t - 1 - nz[:, ::-1].argmax(axis=1), -1)
    return first.astype(np.int64), (last - first + 1).clip(min=0).astype(np.int64)


def float_ragged(padded: np.ndarray, lengths: np.ndarray, starts: np.ndarray | None, repairs: RepairLog,
                 split: str, field: str) -> Ragged:
    """The valid rows of padded (N, T, D) features as float32, NaN / inf repaired and counted.

    Only valid steps are copied, cast and repaired (padding is dropped first), so a large
    file is never copied whole.
    """
    r = Ragged.from_padded(padded, lengths, starts)
    r.values = repairs.fix(r.values.astype(np.float32, copy=False), split, field)
    return r


def right_padded_lengths(padded: np.ndarray) -> np.ndarray:
    """(N,) lengths of right-padded sequences: up to the last row that is not all zero."""
    starts, lengths = nonzero_span(padded)
    return np.where(lengths > 0, starts + lengths, 0)


def check_lengths(lengths: Any, n: int, t: int, path: Path, split: str, field: str) -> np.ndarray:
    """Stored valid lengths: (N,) integers in [0, T]."""
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iuf" or arr.reshape(-1).shape != (n,):
        raise fail(path, split, field, None, f"({n},) integer lengths", describe(arr))
    arr = arr.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0) | (arr > t) | (arr != np.round(arr)))
    if len(bad):
        i = int(bad[0])
        raise fail(path, split, field, i, f"an integer length in [0, {t}] (the padded length)", arr[i])
    return arr.astype(np.int64)


def sentiment_from(arr: np.ndarray, path: Path, split: str, field: str) -> np.ndarray:
    """(N,) float32 sentiment; NaN / inf labels cannot be repaired and are an error."""
    y = arr.astype(np.float32).reshape(len(arr))
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise fail(path, split, field, int(bad[0]), "a finite sentiment score", y[bad[0]])
    return y


def emotions_from_intensity(arr: np.ndarray, path: Path, split: str, field: str) -> np.ndarray:
    """(N, K) intensities (CMU SDK, 0-3) -> (N, K) presence in {0, 1} (present when > 0)."""
    bad = np.argwhere(~np.isfinite(arr) | (arr < 0))
    if len(bad):
        i, k = map(int, bad[0])
        raise fail(path, split, field, i, f"emotion intensities >= 0 (emotion {k})", arr[i, k])
    return (arr > 0).astype(np.float32)


def emotions_from_onehot(arr: np.ndarray, path: Path, split: str, field: str) -> np.ndarray:
    """(N, K, 2) one-hot (absent, present) pairs -> (N, K) presence in {0, 1}."""
    ok = np.isin(arr, (0, 1)).all(axis=2) & (arr.sum(axis=2) == 1)
    bad = np.argwhere(~ok)
    if len(bad):
        i, k = map(int, bad[0])
        raise fail(path, split, field, i,
                   f"one-hot (absent, present) pairs of 0/1 (emotion {k})", arr[i, k].tolist())
    return arr[:, :, 1].astype(np.float32)
