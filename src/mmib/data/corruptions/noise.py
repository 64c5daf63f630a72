"""Additive Gaussian noise (audio, visual, text vectors): x[t, j] + r * sigma_j * eps, with
sigma_j the feature's standard deviation over the training split and eps ~ N(0, 1)."""

import numpy as np

from .registry import CORRUPTIONS, Context, Corruption


def noise(x: np.ndarray, rate: float, rng: np.random.Generator, ctx: Context, modality: str) -> np.ndarray:
    sigma = ctx.std.get(modality, np.ones(x.shape[1], dtype=np.float32))
    return (x + rate * sigma[None, :] * rng.standard_normal(x.shape)).astype(np.float32)


CORRUPTIONS.add("noise", Corruption("noise", "features", noise,
                                    "x[t, j] + r * sigma_j * eps, eps ~ N(0, 1), sigma_j the training std"))
