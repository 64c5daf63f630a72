"""Parameter counts of a model's modules (``mmib model summary``; the paper's Table XI)."""

from __future__ import annotations

from torch import nn


def count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def summary_rows(model: nn.Module, depth: int = 3) -> list[tuple[str, str, int]]:
    """(dotted name, module class, parameter count) for every module with parameters, down to
    ``depth`` levels (``encoders.text.backbone`` is level 3); deeper modules are folded."""
    rows = []
    for name, module in model.named_modules():
        level = name.count(".") + 1 if name else 0
        if 1 <= level <= depth:
            n = count(module)
            if n:
                rows.append((name, type(module).__name__, n))
    return rows


__all__ = ["count", "summary_rows"]
