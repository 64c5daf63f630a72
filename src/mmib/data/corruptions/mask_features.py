"""Feature masking (audio, visual, text vectors): each entry x[t, j] is set to 0 with probability r."""

import numpy as np

from .registry import CORRUPTIONS, Context, Corruption


def mask_features(x: np.ndarray, rate: float, rng: np.random.Generator, ctx: Context, modality: str) -> np.ndarray:
    return np.where(rng.random(x.shape) < rate, np.float32(0), x).astype(np.float32)


CORRUPTIONS.add("mask_features", Corruption("mask", "features", mask_features,
                                            "x[t, j] <- 0 with probability r"))
