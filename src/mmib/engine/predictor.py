"""A trained model packaged for use: ``model = mmib.load(path); model.predict(inputs)``.

Inputs accepted by :meth:`Predictor.predict`: a :class:`~mmib.data.Batch`, a list of
:class:`~mmib.data.Example`, or a list of utterance records (dicts in the JSON-lines schema
of :mod:`mmib.data.records`). Inputs from files (clips, manifests, JSON lines, any data file
``mmib.data`` reads): :meth:`Predictor.read`. All of them go through :attr:`Predictor.inputs`
(:mod:`mmib.inputs`), the one input path every front end shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

import torch

from .. import config as config_mod
from ..data.batching import Batch, collate
from ..data.types import Example, Predictions
from ..inputs import ModelInputs, ReadsInputs
from .experiment import Experiment, checkpoint_path
from .loop import predict_batch


@dataclass
class Predictor(ReadsInputs):
    """A rebuilt model with its config, task, label names and input dims (from the checkpoint)."""

    experiment: Experiment
    checkpoint: Path

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> "Predictor":
        """``path``: a run directory or its ``best.safetensors``; ``device``: e.g. cpu, cuda."""
        overrides = [f'train.device="{device}"'] if device else []
        return cls(Experiment.load(path, build_data=False, overrides=overrides), checkpoint_path(path))

    @property
    def setup(self) -> Experiment:  # the name before Experiment existed
        return self.experiment

    @property
    def meta(self) -> dict[str, Any]:
        return self.experiment.meta

    @property
    def cfg(self) -> config_mod.ExperimentConfig:
        return self.experiment.cfg

    @property
    def model(self) -> torch.nn.Module:
        return self.experiment.model

    @property
    def task(self) -> str:
        return self.experiment.task

    def tokenizer(self):
        """The run's own tokenizer (saved in ``text_encoder/``), or None for a vector text path."""
        return self.experiment.get_tokenizer()

    # ------------------------------------------------------------------ prediction

    def predict(self, batch: Batch | Iterable[Example] | Iterable[dict[str, Any]], *,
                inference: str | None = None) -> Predictions:
        """Outputs for a batch, examples or JSON-lines style records (in their order).
        ``inference``: mean (default of the config), sample or mc."""
        mode = inference or self.cfg.model.inference
        if isinstance(batch, Batch):
            return predict_batch(self.model, batch.to(self.experiment.device), inference=mode,
                                 mc_samples=self.cfg.model.mc_samples)
        items = list(batch)
        if items and isinstance(items[0], dict):
            items = self.examples_from_records(items)
        return self.experiment.predict(items, inference=mode, objective=None, amp=None)

    def collate(self, examples: list[Example]) -> Batch:
        return collate(examples, self.modalities, self.experiment.pad_to)

    def score(self, p: Predictions) -> dict[str, float]:
        """Metrics of predictions whose labels are known, as the run scores them."""
        return self.experiment.score(p)

    # ------------------------------------------------------------------ inputs

    @cached_property
    def inputs(self) -> ModelInputs:
        """What this model reads and every input turned into its examples (:mod:`mmib.inputs`,
        the one input path shared with ``mmib predict``, the server and the ONNX backend)."""
        return ModelInputs(self.cfg, self.meta["data"], str(self.checkpoint), self.experiment.get_tokenizer)


__all__ = ["Predictor"]
