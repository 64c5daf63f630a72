"""Orthogonality constraint (paper Table X): make the code z orthogonal to the input x.

As in domain separation networks / MISA: normalise every row (sample) of x and z to unit
length, then penalise the squared entries of the (d, d) cross-correlation X^T Z, averaged:

    loss = mean((X_hat^T Z_hat)^2)

It is 0 exactly when every feature column of z is orthogonal, across the batch, to every
feature column of x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.outputs import Posterior
from .registry import CONSTRAINTS


@CONSTRAINTS.register("orthogonality")
def orthogonality(post: Posterior) -> torch.Tensor:
    x = F.normalize(post.x, dim=1)  # (B, d) unit rows
    z = F.normalize(post.z, dim=1)
    return (x.T @ z).pow(2).mean()
