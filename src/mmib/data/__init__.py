"""Data: datasets (a registry of specs), readers of the field's feature files, batching.

``build_dataset(cfg.data, tokenizer)`` gives :class:`DatasetSplits`; ``collate`` and
``batch_order`` turn examples into padded batches.
"""

from __future__ import annotations

from .batching import Batch, batch_order, collate
from .datasets import DATASETS, DatasetSpec, build_dataset, check_source
from .types import DatasetSplits, Example

__all__ = ["DATASETS", "Batch", "DatasetSpec", "DatasetSplits", "Example", "batch_order", "build_dataset",
           "check_source", "collate"]
