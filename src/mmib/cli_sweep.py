"""Sweep commands: ``mmib sweep`` (any grid) and ``mmib paper`` (the paper's experiments).

Both train every cell of a grid as a seed group under ``<out_dir>/<name>/`` and print one
table in the paper's layout (docs/paper.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from . import config as config_mod
from .cli import CONVENIENCE, add_config_args
from .config import ExperimentConfig


def _config(args: argparse.Namespace, fixed: Sequence[str], default_suffix: str) -> ExperimentConfig:
    """Config file, then the preset's fixed settings, then --set and the flags; without
    --name the sweep is called ``<config name>-<suffix>``."""
    cfg = config_mod.load(args.config) if args.config else ExperimentConfig()
    cfg = config_mod.apply_overrides(cfg, list(fixed) + list(args.set))
    for _, key, _ in CONVENIENCE:
        value = getattr(args, key.replace(".", "__"), None)
        if value is not None:
            cfg = config_mod.set_value(cfg, key, value)
    if args.name is None:
        cfg = config_mod.set_value(cfg, "name", f"{cfg.name}-{default_suffix}")
    if args.quiet:
        cfg = config_mod.set_value(cfg, "train.progress", False)
    return cfg


def _report(res: dict[str, Any], markdown: bool) -> None:
    from .sweep import caption, skipped_text, table

    print(f"\n{caption(res)}\n")
    print(table(res))
    if markdown:
        print(table(res, markdown=True))
    if res["skipped"]:
        print(skipped_text(res))
    d = Path(res["dir"])
    print(f"saved {d / 'sweep.json'}, {d / 'sweep.csv'}, {d / 'sweep.md'}")


def _average(args: argparse.Namespace, default: Sequence[str] | None) -> list[str] | None:
    if not args.average:
        return None if default is None else list(default)
    keys = [k.strip() for item in args.average for k in item.split(",") if k.strip()]
    return [] if keys == ["none"] else keys


def cmd_sweep(args: argparse.Namespace) -> int:
    """Train the cartesian product of --grid values; print and save one table."""
    from .sweep import parse_grid, run_sweep

    grid = parse_grid(args.grid)
    cfg = _config(args, (), "sweep")
    res = run_sweep(cfg, grid, args.seeds, skip_invalid=args.skip_invalid, average=_average(args, None),
                    overwrite=args.overwrite, quiet=args.quiet)
    _report(res, args.markdown)
    return 0


def cmd_paper(args: argparse.Namespace) -> int:
    """Run one of the paper's experiments as a preset sweep."""
    from . import paper
    from .sweep import run_sweep

    if args.list or not args.table:
        if not args.list:
            raise ValueError("name an experiment (e.g. mmib paper table1 -c configs/mosi.toml), or --list")
        print(paper.listing(), end="")
        return 0
    preset = paper.get(args.table)
    if preset.pointer:
        print(f"{args.table}: {preset.description}\n  {preset.pointer}")
        return 0
    cfg = _config(args, preset.fixed, args.table)
    res = run_sweep(cfg, preset.grid, args.seeds, skip=preset.skip, average=_average(args, preset.average),
                    title=f"{args.table}, {preset.description}", overwrite=args.overwrite, quiet=args.quiet)
    _report(res, args.markdown)
    if preset.after:
        for f in preset.after(res, print):
            print(f"wrote {f}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--seeds", default="5", metavar="N|LIST",
                   help="seeds per cell: a count starting at train.seed (default 5) or a comma list")
    p.add_argument("--average", action="append", metavar="KEY",
                   help="grid key whose values get an 'average' row (repeatable; 'none' for no average rows)")
    p.add_argument("--overwrite", action="store_true", help="retrain cells whose saved config differs")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-epoch lines")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="train a grid of configs (each cell a seed group); one table, JSON, CSV, "
                                     "Markdown")
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="a config key and its values (TOML; repeatable: the cartesian product is run), "
                        "e.g. --grid model.variant=emib,lmib,cmib --grid objective.beta=1e-3,0")
    p.add_argument("--skip-invalid", action="store_true",
                   help="skip (and list) cells whose config is invalid instead of stopping")
    _common(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("paper", help="the paper's experiments, one command each (mmib paper --list)")
    p.add_argument("table", nargs="?", metavar="TABLE", help="table1, table4, table5, table6, table8, table9, "
                                                             "table10, table11, fig4, fig5 (aliases: table2, "
                                                             "table3, table7)")
    p.add_argument("--list", action="store_true", help="list the experiments with a line each")
    _common(p)
    p.set_defaults(func=cmd_paper)
