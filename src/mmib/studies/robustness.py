"""Robustness curves: saved runs evaluated on the test split with one modality corrupted at a
time, at rates r (the LNLN protocol: r = 0, 0.1, ..., 0.9), averaged over seeds and repeats.

For each (modality, kind, rate): every headline metric and the loss, and the mean KL of every
bottleneck (does the KL of a corrupted modality fall, as the paper's Fig. 5 argues?); per
(modality, kind): the area under each metric's curve (the mean level over the rate range,
trapezoid rule) and the relative drop from the lowest to the highest rate. Everything is
deterministic given the run's seed and the repeat (:func:`mmib.data.corruptions.rng_for`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..data.corruptions import context_for, corrupt, find, input_type, kinds, rng_for
from ..engine import Experiment, read_summary
from ..engine.checkpoint import atomic_write_text
from ..metrics import display_name, headline_keys, higher_is_better
from ..progress import Progress
from ..report import robustness as report
from .stats import aggregate

FORMAT = "mmib-robustness-1"


def parse_rates(text: str) -> list[float]:
    """``0:0.9:0.1`` (start:stop:step, stop included) or ``0,0.5`` -> rates in [0, 1]."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0:
                raise ValueError
            rates = [round(start + i * step, 10) for i in range(int(np.floor((stop - start) / step + 1e-9)) + 1)]
        else:
            rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--rates {text!r}: expected START:STOP:STEP (e.g. 0:0.9:0.1) or a comma list "
                         "(e.g. 0,0.5)") from None
    if not rates or any(not 0 <= r <= 1 for r in rates) or len(set(rates)) != len(rates):
        raise ValueError(f"--rates {text!r}: expected distinct rates in [0, 1]")
    return sorted(rates)


def resolve(path: str | Path) -> list[tuple[str, list[Path]]]:
    """(label, run directories) per model: a run; a seed group (its seeds); a sweep (one per cell)."""
    path = Path(path)
    if (path / "summary.json").exists():
        return [(path.name, [path])]
    if (path / "sweep.json").exists():
        cells = [(c["label"], Path(c["group"])) for c in json.loads((path / "sweep.json").read_text())["cells"]]
    else:
        cells = [(path.name, path)]
    out = [(label, [r.parent for r in sorted(group.glob("seed-*/summary.json"))]) for label, group in cells]
    out = [(label, runs) for label, runs in out if runs]
    if not out:
        raise FileNotFoundError(f"{path}: neither a finished run (summary.json) nor a seed group or sweep with "
                                "finished seeds")
    return out


def unique_labels(found: list[tuple[Path, tuple[str, list[Path]]]]) -> list[tuple[str, list[Path]]]:
    """Each model's label, distinct across the paths given: a seed's run is ``group/seed-k``;
    labels that still collide (``a/seed-0`` under two folders) take more of their path."""
    def name(path: Path, label: str, depth: int) -> str:
        if label != path.name:  # a sweep's cell: its row label, under the sweep's path
            return "/".join([*path.parts[-depth:], label]) if depth else label
        return "/".join(path.parts[-(depth + (2 if path.name.startswith("seed-") else 1)):])

    depth = [0] * len(found)
    for _ in range(max((len(p.parts) for p, _ in found), default=0)):  # lengthen only the colliding labels
        labels = [name(p, label, d) for (p, (label, _)), d in zip(found, depth)]
        clash = [labels.count(x) > 1 for x in labels]
        if not any(clash):
            break
        depth = [d + c for d, c in zip(depth, clash)]
    labels = [name(p, label, d) for (p, (label, _)), d in zip(found, depth)]
    seen: dict[str, int] = {}
    out = []
    for label, (_, (_, runs)) in zip(labels, found):
        seen[label] = seen.get(label, 0) + 1
        out.append((label if seen[label] == 1 else f"{label} #{seen[label]}", runs))
    return out


def corrupted_results(exp: Experiment, *, modalities: Sequence[str], kinds_: Sequence[str], rates: Sequence[float],
                      repeats: int = 1, progress: bool = False, desc: str = "robustness") -> list[dict[str, Any]]:
    """One row per (modality, kind, rate, repeat) for one experiment: metrics and mean KL.
    ``progress``: a bar (a terminal) or plain lines (a log) over these cells."""
    seed = exp.cfg.train.seed
    test = exp.data.test
    ctx = context_for(exp.data.train, list(exp.cfg.data.modalities), exp.get_tokenizer())
    cells = [(m, k, r, rep) for m in modalities for k in kinds_ if find(k, input_type(test, m)) is not None
             for r in rates for rep in range(repeats if r > 0 else 1)]
    rows = []
    bar = Progress(cells, desc=desc, unit="cell", enabled=progress)
    for m, k, r, rep in bar:
        examples = corrupt(test, m, k, r, rng_for(seed, m, k, r, rep), ctx)
        if exp.text_cache is not None:
            examples = exp.text_cache.apply(examples, "test")
        torch.manual_seed(seed)
        p = exp.predict(examples, progress=False)
        bar.add_items(len(examples))
        metrics = {**p.terms, **exp.score(p)}
        metrics.update({f"bottleneck_kl/{b}": float(v.mean()) for b, v in p.kl.items()})
        rows.append({"modality": m, "kind": k, "rate": r, "repeat": rep, "metrics": metrics})
    return rows


