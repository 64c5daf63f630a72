"""``mmib tune`` (hyper-parameter search on Optuna) and ``mmib study show`` (a shared study's progress)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_config_args, add_quiet, config_from_args, echo


def cmd_tune(args: argparse.Namespace) -> int:
    from ..studies import parse_seeds
    from ..studies.tune import load_space, run_tune

    cfg = config_from_args(args)
    space = load_space(args.space, cfg)
    seeds = parse_seeds(args.seeds, cfg.train.seed) if args.seeds else None
    res = run_tune(cfg, space, args.trials, storage=args.storage, study_name=args.study, metric=args.metric,
                   seeds=seeds, log=print, train_log=echo(args))
    _print_tune(res)
    return 0


def _print_tune(res: dict[str, Any]) -> None:
    from ..metrics import headline_keys
    from ..report.tables import render_table

    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(res["states"].items()))
    print(f"\nstudy {res['study']}: {counts}; objective {res['metric']} on valid ({res['direction']})")
    if "best" not in res:
        print("no trial has finished yet")
        return
    b = res["best"]
    print(f"best trial {b['number']}: {res['metric']} = {b['value']:.4f}  " +
          " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in b["params"].items()))
    print(f"best config: {res['best_config']} (retrain: mmib train -c {res['best_config']})")
    print("test metrics of the best trial (reported once, never used to choose):")
    test = res["best_test"]
    print(render_table([(f"trial-{b['number']}", test)], headline_keys(test)))


def cmd_study_show(args: argparse.Namespace) -> int:
    from ..report import sweeps
    from ..studies.shared import sweep_progress
    from ..studies.storage import describe_url, kind, load_study
    from ..studies.tune import summarize_tune

    study = load_study(args.storage, args.study)
    what = study.user_attrs.get("kind", "study")
    print(f"{what} {study.study_name!r} in {describe_url(args.storage)}")
    if what == "sweep":
        res = sweep_progress(study)
        print(f"cells: {res['done']}/{res['total']} finished, {res['running']} running, {res['failed']} failed "
              "(retried)")
        if res["cells"]:
            print()
            print(sweeps.table(res, markdown=args.markdown))
    else:
        _print_tune(summarize_tune(study, export=False))
    url = args.storage if kind(args.storage) != "sqlite" or args.storage.startswith("sqlite:") else \
        f"sqlite:///{Path(args.storage).resolve()}"
    print(f"\ndashboard: pip install optuna-dashboard && optuna-dashboard {describe_url(url)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="hyper-parameter search on Optuna: trials are runs, the objective a validation "
                                    "metric, pruning per epoch, the best config exported (docs/scaling.md)")
    add_config_args(p)
    p.add_argument("--space", required=True, metavar="SPACE.toml",
                   help="the searched keys and ranges (the paper's: configs/spaces/paper.toml)")
    p.add_argument("--trials", type=int, required=True, metavar="N",
                   help="finished (complete or pruned) trials the study should hold, over all workers")
    p.add_argument("--storage", metavar="URL", help="where the study lives (default: sqlite <out_dir>/<study>/"
                                                    "study.db); workers sharing it share the trials")
    p.add_argument("--study", metavar="NAME", help="the study's name (default: the config's name)")
    p.add_argument("--metric", help="validation quantity to optimise (default: train.select_metric, or task/fused "
                                    "when that is the loss: beta x KL in the loss would favour a small beta)")
    p.add_argument("--seeds", metavar="N|LIST", help="train each trial with several seeds (a seed group); the "
                                                     "objective is their mean")
    add_quiet(p)
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("study", help="shared studies: mmib study show --storage URL --study NAME")
    ss = p.add_subparsers(dest="study_command", required=True)
    q = ss.add_parser("show", help="progress, best trials, the sweep table so far, where to point optuna-dashboard")
    q.add_argument("--storage", required=True, metavar="URL")
    q.add_argument("--study", required=True, metavar="NAME")
    q.add_argument("--markdown", action="store_true", help="the table as Markdown")
    q.set_defaults(func=cmd_study_show)
