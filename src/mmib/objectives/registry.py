"""The constraint registry: ``fn(posterior) -> scalar tensor``, named by ``objective.constraint``."""

from __future__ import annotations

from typing import Callable

import torch

from ..models.outputs import Posterior
from ..registry import Registry

CONSTRAINTS: Registry[Callable[[Posterior], torch.Tensor]] = Registry("constraint", key="objective.constraint")

__all__ = ["CONSTRAINTS"]
