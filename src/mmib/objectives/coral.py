"""Deep CORAL constraint (paper Table X): push the code's covariance away from the input's.

C_x, C_z are the (d, d) unbiased covariances of the batch's rows; the CORAL distance
||C_x - C_z||_F^2 / (4 d^2) (Sun & Saenko 2016) is maximised through the loss
1 / (1 + ||C_x - C_z||_F^2 / (4 d^2)).
"""

from __future__ import annotations

import torch

from ..models.outputs import Posterior
from .registry import CONSTRAINTS


def covariance(x: torch.Tensor) -> torch.Tensor:
    """x: (B, d) -> (d, d) unbiased covariance of the rows (divides by max(B - 1, 1))."""
    xc = x - x.mean(0, keepdim=True)
    return xc.T @ xc / max(x.shape[0] - 1, 1)


def coral_distance(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """||C_x - C_z||_F^2 / (4 d^2) for x, z: (B, d)."""
    d = x.shape[1]
    return (covariance(x) - covariance(z)).pow(2).sum() / (4 * d * d)


@CONSTRAINTS.register("coral")
def coral(post: Posterior) -> torch.Tensor:
    return 1.0 / (1.0 + coral_distance(post.x, post.z))
