"""Single-label classification (one class per utterance, e.g. IEMOCAP's four or MELD's seven
emotions): the ``emotion_wa_ua`` family and the confusion matrix (formulas: docs/metrics.md).

Outputs are (N, K) logits, labels (N, K) one-hot rows; the predicted class is the argmax of
the logits, the true class the argmax of the label row.
"""

from __future__ import annotations

import numpy as np

from .basic import _warn, NOT_LEARNED
from .conventions import DEFAULT_CONVENTION
from .families import FAMILIES, check_logits


def class_indices(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(true class, predicted class), each (N,) ints, of (N, K) logits and one-hot labels."""
    s, y = check_logits(logits, labels, names, "single-label metrics need (N, K) logits and one-hot labels",
                        "class")
    return y.argmax(axis=1), s.argmax(axis=1)


def confusion_counts(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(K, K) int counts: row = true class, column = predicted class."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (np.asarray(true, np.int64), np.asarray(pred, np.int64)), 1)
    return m


def confusion(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, object]:
    """The confusion matrix as saved in ``summary.json``: class names and counts
    (``matrix[i][j]``: utterances of true class i predicted as j)."""
    true, pred = class_indices(logits, labels, names)
    return {"labels": list(names), "matrix": confusion_counts(true, pred, len(names)).tolist()}


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b == 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(len(a), dtype=np.float64)
    np.divide(a, b, out=out, where=b > 0)
    return out


@FAMILIES.register("emotion_wa_ua")
def emotion_wa_ua(logits: np.ndarray, labels: np.ndarray, label_names: list[str],
                  convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """Single-label protocol (IEMOCAP four-class, MELD seven-class): ``WA`` (accuracy),
    ``UA`` (mean recall over the classes present in the labels = balanced accuracy),
    ``F1_weighted`` (per-class F1 weighted by true support), ``F1_macro`` (unweighted mean of
    the per-class F1 over the classes present in the labels or the predictions), and per
    class ``<name>_precision``, ``<name>_recall``, ``<name>_F1``. All equal scikit-learn's
    (accuracy_score, balanced_accuracy_score, f1_score, precision_recall_fscore_support with
    zero_division=0)."""
    true, pred = class_indices(logits, labels, label_names)
    k = len(label_names)
    out: dict[str, float] = {}
    if len(true) == 0:
        _warn("WA / UA / F1: no samples to score; reporting 0.0")
        out.update(WA=0.0, UA=0.0, F1_weighted=0.0, F1_macro=0.0)
        for name in label_names:
            out[f"{name}_precision"] = out[f"{name}_recall"] = out[f"{name}_F1"] = 0.0
        return out
    m = confusion_counts(true, pred, k)
    tp = np.diag(m).astype(np.float64)
    support = m.sum(axis=1).astype(np.float64)  # true count per class
    predicted = m.sum(axis=0).astype(np.float64)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = support > 0
    if not present.all():
        missing = [label_names[i] for i in np.flatnonzero(~present)]
        _warn(f"UA / F1_macro: class(es) {', '.join(missing)} absent from the labels; UA averages the "
              "recall of the classes present")
    if len(np.unique(pred)) == 1 and present.sum() > 1:
        _warn(f"WA / UA: every prediction is class {label_names[int(pred[0])]!r}; {NOT_LEARNED}")
    seen = present | (predicted > 0)
    out["WA"] = float(tp.sum() / len(true))
    out["UA"] = float(recall[present].mean())
    out["F1_weighted"] = float((f1 * support).sum() / support.sum())
    out["F1_macro"] = float(f1[seen].mean())
    for i, name in enumerate(label_names):
        out[f"{name}_precision"] = float(precision[i])
        out[f"{name}_recall"] = float(recall[i])
        out[f"{name}_F1"] = float(f1[i])
    return out


__all__ = ["class_indices", "confusion", "confusion_counts", "emotion_wa_ua"]
