"""Concatenation fusion: [x_1; ...; x_M] -> Linear(sum D_m -> out_dim)."""

from __future__ import annotations

import torch
from torch import nn

from .registry import FUSIONS


@FUSIONS.register("concat")
class ConcatFusion(nn.Module):
    def __init__(self, in_dims: list[int], out_dim: int):
        super().__init__()
        self.proj = nn.Linear(sum(in_dims), out_dim)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.proj(torch.cat(xs, dim=-1))  # (B, out_dim)
