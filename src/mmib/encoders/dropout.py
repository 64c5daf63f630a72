"""Dropout whose training mask is cheap on CPU, and the swap that puts it into any module.

On CPU ``F.dropout`` draws its mask with ``bernoulli_``, which cost a quarter of a
frozen-cached bert-base step (benchmarks/results/profile_*_cached_fp32_20261202-2244). The
mask here compares 15 random bits per element with a threshold instead: the same dropout
(rate within 1.6e-5 of ``p``, scale 1 / (1 - p)), drawn from torch's generator. On GPUs
(whose fused kernel is fast) and in eval mode it is ``F.dropout`` itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device) -> tuple[torch.Tensor, float]:
    """A bool mask that keeps each element with probability 1 - p', and the scale 1 / (1 - p').

    ``p' = round(p * 2^15) / 2^15`` (within 1.6e-5 of ``p``). Each element compares 15 random
    bits with that threshold; the bits come from torch's generator (``random_`` on int32,
    two elements per draw), which on CPU is cheaper than ``bernoulli_``, the kernel behind
    ``F.dropout``."""
    n = math.prod(shape)
    threshold = round(p * 32768)
    bits = torch.empty((n + 1) // 2, dtype=torch.int32, device=device).random_().view(torch.int16)[:n]
    return ((bits & 0x7FFF) >= threshold).view(shape), 32768 / (32768 - threshold)


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same state, same ``p``) whose training mask comes from :func:`keep_mask`
    on CPU; elsewhere and in eval mode it is ``F.dropout``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.p >= 1.0:
            return F.dropout(x, self.p, self.training, self.inplace)
        keep, scale = keep_mask(x.shape, self.p, x.device)
        return x * keep * scale


def swap_dropout(module: nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` inside ``module`` (e.g. a Hugging Face backbone) by
    :class:`Dropout` with the same ``p``, in place; returns how many were replaced. Dropout
    has no weights, so state dicts and checkpoints are unchanged."""
    n = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, Dropout(child.p, child.inplace))
                n += 1
    return n


__all__ = ["Dropout", "keep_mask", "swap_dropout"]
