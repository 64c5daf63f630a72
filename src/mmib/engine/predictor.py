"""A trained model packaged for use: ``model = mmib.load(path); model.predict(inputs)``.

Inputs accepted by :meth:`Predictor.predict`: a :class:`~mmib.data.Batch`, a list of
:class:`~mmib.data.Example`, or a list of utterance records (dicts in the JSON-lines schema
of :mod:`mmib.data.records`). Inputs from files: :meth:`Predictor.read_jsonl` and
:meth:`Predictor.dataset` (any dataset/format ``mmib.data`` reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

from .. import config as config_mod
from ..data import Batch, DatasetSplits, build_dataset, collate
from ..data.records import read_jsonl, record_example
from ..data.types import Example
from .experiment import Experiment, checkpoint_path
from .loop import Predictions, predict_batch


@dataclass
class Predictor:
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

    @property
    def label_names(self) -> list[str]:
        return list(self.meta["data"]["label_names"])

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.meta["data"]["dims"])

    @property
    def modalities(self) -> list[str]:
        return list(self.cfg.data.modalities)

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

    def dataset(self, dataset: str | None = None, path: str | None = None, fmt: str | None = None) -> DatasetSplits:
        """Splits of a data file read with the run's data settings (max_len, labels, ...);
        ``dataset``/``path``/``fmt`` replace the run's. Without them: the run's own data."""
        cfg = self.cfg
        values = {k: v for k, v in (("data.dataset", dataset), ("data.path", path), ("data.format", fmt))
                  if v is not None}
        if values:
            cfg = config_mod.set_values(cfg, values)
        data = build_dataset(cfg.data, self.tokenizer())
        for m in self.modalities:
            if data.dims.get(m) != self.dims.get(m):
                raise ValueError(f"{path or cfg.data.dataset}: modality {m!r} has feature dim {data.dims.get(m)} "
                                 f"but the model was trained on dim {self.dims.get(m)}")
        if len(data.label_names) != len(self.label_names):
            raise ValueError(f"{path or cfg.data.dataset}: labels {data.label_names} do not match the "
                             f"model's {self.label_names}")
        return data

    def read_jsonl(self, path: str | Path) -> list[Example]:
        """Utterances from a JSON-lines file (schema in :mod:`mmib.data.records`)."""
        records, where = read_jsonl(path)
        return self.examples_from_records(records, where)

    @property
    def extraction(self) -> dict[str, Any]:
        """How the run's training features were extracted (``mmib extract``); empty when
        they came from a feature file mmib did not make."""
        return dict(self.meta["data"].get("extraction") or {})

    def examples_from_clips(self, rows: list[Any]) -> list[Example]:
        """Manifest rows (:class:`mmib.extract.manifest.Row`) -> examples, each clip extracted
        with the run's own extractors and settings."""
        import numpy as np

        from ..data.examples import make_example
        from ..extract.pipeline import Plan, extract_clip

        rec = self.extraction
        src = self.meta["data"].get("source")
        if not rec:
            if isinstance(src, dict):
                src = src.get("file") or src.get("converted_file")
            raise ValueError(f"{self.checkpoint}: the run was trained on features from "
                             f"{src or self.cfg.data.dataset} "
                             f"(reader {self.meta['data'].get('reader', self.cfg.data.dataset)}), not made by "
                             "`mmib extract`, so mmib cannot extract a clip the same way; predict on a data "
                             "file or a JSON-lines file of features instead")
        plan = Plan.from_record(rec, where=str(self.checkpoint))
        lacking = [m for m in self.modalities if m != "text" and m not in plan.modalities]
        if lacking:
            raise ValueError(f"{self.checkpoint}: the model uses {lacking} but the run's extraction record has "
                             f"no extractor for it")
        tok = self.tokenizer() if "text" in self.modalities else None
        n = len(self.label_names)
        out = []
        for row in rows:
            streams = extract_clip(row.clip, plan, row.words)
            label = np.full(n, np.nan, np.float32)
            if row.label is not None and self.task == "regression":
                label[:] = float(row.label)
            elif row.label is not None:
                label = np.array([float(e in row.label) for e in self.label_names], np.float32)
            words = [w for w, _, _ in row.words] if plan.aligned else row.text.split()
            feats = {m: streams[m].values for m in self.modalities if m != "text"}
            masks = {m: streams[m].mask for m in feats if streams[m].mask is not None}
            out.append(make_example(row.clip.id, label, features=feats, max_len=self.cfg.data.max_len,
                                    truncation=self.cfg.data.truncation, tokenizer=tok,
                                    words=words if tok is not None else None,
                                    word_aligned=plan.aligned, text=row.text, masks=masks))
        return out

    def examples_from_records(self, records: list[dict[str, Any]], where: list[str] | None = None) -> list[Example]:
        """JSON-lines style dicts -> :class:`Example` (validated against the model's dims)."""
        tok = self.tokenizer()
        return [record_example(r, where[i] if where else f"record {i}", cfg=self.cfg.data, dims=self.dims,
                               tokenizer=tok, n_labels=len(self.label_names)) for i, r in enumerate(records)]


__all__ = ["Predictor"]
