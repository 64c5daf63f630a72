"""Baselines beside every result: what a model must beat to be worth its modalities.

Each baseline is fit on the **train split only** and scored on the test split with the same
metric family as the model, so its row reads like the model's:

- ``majority``: the most frequent training class (multiclass), each label's majority
  present / absent decision (multilabel), or the mean training score (regression);
- ``tfidf``: a bag of words on the utterances' text: scikit-learn's ``TfidfVectorizer``
  (uni- and bigrams found in at least two training utterances, sublinear tf) then ``LogisticRegression`` (multiclass: multinomial;
  multilabel: one per label) or ``Ridge`` (regression). Left out when the data has no text.

Their outputs take the model's form ((N, K) logits or (N, 1) scores), so
:meth:`Experiment.score` computes their metrics. :data:`BASELINES` holds them (name ->
:class:`Baseline`); the labels shown in tables are stored with the numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..data.types import Example
from ..metrics import MetricWarning
from ..registry import Registry

Fit = Callable[[str, list[Example], list[Example]], "np.ndarray | None"]


@dataclass(frozen=True)
class Baseline:
    """``predict(task, train, test)`` -> (N_test, K) outputs in the model's form, or None when
    the data does not allow it; ``label(task)``: the row label."""

    predict: Fit
    label: Callable[[str], str]


BASELINES: Registry[Baseline] = Registry("baseline")


def _labels(examples: list[Example]) -> np.ndarray:
    return np.stack([e.label for e in examples]).astype(np.float64)


def _logits(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(proba, 1e-12, 1.0))


def _majority(task: str, train: list[Example], test: list[Example]) -> np.ndarray:
    y = _labels(train)
    n = len(test)
    if task == "regression":
        return np.full((n, 1), y[:, 0].mean())
    if task == "multiclass":
        out = np.zeros((n, y.shape[1]))
        out[:, int(np.bincount(y.argmax(1), minlength=y.shape[1]).argmax())] = 1.0
        return out
    return np.tile(np.where(y.mean(axis=0) > 0.5, 1.0, -1.0), (n, 1))


def _tfidf(task: str, train: list[Example], test: list[Example]) -> np.ndarray | None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    texts = [e.text for e in train]
    if not any(t.strip() for t in texts):
        return None  # no text (features only): no bag of words
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)  # terms of one utterance: noise
    try:
        x_train = vec.fit_transform(texts)
    except ValueError:  # an empty vocabulary (no word of 2+ letters in two utterances)
        return None
    x_test = vec.transform([e.text for e in test])
    y = _labels(train)
    if task == "regression":
        return Ridge(alpha=1.0).fit(x_train, y[:, 0]).predict(x_test)[:, None]
    k = y.shape[1]
    if task == "multiclass":
        cls = y.argmax(1)
        out = np.full((len(test), k), -30.0)  # classes never seen in train: never predicted
        if len(np.unique(cls)) == 1:
            out[:, cls[0]] = 0.0
            return out
        clf = LogisticRegression(max_iter=2000).fit(x_train, cls)
        out[:, clf.classes_] = _logits(clf.predict_proba(x_test))
        return out
    out = np.zeros((len(test), k))
    for j in range(k):
        yj = y[:, j] > 0.5
        if yj.all() or not yj.any():
            out[:, j] = 1.0 if yj.all() else -1.0
        else:
            out[:, j] = LogisticRegression(max_iter=2000).fit(x_train, yj).decision_function(x_test)
    return out


BASELINES.add("majority", Baseline(_majority, lambda task: "baseline: mean of train" if task == "regression"
                                   else "baseline: majority class of train"))
BASELINES.add("tfidf", Baseline(_tfidf, lambda task: "baseline: TF-IDF + " + (
    "ridge" if task == "regression" else "logistic regression") + " (train)"))


def baseline_results(task: str, train: list[Example], test: list[Example],
                     score: Callable[[np.ndarray, np.ndarray], dict[str, float]]) -> list[dict[str, object]]:
    """``[{"name", "label", "test": metrics}]`` of every baseline that applies, fit on ``train``
    and scored on ``test`` by ``score(outputs, labels)``. Metric warnings are silenced (a
    majority baseline predicts one class by definition)."""
    out: list[dict[str, object]] = []
    if not train or not test:
        return out
    labels = _labels(test)
    for name, b in BASELINES.items():
        pred = b.predict(task, train, test)
        if pred is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            metrics = score(np.asarray(pred, dtype=np.float64), labels)
        out.append({"name": name, "label": b.label(task), "test": metrics})
    return out


__all__ = ["BASELINES", "Baseline", "baseline_results"]
