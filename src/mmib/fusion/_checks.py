"""Shared argument checks for fusions whose output lives in the inputs' space."""

from __future__ import annotations


def same_width(name: str, in_dims: list[int], out_dim: int) -> int:
    """Fusions without a projection (addition, multiplication, product of experts) need every
    input and the output to share one width; returns it or raises a ValueError naming the fusion."""
    if not in_dims:
        raise ValueError(f"fusion {name!r}: needs at least one modality")
    if any(d != out_dim for d in in_dims):
        raise ValueError(f"fusion {name!r}: every input width must equal the output width "
                         f"(model.d); got inputs {in_dims}, output {out_dim}")
    return out_dim
