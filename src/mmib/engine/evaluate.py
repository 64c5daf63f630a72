"""The final test of a run: the summary of its selected checkpoint, on valid and test.

:func:`summarize` is the one place a summary is made: :func:`~mmib.engine.fit` calls it on
the in-memory experiment with the selected weights loaded, ``mmib evaluate`` (via
:func:`evaluate_run`) on an experiment rebuilt from the run directory; both give the same
numbers bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..metrics import confusion, resolve_family
from .baselines import baseline_results
from .checkpoint import atomic_write_text
from .experiment import Experiment
from .speed import precision_name


def summarize(exp: Experiment, run_dir: Path) -> dict[str, Any]:
    """Valid and test metrics of the experiment's current weights (those of ``exp.meta``'s
    selected epoch), with everything needed to read them."""
    torch.manual_seed(exp.cfg.train.seed)  # sampled inference draws the same z on every path
    valid, _ = exp.evaluate("valid")
    test, p = exp.evaluate("test")
    c, d = exp.cfg, exp.data
    extra: dict[str, Any] = {}
    if exp.task == "multiclass":
        extra["confusion"] = {"split": "test", **confusion(p.pred, p.labels, d.label_names)}
    if c.eval.baselines:
        extra["baselines"] = baseline_results(exp.task, d.train, d.test, exp.compute)
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
        "metric_family": resolve_family(c.eval.metrics, exp.task, exp.metric_default),
        "inference": c.model.inference,
        "precision": {"used": precision_name(exp.amp), "why": exp.precision_note},
        "parameters": sum(p.numel() for p in exp.model.parameters()),
        "valid": valid,
        "test": test,
        **extra,
    }


def evaluate_run(run_dir: str | Path, *, write: bool = False, overrides: list[str] | None = None) -> dict[str, Any]:
    """Test (and valid) metrics of a run's selected checkpoint, rebuilt from the run directory;
    ``overrides`` re-score it (e.g. ``eval.convention="mmsa"``); ``write`` saves summary.json."""
    run_dir = Path(run_dir)
    summary = summarize(Experiment.load(run_dir, overrides=overrides), run_dir)
    if write:
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


__all__ = ["evaluate_run", "summarize"]
