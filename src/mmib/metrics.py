"""Evaluation metrics under the names the field's tables use (formulas: docs/metrics.md).

Two things pick what is computed:

- the metric *family*, from the task and the label names (``eval.metrics = "auto"``):
  ``sentiment`` (regression in [-3, 3]), ``sentiment_sims`` (CH-SIMS, [-1, 1]), ``emotion_acc_f1`` (IEMOCAP: accuracy and weighted
  F1 per emotion), ``emotion_wa_auc`` (CMU-MOSEI emotions: weighted accuracy and ROC-AUC
  per emotion), ``classification`` (single-label classes);
- for sentiment, the *convention* (``eval.convention``), because papers disagree on which
  samples Acc2 / F1 / MAE / Corr use and on > 0 vs >= 0 (see :data:`CONVENTIONS`).

Edge cases (an empty subset, one class only, constant predictions) give a documented value
and a :class:`MetricWarning`; they never crash and never return NaN. Non-finite predictions
are an error: they mean the model diverged, not that a metric is undefined.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from .registry import Registry


class MetricWarning(RuntimeWarning):
    """A metric was undefined on this data and a documented fallback value was reported."""


def _warn(msg: str) -> None:
    warnings.warn(msg, MetricWarning, stacklevel=3)


# ----------------------------------------------------------------------------- conventions

@dataclass(frozen=True)
class Convention:
    """How one codebase computes the binary sentiment metrics and MAE / Corr.

    non0_strict: Non0_* compare p > 0 with y > 0 (else p >= 0 with y >= 0), on y != 0.
    has0_strict: Has0_* compare p > 0 with y > 0 (else >= 0), on all samples.
    mae_corr_nonzero: MAE and Corr on the y != 0 subset only (else on all samples).
    f1_swapped: F1 is called as f1_score(pred, true) (the Multimodal Transformer's bug), so
        the weights come from the predicted classes instead of the true ones.
    """

    name: str
    source: str
    non0_strict: bool
    has0_strict: bool
    mae_corr_nonzero: bool
    f1_swapped: bool


CONVENTIONS: dict[str, Convention] = {
    c.name: c for c in (
        Convention("mib", "MIB reference code (the paper)", non0_strict=False, has0_strict=False,
                   mae_corr_nonzero=True, f1_swapped=False),
        Convention("mmsa", "MMSA toolkit", non0_strict=True, has0_strict=False,
                   mae_corr_nonzero=False, f1_swapped=False),
        # MulT's eval_mosei_senti: exclude_zero=True gives Non0, exclude_zero=False (all
        # samples, still > 0) gives Has0; both pass predictions first to f1_score
        Convention("mult", "Multimodal Transformer code (F1 argument bug reproduced)", non0_strict=True,
                   has0_strict=True, mae_corr_nonzero=False, f1_swapped=True),
    )
}
DEFAULT_CONVENTION = "mib"


def get_convention(name: str) -> Convention:
    if name not in CONVENTIONS:
        raise KeyError(f"unknown metric convention {name!r}; expected one of: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


# ----------------------------------------------------------------------------- building blocks

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
        _warn(f"{name}: constant predictions; the never-predicted class has F1 0")
    a, b = (y_pred, y_true) if swapped else (y_true, y_pred)
    return float(f1_score(a, b, average="weighted", zero_division=0))


def pearson(p: np.ndarray, y: np.ndarray, name: str = "Corr") -> float:
    """Pearson correlation; 0.0 with a warning for < 2 samples or a constant side
    (no linear association can be measured, and 0 keeps averages over seeds finite)."""
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(y) == 0:
        what = "fewer than 2 samples" if len(p) < 2 else (
            "constant predictions" if np.ptp(p) == 0 else "constant labels")
        _warn(f"{name}: undefined for {what}; reporting 0.0")
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


# ----------------------------------------------------------------------------- families

MetricFn = Callable[..., dict[str, float]]
FAMILIES: Registry[MetricFn] = Registry("metric family")


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
    out = np.zeros(len(x), dtype=np.int64)
    for i in range(len(edges) - 1):
        out[(x > edges[i]) & (x <= edges[i + 1])] = i
    return out


@FAMILIES.register("sentiment_sims")
def sentiment_sims(pred: np.ndarray, label: np.ndarray, label_names: list[str] | None = None,
                   convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """CH-SIMS (labels in [-1, 1]): clip both sides to [-1, 1], bin with :data:`SIMS_EDGES`
    -> Mult_acc_2 / _3 / _5, weighted F1_score of the 2 classes, MAE and Corr on all samples.
    The conventions do not apply (SIMS has one)."""
    p = np.clip(_as_1d(pred, "predictions"), -1.0, 1.0)
    y = np.clip(_as_1d(label, "labels"), -1.0, 1.0)
    if len(p) != len(y):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    out = {k: accuracy(_bins(y, e), _bins(p, e), k) for k, e in SIMS_EDGES.items()}
    out["F1_score"] = weighted_f1(_bins(y, SIMS_EDGES["Mult_acc_2"]), _bins(p, SIMS_EDGES["Mult_acc_2"]), "F1_score")
    if len(p) == 0:
        _warn("MAE: no samples to score; reporting 0.0")
        out["MAE"] = 0.0
    else:
        out["MAE"] = float(np.mean(np.abs(p - y)))
    out["Corr"] = pearson(p, y)
    return out


def _check_multilabel(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if s.ndim != 2 or s.shape != y.shape or s.shape[1] != len(names):
        raise ValueError(f"multilabel metrics need (N, K) logits and labels with K = {len(names)} "
                         f"label names; got logits {s.shape} and labels {y.shape}")
    _as_1d(s, "logits")
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


@FAMILIES.register("classification")
def classification(logits: np.ndarray, labels: np.ndarray, label_names: list[str] | None = None,
                   convention: str = DEFAULT_CONVENTION) -> dict[str, float]:
    """logits (N, C), labels (N, 1) class indices: ``acc`` of the argmax and weighted ``F1``."""
    s = np.asarray(logits, dtype=np.float64)
    _as_1d(s, "logits")
    y = np.asarray(labels).reshape(len(s), -1)[:, 0].astype(int)
    pred = s.argmax(1)
    return {"acc": accuracy(y, pred, "acc"), "F1": weighted_f1(y, pred, "F1")}


MOSEI_EMOTION_NAMES = frozenset({"happy", "sad", "anger", "surprise", "disgust", "fear"})


def resolve_family(family: str, task: str, dataset: str = "", label_names: list[str] | None = None,
                   info: dict[str, Any] | None = None) -> str:
    """The metric family to use. ``family`` other than ``auto`` wins; then a dataset builder's
    ``info["metrics"]``; then the task: regression -> sentiment, multiclass ->
    classification, multilabel -> emotion_wa_auc for the six CMU-MOSEI emotions (or a
    dataset named mosei*), emotion_acc_f1 otherwise (IEMOCAP's protocol)."""
    if family != "auto":
        FAMILIES.get(family)
        return family
    if info and info.get("metrics"):
        FAMILIES.get(info["metrics"])
        return str(info["metrics"])
    if task == "regression":
        return "sentiment_sims" if dataset.lower() == "sims" else "sentiment"
    if task == "multiclass":
        return "classification"
    if task == "multilabel":
        names = set(label_names or [])
        if names == MOSEI_EMOTION_NAMES or (dataset.lower().startswith("mosei") and "iemocap" not in dataset.lower()):
            return "emotion_wa_auc"
        return "emotion_acc_f1"
    raise ValueError(f"unknown task {task!r}; expected regression, multilabel or multiclass")


def compute(task: str, pred: np.ndarray, labels: np.ndarray, label_names: list[str], *,
            convention: str = DEFAULT_CONVENTION, family: str = "auto", dataset: str = "",
            info: dict[str, Any] | None = None) -> dict[str, float]:
    """Metrics of (N, K) outputs against (N, K) labels for a task (see :func:`resolve_family`)."""
    name = resolve_family(family, task, dataset, label_names, info)
    return FAMILIES.get(name)(pred, labels, label_names, convention=convention)


# ----------------------------------------------------------------------------- presentation

LOWER_IS_BETTER = {"loss", "MAE"}
"""Metric names where smaller is better; loss terms (``task/<head>``, ``kl/<bottleneck>``)
are recognised by their ``/``."""


def higher_is_better(name: str) -> bool:
    return not (name in LOWER_IS_BETTER or "/" in name or name.endswith("loss") or name.endswith("MAE"))


HEADLINE: dict[str, list[tuple[str, str]]] = {
    "sentiment": [("Acc7", "Mult_acc_7"), ("Acc2 has0", "Has0_acc_2"), ("F1 has0", "Has0_F1_score"),
                  ("Acc2 non0", "Non0_acc_2"), ("F1 non0", "Non0_F1_score"), ("MAE", "MAE"), ("Corr", "Corr")],
    "sentiment_sims": [("Acc2", "Mult_acc_2"), ("Acc3", "Mult_acc_3"), ("Acc5", "Mult_acc_5"),
                       ("F1", "F1_score"), ("MAE", "MAE"), ("Corr", "Corr")],
    "classification": [("Acc", "acc"), ("F1", "F1")],
}
"""The columns a results table shows per family (short header, metric key). Emotion families
show every emotion's pair then the means (built from the metric keys)."""


def family_of(metrics: dict[str, float]) -> str:
    """The family a metric dict came from, read from its keys."""
    if "Mult_acc_7" in metrics:
        return "sentiment"
    if "Mult_acc_3" in metrics:
        return "sentiment_sims"
    if "mean_WA" in metrics:
        return "emotion_wa_auc"
    if "mean_F1" in metrics:
        return "emotion_acc_f1"
    return "classification"


def headline(task: str, metrics: dict[str, float]) -> list[tuple[str, float]]:
    """(header, value) of the columns a results table shows for these metrics; ``task`` is
    kept for compatibility (the family is read from the metric names)."""
    return [(h, metrics[k]) for h, k in headline_keys(metrics)]


def headline_keys(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    fam = family_of(metrics)
    if fam in HEADLINE:
        return [(h, k) for h, k in HEADLINE[fam] if k in metrics]
    a, b = ("WA", "AUC") if fam == "emotion_wa_auc" else ("acc", "F1")
    names = [k[: -len(a) - 1] for k in metrics if k.endswith(f"_{a}") and not k.startswith("mean_")]
    cols = [c for n in names for c in ((f"{n} {a}", f"{n}_{a}"), (f"{n} {b}", f"{n}_{b}"))]
    return cols + [(f"mean {a}", f"mean_{a}"), (f"mean {b}", f"mean_{b}")]


PERCENT_SUFFIXES = ("acc_2", "acc_3", "acc_5", "acc_7", "_acc", "_F1", "F1_score", "_WA", "_AUC")


def is_percent(key: str) -> bool:
    """Accuracies, F1, WA and AUC are shown in percent (as the paper); MAE, Corr, losses raw."""
    return key in ("acc", "F1") or key.endswith(PERCENT_SUFFIXES)
