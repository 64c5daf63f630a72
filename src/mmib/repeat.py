"""Multi-seed runs: one config trained with several seeds, reported as mean ± std.

Group directory ``<out_dir>/<name>/``:
  group.json     the base config (TOML), the seeds, and the format tag
  seed-<k>/      an ordinary run directory per seed (config.toml, metrics.jsonl, summary.json, ...)
  results.json   per-seed test and valid metrics, their mean and sample std (ddof = 1)
  results.csv    one row per seed, then ``mean`` and ``std`` rows
  results.md     the Markdown table in the paper's layout

Only ``train.seed`` differs between seeds (model initialisation, dropout, batch order); the
data (``data.synth.seed`` for synth) stays fixed. Running the same command again reuses
finished seeds and resumes an interrupted one, so a group can be completed piecemeal.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import config as config_mod
from .config import ExperimentConfig
from .engine.checkpoint import atomic_write_text
from .metrics import headline_keys
from .report import render_table

GROUP_FORMAT = "mmib-seed-group-1"


class GroupExistsError(RuntimeError):
    pass


def parse_seeds(spec: str | int, base: int = 0) -> list[int]:
    """``"5"`` -> 5 seeds starting at ``base`` (train.seed); ``"0,3,7"`` -> those seeds."""
    text = str(spec).strip()
    try:
        if "," in text:
            seeds = [int(x) for x in text.split(",") if x.strip()]
        else:
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(base, base + n))
    except ValueError:
        raise ValueError(f"--seeds {spec!r}: expected a count >= 1 (e.g. 5) or a comma list "
                         "of seeds (e.g. 0,1,2)") from None
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"--seeds {spec!r}: seeds must be distinct and at least one")
    return seeds


def seed_dir(group: Path, seed: int) -> Path:
    return Path(group) / f"seed-{seed}"


def _base_toml(cfg: ExperimentConfig) -> str:
    """The config with the seed neutralised: what must agree between reruns of a group."""
    return config_mod.set_value(cfg, "train.seed", 0).to_toml()


def _numeric(d: dict[str, Any]) -> dict[str, float]:
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


def model_label(cfg: ExperimentConfig) -> dict[str, Any]:
    m, o = cfg.model, cfg.objective
    return {"variant": m.variant, "fusion": m.fusion, "constraint": o.constraint,
            "beta": 0.0 if m.variant == "bmib" else o.beta, "text_encoder": m.text_encoder,
            "modalities": list(cfg.data.modalities)}


def collect(group: Path, summaries: dict[int, dict[str, Any]], cfg: ExperimentConfig) -> dict[str, Any]:
    """results.json content from the per-seed summaries."""
    first = next(iter(summaries.values()))
    res: dict[str, Any] = {
        "format": GROUP_FORMAT, "name": Path(group).name, "group": str(group),
        "dataset": first["dataset"], "task": first["task"],
        "metric_family": first.get("metric_family", "sentiment"),
        "metric_convention": first["metric_convention"],
        "model": model_label(cfg), "seeds": sorted(summaries), "sizes": first["sizes"],
        "best_epochs": {str(k): s["best_epoch"] for k, s in sorted(summaries.items())},
    }
    for split in ("test", "valid"):
        per = {k: _numeric(s[split]) for k, s in sorted(summaries.items())}
        res[split] = {**aggregate(per), "per_seed": {str(k): v for k, v in per.items()}}
    return res


def table(results: list[dict[str, Any]], *, markdown: bool = False, split: str = "test") -> str:
    """Rows = groups (name), columns = the headline metrics, cells = mean ± std."""
    cols = headline_keys(results[0][split]["mean"])
    rows = [(r["name"], {k: (r[split]["mean"][k], r[split]["std"][k]) for _, k in cols
                         if k in r[split]["mean"]}) for r in results]
    return render_table(rows, cols, markdown=markdown)


def caption(res: dict[str, Any]) -> str:
    m = res["model"]
    conv = (f"convention {res['metric_convention']}" if res["metric_family"] == "sentiment"
            else f"metrics {res['metric_family']}")
    return (f"{res['name']}: {m['variant']} + {m['fusion']}, beta {m['beta']:g}, on {res['dataset']}; "
            f"test metrics of the epoch selected on valid, mean ± std over {len(res['seeds'])} seeds "
            f"{res['seeds']}; {conv}")


def to_csv(res: dict[str, Any], split: str = "test") -> str:
    part = res[split]
    keys = list(part["mean"])
    lead = [k for _, k in headline_keys(part["mean"])]
    keys = lead + [k for k in keys if k not in lead]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["seed", "run"] + keys)
    for seed, m in part["per_seed"].items():
        w.writerow([seed, f"seed-{seed}"] + [repr(m.get(k, float("nan"))) for k in keys])
    for stat in ("mean", "std"):
        w.writerow([stat, ""] + [repr(part[stat][k]) for k in keys])
    return buf.getvalue()


def write_results(group: Path, res: dict[str, Any]) -> None:
    atomic_write_text(group / "results.json", json.dumps(res, indent=2))
    atomic_write_text(group / "results.csv", to_csv(res))
    atomic_write_text(group / "results.md", f"{caption(res)}\n\n{table([res], markdown=True)}")


def _prepare(group: Path, cfg: ExperimentConfig, seeds: list[int], overwrite: bool) -> None:
    meta = group / "group.json"
    if (group / "summary.json").exists():
        raise GroupExistsError(f"{group} is a single run, not a seed group; choose another --name")
    if meta.exists():
        old = json.loads(meta.read_text())
        if old.get("config") != _base_toml(cfg):
            if not overwrite:
                raise GroupExistsError(
                    f"{group} holds a seed group with a different config; use --overwrite to "
                    "replace it or another --name")
            for d in group.glob("seed-*"):
                shutil.rmtree(d)
            for f in ("results.json", "results.csv", "results.md"):
                (group / f).unlink(missing_ok=True)
        seeds = sorted(set(old.get("seeds", [])) | set(seeds)) if old.get("config") == _base_toml(cfg) else seeds
    elif group.exists() and any(group.iterdir()) and not overwrite:
        raise GroupExistsError(f"{group} exists and is not a seed group; use --overwrite or another --name")
    group.mkdir(parents=True, exist_ok=True)
    atomic_write_text(meta, json.dumps({"format": GROUP_FORMAT, "seeds": seeds, "config": _base_toml(cfg)},
                                       indent=2))


def run_seeds(cfg: ExperimentConfig, seeds: list[int], *, overwrite: bool = False, quiet: bool = False,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train ``cfg`` once per seed under ``<out_dir>/<name>/seed-<k>`` and aggregate the
    test metrics of each run's selected epoch. Returns the results.json content."""
    from .engine import fit

    group = Path(cfg.out_dir) / cfg.name
    _prepare(group, cfg, seeds, overwrite)
    summaries: dict[int, dict[str, Any]] = {}
    for i, seed in enumerate(seeds):
        run = seed_dir(group, seed)
        cfg_k = config_mod.set_value(cfg, "train.seed", seed)
        if (run / "summary.json").exists():
            log(f"[{i + 1}/{len(seeds)}] seed {seed}: finished earlier, reusing {run}")
            summaries[seed] = json.loads((run / "summary.json").read_text())
            continue
        log(f"[{i + 1}/{len(seeds)}] seed {seed}: training in {run}")
        if (run / "state.pt").exists():
            summaries[seed] = fit(cfg_k, run_dir=run, resume=True, quiet=quiet)
        else:
            summaries[seed] = fit(cfg_k, run_dir=run, quiet=quiet)
    res = collect(group, summaries, cfg)
    write_results(group, res)
    return res


__all__ = ["GroupExistsError", "aggregate", "caption", "collect", "parse_seeds", "run_seeds", "seed_dir",
           "table", "to_csv", "write_results"]
