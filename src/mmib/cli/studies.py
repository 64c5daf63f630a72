"""Study commands: ``mmib repeat`` (seed groups; ``mmib train --seeds N`` is the same),
``mmib sweep`` (any grid), ``mmib paper`` (the paper's experiments) and ``mmib compare``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from .common import add_config_args, add_quiet, config_from_args, echo, say


def cmd_repeat(args: argparse.Namespace) -> int:
    """Train one config with several seeds; print and save mean ± std."""
    from ..engine import check_config
    from ..report import groups
    from ..studies import parse_seeds, run_seeds

    cfg = check_config(config_from_args(args), source=args.config or "")
    res = run_seeds(cfg, parse_seeds(args.seeds, cfg.train.seed), overwrite=args.overwrite, log=say,
                    train_log=echo(args))
    group = Path(res["group"])
    print(f"\n{groups.caption(res)}\n")
    print(groups.table([res]))
    if getattr(args, "markdown", False):
        print(groups.table([res], markdown=True))
    print(f"saved {group / 'results.json'}, {group / 'results.csv'}, {group / 'results.md'}")
    return 0


def _report(res: dict[str, Any], markdown: bool) -> None:
    from ..report import sweeps

    print(f"\n{sweeps.caption(res)}\n")
    print(sweeps.table(res))
    if markdown:
        print(sweeps.table(res, markdown=True))
    if res["skipped"]:
        print(sweeps.skipped_text(res))
    d = Path(res["dir"])
    print(f"saved {d / 'sweep.json'}, {d / 'sweep.csv'}, {d / 'sweep.md'}")


def _average(args: argparse.Namespace, default: Sequence[str] | None) -> list[str] | None:
    if not args.average:
        return None if default is None else list(default)
    keys = [k.strip() for item in args.average for k in item.split(",") if k.strip()]
    return [] if keys == ["none"] else keys


def _runner(args: argparse.Namespace):
    """run_sweep, or with --storage the shared sweep (this process is one of its workers)."""
    if not args.storage:
        if args.study:
            raise ValueError("--study needs --storage (the storage that holds the study)")
        from ..studies import run_sweep

        return run_sweep
    from functools import partial

    from ..studies.shared import run_shared_sweep

    return partial(run_shared_sweep, storage=args.storage, study_name=args.study)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Train the cartesian product of --grid values; print and save one table."""
    from ..studies.grid import parse_grid

    grid = parse_grid(args.grid)
    cfg = config_from_args(args, default_suffix="sweep")
    res = _runner(args)(cfg, grid, args.seeds, skip_invalid=args.skip_invalid, average=_average(args, None),
                        overwrite=args.overwrite, log=say, train_log=echo(args))
    _report(res, args.markdown)
    return 0


