"""Distance constraints (paper Table X): push each code z_i away from its input x_i.

Read like the MMD and CORAL constraints (a gap that is maximised through 1 / (1 + gap)):

- ``euclidean``: gap = mean_i ||x_i - z_i||_2
- ``cosine``: gap = mean_i (1 - cos(x_i, z_i)), in [0, 2]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.outputs import Posterior
from .registry import CONSTRAINTS


@CONSTRAINTS.register("euclidean")
def euclidean(post: Posterior) -> torch.Tensor:
    return 1.0 / (1.0 + (post.x - post.z).norm(dim=1).mean())


@CONSTRAINTS.register("cosine")
def cosine(post: Posterior) -> torch.Tensor:
    return 1.0 / (1.0 + (1.0 - F.cosine_similarity(post.x, post.z, dim=1)).mean())