def _auc(rates: list[float], values: list[float]) -> float:
    if len(rates) < 2:
        return float(values[0])
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 2 renamed it
    return float(trapezoid(values, rates) / (rates[-1] - rates[0]))


def _drop(key: str, first: float, last: float) -> float:
    if first == 0:
        return 0.0
    lost = (first - last) if higher_is_better(key) else (last - first)
    return float(lost / abs(first))


def summarise(label: str, runs: list[Path], rows_per_run: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean and std over seeds and repeats per (modality, kind, rate); AUC and relative drop."""
    groups: dict[tuple[str, str, float], dict[int, dict[str, float]]] = {}
    for run, rows in rows_per_run.items():
        for row in rows:
            key = (row["modality"], row["kind"], row["rate"])
            groups.setdefault(key, {})[len(groups.get(key, {}))] = row["metrics"]
    curves = [{"modality": m, "kind": k, "rate": r, "n": len(per), **aggregate(per)}
              for (m, k, r), per in groups.items()]
    first = curves[0]["mean"] if curves else {}
    kl = sorted(k for k in first if k.startswith("bottleneck_kl/"))
    keys = [k for _, k in headline_keys(first)] + ["loss"] + kl
    summary = []
    for m, k in dict.fromkeys((c["modality"], c["kind"]) for c in curves):
        pts = sorted((c for c in curves if c["modality"] == m and c["kind"] == k), key=lambda c: c["rate"])
        rates = [c["rate"] for c in pts]
        summary.append({"modality": m, "kind": k,
                        "auc": {key: _auc(rates, [c["mean"][key] for c in pts]) for key in keys if key in first},
                        "drop": {key: _drop(key, pts[0]["mean"][key], pts[-1]["mean"][key])
                                 for key in keys if key in first}})
    return {"label": label, "runs": [str(r) for r in runs], "curves": curves, "summary": summary, "keys": keys,
            "metric_names": {k: display_name(k) for k in keys}}


def run_robustness(paths: Sequence[str | Path], *, modalities: Sequence[str] | None = None,
                   kinds_: Sequence[str] | None = None, rates: Sequence[float] = (0.0, 0.3, 0.6, 0.9),
                   repeats: int = 1, log: Callable[[str], None] | None = None,
                   progress: bool = False) -> dict[str, Any]:
    """Every run of every path under every corruption; returns the JSON-ready result.
    ``progress``: per run, a bar or plain lines over its corruption cells."""
    log = log or (lambda m: None)
    kinds_ = list(kinds_ or kinds())
    for k in kinds_:
        if k not in kinds():
            raise ValueError(f"--kinds {k}: unknown corruption kind; expected one of {', '.join(kinds())}")
    models = []
    for label, runs in unique_labels([(p, m) for path in paths for p, m in [(Path(path), m) for m in resolve(path)]]):
        per_run = {}
        for run in runs:
            exp = Experiment.load(run)
            mods = [m for m in (modalities or exp.cfg.data.modalities) if m in exp.cfg.data.modalities]
            if not mods:
                raise ValueError(f"{run}: the model uses {exp.cfg.data.modalities}, none of {list(modalities or [])}")
            log(f"{label}: {run.name} ({len(mods)} modalities x {len(kinds_)} kinds x {len(rates)} rates)")
            per_run[str(run)] = corrupted_results(exp, modalities=mods, kinds_=kinds_, rates=rates, repeats=repeats,
                                                  progress=progress, desc=f"robustness {label}/{run.name}")
        res = summarise(label, runs, per_run)
        res["seeds"] = [read_summary(r)["seed"] for r in runs]
        res["variant"] = read_summary(runs[0])["variant"]
        models.append(res)
    return {"format": FORMAT, "rates": list(rates), "repeats": repeats, "kinds": kinds_, "models": models}


def write(res: dict[str, Any], out: str | Path) -> Path:
    """``.json`` (everything), ``.csv`` (one row per model, modality, kind, rate) or ``.md``."""
    out = Path(out)
    text = {".json": lambda: json.dumps(res, indent=1), ".csv": lambda: report.to_csv(res),
            ".md": lambda: report.markdown(res)}.get(out.suffix)
    if text is None:
        raise ValueError(f"-o {out}: expected a .json, .csv or .md file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text())
    return out


__all__ = ["FORMAT", "corrupted_results", "parse_rates", "resolve", "run_robustness", "summarise", "write"]
