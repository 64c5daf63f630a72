"""The variational information-bottleneck head (deep VIB, Alemi et al.)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .outputs import Posterior


class IBHead(nn.Module):
    """x (B, d) -> h = ReLU(Linear(d -> hidden)); mu = Linear(h); sigma = softplus(Linear(h) - 5);
    z = mu + sigma * eps with eps ~ N(0, I) when sampling, z = mu otherwise."""

    def __init__(self, d: int, hidden: int = 1024, latent: int | None = None):
        super().__init__()
        latent = latent or d
        self.encoder = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.sigma = nn.Linear(hidden, latent)

    def forward(self, x: torch.Tensor, sample: bool) -> Posterior:
        h = self.encoder(x)
        mu = self.mu(h)
        sigma = F.softplus(self.sigma(h) - 5.0)
        z = mu + sigma * torch.randn_like(sigma) if sample else mu
        return Posterior(x=x, mu=mu, sigma=sigma, z=z)
