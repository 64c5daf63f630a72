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

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import config as config_mod
from .config import ConfigError, ExperimentConfig
from .engine.checkpoint import atomic_write_text
from .metrics import headline_keys
from .repeat import GroupExistsError, _base_toml, aggregate, parse_seeds, run_seeds
from .report import render_table

SWEEP_FORMAT = "mmib-sweep-1"
Grid = list[tuple[str, list[Any]]]
SkipRule = Callable[[dict[str, Any]], str | None]
"""Gets a cell's values {key: value}; returns why the cell is skipped, or None to run it."""

# keys that place runs or are varied by --seeds: a grid over them would break the layout
_RESERVED = ("name", "out_dir", "train.seed")
# settings named in a caption when the grid does not vary them
_HELD = ("model.variant", "model.fusion", "objective.constraint", "objective.beta", "data.modalities")


@dataclass
class Cell:
    """One point of the grid: its values, its config and where its seed group lives."""

    values: dict[str, Any]
    cfg: ExperimentConfig

    @property
    def group(self) -> Path:
        return Path(self.cfg.out_dir) / self.cfg.name


# ----------------------------------------------------------------------------- the grid

def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes: ``[],["text"]`` -> 2 items."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def parse_grid(specs: Iterable[str]) -> Grid:
    """``["model.variant=emib,lmib", "objective.beta=1e-3,0"]`` -> ordered (key, values).

    Values are TOML (``1e-3``, ``true``, ``["text", "audio"]``), falling back to bare strings."""
    grid: Grid = []
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"--grid {spec!r}: expected KEY=V1,V2,..., e.g. model.variant=emib,lmib")
        key, text = spec.split("=", 1)
        items = _split_top_level(text)
        if any(not x for x in items):
            raise ConfigError(f"--grid {spec!r}: an empty value (two commas in a row or a trailing comma)")
        grid.append((key.strip(), [config_mod.parse_value(x) for x in items]))
    return normalise_grid(grid)


def normalise_grid(grid: Mapping[str, Sequence[Any]] | Sequence[tuple[str, Sequence[Any]]]) -> Grid:
    """A dict or a list of pairs -> a checked list of (key, values)."""
    pairs = list(grid.items()) if isinstance(grid, Mapping) else list(grid)
    out: Grid = []
    for key, values in pairs:
        if key in _RESERVED:
            raise ConfigError(f"--grid {key}: cannot vary {key} in a sweep "
                              f"({'use --seeds' if key == 'train.seed' else 'it places the runs'})")
        if any(key == k for k, _ in out):
            raise ConfigError(f"--grid {key}: the key is given twice; list all its values in one --grid")
        values = list(values)
        if not values:
            raise ConfigError(f"--grid {key}: no values")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(f"--grid {key}: a value is listed twice ({values})")
        out.append((key, values))
    if not out:
        raise ConfigError("a sweep needs at least one --grid KEY=V1,V2,...")
    return out


def expand(grid: Grid) -> list[dict[str, Any]]:
    """The cartesian product, first key slowest: one {key: value} per cell."""
    keys = [k for k, _ in grid]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in grid))]


def short_key(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def fmt(value: Any) -> str:
    """A value as it appears in row labels: ``1e-06``, ``text+audio``, ``none`` for []."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "+".join(fmt(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def describe(values: dict[str, Any]) -> str:
    """``model.variant=lmib model.fusion=tensor`` (progress lines, skipped cells)."""
    def one(v: Any) -> str:
        return "[" + ", ".join(one(x) for x in v) + "]" if isinstance(v, list) else fmt(v)
    return " ".join(f"{k}={one(v)}" for k, v in values.items())


def row_label(values: dict[str, Any]) -> str:
    return " / ".join(fmt(v) for v in values.values())


def cell_name(values: dict[str, Any]) -> str:
    """The cell's directory name: ``variant=lmib,fusion=tensor`` (safe characters only)."""
    leaves = [short_key(k) for k in values]
    parts = []
    for (key, value), leaf in zip(values.items(), leaves):
        label = key if leaves.count(leaf) > 1 else leaf
        parts.append(f"{label}={re.sub(r'[^A-Za-z0-9._+-]', '_', fmt(value))}")
    return ",".join(parts)


# ----------------------------------------------------------------------------- planning

def _with_values(cfg: ExperimentConfig, values: dict[str, Any]) -> ExperimentConfig:
    data = cfg.to_dict()
    for key, value in values.items():
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"--grid {key}: {p!r} is not a config section")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f"--grid {key}: unknown key; see `mmib config reference`")
        node[parts[-1]] = value
    return config_mod.from_dict(data)


