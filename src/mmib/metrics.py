"""Evaluation metrics under the names the field's tables use (docs/metrics.md).

Sentiment (regression, labels in [-3, 3]), paper's convention (the MIB reference code):
``Non0_*`` on samples with y != 0 comparing p >= 0 with y >= 0; ``Has0_*`` on all samples
comparing (>= 0) with (>= 0); ``Mult_acc_7`` / ``Mult_acc_5``: clip to [-3, 3] / [-2, 2],
round half to even, accuracy; ``MAE`` / ``Corr`` on the non-zero subset.
F1 is scikit-learn's weighted F1 with the true labels first.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

LOWER_IS_BETTER = {"loss", "MAE"}


def higher_is_better(name: str) -> bool:
    return not (name in LOWER_IS_BETTER or name.endswith("loss") or name.endswith("MAE"))


def _corr(p: np.ndarray, y: np.ndarray) -> float:
    if len(p) < 2 or np.std(p) == 0 or np.std(y) == 0:
        warnings.warn("Corr is undefined for constant predictions or labels (or < 2 samples); reporting 0.0",
                      RuntimeWarning, stacklevel=3)
        return 0.0
    return float(np.corrcoef(p, y)[0, 1])


def _binary(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> tuple[float, float]:
    if len(y_true) == 0:
        warnings.warn(f"{name}: no samples to score; reporting 0.0", RuntimeWarning, stacklevel=3)
        return 0.0, 0.0
    acc = float(accuracy_score(y_true, y_pred))
    f1 = float(f1_score(y_true, y_pred, average="weighted", zero_division=0))
    return acc, f1


def sentiment_metrics(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """pred, label: (N,) real sentiment scores -> the paper's metric set."""
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    y = np.asarray(label, dtype=np.float64).reshape(-1)
    out: dict[str, float] = {}
    out["Mult_acc_7"] = float(np.mean(np.round(np.clip(p, -3, 3)) == np.round(np.clip(y, -3, 3))))
    out["Mult_acc_5"] = float(np.mean(np.round(np.clip(p, -2, 2)) == np.round(np.clip(y, -2, 2))))
    nz = y != 0
    out["Non0_acc_2"], out["Non0_F1_score"] = _binary(y[nz] >= 0, p[nz] >= 0, "Non0_acc_2")
    out["Has0_acc_2"], out["Has0_F1_score"] = _binary(y >= 0, p >= 0, "Has0_acc_2")
    if nz.any():
        out["MAE"] = float(np.mean(np.abs(p[nz] - y[nz])))
        out["Corr"] = _corr(p[nz], y[nz])
    else:
        warnings.warn("no non-zero labels: MAE/Corr reported on all samples", RuntimeWarning, stacklevel=2)
        out["MAE"] = float(np.mean(np.abs(p - y)))
        out["Corr"] = _corr(p, y)
    return out


def multilabel_metrics(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, float]:
    """logits, labels: (N, K); a label is predicted present when its logit > 0.
    Accuracy and weighted F1 per label and their means."""
    out: dict[str, float] = {}
    accs, f1s = [], []
    for k, name in enumerate(names):
        acc, f1 = _binary(labels[:, k] > 0.5, logits[:, k] > 0, f"{name}_acc")
        out[f"{name}_acc"], out[f"{name}_F1"] = acc, f1
        accs.append(acc)
        f1s.append(f1)
    out["mean_acc"] = float(np.mean(accs))
    out["mean_F1"] = float(np.mean(f1s))
    return out


def multiclass_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    acc, f1 = _binary(labels[:, 0].astype(int), logits.argmax(1), "acc")
    return {"acc": acc, "F1": f1}


def compute(task: str, pred: np.ndarray, labels: np.ndarray, label_names: list[str]) -> dict[str, float]:
    """Metrics for a task from (N, K) outputs and (N, K) labels."""
    if task == "regression":
        return sentiment_metrics(pred[:, 0], labels[:, 0])
    if task == "multilabel":
        return multilabel_metrics(pred, labels, label_names)
    if task == "multiclass":
        return multiclass_metrics(pred, labels)
    raise ValueError(f"unknown task {task!r}")


HEADLINE = {
    "regression": [("Acc7", "Mult_acc_7"), ("Acc2", "Non0_acc_2"), ("F1", "Non0_F1_score"),
                   ("MAE", "MAE"), ("Corr", "Corr")],
}


def headline(task: str, metrics: dict[str, float]) -> list[tuple[str, float]]:
    """The columns a results table shows for a task (the paper's: Acc7 Acc2 F1 MAE Corr)."""
    cols = HEADLINE.get(task)
    if cols is None:
        return [(k, v) for k, v in metrics.items() if k.startswith("mean_") or k in ("acc", "F1")]
    return [(short, metrics[key]) for short, key in cols if key in metrics]
