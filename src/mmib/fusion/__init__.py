"""Fusions: one small module per fusion, registered by name.

Contract: ``cls(in_dims: list[int], out_dim: int, **options)``; ``forward(xs)`` takes a list
with one (B, D_m) tensor per modality (any number >= 1) and returns (B, out_dim). A fusion
of Gaussian posteriors (``poe``) sets ``fuses_posteriors = True`` and instead has
``forward(mus, sigmas) -> (mu, sigma)``. To add a fusion, write a class in a new file,
decorate it with ``@FUSIONS.register("name")``: every file of this folder is imported, so
that file is all (docs/extending.md).

Built in: concat, addition, multiplication, tensor (TFN), lowrank (LMF), graph (ARGF-style),
poe (product of experts, L-MIB / C-MIB only).
"""

from __future__ import annotations

from ..registry import import_parts
from .registry import FUSIONS, build_fusion, fuses_posteriors

import_parts(__name__)

__all__ = ["FUSIONS", "build_fusion", "fuses_posteriors"]
