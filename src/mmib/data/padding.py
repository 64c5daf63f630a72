"""Padding and masks as numpy arrays, and the inference batch order: the torch-free half of
batching, shared by :func:`mmib.data.collate` (which wraps the arrays as tensors) and the
onnxruntime backend (:mod:`mmib.runtime`), so the two pad and mask alike by construction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import Example


@dataclass
class Padded:
    """A padded batch as numpy arrays: inputs[m] (B, T_m) int64 token ids or (B, T_m, D_m)
    float32 features; masks[m] (B, T_m) bool; labels (B, K) float32; ids."""

    inputs: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    labels: np.ndarray
    ids: list[str]


def pad_examples(examples: list[Example], modalities: list[str], pad_to: int | None = None) -> Padded:
    """Right-pad each modality to the batch's longest member, or to ``pad_to`` (fixed mode).

    Every sequence keeps at least one valid step so that attention never sees an all-padding row.
    A per-frame mask (``ex.inputs["<m>_mask"]``, e.g. no face found) is ANDed into the batch
    mask, and masked frames' inputs are zeroed so their values cannot reach the model by any
    path. An utterance none of whose frames is valid keeps its first step as the one valid
    step, with zero input (like an empty utterance): the model sees "nothing", not a frame.
    """
    inputs: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
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
        inputs[m] = arr
        masks[m] = mask
    labels = np.stack([ex.label for ex in examples]).astype(np.float32)
    return Padded(inputs, masks, labels, [ex.id for ex in examples])


def example_length(ex: Example) -> int:
    return max(len(v) for v in ex.inputs.values())


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


def inference_batches(examples: list[Example], batch_size: int, pad_to: int | None,
                      max_padding: float = 0.2) -> list[list[int]]:
    """The batches prediction runs: length-sorted within ``max_padding`` with dynamic padding,
    consecutive runs of ``batch_size`` with fixed padding (``pad_to``)."""
    if pad_to is None:
        return length_sorted_batches(examples, batch_size, max_padding)
    return [list(range(i, min(i + batch_size, len(examples)))) for i in range(0, len(examples), batch_size)]


__all__ = ["Padded", "example_length", "inference_batches", "length_sorted_batches", "pad_examples"]
