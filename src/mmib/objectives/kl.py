"""KL(N(mu, diag sigma^2) || N(0, I)), the paper's minimal-information constraint."""

from __future__ import annotations

import torch

from ..models.outputs import Posterior
from .registry import CONSTRAINTS


def gaussian_kl(mu: torch.Tensor, sigma: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-element KL 0.5 (mu^2 + sigma^2 - 2 log sigma - 1); same shape as mu."""
    return 0.5 * (mu.pow(2) + sigma.pow(2) - 2 * torch.log(sigma + eps) - 1)


@CONSTRAINTS.register("kl")
def kl(post: Posterior) -> torch.Tensor:
    """Mean over batch and latent dims (the reference code's scaling, used with beta = 1e-3)."""
    return gaussian_kl(post.mu, post.sigma).mean()