def check_config(cfg: ExperimentConfig) -> None:
    """What training would reject before its first step, checked without building a model:
    registry names, the fusion / variant pairing, and the data source. Raises ConfigError."""
    from .data import DATASETS
    from .fusion import FUSIONS
    from .models import check_fusion
    from .objectives import CONSTRAINTS

    for key, registry, name in (("model.fusion", FUSIONS, cfg.model.fusion),
                                ("objective.constraint", CONSTRAINTS, cfg.objective.constraint),
                                ("data.dataset", DATASETS, cfg.data.dataset)):
        if name not in registry:
            raise ConfigError(f"{key}: unknown {registry.kind} {name!r}; expected one of: "
                              f"{', '.join(registry.names())}")
    check_fusion(cfg.model)
    if cfg.data.dataset == "synth":
        if cfg.data.labels == "emotions":
            raise ConfigError("data.labels: 'emotions' is impossible on synth (sentiment labels only)")
    elif not cfg.data.path:
        raise ConfigError(f"data.path: dataset {cfg.data.dataset!r} needs a data file (--data-path)")
    elif not Path(cfg.data.path).exists():
        raise ConfigError(f"data.path: {cfg.data.path}: no such file")


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
                cell_cfg = _with_values(cfg, values)
                cell_cfg = config_mod.set_value(cell_cfg, "out_dir", str(sweep_dir))
                cell_cfg = config_mod.set_value(cell_cfg, "name", cell_name(values))
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
            if json.loads(meta.read_text()).get("config") != _base_toml(c.cfg):
                raise GroupExistsError(
                    f"{c.group} holds cell {describe(c.values)} trained with a different config; use "
                    "--overwrite to retrain it or another --name")
        elif c.group.exists() and any(c.group.iterdir()):
            raise GroupExistsError(f"{c.group} exists and is not a seed group; use --overwrite or another --name")


# ----------------------------------------------------------------------------- running

