"""The final test of a run: the summary of its selected checkpoint, on valid and test.

:func:`summarize` is the one place a summary is made: :func:`~mmib.engine.fit` calls it on
the in-memory experiment with the selected weights loaded, ``mmib evaluate`` (via
:func:`evaluate_run`) on an experiment rebuilt from the run directory; both give the same
numbers bit for bit.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..metrics import MetricWarning, compute, resolve_family
from .checkpoint import atomic_write_text
from .experiment import Experiment
from .speed import precision_name


def baseline(exp: Experiment, split: str = "test") -> dict[str, float]:
    """The metrics of a model that ignores its inputs on ``split``: it always predicts the
    training labels' mean (sentiment) or each emotion's training prevalence (as a logit). A
    trained model should beat it; its warnings (constant predictions) are the point, not shown."""
    train = np.stack([ex.label for ex in exp.data.train]).astype(np.float64)
    labels = np.stack([ex.label for ex in exp.data.split(split)]).astype(np.float64)
    if exp.task == "regression":
        const = train.mean(0)
    else:
        p = np.clip((train > 0.5).mean(0), 1e-6, 1 - 1e-6)
        const = np.log(p / (1 - p))
    e = exp.cfg.eval
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        return compute(exp.task, np.tile(const, (len(labels), 1)), labels, exp.data.label_names,
                       convention=e.convention, family=e.metrics, default=exp.data.metrics)


def summarize(exp: Experiment, run_dir: Path) -> dict[str, Any]:
    """Valid and test metrics of the experiment's current weights (those of ``exp.meta``'s
    selected epoch), with everything needed to read them."""
    torch.manual_seed(exp.cfg.train.seed)  # sampled inference draws the same z on every path
    valid, _ = exp.evaluate("valid")
    test, _ = exp.evaluate("test")
    c, d = exp.cfg, exp.data
    return {
        "run": str(run_dir),
        "name": Path(run_dir).name,
        "dataset": d.dataset,
        "task": exp.task,
        "variant": c.model.variant,
        "fusion": c.model.fusion,
        "text_encoder": c.model.text_encoder,
        "seed": c.train.seed,
        "best_epoch": exp.meta["epoch"],
        "epochs": c.train.epochs,
        "sizes": d.sizes,
        "metric_convention": c.eval.convention,
        "metric_family": resolve_family(c.eval.metrics, exp.task, d.metrics),
        "inference": c.model.inference,
        "precision": {"used": precision_name(exp.amp), "why": exp.precision_note},
        "parameters": sum(p.numel() for p in exp.model.parameters()),
        "valid": valid,
        "test": test,
        "baseline_test": baseline(exp),
    }


def evaluate_run(run_dir: str | Path, *, write: bool = False, overrides: list[str] | None = None) -> dict[str, Any]:
    """Test (and valid) metrics of a run's selected checkpoint, rebuilt from the run directory;
    ``overrides`` re-score it (e.g. ``eval.convention="mmsa"``); ``write`` saves summary.json."""
    run_dir = Path(run_dir)
    summary = summarize(Experiment.load(run_dir, overrides=overrides), run_dir)
    if write:
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


__all__ = ["baseline", "evaluate_run", "summarize"]
