"""Corruptions of model inputs, one file each: token masking, feature masking, frame dropping,
Gaussian noise scaled to each feature's training std, whole modalities missing.

Used at test time by ``mmib robustness`` (:mod:`mmib.studies.robustness`) and at training time
as augmentation (``data.augment``), with the same definitions. Every corruption is
deterministic given its seed (:func:`corrupt`).
"""

from __future__ import annotations

import copy
import dataclasses
import zlib

import numpy as np

from ...registry import import_parts
from ..types import Example
from .registry import CORRUPTIONS, Context, Corruption


def kinds() -> list[str]:
    return list(dict.fromkeys(c.kind for _, c in CORRUPTIONS.items()))


def find(kind: str, inputs: str) -> Corruption | None:
    """The corruption of ``kind`` for ``tokens`` or ``features`` inputs, if there is one."""
    for _, c in CORRUPTIONS.items():
        if c.kind == kind and c.inputs == inputs:
            return c
    if kind not in kinds():
        raise ValueError(f"unknown corruption kind {kind!r}; expected one of {', '.join(kinds())}")
    return None


def input_type(examples: list[Example], modality: str) -> str:
    x = examples[0].inputs[modality]
    return "tokens" if x.dtype.kind in "iu" else "features"


def rng_for(seed: int, modality: str, kind: str, rate: float, repeat: int = 0) -> np.random.Generator:
    """The generator of one (seed, modality, kind, rate, repeat): the same draws every time."""
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed), int(repeat), zlib.crc32(f"{modality}:{kind}".encode()), int(round(rate * 1_000_000))]))


def corrupt(examples: list[Example], modality: str, kind: str, rate: float, rng: np.random.Generator,
            context: Context) -> list[Example]:
    """Copies of ``examples`` with ``modality`` corrupted; rate 0 returns them unchanged."""
    if rate <= 0 or not examples:
        return examples
    c = find(kind, input_type(examples, modality))
    if c is None:
        raise ValueError(f"corruption {kind!r} does not apply to {modality} ({input_type(examples, modality)})")
    return [_corrupt_one(ex, c, modality, rate, rng, context) for ex in examples]


def _corrupt_one(ex: Example, c: Corruption, modality: str, rate: float, rng: np.random.Generator,
                 context: Context) -> Example:
    """One example corrupted. A per-frame mask (``inputs["<m>_mask"]``) follows its frames: when
    the corruption changes the length, a drop is replayed (same draws, on a copy of the
    generator) on the frame indices to keep the kept frames' flags; any other length change
    (a missing modality's one zero step) gives all-valid flags, as without a mask."""
    x = ex.inputs[modality]
    key = f"{modality}_mask"
    frames = ex.inputs.get(key)
    replay = copy.deepcopy(rng) if frames is not None else None
    y = c.apply(x, rate, rng, context, modality)
    inputs = {**ex.inputs, modality: y}
    if frames is not None and len(y) != len(x):
        if c.kind == "drop":
            index = np.arange(len(x), dtype=np.float32)[:, None]
            kept = c.apply(index, rate, replay, context, modality)[:, 0].round().astype(np.int64)
            inputs[key] = np.asarray(frames)[kept]
        else:
            inputs[key] = np.ones(len(y), dtype=bool)
    return dataclasses.replace(ex, inputs=inputs)


def feature_std(examples: list[Example], modality: str) -> np.ndarray | None:
    """Per-feature standard deviation over every step of ``examples`` (None for token ids)."""
    rows = [ex.inputs[modality] if f"{modality}_mask" not in ex.inputs
            else ex.inputs[modality][np.asarray(ex.inputs[f"{modality}_mask"], dtype=bool)]
            for ex in examples]  # valid frames only
    rows = [r for r in rows if len(r)]
    if not rows or rows[0].dtype.kind in "iu":
        return None
    x = np.concatenate(rows).astype(np.float64)
    return np.maximum(x.std(axis=0), 1e-8).astype(np.float32)


def context_for(train: list[Example], modalities: list[str], tokenizer=None) -> Context:
    ctx = Context(std={m: s for m in modalities if (s := feature_std(train, m)) is not None})
    if tokenizer is not None:
        mask = getattr(tokenizer, "mask_token_id", None)
        ctx.mask_id = int(mask if mask is not None else tokenizer.unk_token_id)
        ctx.cls_id, ctx.sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    return ctx


def parse_augment(spec: str) -> tuple[str, str, float]:
    """``"noise:audio:0.2"`` -> (kind, modality, rate); errors name ``data.augment``."""
    parts = spec.split(":")
    try:
        kind, modality, rate = parts[0].strip(), parts[1].strip(), float(parts[2])
        if len(parts) != 3 or not 0 < rate <= 1:
            raise ValueError
    except (IndexError, ValueError):
        raise ValueError(f"data.augment: expected KIND:MODALITY:RATE with a rate in (0, 1], e.g. "
                         f"noise:audio:0.2, got {spec!r}") from None
    if kind not in kinds():
        raise ValueError(f"data.augment: unknown corruption kind {kind!r} in {spec!r}; expected one of "
                         f"{', '.join(kinds())}")
    return kind, modality, rate


def augment(examples: list[Example], specs: list[str], seed: int, epoch: int, context: Context) -> list[Example]:
    """Training examples of one epoch with every ``data.augment`` corruption applied; the draws
    depend on (seed, epoch) only, so a resumed run sees the same augmented data."""
    for i, spec in enumerate(specs):
        kind, modality, rate = parse_augment(spec)
        examples = corrupt(examples, modality, kind, rate, rng_for(seed, modality, kind, rate, 1000 * epoch + i),
                           context)
    return examples


import_parts(__name__)

__all__ = ["CORRUPTIONS", "Context", "Corruption", "augment", "context_for", "corrupt", "feature_std", "find",
           "input_type", "kinds", "parse_augment", "rng_for"]
