"""Compare runs and seed groups side by side, with paired tests across matching seeds.

A *result* is a single run directory (``summary.json``) or a seed group (``group.json`` with
``seed-<k>/`` runs, see :mod:`mmib.repeat`); either becomes per-seed test metrics. Two
results are paired on the seeds they share (same ``train.seed`` = same initialisation and
batch order for the same data), and every headline metric gets a paired t-test
(``scipy.stats.ttest_rel``) and a Wilcoxon signed-rank test (``scipy.stats.wilcoxon``,
exact for small n). No multiple-comparison correction is applied; with 5 seeds the
two-sided Wilcoxon p-value cannot go below 0.0625.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..engine import read_summary
from ..metrics import headline_keys, higher_is_better
from ..models import constraint_weight
from .stats import aggregate, numeric, paired_test


@dataclass
class Result:
    """One compared item: its name, where it lives, and test metrics per seed."""

    name: str
    path: Path
    kind: str
    """run or group"""
    per_seed: dict[int, dict[str, float]]
    info: dict[str, Any] = field(default_factory=dict)
    """dataset, task, metric_family, metric_convention, variant, fusion, beta."""

    @property
    def stats(self) -> dict[str, dict[str, float]]:
        return aggregate(self.per_seed)


def _run_info(summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    beta = None
    cfg_file = run_dir / "config.toml"
    if cfg_file.exists():
        beta = constraint_weight(config_mod.load(cfg_file))
    return {"dataset": summary["dataset"], "task": summary["task"],
            "metric_family": summary.get("metric_family", "sentiment"),
            "metric_convention": summary["metric_convention"], "variant": summary["variant"],
            "fusion": summary["fusion"], "beta": beta, "baselines": summary.get("baselines") or []}


def load_result(path: str | Path, name: str | None = None) -> Result:
    """A run directory or a seed group directory -> :class:`Result` (finished seeds only)."""
    path = Path(path)
    if (path / "summary.json").exists():
        s = read_summary(path)
        return Result(name or path.name, path, "run", {int(s["seed"]): numeric(s["test"])}, _run_info(s, path))
    runs = sorted(path.glob("seed-*/summary.json"))
    if (path / "group.json").exists() or runs:
        if not runs:
            raise FileNotFoundError(f"{path}: a seed group with no finished seed yet (no seed-*/summary.json)")
        per, info = {}, {}
        for f in runs:
            s = read_summary(f.parent)
            per[int(s["seed"])] = numeric(s["test"])
            info = info or _run_info(s, f.parent)
        return Result(name or path.name, path, "group", dict(sorted(per.items())), info)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run or seed group")
    raise FileNotFoundError(f"{path}: neither a finished run (summary.json) nor a seed group "
                            "(group.json, seed-*/summary.json)")


def compare(results: list[Result], *, all_pairs: bool = False) -> dict[str, Any]:
    """Side-by-side statistics and paired tests (each result against the first one, or every
    pair with ``all_pairs``). Returns a JSON-ready dict."""
    if not results:
        raise ValueError("nothing to compare: give at least one run or seed group")
    warn: list[str] = []
    for key in ("dataset", "metric_family", "metric_convention"):
        values = {r.info.get(key) for r in results}
        if len(values) > 1:
            warn.append(f"the results differ in {key} ({', '.join(map(str, sorted(values, key=str)))}): "
                        "their numbers are not directly comparable")
    cols = headline_keys(results[0].stats["mean"])
    pairs = ([(results[i], results[j]) for i in range(len(results)) for j in range(i + 1, len(results))]
             if all_pairs else [(results[0], r) for r in results[1:]])
    tests = []
    for a, b in pairs:
        common = sorted(set(a.per_seed) & set(b.per_seed))
        entry: dict[str, Any] = {"reference": a.name, "other": b.name, "seeds": common, "metrics": {}}
        for _, k in cols:
            if all(k in a.per_seed[s] and k in b.per_seed[s] for s in common):
                r = paired_test([a.per_seed[s][k] for s in common], [b.per_seed[s][k] for s in common])
                gain = r["mean_diff"] if higher_is_better(k) else -r["mean_diff"]
                r["better"] = b.name if gain > 0 else a.name if gain < 0 else "-"
                entry["metrics"][k] = r
        tests.append(entry)
    baselines: dict[str, Any] = {}
    for r in results:  # each distinct baseline once (results on the same data share them)
        for b in r.info.get("baselines") or []:
            baselines.setdefault(b["label"], b)
    return {
        "columns": [k for _, k in cols], "warnings": warn, "baselines": list(baselines.values()),
        "results": [{"name": r.name, "path": str(r.path), "kind": r.kind, "seeds": sorted(r.per_seed),
                     **{k: v for k, v in r.info.items() if k != "baselines"}, **r.stats} for r in results],
        "tests": tests,
    }


__all__ = ["Result", "compare", "load_result", "paired_test"]
