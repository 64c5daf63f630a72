"""Metric families: one function per protocol, registered by name (``eval.metrics``)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..registry import Registry
from .basic import _as_1d, _warn, accuracy, balanced_accuracy, mult_acc, pearson, roc_auc, weighted_f1
from .conventions import DEFAULT_CONVENTION, get_convention

MetricFn = Callable[..., dict[str, float]]
FAMILIES: Registry[MetricFn] = Registry("metric family", key="eval.metrics")


@FAMILIES.register("sentiment")
def sentiment_metrics(pred: np.ndarray, label: np.ndarray, label_names: list[str] | None = None,
                      convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """pred, label: (N,) or (N, 1) real sentiment scores -> Mult_acc_7, Mult_acc_5,
    Non0_acc_2, Non0_F1_score, Has0_acc_2, Has0_F1_score, MAE, Corr."""
    c = get_convention(convention)
    p = _as_1d(pred, "predictions")
    y = _as_1d(label, "labels")
    if len(p) != len(y):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    out: dict[str, float] = {}
    out["Mult_acc_7"] = mult_acc(p, y, 3.0, "Mult_acc_7")
    out["Mult_acc_5"] = mult_acc(p, y, 2.0, "Mult_acc_5")

    def positive(a: np.ndarray, strict: bool) -> np.ndarray:
        return a > 0 if strict else a >= 0

    nz = y != 0
    if not nz.any():
        _warn("Non0_acc_2 / Non0_F1_score: no non-zero labels; reporting 0.0")
        out["Non0_acc_2"] = out["Non0_F1_score"] = 0.0
    else:
        yt, pt = positive(y[nz], c.non0_strict), positive(p[nz], c.non0_strict)
        out["Non0_acc_2"] = accuracy(yt, pt, "Non0_acc_2")
        out["Non0_F1_score"] = weighted_f1(yt, pt, "Non0_F1_score", swapped=c.f1_swapped)
    yt, pt = positive(y, c.has0_strict), positive(p, c.has0_strict)
    out["Has0_acc_2"] = accuracy(yt, pt, "Has0_acc_2")
    out["Has0_F1_score"] = weighted_f1(yt, pt, "Has0_F1_score", swapped=c.f1_swapped)
    sub = nz if c.mae_corr_nonzero else np.ones_like(nz)
    if c.mae_corr_nonzero and not nz.any():
        _warn("MAE / Corr: no non-zero labels for this convention's subset; using all samples")
        sub = np.ones_like(nz)
    if not sub.any():
        _warn("MAE: no samples to score; reporting 0.0")
        out["MAE"] = 0.0
    else:
        out["MAE"] = float(np.mean(np.abs(p[sub] - y[sub])))
    out["Corr"] = pearson(p[sub], y[sub])
    return out


SIMS_EDGES = {
    "Mult_acc_2": (-1.01, 0.0, 1.01),
    "Mult_acc_3": (-1.01, -0.1, 0.1, 1.01),
    "Mult_acc_5": (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01),
}
"""CH-SIMS class boundaries on [-1, 1] (MMSA's SIMS evaluation): class i is (e_i, e_i+1]."""


def _bins(x: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Class of each value: i where edges[i] < x <= edges[i+1], compared in float32 as MMSA's
    published code does (its tensors are float32, so a label such as 0.1 or -0.7 is compared
    with the float32 edge and falls on the edge's side, not just past it as in float64)."""
    x = np.asarray(x, dtype=np.float32)
    e = np.asarray(edges, dtype=np.float32)
    out = np.zeros(len(x), dtype=np.int64)
    for i in range(len(e) - 1):
        out[(x > e[i]) & (x <= e[i + 1])] = i
    return out


@FAMILIES.register("sentiment_sims")
def sentiment_sims(pred: np.ndarray, label: np.ndarray, label_names: list[str] | None = None,
                   convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """CH-SIMS (labels in [-1, 1]): clip both sides to [-1, 1], bin with :data:`SIMS_EDGES`
    -> Mult_acc_2 / _3 / _5, weighted F1_score of the 2 classes, MAE and Corr on all samples.
    The conventions do not apply (SIMS has one)."""
    p32 = np.clip(_as_1d(pred, "predictions").astype(np.float32), -1.0, 1.0)
    y32 = np.clip(_as_1d(label, "labels").astype(np.float32), -1.0, 1.0)
    p, y = p32.astype(np.float64), y32.astype(np.float64)
    if len(p) != len(y):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    out = {k: accuracy(_bins(y32, e), _bins(p32, e), k) for k, e in SIMS_EDGES.items()}
    out["F1_score"] = weighted_f1(_bins(y32, SIMS_EDGES["Mult_acc_2"]), _bins(p32, SIMS_EDGES["Mult_acc_2"]),
                                  "F1_score")
    if len(p) == 0:
        _warn("MAE: no samples to score; reporting 0.0")
        out["MAE"] = 0.0
    else:
        out["MAE"] = float(np.mean(np.abs(p - y)))
    out["Corr"] = pearson(p, y)
    return out


def check_logits(logits: np.ndarray, labels: np.ndarray, names: list[str], what: str,
                 noun: str = "label") -> tuple[np.ndarray, np.ndarray]:
    """(N, K) float64 logits and labels, checked against the K ``names`` (``noun`` names);
    ``what`` starts the error ("multilabel metrics need (N, K) logits and labels")."""
    s = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if s.ndim != 2 or s.shape != y.shape or s.shape[1] != len(names):
        raise ValueError(f"{what} with K = {len(names)} {noun} names; "
                         f"got logits {s.shape} and labels {y.shape}")
    _as_1d(s, "logits")
    return s, y


def _check_multilabel(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    s, y = check_logits(logits, labels, names, "multilabel metrics need (N, K) logits and labels")
    return s, y > 0.5


@FAMILIES.register("emotion_acc_f1")
def emotion_acc_f1(logits: np.ndarray, labels: np.ndarray, label_names: list[str],
                   convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """IEMOCAP protocol. logits, labels: (N, K); an emotion is predicted present when its
    logit > 0 (probability > 0.5). Per emotion ``<name>_acc`` and weighted ``<name>_F1``
    (binary present / absent), and their means ``mean_acc``, ``mean_F1``."""
    s, y = _check_multilabel(logits, labels, label_names)
    out: dict[str, float] = {}
    for k, name in enumerate(label_names):
        out[f"{name}_acc"] = accuracy(y[:, k], s[:, k] > 0, f"{name}_acc")
        out[f"{name}_F1"] = weighted_f1(y[:, k], s[:, k] > 0, f"{name}_F1")
    out["mean_acc"] = float(np.mean([out[f"{n}_acc"] for n in label_names]))
    out["mean_F1"] = float(np.mean([out[f"{n}_F1"] for n in label_names]))
    return out


@FAMILIES.register("emotion_wa_auc")
def emotion_wa_auc(logits: np.ndarray, labels: np.ndarray, label_names: list[str],
                   convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """CMU-MOSEI emotion protocol. logits, labels: (N, K). Per emotion the weighted accuracy
    ``<name>_WA`` = (TPR + TNR) / 2 of the decision logit > 0, and ``<name>_AUC`` (ROC-AUC of
    the logit as score), with means ``mean_WA`` and ``mean_AUC``."""
    s, y = _check_multilabel(logits, labels, label_names)
    out: dict[str, float] = {}
    for k, name in enumerate(label_names):
        out[f"{name}_WA"] = balanced_accuracy(y[:, k], s[:, k] > 0, f"{name}_WA")
        out[f"{name}_AUC"] = roc_auc(y[:, k], s[:, k], f"{name}_AUC")
    out["mean_WA"] = float(np.mean([out[f"{n}_WA"] for n in label_names]))
    out["mean_AUC"] = float(np.mean([out[f"{n}_AUC"] for n in label_names]))
    return out
