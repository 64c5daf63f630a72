"""The fusion registry and how a fusion is built from ``model.fusion`` / ``model.fusion_options``."""

from __future__ import annotations

from torch import nn

from ..registry import Registry

FUSIONS: Registry[type[nn.Module]] = Registry("fusion", key="model.fusion")


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
