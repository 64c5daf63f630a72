"""Statistics over seeds: numeric metrics, mean and sample std, paired tests."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats


def numeric(d: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a metrics dict, as floats."""
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def aggregate(per_seed: dict[int, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample std (ddof = 1; 0 for a single seed) of every metric all seeds have."""
    keys = [k for k in next(iter(per_seed.values())) if all(k in m for m in per_seed.values())]
    out: dict[str, dict[str, float]] = {"mean": {}, "std": {}}
    for k in keys:
        vals = np.array([m[k] for m in per_seed.values()], dtype=np.float64)
        out["mean"][k] = float(vals.mean())
        out["std"][k] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return out


def paired_test(a: list[float], b: list[float]) -> dict[str, Any]:
    """Paired tests of b against a. p-values: 1.0 when every difference is 0; the t-test is
    undefined (None) when the differences are equal but not 0 (zero variance)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = y - x
    out: dict[str, Any] = {"n": len(d), "mean_diff": float(d.mean()) if len(d) else 0.0,
                           "t_p": None, "wilcoxon_p": None, "note": ""}
    if len(d) < 2:
        out["note"] = "fewer than 2 paired seeds"
        return out
    if np.all(d == 0):
        out.update(t_p=1.0, wilcoxon_p=1.0, note="identical")
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if np.ptp(d) == 0:
            out["note"] = "constant difference: t-test undefined"
        else:
            out["t_p"] = float(stats.ttest_rel(y, x).pvalue)
        out["wilcoxon_p"] = float(stats.wilcoxon(y, x).pvalue)
    return out


__all__ = ["aggregate", "numeric", "paired_test"]
