"""Low-rank multimodal fusion (LMF, Liu et al. 2018).

TFN multiplies its outer-product tensor T = [1; x_1] o ... o [1; x_M] by a weight tensor W.
LMF writes W as a rank-r sum W = sum_i lambda_i W_1^(i) o ... o W_M^(i), which lets the product
be computed without ever building T:

    h = sum_i lambda_i * prod_m ([1; x_m] W_m^(i)) + b       (B, out_dim)

The factors W_m (r, D_m + 1, out_dim), the rank weights lambda (r,) and the bias b are
``nn.Parameter``s (so they are trained and moved with the module). ``full_weight`` rebuilds
the equivalent TFN weight; the tests check that both give the same output.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import FUSIONS


@FUSIONS.register("lowrank")
class LowRankFusion(nn.Module):
    """Options: ``rank`` r (default 4)."""

    def __init__(self, in_dims: list[int], out_dim: int, rank: int = 4):
        super().__init__()
        if not in_dims:
            raise ValueError("fusion 'lowrank': needs at least one modality")
        if rank < 1:
            raise ValueError(f"fusion 'lowrank': model.fusion_options.rank must be >= 1, got {rank}")
        self.rank = rank
        self.factors = nn.ParameterList(nn.Parameter(torch.empty(rank, d + 1, out_dim)) for d in in_dims)
        self.rank_weights = nn.Parameter(torch.empty(1, rank))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        for f in self.factors:
            nn.init.xavier_normal_(f)
        nn.init.xavier_normal_(self.rank_weights)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        prod = None
        for x, w in zip(xs, self.factors):
            x1 = torch.cat([x.new_ones(x.shape[0], 1), x], dim=1)  # (B, D_m + 1)
            zm = torch.einsum("bi,rio->rbo", x1, w)  # (r, B, out_dim)
            prod = zm if prod is None else prod * zm
        return torch.einsum("r,rbo->bo", self.rank_weights[0], prod) + self.bias  # (B, out_dim)

    def full_weight(self) -> torch.Tensor:
        """The TFN weight this factorisation stands for: (prod_m (D_m + 1), out_dim), rows in
        the order of :func:`mmib.fusion.tensor.outer_tensor`."""
        full = None
        for w in self.factors:  # (r, D_m + 1, out)
            full = w if full is None else (full[:, :, None, :] * w[:, None, :, :]).flatten(1, 2)
        return torch.einsum("r,rpo->po", self.rank_weights[0], full)
