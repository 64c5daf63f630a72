"""Product of experts (PoE): fuses Gaussian posteriors, not vectors.

Each modality's bottleneck gives an expert N(mu_m, diag sigma_m^2); with the prior expert
N(0, I) included, their product is Gaussian with (elementwise)

    Sigma = (1 + sum_m sigma_m^-2)^-1,      mu = Sigma * sum_m mu_m sigma_m^-2

so a confident modality (small sigma_m) dominates and an uncertain one is ignored.

Its contract differs from the other fusions: ``fuses_posteriors = True`` and
``forward(mus, sigmas) -> (mu, sigma)`` with one (B, d) mean and standard deviation per
modality. It only applies where each modality has a posterior (variants lmib and cmib);
the model samples z from the fused Gaussian (or takes mu at evaluation).
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import FUSIONS
from ._checks import same_width


@FUSIONS.register("poe")
class ProductOfExperts(nn.Module):
    """Options: ``eps`` added to every variance before inverting it (default 1e-10: keeps a
    collapsed sigma finite without visibly moving typical ones, sigma^2 ~ 5e-5 at init)."""

    fuses_posteriors = True

    def __init__(self, in_dims: list[int], out_dim: int, eps: float = 1e-10):
        super().__init__()
        same_width("poe", in_dims, out_dim)
        self.eps = eps

    def forward(self, mus: list[torch.Tensor], sigmas: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        precisions = [1.0 / (s.pow(2) + self.eps) for s in sigmas]  # each (B, d)
        var = 1.0 / (1.0 + torch.stack(precisions).sum(0))  # the prior expert contributes 1
        mu = var * torch.stack([m * p for m, p in zip(mus, precisions)]).sum(0)
        return mu, var.sqrt()  # (B, d), (B, d)
