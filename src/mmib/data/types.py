"""In-memory dataset types shared by every reader: an utterance and a split set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Example:
    """One utterance, ready for batching.

    inputs: per modality, ``text`` is int64 token ids (L,) for a pretrained text encoder or
        float32 vectors (L, D) for a feature-sequence text path; ``audio`` / ``visual`` are
        float32 (T, D). Sequences are unpadded (their length is the valid length).
        ``audio_mask`` / ``visual_mask`` (T,) bool, when the data has per-frame masks: False
        on frames that are not valid (e.g. no face found); not a modality, only a flag per row.
    label: float32 (K,) - K = 1 for sentiment regression, K = number of emotions otherwise.
    """

    id: str
    inputs: dict[str, np.ndarray]
    label: np.ndarray
    text: str = ""


@dataclass
class DatasetSplits:
    """train / valid / test examples plus what the model and metrics need to know."""

    train: list[Example]
    valid: list[Example]
    test: list[Example]
    dataset: str
    task: str
    """regression or multilabel."""
    label_names: list[str]
    dims: dict[str, int]
    """Feature dim per modality (text: the vector dim, or 0 for token ids)."""
    metrics: str = "auto"
    """The metric family the dataset is scored with (its spec's choice; docs/metrics.md)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Provenance: source file, reader, repairs made, split sizes."""

    def split(self, name: str) -> list[Example]:
        if name not in ("train", "valid", "test"):
            raise KeyError(f"unknown split {name!r}; expected train, valid or test")
        return getattr(self, name)

    @property
    def sizes(self) -> dict[str, int]:
        return {s: len(self.split(s)) for s in ("train", "valid", "test")}


@dataclass
class Predictions:
    """Per-utterance outputs over a split: ids, final predictions (N, K), labels (N, K),
    every head's output (N, K), per-utterance KL of every bottleneck (N,), fused codes (N, d),
    and the mean of each loss term."""

    ids: list[str]
    pred: np.ndarray
    labels: np.ndarray
    heads: dict[str, np.ndarray] = field(default_factory=dict)
    kl: dict[str, np.ndarray] = field(default_factory=dict)
    fused: np.ndarray | None = None
    terms: dict[str, float] = field(default_factory=dict)
