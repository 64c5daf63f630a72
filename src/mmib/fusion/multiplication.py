"""Multiplication fusion: x_1 * ... * x_M elementwise (no parameters; widths equal out_dim)."""

from __future__ import annotations

import torch
from torch import nn

from .registry import FUSIONS
from ._checks import same_width


@FUSIONS.register("multiplication")
class MultiplicationFusion(nn.Module):
    def __init__(self, in_dims: list[int], out_dim: int):
        super().__init__()
        same_width("multiplication", in_dims, out_dim)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(xs).prod(0)  # (B, d)
