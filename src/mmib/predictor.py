"""A trained model packaged for use: ``model = mmib.load(path); model.predict(batch)``.

Inputs accepted by :meth:`Predictor.predict`: a :class:`~mmib.data.Batch`, a list of
:class:`~mmib.data.Example`, or a list of utterance records (dicts in the JSON-lines schema
below). Inputs from files: :meth:`Predictor.read_jsonl` and :meth:`Predictor.dataset` (any
dataset/format ``mmib.data`` reads). :func:`prediction_rows` turns the outputs into one flat
row per utterance (prediction, per-modality head predictions, KL of every bottleneck).

JSON-lines schema (one utterance per line; see docs/evaluation.md):
  id            string (default: "line<k>")
  words         list of words, or ``text``: a string split on whitespace (pretrained text
                encoders); ``token_ids``: ids already tokenised incl. [CLS]/[SEP] instead
  text_vectors  [[...], ...] (L, D_text) feature vectors, for models with text_encoder = glove
  audio         [[...], ...] (T_a, D_a);  visual: [[...], ...] (T_v, D_v)
                when they have one row per word, the rows are repeated over each word's
                sub-tokens (the MAG-BERT alignment the training data used)
  label         optional: a number (sentiment) or a list with one 0/1 entry per label
Sequences longer than ``data.max_len`` are shortened as in training (``data.truncation``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from . import config as config_mod
from .data import Batch, DatasetSplits, build_dataset, collate
from .data.align import align_words
from .data.real import shorten, shorten_ids
from .data.types import Example
from .engine.evaluate import checkpoint_path, load_setup
from .engine.loop import Predictions, predict
from .objectives.kl import gaussian_kl


@dataclass
class Predictor:
    """A rebuilt model with its config, task, label names and input dims (from the checkpoint)."""

    setup: Any
    meta: dict[str, Any]
    checkpoint: Path

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> "Predictor":
        """``path``: a run directory or its ``best.safetensors``; ``device``: e.g. cpu, cuda."""
        overrides = [f'train.device="{device}"'] if device else []
        s, meta = load_setup(path, build_data=False, overrides=overrides)
        return cls(s, meta, checkpoint_path(path))

    @property
    def cfg(self) -> config_mod.ExperimentConfig:
        return self.setup.cfg

    @property
    def model(self) -> torch.nn.Module:
        return self.setup.model

    @property
    def task(self) -> str:
        return self.setup.task

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
        """The run's own tokenizer (saved in ``text_encoder/``), or None for glove text."""
        from .encoders import load_tokenizer

        if "text" not in self.modalities or self.cfg.model.text_encoder == "glove":
            return None
        local = self.checkpoint.parent / "text_encoder"
        return load_tokenizer(str(local) if local.exists() else self.cfg.model.text_encoder)

    # ------------------------------------------------------------------ prediction

    def predict(self, batch: Batch | Iterable[Example] | Iterable[dict[str, Any]], *,
                inference: str | None = None) -> Predictions:
        """Outputs for a batch, examples or JSON-lines style records (in their order).
        ``inference``: mean (default of the config), sample or mc."""
        mode = inference or self.cfg.model.inference
        if isinstance(batch, Batch):
            return self._predict_batch(batch, mode)
        items = list(batch)
        if items and isinstance(items[0], dict):
            items = self.examples_from_records(items)
        c = self.cfg
        return predict(self.model, items, modalities=c.data.modalities, batch_size=c.train.eval_batch_size,
                       pad_to=self.setup.pad_to, device=self.setup.device, inference=mode,
                       mc_samples=c.model.mc_samples)

    @torch.no_grad()
    def _predict_batch(self, batch: Batch, inference: str) -> Predictions:
        self.model.eval()
        b = batch.to(self.setup.device)
        out = self.model(b.inputs, b.masks, sample=inference != "mean")
        pred = out.prediction
        if inference == "mc":
            draws = [pred] + [self.model(b.inputs, b.masks, sample=True).prediction
                              for _ in range(self.cfg.model.mc_samples - 1)]
            pred = torch.stack(draws).mean(0)
            out.heads["fused"] = pred
        kl = {k: gaussian_kl(p.mu.float(), p.sigma.float()).mean(1).cpu().numpy() for k, p in out.posteriors.items()}
        return Predictions(ids=list(b.ids), pred=pred.float().cpu().numpy(), labels=b.labels.cpu().numpy(),
                           heads={k: v.float().cpu().numpy() for k, v in out.heads.items()}, kl=kl,
                           fused=out.fused.float().cpu().numpy())

    def collate(self, examples: list[Example]) -> Batch:
        return collate(examples, self.modalities, self.setup.pad_to)

    # ------------------------------------------------------------------ inputs

    def dataset(self, dataset: str | None = None, path: str | None = None, fmt: str | None = None) -> DatasetSplits:
        """Splits of a data file read with the run's data settings (max_len, labels, ...);
        ``dataset``/``path``/``fmt`` replace the run's. Without them: the run's own data."""
        cfg = self.cfg
        for key, value in (("data.dataset", dataset), ("data.path", path), ("data.format", fmt)):
            if value is not None:
                cfg = config_mod.set_value(cfg, key, value)
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
        """Utterances from a JSON-lines file (schema in the module docstring)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: input file not found")
        records = []
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object per line, got {type(rec).__name__}")
            rec.setdefault("id", f"line{n}")
            records.append((f"{path}:{n}", rec))
        if not records:
            raise ValueError(f"{path}: no utterances (expected one JSON object per line)")
        return self.examples_from_records([r for _, r in records], [w for w, _ in records])

    def examples_from_records(self, records: list[dict[str, Any]], where: list[str] | None = None) -> list[Example]:
        """JSON-lines style dicts -> :class:`Example` (validated against the model's dims)."""
        tok = self.tokenizer()
        return [self._example(r, (where[i] if where else f"record {i}"), tok) for i, r in enumerate(records)]

    def _example(self, rec: dict[str, Any], where: str, tok: Any) -> Example:
        c = self.cfg.data
        inputs: dict[str, np.ndarray] = {}
        feats: dict[str, np.ndarray] = {}
        for m in ("audio", "visual"):
            if m not in self.modalities:
                continue
            if m not in rec:
                raise ValueError(f"{where}: field {m!r} missing; the model uses {self.modalities}")
            feats[m] = self._matrix(rec[m], where, m, self.dims[m])
        words: list[str] = []
        if "text" in self.modalities:
            if tok is None:
                if "text_vectors" not in rec:
                    raise ValueError(f"{where}: field 'text_vectors' missing (this model reads text "
                                     "as feature vectors, text_encoder = glove)")
                inputs["text"] = shorten(self._matrix(rec["text_vectors"], where, "text_vectors", self.dims["text"]),
                                         c.max_len, "head")
            elif "token_ids" in rec:
                inputs["text"] = shorten_ids(np.asarray(rec["token_ids"], dtype=np.int64).reshape(-1), c.max_len)
            else:
                words = rec.get("words") or str(rec.get("text", "")).split()
                if not isinstance(words, list) or not words:
                    raise ValueError(f"{where}: give 'words' (a list), 'text' (a string) or 'token_ids'")
                words = [str(w) for w in words]
                if feats and all(len(f) == len(words) for f in feats.values()):
                    ids, feats = align_words(words, feats, tok, c.max_len)
                else:
                    pieces = tok.tokenize(" ".join(words))[: c.max_len - 2]
                    ids = np.asarray([tok.cls_token_id] + tok.convert_tokens_to_ids(pieces) + [tok.sep_token_id],
                                     dtype=np.int64)
                inputs["text"] = ids
        for m, f in feats.items():
            inputs[m] = shorten(f, c.max_len, c.truncation)
        k = len(self.label_names) if self.task != "multiclass" else 1
        label = np.full(k, np.nan, dtype=np.float32)
        if rec.get("label") is not None:
            label = np.asarray(rec["label"], dtype=np.float32).reshape(-1)
            if len(label) != k:
                raise ValueError(f"{where}: 'label' has {len(label)} values; expected {k} ({self.label_names})")
        return Example(str(rec["id"]), inputs, label, " ".join(words))

    @staticmethod
    def _matrix(value: Any, where: str, name: str, dim: int) -> np.ndarray:
        try:
            x = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {name!r} must be a list of rows of numbers") from None
        if x.ndim != 2 or x.shape[1] != dim or len(x) == 0:
            raise ValueError(f"{where}: {name!r} has shape {x.shape}; expected (T >= 1, {dim}) rows of {dim} numbers")
        if not np.isfinite(x).all():
            raise ValueError(f"{where}: {name!r} holds NaN or inf values")
        return x


def prediction_rows(p: Predictions, task: str, label_names: list[str]) -> list[dict[str, Any]]:
    """One flat dict per utterance: id, prediction(s), label(s) when known, ``head/<modality>``
    predictions of the per-modality decoders, and ``kl/<bottleneck>`` (mean KL per latent
    dimension: larger = the input moved the posterior further from the prior)."""
    rows = []
    for i, uid in enumerate(p.ids):
        row: dict[str, Any] = {"id": uid}
        y = p.labels[i]
        known = bool(np.isfinite(y).all())
        if task == "regression":
            row["prediction"] = float(p.pred[i, 0])
            if known:
                row["label"] = float(y[0])
            for h, v in p.heads.items():
                if h != "fused":
                    row[f"head/{h}"] = float(v[i, 0])
        elif task == "multilabel":
            for k, name in enumerate(label_names):
                row[f"logit/{name}"] = float(p.pred[i, k])
                row[f"present/{name}"] = int(p.pred[i, k] > 0)
                if known:
                    row[f"label/{name}"] = int(y[k] > 0.5)
            for h, v in p.heads.items():
                if h != "fused":
                    for k, name in enumerate(label_names):
                        row[f"head/{h}/{name}"] = float(v[i, k])
        else:
            row["prediction"] = label_names[int(p.pred[i].argmax())] if label_names else int(p.pred[i].argmax())
            for k, name in enumerate(label_names):
                row[f"logit/{name}"] = float(p.pred[i, k])
            if known:
                row["label"] = label_names[int(y[0])] if label_names else int(y[0])
            for h, v in p.heads.items():
                if h != "fused":
                    row[f"head/{h}"] = label_names[int(v[i].argmax())] if label_names else int(v[i].argmax())
        for b, v in p.kl.items():
            row[f"kl/{b}"] = float(v[i])
        rows.append(row)
    return rows


def write_rows(rows: list[dict[str, Any]], path: str | Path | None, meta: dict[str, Any]) -> str:
    """CSV (``.csv`` or stdout when ``path`` is None), JSON (``.json``: meta + rows) or JSON
    lines (``.jsonl``). Floats are written in full precision (``repr``). Returns the text."""
    import csv
    import io

    suffix = Path(path).suffix.lower() if path else ".csv"
    if suffix == ".json":
        text = json.dumps({**meta, "predictions": rows}, indent=1)
    elif suffix == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in rows)
    elif suffix == ".csv":
        buf = io.StringIO()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        for r in rows:
            w.writerow([repr(r[k]) if isinstance(r.get(k), float) else r.get(k, "") for k in keys])
        text = buf.getvalue()
    else:
        raise ValueError(f"--out {path}: expected a .csv, .json or .jsonl file name")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return text


__all__ = ["Predictor", "prediction_rows", "write_rows"]
