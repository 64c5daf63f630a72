"""Grid sweeps: the cartesian product of config values, each cell a multi-seed group.

A grid is an ordered list of ``(dotted key, values)``; the first key varies slowest. Every
cell is the base config with one value per key, trained with the same seeds by
:func:`mmib.repeat.run_seeds`, so a rerun reuses finished cells and resumes an interrupted
one. Sweep directory ``<out_dir>/<name>/``:

  <cell>/        a seed group per cell, named by its values (``variant=lmib,fusion=tensor``)
  sweep.json     the grid, the seeds, per-cell results (mean, std, per seed), skipped cells
                 and average rows
  sweep.csv      one row per cell and per average row, mean and std of every test metric
  sweep.md       the Markdown table with its caption

Every cell's config is built and checked before the first one trains: a bad grid value
stops the sweep with the config error naming the key. Cells that a preset knows to be
meaningless (e.g. product-of-experts fusion on E-MIB) are skipped by a ``skip`` filter and
listed. An average row per value of a key (the paper's Tables VI-VII: mean over fusions
per variant) averages, seed by seed, the cells that share that value, then takes mean ± std
over the seeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .. import config as config_mod
from ..config import ConfigError, ExperimentConfig
from ..engine import check_config
from ..engine.checkpoint import atomic_write_text
from ..report import sweeps as report
from ..report.tables import metrics_line
from .grid import Grid, cell_name, describe, expand, fmt, normalise_grid, row_label
from .seeds import GroupExistsError, base_toml, parse_seeds, run_seeds
from .stats import aggregate

SWEEP_FORMAT = "mmib-sweep-1"
SkipRule = Callable[[dict[str, Any]], str | None]
"""Gets a cell's values {key: value}; returns why the cell is skipped, or None to run it."""


@dataclass
class Cell:
    """One point of the grid: its values, its config and where its seed group lives."""

    values: dict[str, Any]
    cfg: ExperimentConfig

    @property
    def group(self) -> Path:
        return Path(self.cfg.out_dir) / self.cfg.name


def plan(cfg: ExperimentConfig, grid: Grid, *, skip: SkipRule | None = None,
         skip_invalid: bool = False) -> tuple[list[Cell], list[dict[str, Any]]]:
    """Every cell's checked config (under ``<out_dir>/<name>/<cell>``) and the skipped cells
    ({values, label, reason}). A cell whose config is invalid raises ConfigError naming the
    cell and the key, unless ``skip_invalid`` lists it as skipped."""
    sweep_dir = Path(cfg.out_dir) / cfg.name
    cells: list[Cell] = []
    skipped: list[dict[str, Any]] = []
    for values in expand(grid):
        reason = skip(values) if skip else None
        if reason is None:
            try:
                cell_cfg = config_mod.set_values(cfg, {**values, "out_dir": str(sweep_dir),
                                                       "name": cell_name(values)}, origin="--grid")
                check_config(cell_cfg)
            except ConfigError as e:
                if not skip_invalid:
                    raise ConfigError(f"grid cell {describe(values)}: {e}") from None
                reason = str(e)
        if reason is not None:
            skipped.append({"values": values, "label": row_label(values), "reason": reason})
            continue
        cells.append(Cell(values, cell_cfg))
    names = [c.cfg.name for c in cells]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"two grid cells share the directory name {dup!r}; make their values distinct")
    if not cells:
        raise ConfigError("every cell of the grid is skipped; nothing to run")
    return cells, skipped


def _check_dirs(sweep_dir: Path, cells: list[Cell], overwrite: bool) -> None:
    """Refuse, before any training, what run_seeds would refuse at its cell."""
    if (sweep_dir / "summary.json").exists() or (sweep_dir / "group.json").exists():
        kind = "single run" if (sweep_dir / "summary.json").exists() else "seed group"
        raise GroupExistsError(f"{sweep_dir} is a {kind}, not a sweep; choose another --name")
    if overwrite:
        return
    for c in cells:
        meta = c.group / "group.json"
        if meta.exists():
            if json.loads(meta.read_text()).get("config") != base_toml(c.cfg):
                raise GroupExistsError(
                    f"{c.group} holds cell {describe(c.values)} trained with a different config; use "
                    "--overwrite to retrain it or another --name")
        elif c.group.exists() and any(c.group.iterdir()):
            raise GroupExistsError(f"{c.group} exists and is not a seed group; use --overwrite or another --name")


# ----------------------------------------------------------------------------- running

