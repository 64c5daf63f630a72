"""The constraint registry, named by ``objective.constraint``: a function
``fn(posterior) -> scalar tensor``, or an estimator class (``trainable = True``) that the
objective builds once per bottleneck as ``cls(input_dim, code_dim, hidden)``."""

from __future__ import annotations

from typing import Callable

import torch

from ..models.outputs import Posterior
from ..registry import Registry

CONSTRAINTS: Registry[Callable[[Posterior], torch.Tensor]] = Registry("constraint", key="objective.constraint")



def is_trainable(name: str) -> bool:
    """Whether the constraint registered as ``name`` has a network of its own to train (an
    :class:`~mmib.objectives.estimators.Estimator` class, built per bottleneck) rather than
    being a function of the posterior."""
    return bool(getattr(CONSTRAINTS.get(name), "trainable", False))


__all__ = ["CONSTRAINTS", "is_trainable"]
