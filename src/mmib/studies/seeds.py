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

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from .. import config as config_mod
from ..config import ExperimentConfig
from ..engine import fit, read_summary
from ..engine.checkpoint import atomic_write_text
from ..models import VARIANTS, constraint_weight
from ..progress import duration
from ..report import groups
from ..report.tables import metrics_line
from .stats import aggregate, numeric

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


def base_toml(cfg: ExperimentConfig) -> str:
    """The config with the seed neutralised: what must agree between reruns of a group."""
    return config_mod.set_value(cfg, "train.seed", 0).to_toml()


def model_label(cfg: ExperimentConfig) -> dict[str, Any]:
    m, o = cfg.model, cfg.objective
    return {"variant": m.variant, "fusion": m.fusion, "constraint": o.constraint, "beta": constraint_weight(cfg),
            "constraint_off": VARIANTS.get(m.variant).constraint_off, "text_encoder": m.text_encoder,
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
        per = {k: numeric(s[split]) for k, s in sorted(summaries.items())}
        res[split] = {**aggregate(per), "per_seed": {str(k): v for k, v in per.items()}}
    if first.get("baselines"):
        res["baselines"] = first["baselines"]  # fit on the train split: the same data for every seed
    return res


def write_results(group: Path, res: dict[str, Any]) -> None:
    atomic_write_text(group / "results.json", json.dumps(res, indent=2))
    atomic_write_text(group / "results.csv", groups.to_csv(res))
    atomic_write_text(group / "results.md", groups.markdown(res))


def _prepare(group: Path, cfg: ExperimentConfig, seeds: list[int], overwrite: bool) -> None:
    meta = group / "group.json"
    if (group / "summary.json").exists():
        raise GroupExistsError(f"{group} is a single run, not a seed group; choose another --name")
    if meta.exists():
        old = json.loads(meta.read_text())
        if old.get("config") != base_toml(cfg):
            if not overwrite:
                raise GroupExistsError(
                    f"{group} holds a seed group with a different config; use --overwrite to "
                    "replace it or another --name")
            for d in group.glob("seed-*"):
                shutil.rmtree(d)
            for f in ("results.json", "results.csv", "results.md"):
                (group / f).unlink(missing_ok=True)
        seeds = sorted(set(old.get("seeds", [])) | set(seeds)) if old.get("config") == base_toml(cfg) else seeds
    elif group.exists() and any(group.iterdir()) and not overwrite:
        raise GroupExistsError(f"{group} exists and is not a seed group; use --overwrite or another --name")
    group.mkdir(parents=True, exist_ok=True)
    atomic_write_text(meta, json.dumps({"format": GROUP_FORMAT, "seeds": seeds, "config": base_toml(cfg)},
                                       indent=2))


def run_seeds(cfg: ExperimentConfig, seeds: list[int], *, overwrite: bool = False,
              log: Callable[[str], None] | None = None, train_log: Callable[[str], None] | None = None,
              tracking: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``cfg`` once per seed under ``<out_dir>/<name>/seed-<k>`` and aggregate the
    test metrics of each run's selected epoch. Returns the results.json content. ``log``: one
    line per seed; ``train_log``: the runs' own lines (epochs); ``tracking``: parameters the
    trackers record for each run (the group and seed are added)."""
    log = log or (lambda m: None)
    group = Path(cfg.out_dir) / cfg.name
    _prepare(group, cfg, seeds, overwrite)
    summaries: dict[int, dict[str, Any]] = {}
    for i, seed in enumerate(seeds):
        run = seed_dir(group, seed)
        cfg_k = config_mod.set_value(cfg, "train.seed", seed)
        if (run / "summary.json").exists():
            summaries[seed] = read_summary(run)
            log(f"[{i + 1}/{len(seeds)}] seed {seed}: finished earlier, reusing {run}: test "
                f"{metrics_line(summaries[seed]['test'])}")
            continue
        log(f"[{i + 1}/{len(seeds)}] seed {seed}: training in {run}")
        resume = (run / "state.pt").exists()
        params = {**(tracking or {}), "group": group.name, "seed": seed}
        t0 = time.monotonic()
        summaries[seed] = fit(cfg_k, run_dir=run, resume=resume, log=train_log, tracking=params).summary
        log(f"[{i + 1}/{len(seeds)}] seed {seed}: done in {duration(time.monotonic() - t0)}, epoch "
            f"{summaries[seed]['best_epoch']} selected: test {metrics_line(summaries[seed]['test'])}")
    res = collect(group, summaries, cfg)
    write_results(group, res)
    return res


__all__ = ["GROUP_FORMAT", "GroupExistsError", "base_toml", "collect", "model_label", "parse_seeds", "run_seeds",
           "seed_dir", "write_results"]
