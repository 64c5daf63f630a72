"""JSON answers: per-utterance predictions and the model description (``GET /v1/model``).

One utterance's answer (``POST /v1/predict``; the clip endpoint adds ``transcript``,
``transcript_source`` and ``extract_seconds``)::

    {"id": "u1",
     "prediction": 1.27,                       # sentiment on the dataset's scale (regression), or
                                               # {"happy": 0.81, ...} emotion probabilities by name
     "present": ["happy"],                     # multilabel emotions: probability > 0.5
     "class": "happy",                         # multiclass (one emotion per utterance): the argmax
     "heads": {"text": 0.9, "audio": -0.2},    # each modality's own decoder (same form as prediction)
     "kl": {"text": 0.12, "audio": 0.40, "fused": 0.08}}   # mean KL per latent dim of each bottleneck
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def _num(x: Any) -> float | None:
    """A float for JSON; None for NaN / inf (strict JSON has no such numbers)."""
    v = float(x)
    return v if math.isfinite(v) else None


def _probabilities(row: np.ndarray, task: str) -> np.ndarray:
    x = np.asarray(row, np.float64)
    if task == "multiclass":  # one class per utterance: softmax over the logits
        e = np.exp(x - np.max(x))
        return e / e.sum()
    return 1.0 / (1.0 + np.exp(-x))  # multilabel: each emotion on its own


def _value(row: np.ndarray, task: str, labels: list[str]) -> Any:
    if task == "regression":
        return _num(row[0])
    return {name: _num(p) for name, p in zip(labels, _probabilities(row, task))}


def utterance_answers(p: Any, task: str, labels: list[str]) -> list[dict[str, Any]]:
    """Predictions (N rows) -> N JSON-ready dicts (see the module doc)."""
    out = []
    for i, uid in enumerate(p.ids):
        a: dict[str, Any] = {"id": str(uid), "prediction": _value(p.pred[i], task, labels)}
        if task == "multiclass":
            a["class"] = labels[int(np.argmax(p.pred[i]))]
        elif task != "regression":
            a["present"] = [n for n, v in a["prediction"].items() if v is not None and v > 0.5]
        a["heads"] = {h: _value(v[i], task, labels) for h, v in p.heads.items() if h != "fused"}
        a["kl"] = {b: _num(v[i]) for b, v in p.kl.items()}
        out.append(a)
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def model_files(source: Path) -> dict[str, Any]:
    """``summary`` (variant, fusion, test metrics, ...), ``data`` (dataset, labels, dims,
    extraction record) and ``exported_with`` read from a run directory (summary.json,
    data.json) or an exported folder (config.json), without loading the model."""
    folder = source.parent if source.is_file() else source
    info = _read_json(folder / "config.json")
    if info.get("library_name") == "mmib":
        summary = dict(info.get("summary") or {})
        model = (info.get("config") or {}).get("model") or {}
        for k in ("variant", "fusion", "text_encoder"):
            summary.setdefault(k, model.get(k))
        return {"summary": summary, "data": dict(info.get("data") or {}), "exported_with": info.get("mmib_version")}
    return {"summary": _read_json(folder / "summary.json"), "data": _read_json(folder / "data.json"),
            "exported_with": None}


def label_range(data_meta: dict[str, Any], task: str) -> list[float] | None:
    """[-r, r] of a sentiment model (from the dataset's description or its registered spec)."""
    if task != "regression":
        return None
    r = (data_meta.get("described_as") or {}).get("sentiment_range")
    if r is None:
        try:
            from ..data.datasets import DATASETS

            r = DATASETS.get(str(data_meta.get("dataset"))).sentiment_range
        except Exception:  # noqa: BLE001 - an unregistered dataset: no known range
            r = None
    if r is None or not math.isfinite(float(r)):
        return None
    return [-float(r), float(r)]


def model_description(source: Path, backend_name: str, inputs: Any) -> dict[str, Any]:
    """``GET /v1/model``: what is served and how it was trained and scored."""
    from .. import __version__

    files = model_files(source)
    summary, data = files["summary"], files["data"]
    task = inputs.task
    extraction = dict(getattr(inputs, "extraction", None) or data.get("extraction") or {})
    return {
        "name": summary.get("name") or (source.parent.name if source.is_file() else source.name),
        "backend": backend_name,
        "variant": summary.get("variant"), "fusion": summary.get("fusion"),
        "text_encoder": summary.get("text_encoder"),
        "task": task, "labels": list(inputs.label_names), "range": label_range(data, task),
        "dataset": data.get("dataset"),
        "modalities": list(inputs.modalities),
        "dims": {m: int(d) for m, d in inputs.dims.items() if m in inputs.modalities},
        "max_len": data.get("max_len"),
        "test_metrics": summary.get("test") or {}, "selected_epoch": summary.get("best_epoch"),
        "extraction": extraction, "clips": bool(extraction),
        "mmib_version": __version__, "exported_with": files["exported_with"],
    }


__all__ = ["label_range", "model_description", "utterance_answers"]
