"""Frame dropping (audio, visual, text vectors): each step is removed with probability r; at
least one step always stays (chosen at random when every step was drawn)."""

import numpy as np

from .registry import CORRUPTIONS, Context, Corruption


def drop_frames(x: np.ndarray, rate: float, rng: np.random.Generator, ctx: Context, modality: str) -> np.ndarray:
    keep = rng.random(len(x)) >= rate
    if len(x) and not keep.any():
        keep[rng.integers(len(x))] = True
    return x[keep]


CORRUPTIONS.add("drop_frames", Corruption("drop", "features", drop_frames,
                                          "step t removed with probability r (at least one step kept)"))
