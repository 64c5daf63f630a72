"""Token masking (text): each token but the first and last ([CLS], [SEP]) becomes the
tokenizer's mask token (its unknown token when it has none) with probability r."""

import numpy as np

from .registry import CORRUPTIONS, Context, Corruption


def mask_tokens(x: np.ndarray, rate: float, rng: np.random.Generator, ctx: Context, modality: str) -> np.ndarray:
    out = x.copy()
    hit = rng.random(len(x)) < rate
    hit[0] = hit[-1] = False  # the special tokens stay
    out[hit] = ctx.mask_id
    return out


CORRUPTIONS.add("mask_tokens", Corruption("mask", "tokens", mask_tokens,
                                          "x_t <- [MASK] with probability r (t not [CLS] / [SEP])"))
