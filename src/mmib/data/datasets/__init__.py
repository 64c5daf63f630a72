"""Datasets: a registry of specs, one file per dataset, each carrying what the rest of mmib
needs to know about it.

A :class:`DatasetSpec` says which labels the dataset has (a sentiment range, emotion names),
which metric family scores each label kind, the usual feature dims and text encoder of its
files (``mmib model summary`` uses them), whether it reads a file (``data.path``) and how its
splits are built. Adding a dataset is one new file in this folder that calls
``DATASETS.add(name, DatasetSpec(...))`` (docs/extending.md). ``data.dataset = "auto"`` (the
default) is synth without a data file, else what the file says about itself
(:mod:`.described`; :func:`resolve`).
"""

from __future__ import annotations

import dataclasses

from ...config import DataConfig
from ...registry import import_parts
from ..types import DatasetSplits
from .described import AUTO, file_description, resolve, spec_from_description
from .spec import DATASETS, DatasetSpec, LabelKind


def check_source(cfg: DataConfig) -> None:
    """Cheap checks of where the data comes from (the dataset exists; a file-backed one has
    its file), run before anything slow such as loading a text encoder."""
    name, spec = resolve(cfg)
    spec.label_kind(cfg.labels, name)
    if spec.reads_file:
        if not cfg.path:
            from ..validate import DataError

            raise DataError(f"data.path: dataset {name!r} reads a feature file; pass --data-path FILE "
                            "(docs/datasets.md lists where the files come from)")
        from pathlib import Path

        if not Path(cfg.path).expanduser().exists():
            raise FileNotFoundError(f"data.path: {cfg.path}: data file not found")


def build_dataset(cfg: DataConfig, tokenizer=None) -> DatasetSplits:
    """Load the dataset named by ``cfg.dataset`` and keep only ``cfg.modalities``.

    ``tokenizer``: the text encoder's tokenizer, or None when text is read as vectors."""
    check_source(cfg)
    name, spec = resolve(cfg)
    splits = spec.build(dataclasses.replace(cfg, dataset=name), tokenizer, spec)
    missing = [m for m in cfg.modalities if m not in splits.dims]
    if missing:
        raise ValueError(f"data.modalities: {missing} not in dataset {name!r} "
                         f"(it has {sorted(splits.dims)})")
    return splits


import_parts(__name__)

__all__ = ["AUTO", "DATASETS", "DatasetSpec", "LabelKind", "build_dataset", "check_source", "file_description",
           "resolve", "spec_from_description"]
