"""Fusions: one small module per fusion, registered by name.

Contract: ``cls(in_dims: list[int], out_dim: int, **options)``; ``forward(xs)`` takes a list
with one (B, D_m) tensor per modality and returns (B, out_dim). To add a fusion, write a
class in a new file and decorate it with ``@FUSIONS.register("name")`` (docs/extending.md).
"""

from __future__ import annotations

from torch import nn

from ..registry import Registry

FUSIONS: Registry[type[nn.Module]] = Registry("fusion")

from . import concat  # noqa: E402,F401  (registers built-in fusions)


def build_fusion(name: str, in_dims: list[int], out_dim: int, **options) -> nn.Module:
    return FUSIONS.get(name)(in_dims, out_dim, **options)


__all__ = ["FUSIONS", "build_fusion"]
