"""Presentation knowledge of the metrics: which are better when higher, which columns a
results table shows per family, which are shown in percent."""

from __future__ import annotations

from typing import Any

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
    "emotion_wa_ua": [("WA", "WA"), ("UA", "UA"), ("F1 weighted", "F1_weighted"), ("F1 macro", "F1_macro")],
}
"""The columns a results table shows per family (short header, metric key). Emotion families
show every emotion's pair then the means (built from the metric keys)."""


def display_name(key: str) -> str:
    """The one name a metric has in every table, CSV header, comparison and plot label
    (``Mult_acc_7`` -> ``Acc7``, ``happy_acc`` -> ``happy acc``, ``bottleneck_kl/text`` -> ``KL text``);
    JSON files keep the metric keys (docs/metrics.md lists both). Loss terms keep their key."""
    for cols in HEADLINE.values():
        for header, k in cols:
            if k == key:
                return header
    if key.startswith("bottleneck_kl/"):
        return "KL " + key.split("/", 1)[1]
    for suffix in ("acc", "F1", "WA", "AUC"):
        if key.endswith(f"_{suffix}") and "/" not in key:
            return f"{key[: -len(suffix) - 1]} {suffix}"
    return key


def family_of(metrics: dict[str, float]) -> str:
    """The family a metric dict came from, read from its keys."""
    if "Mult_acc_7" in metrics:
        return "sentiment"
    if "Mult_acc_3" in metrics:
        return "sentiment_sims"
    if "UA" in metrics:
        return "emotion_wa_ua"
    if "mean_WA" in metrics:
        return "emotion_wa_auc"
    return "emotion_acc_f1"


def headline(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """(header, value) of the columns a results table shows for these metrics (the family is
    read from the metric names)."""
    return [(h, metrics[k]) for h, k in headline_keys(metrics)]


def headline_keys(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    fam = family_of(metrics)
    if fam in HEADLINE:
        return [(h, k) for h, k in HEADLINE[fam] if k in metrics]
    a, b = ("WA", "AUC") if fam == "emotion_wa_auc" else ("acc", "F1")
    names = [k[: -len(a) - 1] for k in metrics if k.endswith(f"_{a}") and not k.startswith("mean_")]
    keys = [k for n in names for k in (f"{n}_{a}", f"{n}_{b}")] + [f"mean_{a}", f"mean_{b}"]
    return [(display_name(k), k) for k in keys]


PERCENT_SUFFIXES = ("acc_2", "acc_3", "acc_5", "acc_7", "_acc", "_F1", "F1_score", "WA", "UA", "_AUC",
                    "F1_weighted", "F1_macro", "_precision", "_recall")


def is_percent(key: str) -> bool:
    """Accuracies, F1, WA, UA, precision, recall and AUC are shown in percent (as the paper); MAE, Corr, losses raw."""
    return key.endswith(PERCENT_SUFFIXES)


__all__ = ["HEADLINE", "LOWER_IS_BETTER", "display_name", "family_of", "headline", "headline_keys", "higher_is_better", "is_percent"]
