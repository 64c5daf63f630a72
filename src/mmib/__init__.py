"""mmib: the Multimodal Information Bottleneck (Mai, Zeng, Hu, IEEE TMM 2022) as a toolkit.

Python API::

    import mmib
    cfg = mmib.config.load("configs/demo.toml")
    summary = mmib.train(cfg)            # trains, selects on valid, tests; returns the summary
    model = mmib.load("runs/demo")       # a trained model, ready to predict

Layout (one concept per package; lower layers never import upper ones, checked by
import-linter): ``config`` < ``data`` / ``encoders`` / ``fusion`` / ``metrics`` < ``models`` <
``objectives`` < ``engine`` < ``report`` < ``studies`` < ``cli``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import config
from .config import ExperimentConfig

__version__ = "0.1.0"


def train(cfg: ExperimentConfig, *, quiet: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Train a model described by ``cfg`` and return its summary (the content of summary.json:
    best epoch, valid and test metrics, split sizes, ``run`` = the run directory). Progress
    lines are printed unless ``quiet``; ``kwargs`` go to :func:`mmib.engine.fit`."""
    from .engine import fit

    kwargs.setdefault("log", None if quiet else (lambda m: print(m, flush=True)))
    return fit(cfg, **kwargs).summary


def load(path: str | Path, *, revision: str | None = None, **kwargs: Any):
    """Load a trained model (see :class:`mmib.engine.Predictor`) from a run directory, a
    checkpoint file, a folder written by ``mmib export`` or a Hugging Face Hub repository id
    holding one (downloaded once, data files only; ``revision``: a branch, tag or commit).
    Nothing in the folder is executed."""
    from .engine import Predictor
    from .hub import resolve

    return Predictor.load(resolve(path, revision=revision), **kwargs)


__all__ = ["ExperimentConfig", "config", "load", "train", "__version__"]
