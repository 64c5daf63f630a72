"""MMD constraint (paper Table X): push the code z's distribution away from the input x's.

With the batch's rows as samples, the (biased, V-statistic) squared maximum mean discrepancy
under a Gaussian kernel k(a, b) = exp(-||a - b||^2 / h) is

    MMD^2 = mean k(x_i, x_j) + mean k(z_i, z_j) - 2 mean k(x_i, z_j)

with the bandwidth h the mean squared distance between distinct rows of the pooled sample
[x; z] (detached: the kernel's scale follows the data, it is not a target). The loss is
1 / (1 + MMD^2): minimising it maximises the gap, so z keeps less of x.
"""

from __future__ import annotations

import torch

from ..models.outputs import Posterior
from .registry import CONSTRAINTS


def gaussian_mmd2(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x: (B, d), z: (B', d) -> scalar biased MMD^2 with the mean-distance bandwidth."""
    pooled = torch.cat([x, z], dim=0)  # (B + B', d)
    sq = torch.cdist(pooled, pooled).pow(2)
    n = pooled.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=sq.device)
    h = sq.detach()[off].mean().clamp(min=eps)
    k = torch.exp(-sq / h)
    b = x.shape[0]
    return k[:b, :b].mean() + k[b:, b:].mean() - 2 * k[:b, b:].mean()


@CONSTRAINTS.register("mmd")
def mmd(post: Posterior) -> torch.Tensor:
    return 1.0 / (1.0 + gaussian_mmd2(post.x, post.z))
