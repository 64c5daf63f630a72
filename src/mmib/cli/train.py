"""``mmib train`` and ``mmib evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_config_args, add_quiet, config_from_args, echo


def cmd_train(args: argparse.Namespace) -> int:
    from ..config import ExperimentConfig
    from ..engine import check_config, fit
    from ..engine.distributed import is_main
    from ..report import metrics_table

    if args.resume:
        res = fit(ExperimentConfig(), run_dir=Path(args.resume), resume=True, log=echo(args),
                  allow_world_size_change=args.allow_world_size_change)
    elif args.seeds:  # several seeds: the multi-seed runner (same as `mmib repeat`)
        from .studies import cmd_repeat

        return cmd_repeat(args)
    else:
        cfg = check_config(config_from_args(args), source=args.config or "")
        res = fit(cfg, overwrite=args.overwrite, explicit_name=args.name is not None, log=echo(args))
    if is_main():  # under torchrun every rank gets the result; one prints it
        print(metrics_table(res.summary))  # always, -q too: the result is what the command is for
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..engine import evaluate_run
    from ..report import metrics_table

    rescore = [f'eval.convention="{args.convention}"'] if args.convention else []
    summary = evaluate_run(args.run_dir, overrides=rescore)
    print(metrics_table(summary, args.split))
    if args.json:
        print(json.dumps(summary[args.split], indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (model selection on valid, test of the best epoch)")
    add_config_args(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run that stopped (any moment, kill -9 too)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    p.add_argument("--allow-world-size-change", action="store_true",
                   help="with --resume under torchrun: continue with another number of processes than the run "
                        "was saved with (docs/scaling.md)")
    add_quiet(p)
    p.add_argument("--seeds", metavar="N|LIST", help="train N seeds (or a comma list) into <out_dir>/<name>/"
                   "seed-<k> and report mean ± std (see mmib repeat)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="re-evaluate a saved run's selected checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--json", action="store_true", help="also print every metric as JSON")
    p.add_argument("--convention", help="score under another sentiment metric convention, e.g. mib, mmsa, "
                                        "mult (default: the run's eval.convention)")
    p.set_defaults(func=cmd_evaluate)
