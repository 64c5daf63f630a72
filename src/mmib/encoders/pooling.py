"""Sequence -> vector: the last step of the padded sequence, or the last valid step."""

from __future__ import annotations

import torch


def pool(h: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """h: (B, T, d), mask: (B, T) bool -> (B, d).

    ``last``: h[:, -1] (the reference code; for short utterances this is a padding step).
    ``masked``: the last valid step of each sequence (the last True of ``mask``, which with
    per-frame masks need not be at ``mask.sum() - 1``).
    """
    if mode == "last":
        return h[:, -1]
    if mode == "masked":
        steps = torch.arange(h.shape[1], device=h.device)
        last = torch.where(mask.bool(), steps, torch.zeros_like(steps)).max(1).values
        return h[torch.arange(h.shape[0], device=h.device), last]
    raise ValueError(f"model.pooling: expected 'masked' or 'last', got {mode!r}")
