"""Batches: padding (dynamic or fixed), masks, and length-bucketed shuffled batch order."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .padding import example_length, length_sorted_batches, pad_examples
from .types import Example


@dataclass
class Batch:
    """A padded batch.

    inputs[m]: (B, T_m) int64 token ids or (B, T_m, D_m) float32 features.
    masks[m]: (B, T_m) bool, True on valid steps: within the utterance's length (right padding)
        and, where the example carries a per-frame mask ``inputs["<m>_mask"]``, a valid frame.
    labels: (B, K) float32.
    """

    inputs: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    labels: torch.Tensor
    ids: list[str]

    def to(self, device: torch.device | str) -> "Batch":
        nb = torch.device(device).type == "cuda"
        return Batch(
            {k: v.to(device, non_blocking=nb) for k, v in self.inputs.items()},
            {k: v.to(device, non_blocking=nb) for k, v in self.masks.items()},
            self.labels.to(device, non_blocking=nb),
            self.ids,
        )

    def __len__(self) -> int:
        return self.labels.shape[0]


def collate(examples: list[Example], modalities: list[str], pad_to: int | None = None) -> Batch:
    """Right-pad each modality to the batch's longest member, or to ``pad_to`` (fixed mode),
    with the masks of :func:`mmib.data.padding.pad_examples` (the numpy half, shared with the
    onnxruntime backend), as tensors."""
    p = pad_examples(examples, modalities, pad_to)
    return Batch({m: torch.from_numpy(a) for m, a in p.inputs.items()},
                 {m: torch.from_numpy(a) for m, a in p.masks.items()}, torch.from_numpy(p.labels), p.ids)


def batch_order(
    examples: list[Example],
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    bucket: bool = True,
) -> list[list[int]]:
    """Index lists, one per batch.

    With ``bucket``, utterances are sorted by length inside chunks of 50 batches so each
    batch holds similar lengths (less padding), and the batches are shuffled; the chunking
    keeps the order random across the whole split. Without shuffle the order is the file's.
    """
    n = len(examples)
    if not shuffle:
        idx = list(range(n))
        return [idx[i : i + batch_size] for i in range(0, n, batch_size)]
    perm = torch.randperm(n, generator=generator).tolist()
    if bucket:
        chunk = batch_size * 50
        lengths = [example_length(examples[i]) for i in range(n)]
        perm = [
            i
            for start in range(0, n, chunk)
            for i in sorted(perm[start : start + chunk], key=lambda j: lengths[j])
        ]
    batches = [perm[i : i + batch_size] for i in range(0, n, batch_size)]
    if bucket:
        order = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[i] for i in order]
    return batches


__all__ = ["Batch", "batch_order", "collate", "example_length", "length_sorted_batches"]