def run_sweep(cfg: ExperimentConfig, grid: Mapping[str, Sequence[Any]] | Sequence[tuple[str, Sequence[Any]]],
              seeds: int | str | Sequence[int] = 5, *, skip: SkipRule | None = None, skip_invalid: bool = False,
              average: Sequence[str] | None = None, title: str = "", overwrite: bool = False,
              log: Callable[[str], None] | None = None,
              train_log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train every cell of ``grid`` over ``cfg`` with ``seeds`` (a count from train.seed, a
    comma string or a list) into ``<cfg.out_dir>/<cfg.name>/<cell>/seed-<k>``; write and
    return the sweep.json content. ``average``: keys whose values get an average row
    (default: every varied key when two or more keys vary; ``[]``: none). ``log``: a line per
    cell and seed; ``train_log``: the runs' own lines."""
    log = log or (lambda m: None)
    grid = normalise_grid(grid)
    seed_list = list(seeds) if isinstance(seeds, (list, tuple)) else parse_seeds(seeds, cfg.train.seed)
    avg_keys = default_average(grid) if average is None else list(average)
    for k in avg_keys:
        if k not in dict(grid):
            raise ConfigError(f"--average {k}: not a grid key ({', '.join(k for k, _ in grid)})")
    cells, skipped = plan(cfg, grid, skip=skip, skip_invalid=skip_invalid)
    sweep_dir = Path(cfg.out_dir) / cfg.name
    _check_dirs(sweep_dir, cells, overwrite)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "format": SWEEP_FORMAT, "name": cfg.name, "dir": str(sweep_dir), "title": title,
        "grid": [[k, v] for k, v in grid], "seeds": seed_list, "average_keys": avg_keys,
        "config": base_toml(cfg), "skipped": skipped, "finished": False,
        "cells": [{"values": c.values, "label": row_label(c.values), "group": str(c.group)} for c in cells],
    }
    atomic_write_text(sweep_dir / "sweep.json", json.dumps(res, indent=2))
    for s in skipped:
        log(f"skipped cell {describe(s['values'])}: {s['reason']}")
    log(f"{len(cells)} cell(s) x {len(seed_list)} seed(s) {seed_list} = {len(cells) * len(seed_list)} trainings"
        + (" (--seeds 1 for one seed per cell)" if len(seed_list) > 1 else ""))
    for i, (c, entry) in enumerate(zip(cells, res["cells"])):
        log(f"cell {i + 1}/{len(cells)}: {describe(c.values)}")
        entry["results"] = run_seeds(c.cfg, seed_list, overwrite=overwrite, log=lambda m: log(f"  {m}"),
                                     train_log=train_log, tracking={"sweep": sweep_dir.name, **c.values})
        mean = entry["results"]["test"]["mean"]
        log(f"cell {i + 1}/{len(cells)} done: {describe(c.values)}: test mean over {len(seed_list)} seed(s) "
            f"{metrics_line(mean)}")
    res["averages"] = averages(res["cells"], grid, avg_keys)
    res["finished"] = True
    write_sweep(sweep_dir, res)
    return res


def default_average(grid: Grid) -> list[str]:
    varied = [k for k, v in grid if len(v) > 1]
    return varied if len(varied) >= 2 else []


def averages(cells: list[dict[str, Any]], grid: Grid, keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per value of each key in ``keys``: per seed, the mean over the cells sharing
    that value of each test metric; then mean and sample std over the seeds they share."""
    out = []
    for key, values in grid:
        if key not in keys:
            continue
        for value in values:
            members = [c for c in cells if c["values"][key] == value]
            if len(members) < 2:
                continue
            seeds = sorted(set.intersection(*(set(c["results"]["test"]["per_seed"]) for c in members)), key=int)
            if not seeds:
                continue
            per_seed = {}
            for s in seeds:
                ms = [c["results"]["test"]["per_seed"][s] for c in members]
                per_seed[int(s)] = {k: sum(m[k] for m in ms) / len(ms) for k in ms[0] if all(k in m for m in ms)}
            label = " / ".join(fmt(value) if k == key else "average" for k, _ in grid)
            out.append({"key": key, "value": value, "label": label, "cells": [c["label"] for c in members],
                        "seeds": [int(s) for s in seeds],
                        "test": {**aggregate(per_seed), "per_seed": {str(k): v for k, v in per_seed.items()}}})
    return out


# ----------------------------------------------------------------------------- reporting

def write_sweep(sweep_dir: Path, res: dict[str, Any]) -> None:
    atomic_write_text(sweep_dir / "sweep.json", json.dumps(res, indent=2))
    atomic_write_text(sweep_dir / "sweep.csv", report.to_csv(res))
    atomic_write_text(sweep_dir / "sweep.md", report.markdown(res))


__all__ = ["Cell", "SWEEP_FORMAT", "SkipRule", "averages", "default_average", "plan", "run_sweep", "write_sweep"]
