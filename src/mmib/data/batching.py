"""Batches: padding (dynamic or fixed), masks, and length-bucketed shuffled batch order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

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
    """Right-pad each modality to the batch's longest member, or to ``pad_to`` (fixed mode).

    Every sequence keeps at least one valid step so that attention never sees an all-padding row.
    A per-frame mask (``ex.inputs["<m>_mask"]``, e.g. no face found) is ANDed into the batch
    mask, and masked frames' inputs are zeroed so their values cannot reach the model by any
    path. An utterance none of whose frames is valid keeps its first step as the one valid
    step, with zero input (like an empty utterance): the model sees "nothing", not a frame.
    """
    inputs: dict[str, torch.Tensor] = {}
    masks: dict[str, torch.Tensor] = {}
    for m in modalities:
        seqs = [ex.inputs[m] for ex in examples]
        lengths = [max(1, len(s)) for s in seqs]
        T = pad_to if pad_to is not None else max(lengths)
        first = seqs[0]
        shape = (len(seqs), T) + tuple(first.shape[1:])
        arr = np.zeros(shape, dtype=np.int64 if first.dtype.kind in "iu" else np.float32)
        mask = np.zeros((len(seqs), T), dtype=bool)
        for i, s in enumerate(seqs):
            n = min(len(s), T)
            arr[i, :n] = s[:n]
            mask[i, : max(1, n)] = True
            frames = examples[i].inputs.get(f"{m}_mask")
            if frames is not None:
                valid = np.asarray(frames[:n], dtype=bool)
                arr[i, :n][~valid] = 0
                mask[i, :n] &= valid
                if not mask[i].any():
                    mask[i, 0] = True
        inputs[m] = torch.from_numpy(arr)
        masks[m] = torch.from_numpy(mask)
    labels = torch.from_numpy(np.stack([ex.label for ex in examples]).astype(np.float32))
    return Batch(inputs, masks, labels, [ex.id for ex in examples])


def example_length(ex: Example) -> int:
    return max(len(v) for v in ex.inputs.values())


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


def length_sorted_batches(examples: list[Example], max_size: int, max_waste: float = 0.2) -> list[list[int]]:
    """Index lists for inference with dynamic padding: utterances sorted by length, cut into
    batches of at most ``max_size`` whose padded size stays within ``1 + max_waste`` times
    their real size. Fixed-count batches would pad a whole batch to its tail's longest
    member (on MOSI-like lengths: ~18 padded steps per utterance instead of ~14.5)."""
    lengths = [example_length(ex) for ex in examples]
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in sorted(range(len(examples)), key=lambda j: lengths[j]):
        n = lengths[i]  # the longest so far, since the order is ascending
        if current and (len(current) >= max_size or (len(current) + 1) * n > (1 + max_waste) * (real + n)):
            batches.append(current)
            current, real = [], 0
        current.append(i)
        real += n
    if current:
        batches.append(current)
    return batches
