"""A trained model packaged for use: ``mmib.load(path).predict(batch)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import Batch, collate
from .data.types import Example
from .engine.evaluate import load_setup
from .engine.loop import Predictions, predict


class Predictor:
    """Wraps a rebuilt model, its config and task. ``predict`` accepts a :class:`Batch` or a
    list of :class:`Example` and returns :class:`Predictions` (deterministic by default)."""

    def __init__(self, setup, meta: dict[str, Any]):
        self.setup = setup
        self.meta = meta
        self.cfg = setup.cfg
        self.model = setup.model
        self.task = setup.task

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> "Predictor":
        overrides = [f"train.device={device!r}".replace("'", '"')] if device else []
        s, meta = load_setup(path, build_data=False, overrides=overrides)
        return cls(s, meta)

    def predict(self, batch: Batch | list[Example], *, inference: str | None = None) -> Predictions:
        if isinstance(batch, Batch):
            examples = None
        else:
            examples = list(batch)
        c = self.cfg
        if examples is None:
            b = batch.to(self.setup.device)
            with torch.no_grad():
                self.model.eval()
                out = self.model(b.inputs, b.masks, sample=(inference or c.model.inference) != "mean")
            return Predictions(ids=b.ids, pred=out.prediction.cpu().numpy(), labels=b.labels.cpu().numpy(),
                               heads={k: v.cpu().numpy() for k, v in out.heads.items()},
                               fused=out.fused.cpu().numpy())
        return predict(self.model, examples, modalities=c.data.modalities, batch_size=c.train.eval_batch_size,
                       pad_to=self.setup.pad_to, device=self.setup.device,
                       inference=inference or c.model.inference, mc_samples=c.model.mc_samples)

    def collate(self, examples: list[Example]) -> Batch:
        return collate(examples, self.cfg.data.modalities, self.setup.pad_to)


__all__ = ["Predictor", "np"]