def run_sweep(cfg: ExperimentConfig, grid: Mapping[str, Sequence[Any]] | Sequence[tuple[str, Sequence[Any]]],
              seeds: int | str | Sequence[int] = 5, *, skip: SkipRule | None = None, skip_invalid: bool = False,
              average: Sequence[str] | None = None, title: str = "", overwrite: bool = False,
              quiet: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every cell of ``grid`` over ``cfg`` with ``seeds`` (a count from train.seed, a
    comma string or a list) into ``<cfg.out_dir>/<cfg.name>/<cell>/seed-<k>``; write and
    return the sweep.json content. ``average``: keys whose values get an average row
    (default: every varied key when two or more keys vary; ``[]``: none)."""
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
        "config": _base_toml(cfg), "skipped": skipped, "finished": False,
        "cells": [{"values": c.values, "label": row_label(c.values), "group": str(c.group)} for c in cells],
    }
    atomic_write_text(sweep_dir / "sweep.json", json.dumps(res, indent=2))
    for s in skipped:
        log(f"skipped cell {describe(s['values'])}: {s['reason']}")
    for i, (c, entry) in enumerate(zip(cells, res["cells"])):
        log(f"cell {i + 1}/{len(cells)}: {describe(c.values)}")
        entry["results"] = run_seeds(c.cfg, seed_list, overwrite=overwrite, quiet=quiet,
                                     log=lambda m: log(f"  {m}"))
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

def _rows(res: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, test part) of every cell, then of every average row."""
    return ([(c["label"], c["results"]["test"]) for c in res["cells"]]
            + [(a["label"], a["test"]) for a in res["averages"]])


def columns(res: dict[str, Any]) -> list[tuple[str, str]]:
    return headline_keys(res["cells"][0]["results"]["test"]["mean"])


def table(res: dict[str, Any], *, markdown: bool = False) -> str:
    """Rows = cells labelled by their grid values, then average rows; columns = the headline
    test metrics, mean ± std over seeds."""
    cols = columns(res)
    rows = [(label, {k: (part["mean"][k], part["std"][k]) for _, k in cols if k in part["mean"]})
            for label, part in _rows(res)]
    header = " / ".join(short_key(k) for k, _ in res["grid"])
    return render_table(rows, cols, markdown=markdown, row_header=header)


def caption(res: dict[str, Any]) -> str:
    first = res["cells"][0]["results"]
    keys = [k for k, _ in res["grid"]]
    base = config_mod.tomllib.loads(res["config"])
    held = []
    for key in (k for k in _HELD if k not in keys):
        text = f"{short_key(key)} {fmt(base[key.split('.')[0]][short_key(key)])}"
        if key == "objective.beta" and any(c["results"]["model"]["variant"] == "bmib" for c in res["cells"]):
            text += " (bmib: 0)"
        held.append(text)
    conv = (f"convention {first['metric_convention']}" if first["metric_family"] == "sentiment"
            else f"metrics {first['metric_family']}")
    n_skip = f", {len(res['skipped'])} skipped" if res["skipped"] else ""
    text = (f"{res['name']}{': ' + res['title'] if res['title'] else ''}. Sweep over {', '.join(keys)} "
            f"({len(res['cells'])} cells{n_skip}) on {first['dataset']}; {', '.join(held)}; test metrics of "
            f"the epoch selected on valid, mean ± std over {len(res['seeds'])} seeds {res['seeds']}; {conv}")
    if res["averages"]:
        text += ("; 'average' rows: per seed, the mean over the cells sharing that "
                 f"{' / '.join(short_key(k) for k in res['average_keys'])}, then mean ± std over seeds")
    return text


def to_csv(res: dict[str, Any]) -> str:
    """One row per cell then per average row: grid values, seeds, mean and std of every test
    metric (headline metrics first, full precision)."""
    parts = [part for _, part in _rows(res)]
    lead = [k for _, k in columns(res)]
    common = [k for k in parts[0]["mean"] if all(k in p["mean"] for p in parts)]
    keys = [k for k in lead if k in common] + [k for k in common if k not in lead]
    grid_keys = [k for k, _ in res["grid"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "kind", *grid_keys, "seeds"] + [f"{k} {s}" for k in keys for s in ("mean", "std")])
    for c in res["cells"]:
        part = c["results"]["test"]
        w.writerow([c["label"], "cell", *(fmt(c["values"][k]) for k in grid_keys),
                    " ".join(map(str, c["results"]["seeds"]))]
                   + [repr(part[s][k]) for k in keys for s in ("mean", "std")])
    for a in res["averages"]:
        w.writerow([a["label"], "average", *(fmt(a["value"]) if k == a["key"] else "average" for k in grid_keys),
                    " ".join(map(str, a["seeds"]))]
                   + [repr(a["test"][s][k]) for k in keys for s in ("mean", "std")])
    return buf.getvalue()


def skipped_text(res: dict[str, Any]) -> str:
    return "".join(f"skipped: {describe(s['values'])} ({s['reason']})\n" for s in res["skipped"])


def write_sweep(sweep_dir: Path, res: dict[str, Any]) -> None:
    atomic_write_text(sweep_dir / "sweep.json", json.dumps(res, indent=2))
    atomic_write_text(sweep_dir / "sweep.csv", to_csv(res))
    skipped = skipped_text(res)
    atomic_write_text(sweep_dir / "sweep.md",
                      f"{caption(res)}\n\n{table(res, markdown=True)}" + (f"\n{skipped}" if skipped else ""))


__all__ = ["Cell", "SWEEP_FORMAT", "averages", "caption", "cell_name", "check_config", "default_average",
           "describe", "expand", "fmt", "normalise_grid", "parse_grid", "plan", "row_label", "run_sweep",
           "table", "to_csv", "write_sweep"]
