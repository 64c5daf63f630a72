"""mmib: the Multimodal Information Bottleneck (Mai, Zeng, Hu, IEEE TMM 2022) as a toolkit.

Python API::

    import mmib
    cfg = mmib.config.load("configs/demo.toml")
    summary = mmib.train(cfg)            # trains, selects on valid, tests; returns the summary
    model = mmib.load("runs/demo")       # a trained model, ready to predict
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import config
from .config import ExperimentConfig

__version__ = "0.1.0"


def train(cfg: ExperimentConfig, **kwargs: Any) -> dict[str, Any]:
    """Train a model described by ``cfg`` (see :func:`mmib.engine.fit`)."""
    from .engine import fit

    return fit(cfg, **kwargs)


def load(path: str | Path, **kwargs: Any):
    """Load a trained model from a run directory or checkpoint file (see :mod:`mmib.predictor`)."""
    from .predictor import Predictor

    return Predictor.load(path, **kwargs)


__all__ = ["ExperimentConfig", "config", "load", "train", "__version__"]
