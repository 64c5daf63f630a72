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

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from .metrics import headline_keys, higher_is_better
from .repeat import aggregate
from .report import fmt_value, render_table


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


def _numeric(d: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _run_info(summary: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    beta = None
    cfg_file = run_dir / "config.toml"
    if cfg_file.exists():
        from .config import tomllib

        cfg = tomllib.loads(cfg_file.read_text())
        beta = 0.0 if summary["variant"] == "bmib" else cfg.get("objective", {}).get("beta")
    return {"dataset": summary["dataset"], "task": summary["task"],
            "metric_family": summary.get("metric_family", "sentiment"),
            "metric_convention": summary["metric_convention"], "variant": summary["variant"],
            "fusion": summary["fusion"], "beta": beta}


def load_result(path: str | Path, name: str | None = None) -> Result:
    """A run directory or a seed group directory -> :class:`Result` (finished seeds only)."""
    path = Path(path)
    if (path / "summary.json").exists():
        s = json.loads((path / "summary.json").read_text())
        return Result(name or path.name, path, "run", {int(s["seed"]): _numeric(s["test"])}, _run_info(s, path))
    runs = sorted(path.glob("seed-*/summary.json"))
    if (path / "group.json").exists() or runs:
        if not runs:
            raise FileNotFoundError(f"{path}: a seed group with no finished seed yet (no seed-*/summary.json)")
        per, info = {}, {}
        for f in runs:
            s = json.loads(f.read_text())
            per[int(s["seed"])] = _numeric(s["test"])
            info = info or _run_info(s, f.parent)
        return Result(name or path.name, path, "group", dict(sorted(per.items())), info)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run or seed group")
    raise FileNotFoundError(f"{path}: neither a finished run (summary.json) nor a seed group "
                            "(group.json, seed-*/summary.json)")


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
    return {
        "columns": [k for _, k in cols], "warnings": warn,
        "results": [{"name": r.name, "path": str(r.path), "kind": r.kind, "seeds": sorted(r.per_seed),
                     **r.info, **r.stats} for r in results],
        "tests": tests,
    }


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.3f}{' *' if p < 0.05 else ''}"


def render(report: dict[str, Any], *, markdown: bool = False) -> str:
    """The comparison table (mean ± std, seeds per row) and one block of tests per pair."""
    rows = []
    for r in report["results"]:
        label = f"{r['name']} ({len(r['seeds'])} seed{'s' if len(r['seeds']) != 1 else ''})"
        rows.append((label, {k: (r["mean"][k], r["std"][k]) if len(r["seeds"]) > 1 else r["mean"][k]
                             for k in report["columns"] if k in r["mean"]}))
    first = report["results"][0]
    cols = headline_keys(first["mean"])
    conv = (f"convention {first.get('metric_convention')}" if first.get("metric_family") == "sentiment"
            else f"metrics {first.get('metric_family')}")
    out = [f"test metrics (epoch selected on valid), mean ± std over seeds; {conv}", "",
           render_table(rows, cols, markdown=markdown)]
    for w in report["warnings"]:
        out.append(f"warning: {w}")
    for t in report["tests"]:
        n = len(t["seeds"])
        out.append(f"\npaired tests: {t['other']} - {t['reference']} over {n} matching seed(s) {t['seeds']}")
        if n < 2:
            out.append("  not applicable (needs at least 2 seeds present in both)")
            continue
        trows = []
        for k, r in t["metrics"].items():
            diff = r["mean_diff"]
            sign = "-" if diff < 0 else "+"
            trows.append((k, {"diff": f"{sign}{fmt_value(k, abs(diff))}", "better": r["better"],
                              "t": _p(r["t_p"]), "w": _p(r["wilcoxon_p"]), "note": r["note"]}))
        out.append(_text_rows(trows, markdown))
    out.append("\n(* p < 0.05, two-sided, no correction for multiple comparisons)" if report["tests"] else "")
    return "\n".join(out).rstrip() + "\n"


def _text_rows(rows: list[tuple[str, dict[str, str]]], markdown: bool) -> str:
    header = ["metric", "mean diff", "better", "t-test p", "Wilcoxon p", "note"]
    body = [[k, v["diff"], v["better"], v["t"], v["w"], v["note"]] for k, v in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|---|---:|---|---:|---:|---|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    return "\n".join("  " + "  ".join(c.ljust(w) if i in (0, 2, 5) else c.rjust(w)
                                       for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in [header] + body)


__all__ = ["Result", "compare", "load_result", "paired_test", "render"]
