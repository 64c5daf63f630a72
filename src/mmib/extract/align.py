"""Streams -> the field's layouts: one row per word ("aligned", the CMU SDK's averaging of
each modality's frames within each word's interval) and length bounds by pooling."""

from __future__ import annotations

import numpy as np

from .registry import Stream


def _valid(s: Stream) -> np.ndarray:
    return np.ones(len(s.times), bool) if s.mask is None else s.mask


def align_to_words(s: Stream, words: list[tuple[str, float, float]]) -> Stream:
    """One row per word: the mean of the valid frames whose time lies in [start, end); a word
    shorter than a frame takes the nearest valid frame; a word with no valid frame near it
    gets a zero row and mask False."""
    valid = _valid(s)
    rows = np.zeros((len(words), s.values.shape[1]), np.float32)
    mask = np.zeros(len(words), bool)
    vt = s.times[valid]
    vv = s.values[valid].astype(np.float64)
    period = float(np.median(np.diff(s.times))) if len(s.times) > 1 else 0.0
    for k, (_, a, b) in enumerate(words):
        inside = (vt >= a) & (vt < b)
        if inside.any():
            rows[k] = vv[inside].mean(0)
            mask[k] = True
        elif len(vt):
            j = int(np.argmin(np.abs(vt - (a + b) / 2)))
            if abs(vt[j] - (a + b) / 2) <= (b - a) / 2 + period:
                rows[k] = vv[j]
                mask[k] = True
    return Stream(rows, np.array([(a + b) / 2 for _, a, b in words]), mask)


def pool(s: Stream, max_frames: int | None) -> Stream:
    """At most ``max_frames`` rows: the means of the valid frames of equal windows over the
    whole stream (a window without a valid frame is masked); shorter streams unchanged."""
    if not max_frames or len(s.times) <= max_frames:
        return s
    valid = _valid(s)
    edges = np.linspace(0, len(s.times), max_frames + 1).round().astype(np.int64)
    w = valid.astype(np.float64)
    sums = np.add.reduceat(s.values.astype(np.float64) * w[:, None], edges[:-1], axis=0)
    counts = np.add.reduceat(w, edges[:-1])
    tsum = np.add.reduceat(s.times, edges[:-1]) / np.diff(edges)
    values = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 0.0)
    return Stream(values, tsum, None if s.mask is None else counts > 0)


__all__ = ["align_to_words", "pool"]
