"""Per-utterance predictions as flat rows, written as CSV, JSON or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.types import Predictions
from .tables import csv_text


def _f(x: Any) -> float:
    """A float32 value as the float its shortest decimal names: -1.2, not -1.2000000476837158
    (the float32 nearest -1.2 written out as a float64)."""
    return float(str(np.float32(x)))


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
            row["prediction"] = _f(p.pred[i, 0])
            if known:
                row["label"] = _f(y[0])
            for h, v in p.heads.items():
                if h != "fused":
                    row[f"head/{h}"] = _f(v[i, 0])
        elif task == "multiclass":
            row["prediction"] = label_names[int(np.argmax(p.pred[i]))]
            if known:
                row["label"] = label_names[int(np.argmax(y))]
            for k, name in enumerate(label_names):
                row[f"logit/{name}"] = _f(p.pred[i, k])
        elif task == "multilabel":
            for k, name in enumerate(label_names):
                row[f"logit/{name}"] = _f(p.pred[i, k])
                row[f"present/{name}"] = int(p.pred[i, k] > 0)
                if known:
                    row[f"label/{name}"] = int(y[k] > 0.5)
            for h, v in p.heads.items():
                if h != "fused":
                    for k, name in enumerate(label_names):
                        row[f"head/{h}/{name}"] = _f(v[i, k])
        for b, v in p.kl.items():
            row[f"kl/{b}"] = _f(v[i])
        rows.append(row)
    return rows


def write_rows(rows: list[dict[str, Any]], path: str | Path | None, meta: dict[str, Any]) -> str:
    """CSV (``.csv`` or stdout when ``path`` is None), JSON (``.json``: meta + rows) or JSON
    lines (``.jsonl``). Floats are written in full precision (``repr``; float32 outputs and labels by their shortest decimal). Returns the text."""
    suffix = Path(path).suffix.lower() if path else ".csv"
    if suffix == ".json":
        text = json.dumps({**meta, "predictions": rows}, indent=1)
    elif suffix == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in rows)
    elif suffix == ".csv":
        keys = list(dict.fromkeys(k for r in rows for k in r))
        text = csv_text(keys, [[r.get(k, "") for k in keys] for r in rows])
    else:
        raise ValueError(f"--out {path}: expected a .csv, .json or .jsonl file name")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return text



__all__ = ["prediction_rows", "write_rows"]
