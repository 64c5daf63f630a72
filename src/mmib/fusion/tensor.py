"""Tensor fusion (TFN, Zadeh et al. 2017): the outer product of [1; x_m] over the modalities.

Appending a constant 1 to every vector keeps the unimodal and bimodal terms inside the
product: with three modalities the (D_1+1)(D_2+1)(D_3+1) values hold x_l, x_a, x_v, every
pairwise product and every triple product. The flattened tensor then goes through dropout
and an MLP to ``out_dim``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .registry import FUSIONS


def outer_tensor(xs: list[torch.Tensor]) -> torch.Tensor:
    """xs: one (B, D_m) per modality -> (B, prod_m (D_m + 1)), row-major over the modalities
    (the flattening of ``einsum('bi,bj,bk->bijk', ...)`` for three inputs)."""
    t = None
    for x in xs:
        x1 = torch.cat([x.new_ones(x.shape[0], 1), x], dim=1)  # (B, D_m + 1)
        t = x1 if t is None else (t[:, :, None] * x1[:, None, :]).flatten(1)
    assert t is not None, "outer_tensor needs at least one input"
    return t


@FUSIONS.register("tensor")
class TensorFusion(nn.Module):
    """Options: ``hidden`` width of the MLP's hidden layer (default out_dim; 0 = a single
    Linear from the tensor to out_dim), ``dropout`` on the tensor (default 0.15)."""

    def __init__(self, in_dims: list[int], out_dim: int, hidden: int | None = None, dropout: float = 0.15):
        super().__init__()
        if not in_dims:
            raise ValueError("fusion 'tensor': needs at least one modality")
        size = math.prod(d + 1 for d in in_dims)
        hidden = out_dim if hidden is None else hidden
        self.dropout = nn.Dropout(dropout)
        if hidden > 0:
            self.mlp = nn.Sequential(nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        else:
            self.mlp = nn.Sequential(nn.Linear(size, out_dim))

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.mlp(self.dropout(outer_tensor(xs)))  # (B, out_dim)
