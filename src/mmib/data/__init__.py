"""Data: datasets (a registry of specs), readers of the field's feature files, batching.

``build_dataset(cfg.data, tokenizer)`` gives :class:`DatasetSplits`; ``collate`` and
``batch_order`` turn examples into padded batches.

Importing ``mmib.data`` does not import torch: everything up to :class:`Example` is numpy, so
a process without torch (the onnxruntime backend, docs/serving.md) reads every input format.
``Batch``, ``collate`` and ``batch_order`` (torch tensors) are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .datasets import DATASETS, DatasetSpec, build_dataset, check_source
from .types import DatasetSplits, Example, Predictions

_BATCHING = ("Batch", "batch_order", "collate")


def __getattr__(name: str) -> Any:
    if name in _BATCHING:
        from . import batching

        return getattr(batching, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DATASETS", "Batch", "DatasetSpec", "DatasetSplits", "Example", "Predictions", "batch_order",
           "build_dataset", "check_source", "collate"]
