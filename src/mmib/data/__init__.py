"""Datasets: a registry of builders, each returning :class:`DatasetSplits`.

A builder is ``fn(cfg: DataConfig, tokenizer) -> DatasetSplits``; ``tokenizer`` is the
text encoder's tokenizer, or None when the text path reads feature vectors.
"""

from __future__ import annotations

from typing import Any, Callable

from ..config import DataConfig
from ..registry import Registry
from .batching import Batch, batch_order, collate
from .types import DatasetSplits, Example

DATASETS: Registry[Callable[[DataConfig, Any], DatasetSplits]] = Registry("dataset")


@DATASETS.register("synth")
def _synth(cfg: DataConfig, tokenizer: Any) -> DatasetSplits:
    from .synth import generate

    return generate(cfg, tokenizer)


def _real(name: str) -> Callable[[DataConfig, Any], DatasetSplits]:
    def build(cfg: DataConfig, tokenizer: Any) -> DatasetSplits:
        from .real import build as build_real

        return build_real(name, cfg, tokenizer)

    build.__doc__ = f"{name}: read data.path with the reader data.format (docs/datasets.md)."
    return build


REAL_DATASETS = ("mosi", "mosei", "iemocap", "sims")
for _name in REAL_DATASETS:
    DATASETS.register(_name)(_real(_name))


def check_source(cfg: DataConfig) -> None:
    """Cheap checks of where the data comes from (a real dataset's file is given and
    exists), run before anything slow such as loading a text encoder."""
    if cfg.dataset in REAL_DATASETS:
        from .real import require_path

        require_path(cfg.dataset, cfg)


def build_dataset(cfg: DataConfig, tokenizer: Any = None) -> DatasetSplits:
    """Load the dataset named by ``cfg.dataset`` and keep only ``cfg.modalities``."""
    if cfg.dataset == "synth" and cfg.labels == "emotions":
        raise ValueError("data.labels = 'emotions': the synth dataset has sentiment labels only")
    splits = DATASETS.get(cfg.dataset)(cfg, tokenizer)
    missing = [m for m in cfg.modalities if m not in splits.dims]
    if missing:
        raise ValueError(
            f"data.modalities: {missing} not in dataset {cfg.dataset!r} "
            f"(it has {sorted(splits.dims)})"
        )
    return splits


__all__ = ["DATASETS", "REAL_DATASETS", "Batch", "DatasetSplits", "Example", "batch_order", "build_dataset",
           "check_source", "collate"]
