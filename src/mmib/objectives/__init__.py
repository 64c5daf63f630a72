"""Objectives: task losses and minimal-information constraints, kept outside the model.

A constraint is ``fn(posterior: Posterior) -> scalar tensor`` registered in CONSTRAINTS
(it sees the bottleneck's input x, mean mu, standard deviation sigma and code z, each (B, d));
``MIBObjective`` turns a model output into named loss terms. Built in: kl (default), mmd,
coral, orthogonality, euclidean, cosine (paper Table X).
"""

from __future__ import annotations

from typing import Callable

import torch

from ..models.outputs import Posterior
from ..registry import Registry

CONSTRAINTS: Registry[Callable[[Posterior], torch.Tensor]] = Registry("constraint")

from . import coral, distances, kl, mmd, orthogonality  # noqa: E402,F401  (registers the built-ins)
from .objective import MIBObjective, build_objective  # noqa: E402
from .task import TASK_LOSSES, output_dim  # noqa: E402

__all__ = ["CONSTRAINTS", "MIBObjective", "TASK_LOSSES", "build_objective", "output_dim"]
