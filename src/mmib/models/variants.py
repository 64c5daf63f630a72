"""The variant registry: which bottlenecks each MIB variant has (method.md).

A :class:`VariantSpec` carries what every other part needs to know about a variant: whether
it has a bottleneck per modality (L-MIB, C-MIB) and on the fused vector (E-MIB, C-MIB),
whether its constraint weight is forced to 0 (B-MIB), and the class that builds it.
Adding a variant is one new file in this folder that calls ``VARIANTS.add`` (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import ExperimentConfig
from ..registry import Registry


@dataclass(frozen=True)
class VariantSpec:
    """One variant. ``builder``: the model class, called as
    ``builder(cfg.model, modalities, dims, out_dim, backbone, spec=spec)`` (default
    :class:`~mmib.models.mib.MIBModel`)."""

    description: str
    unimodal_ib: bool = False
    fused_ib: bool = False
    constraint_off: bool = False
    """The objective's constraint weight (beta) is 0 whatever the config says."""
    chained_ib: bool = False
    """Bottlenecks in a chain, one per stage of a hierarchy (ithp)."""
    builder: Any = None
    check: Any = None
    """``check(cfg: ExperimentConfig)``: what the variant needs of the rest of the config,
    raising ConfigError naming the key (called by :func:`mmib.engine.check_config`)."""

    @property
    def has_ib(self) -> bool:
        return self.unimodal_ib or self.fused_ib or self.chained_ib


VARIANTS: Registry[VariantSpec] = Registry("variant", key="model.variant")

VARIANTS.add("emib", VariantSpec("E-MIB: fuse, then one IB head on the fused vector", fused_ib=True))
VARIANTS.add("lmib", VariantSpec("L-MIB: an IB head per modality, fuse the codes, decode", unimodal_ib=True))
VARIANTS.add("cmib", VariantSpec("C-MIB: IB heads per modality and on the fused vector", unimodal_ib=True,
                                 fused_ib=True))
VARIANTS.add("bmib", VariantSpec("B-MIB: E-MIB with the constraint removed (beta = 0)", fused_ib=True,
                                 constraint_off=True))
VARIANTS.add("noib", VariantSpec("W/O IB: unimodal networks and fusion, no IB heads"))


def constraint_weight(cfg: ExperimentConfig) -> float:
    """The beta a run really trains with: 0 for a variant whose constraint is off (bmib)."""
    return 0.0 if VARIANTS.get(cfg.model.variant).constraint_off else cfg.objective.beta


def variants_with_unimodal_ib() -> list[str]:
    return [n for n, s in VARIANTS.items() if s.unimodal_ib]


__all__ = ["VARIANTS", "VariantSpec", "constraint_weight", "variants_with_unimodal_ib"]
