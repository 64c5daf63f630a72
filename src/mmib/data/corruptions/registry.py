"""The corruption registry: what ``--kinds`` and ``data.augment`` name (docs/robustness.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from ...registry import Registry


@dataclass
class Context:
    """What corruptions may need to know: the tokenizer's mask and special token ids, and the
    training std of every feature per modality."""

    mask_id: int = 0
    cls_id: int | None = None
    sep_id: int | None = None
    std: dict[str, np.ndarray] = field(default_factory=dict)


Apply = Callable[[np.ndarray, float, np.random.Generator, Context, str], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """One corruption. ``kind``: the name users give (mask, drop, noise, missing); ``inputs``:
    which sequences it applies to (``tokens``: token ids, ``features``: float rows, audio, visual
    or text vectors); ``apply(x, rate, rng, context, modality) -> x'`` on one utterance's
    unpadded sequence, never in place; ``formula``: what it does, for docs and tables."""

    kind: str
    inputs: Literal["tokens", "features"]
    apply: Apply
    formula: str


CORRUPTIONS: Registry[Corruption] = Registry("corruption")

__all__ = ["CORRUPTIONS", "Context", "Corruption"]
