"""Fusions: one small module per fusion, registered by name.

Contract: ``cls(in_dims: list[int], out_dim: int, **options)``; ``forward(xs)`` takes a list
with one (B, D_m) tensor per modality (any number >= 1) and returns (B, out_dim). A fusion
of Gaussian posteriors (``poe``) sets ``fuses_posteriors = True`` and instead has
``forward(mus, sigmas) -> (mu, sigma)``. To add a fusion, write a class in a new file,
decorate it with ``@FUSIONS.register("name")`` and import the file below (docs/extending.md).

Built in: concat, addition, multiplication, tensor (TFN), lowrank (LMF), graph (ARGF-style),
poe (product of experts, L-MIB / C-MIB only).
"""

from __future__ import annotations

from torch import nn

from ..registry import Registry

FUSIONS: Registry[type[nn.Module]] = Registry("fusion")

from . import addition, concat, graph, lowrank, multiplication, poe, tensor  # noqa: E402,F401  (registers built-ins)


def fuses_posteriors(name: str) -> bool:
    """Whether the fusion named ``name`` takes Gaussian posteriors (mu, sigma) instead of vectors."""
    return bool(getattr(FUSIONS.get(name), "fuses_posteriors", False))


def build_fusion(name: str, in_dims: list[int], out_dim: int, **options) -> nn.Module:
    """Instantiate a registered fusion; a bad option names the fusion and its signature."""
    cls = FUSIONS.get(name)
    try:
        return cls(in_dims, out_dim, **options)
    except TypeError as e:
        raise ValueError(f"model.fusion_options {options!r} do not fit fusion {name!r}: {e}") from None


__all__ = ["FUSIONS", "build_fusion", "fuses_posteriors"]
