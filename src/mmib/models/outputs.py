"""Typed model outputs: what the objective, metrics, prediction and plots read."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Posterior:
    """A bottleneck's input x (B, d), Gaussian posterior N(mu, sigma^2) (B, d) and code z."""

    x: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    z: torch.Tensor


@dataclass
class MIBOutput:
    """prediction: (B, K) the final decoder's output; heads: every decoder's output by name
    (``fused`` plus one per modality for L-/C-MIB); posteriors: every constrained bottleneck
    by name; unimodal: (B, d) per modality; fused: (B, d) the representation decoded by the
    final head; fusion_posterior: the product-of-experts Gaussian when the fusion fuses
    posteriors (``poe``), else None - it is not a constrained bottleneck (L-MIB puts no KL on
    its fused code), so it is kept apart from ``posteriors``; its ``x`` is its own mean;
    reconstructions: per stage of a hierarchical model (``ithp``), (prediction, target) of the
    next modality, each (B, D) - the objective turns them into ``recon/<stage>`` terms."""

    prediction: torch.Tensor
    heads: dict[str, torch.Tensor]
    posteriors: dict[str, Posterior] = field(default_factory=dict)
    unimodal: dict[str, torch.Tensor] = field(default_factory=dict)
    fused: torch.Tensor | None = None
    fusion_posterior: Posterior | None = None
    reconstructions: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
