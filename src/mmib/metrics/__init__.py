"""Evaluation metrics under the names the field's tables use (formulas: docs/metrics.md).

Two things pick what is computed:

- the metric *family* (``eval.metrics``; ``auto``: the one the dataset's spec names for its
  labels, else the task's): ``sentiment`` (regression in [-3, 3]), ``sentiment_sims``
  (CH-SIMS, [-1, 1]), ``emotion_acc_f1`` (IEMOCAP: accuracy and weighted F1 per emotion),
  ``emotion_wa_auc`` (CMU-MOSEI emotions: weighted accuracy and ROC-AUC per emotion),
  ``emotion_wa_ua`` (single-label classes: WA, UA, weighted / macro F1, per-class P / R / F1);
- for sentiment, the *convention* (``eval.convention``), because papers disagree on which
  samples Acc2 / F1 / MAE / Corr use and on > 0 vs >= 0 (see :data:`CONVENTIONS`).

Edge cases (an empty subset, one class only, constant predictions) give a documented value
and a :class:`MetricWarning`; they never crash and never return NaN. Non-finite predictions
are an error: they mean the model diverged, not that a metric is undefined.
"""

from __future__ import annotations

import numpy as np

from .basic import (MetricWarning, accuracy, balanced_accuracy, mult_acc, pearson, roc_auc,
                    weighted_f1)
from .conventions import CONVENTIONS, DEFAULT_CONVENTION, Convention, get_convention
from .families import (FAMILIES, SIMS_EDGES, emotion_acc_f1, emotion_wa_auc, sentiment_metrics,
                       sentiment_sims)
from .classes import class_indices, confusion, emotion_wa_ua
from .headline import (HEADLINE, LOWER_IS_BETTER, display_name, family_of, headline, headline_keys, higher_is_better,
                       is_percent)

TASK_FAMILIES = {"regression": "sentiment", "multilabel": "emotion_acc_f1", "multiclass": "emotion_wa_ua"}
"""The family a task is scored with when neither the config nor the dataset names one."""


def resolve_family(family: str, task: str, default: str = "auto") -> str:
    """The metric family to use: ``family`` (``eval.metrics``) unless it is ``auto``; then
    ``default`` (the family the dataset's spec names for its labels); then the task's."""
    for name in (family, default):
        if name and name != "auto":
            FAMILIES.get(name)
            return name
    if task not in TASK_FAMILIES:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASK_FAMILIES)}")
    return TASK_FAMILIES[task]


def compute(task: str, pred: np.ndarray, labels: np.ndarray, label_names: list[str], *,
            convention: str = DEFAULT_CONVENTION, family: str = "auto", default: str = "auto") -> dict[str, float]:
    """Metrics of (N, K) outputs against (N, K) labels (the family: :func:`resolve_family`)."""
    name = resolve_family(family, task, default)
    return FAMILIES.get(name)(pred, labels, label_names, convention=convention)


__all__ = ["CONVENTIONS", "DEFAULT_CONVENTION", "FAMILIES", "HEADLINE", "LOWER_IS_BETTER", "SIMS_EDGES",
           "Convention", "MetricWarning", "TASK_FAMILIES", "accuracy", "balanced_accuracy", "class_indices", "compute",
           "confusion", "display_name", "emotion_acc_f1", "emotion_wa_auc", "emotion_wa_ua", "family_of",
           "get_convention", "headline", "headline_keys", "higher_is_better",
           "is_percent", "mult_acc", "pearson", "resolve_family", "roc_auc", "sentiment_metrics",
           "sentiment_sims", "weighted_f1"]
