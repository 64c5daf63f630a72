"""Building blocks: accuracy, weighted F1, Pearson, balanced accuracy, ROC-AUC, each with a
documented value and a :class:`MetricWarning` where it is undefined."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score


class MetricWarning(RuntimeWarning):
    """A metric was undefined on this data and a documented fallback value was reported."""


NOT_LEARNED = ("predictions are constant: the model has not learned yet? (too few epochs, or a learning "
               "rate too low or too high for this data; compare with the baseline rows of the results)")


def _warn(msg: str) -> None:
    warnings.warn(msg, MetricWarning, stacklevel=3)


def _as_1d(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise ValueError(f"{what}: {bad} of {a.size} values are not finite (NaN or inf); "
                         "a model that predicts NaN has diverged")
    return a


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> float:
    """Share of equal entries; 0.0 with a warning when there is nothing to score."""
    if len(y_true) == 0:
        _warn(f"{name}: no samples to score; reporting 0.0")
        return 0.0
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def weighted_f1(y_true: np.ndarray, y_pred: np.ndarray, name: str, *, swapped: bool = False) -> float:
    """scikit-learn's weighted F1 (per-class F1 weighted by true support).

    Undefined precision/recall (a class never predicted / never present) count as 0;
    ``swapped`` passes (pred, true), reproducing the Multimodal Transformer's call.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        _warn(f"{name}: no samples to score; reporting 0.0")
        return 0.0
    if len(np.unique(y_true)) == 1:
        _warn(f"{name}: the labels hold one class only; weighted F1 is that class's F1")
    if len(np.unique(y_pred)) == 1 and len(np.unique(np.concatenate([y_true, y_pred]))) > 1:
        _warn(f"{name}: every prediction falls in one class, so the other class has F1 0; {NOT_LEARNED}")
    a, b = (y_pred, y_true) if swapped else (y_true, y_pred)
    return float(f1_score(a, b, average="weighted", zero_division=0))


def pearson(p: np.ndarray, y: np.ndarray, name: str = "Corr") -> float:
    """Pearson correlation; 0.0 with a warning for < 2 samples or a constant side
    (no linear association can be measured, and 0 keeps averages over seeds finite)."""
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(y) == 0:
        what = "fewer than 2 samples" if len(p) < 2 else (
            "constant predictions" if np.ptp(p) == 0 else "constant labels")
        hint = f"; {NOT_LEARNED}" if len(p) > 1 and np.ptp(p) == 0 else ""
        _warn(f"{name}: undefined for {what}; reporting 0.0{hint}")
        return 0.0
    return float(np.corrcoef(p, y)[0, 1])


def mult_acc(p: np.ndarray, y: np.ndarray, bound: float, name: str) -> float:
    """Clip both sides to [-bound, bound], round half to even (NumPy), accuracy."""
    return accuracy(np.round(np.clip(y, -bound, bound)), np.round(np.clip(p, -bound, bound)), name)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> float:
    """(TPR + TNR) / 2 for booleans; with one class present, the rate of that class
    (as scikit-learn's balanced accuracy), with a warning."""
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    if len(y_true) == 0:
        _warn(f"{name}: no samples to score; reporting 0.0")
        return 0.0
    rates = []
    if y_true.any():
        rates.append(float(np.mean(y_pred[y_true])))  # TPR
    if (~y_true).any():
        rates.append(float(np.mean(~y_pred[~y_true])))  # TNR
    if len(rates) == 1:
        _warn(f"{name}: the labels hold one class only; weighted accuracy is that class's rate")
    return float(np.mean(rates))


def roc_auc(y_true: np.ndarray, score: np.ndarray, name: str) -> float:
    """ROC-AUC of real-valued scores; 0.5 (chance) with a warning when one class only."""
    y_true = np.asarray(y_true, bool)
    if len(y_true) == 0 or y_true.all() or not y_true.any():
        _warn(f"{name}: ROC-AUC is undefined when the labels hold one class only; reporting 0.5")
        return 0.5
    return float(roc_auc_score(y_true, score))
