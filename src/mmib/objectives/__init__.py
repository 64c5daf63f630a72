"""Objectives: task losses and minimal-information constraints, kept outside the model.

A constraint is ``fn(posterior: Posterior) -> scalar tensor`` registered in CONSTRAINTS
(it sees the bottleneck's input x, mean mu, standard deviation sigma and code z, each (B, d));
``MIBObjective`` turns a model output into named loss terms. Built in: kl (default), mmd,
coral, orthogonality, euclidean, cosine (paper Table X).
"""

from __future__ import annotations

from ..registry import import_parts
from .objective import MIBObjective, build_objective
from .registry import CONSTRAINTS
from .task import TASK_LOSSES, output_dim

import_parts(__name__)

__all__ = ["CONSTRAINTS", "MIBObjective", "TASK_LOSSES", "build_objective", "output_dim"]