def cmd_paper(args: argparse.Namespace) -> int:
    """Run one of the paper's experiments as a preset sweep."""
    from ..studies import presets

    if args.list or not args.table:
        if not args.list:
            raise ValueError("name an experiment (e.g. mmib paper table1 -c configs/mosi.toml), or --list")
        print(presets.listing(), end="")
        return 0
    preset = presets.get(args.table)
    if preset.pointer:
        print(f"{args.table}: {preset.description}\n  {preset.pointer}")
        return 0
    cfg = config_from_args(args, preset.fixed, default_suffix=args.table)
    res = _runner(args)(cfg, preset.grid, args.seeds, skip=preset.skip, average=_average(args, preset.average),
                        title=f"{args.table}, {preset.description}", overwrite=args.overwrite, log=say,
                        train_log=echo(args))
    _report(res, args.markdown)
    if preset.after:
        said: list[str] = []
        for f in preset.after(res, lambda m: (said.append(m), say(m))):
            if f"wrote {f}" not in said:  # plots announce their files as they are written
                say(f"wrote {f}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..report import comparisons
    from ..studies import compare, load_result

    report = compare([load_result(p) for p in args.paths], all_pairs=args.all_pairs)
    print(comparisons.render(report, markdown=args.markdown), end="")
    if args.out:
        out = Path(args.out)
        writers = {".json": lambda: json.dumps(report, indent=2), ".md": lambda: comparisons.render(report, markdown=True),
                   ".csv": lambda: comparisons.to_csv(report)}
        if out.suffix not in writers:
            raise ValueError(f"--out {out}: expected a .json, .md or .csv file name")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(writers[out.suffix]())
        print(f"saved {out}")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    """Saved runs under test-time corruption; print and save the table."""
    from ..report import robustness as report
    from ..studies.robustness import parse_rates, run_robustness, write

    split = (lambda t: [x.strip() for x in t.split(",") if x.strip()] if t else None)
    res = run_robustness(args.paths, modalities=split(args.modalities), kinds_=split(args.kinds),
                         rates=parse_rates(args.rates), repeats=args.repeats, log=None if args.quiet else say,
                         progress=not args.quiet)
    print(report.tables(res))
    for out in args.out or []:
        print(f"wrote {write(res, out)}")
    if args.plot:
        print(f"wrote {report.curves(res, args.plot)}")
    return 0


def _study_args(p: argparse.ArgumentParser, default_seeds: str | None) -> None:
    add_config_args(p)
    p.add_argument("--seeds", default=default_seeds, metavar="N|LIST",
                   help=f"seeds: a count starting at train.seed (default {default_seeds}) or a comma list (0,1,2); "
                        "runs go to <out_dir>/<name>/.../seed-<k>")
    p.add_argument("--overwrite", action="store_true", help="retrain groups or cells whose saved config differs")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    add_quiet(p)


def _storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", metavar="URL",
                   help="share the grid through an Optuna study: any number of workers running this same command "
                        "train its cells (sqlite:///FILE.db, FILE.log journal, postgresql://...; docs/scaling.md)")
    p.add_argument("--study", metavar="NAME", help="the study's name in --storage (default: the sweep's --name)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("repeat", help="train one config with several seeds; mean ± std as JSON, CSV, Markdown")
    _study_args(p, "5")
    p.set_defaults(func=cmd_repeat)

    p = sub.add_parser("sweep", help="train a grid of configs (each cell a seed group); one table, JSON, CSV, "
                                     "Markdown")
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="a config key and its values (TOML; repeatable: the cartesian product is run), "
                        "e.g. --grid model.variant=emib,lmib,cmib --grid objective.beta=1e-3,0")
    p.add_argument("--skip-invalid", action="store_true",
                   help="skip (and list) cells whose config is invalid instead of stopping")
    p.add_argument("--average", action="append", metavar="KEY",
                   help="grid key whose values get an 'average' row (repeatable; 'none' for no average rows)")
    _study_args(p, "5")
    _storage_args(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("paper", help="the paper's experiments, one command each (mmib paper --list)")
    p.add_argument("table", nargs="?", metavar="TABLE",
                   help="the experiment, e.g. table1 (mmib paper --list names them all)")
    p.add_argument("--list", action="store_true", help="list the experiments with a line each")
    p.add_argument("--average", action="append", metavar="KEY",
                   help="grid key whose values get an 'average' row (repeatable; 'none' for no average rows)")
    _study_args(p, "5")
    _storage_args(p)
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("robustness", help="saved runs under test-time corruption of each modality: metrics, "
                                          "KL, area under the curve (docs/robustness.md)")
    p.add_argument("paths", nargs="+", metavar="RUN_OR_GROUP", help="run directories, seed groups or sweeps")
    p.add_argument("--modalities", help="comma list (default: every modality of the model)")
    p.add_argument("--kinds", help="comma list of mask, drop, noise, missing (default: all)")
    p.add_argument("--rates", default="0:0.9:0.1", help="START:STOP:STEP or a comma list (default 0:0.9:0.1)")
    p.add_argument("--repeats", type=int, default=1, help="draws per rate > 0 (default 1)")
    p.add_argument("-o", "--out", action="append", metavar="FILE", help="save as .json, .csv or .md (repeatable)")
    p.add_argument("--plot", metavar="PNG", help="also draw the curves (one panel per modality and kind)")
    add_quiet(p)
    p.set_defaults(func=cmd_robustness)

    p = sub.add_parser("compare", help="runs or seed groups side by side, paired tests across seeds")
    p.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run directories or seed group directories")
    p.add_argument("--all-pairs", action="store_true", help="test every pair (default: each against the first)")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("-o", "--out", help="also save the comparison (.json, .csv or .md)")
    p.set_defaults(func=cmd_compare)
