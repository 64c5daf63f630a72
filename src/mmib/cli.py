"""The ``mmib`` command: a thin layer mapping subcommands to library functions.

Subcommands live in small modules, each with ``register(subparsers)``; add a module to
``COMMAND_MODULES`` to add commands.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from pathlib import Path

from . import config as config_mod
from .config import ConfigError, ExperimentConfig

COMMAND_MODULES: list[str] = ["mmib.cli_data", "mmib.cli_eval", "mmib.cli_model", "mmib.cli_sweep"]  # more modules with a register(subparsers) function


def add_config_args(p: argparse.ArgumentParser) -> None:
    """--config FILE, --set KEY=VALUE and the common convenience flags."""
    p.add_argument("-c", "--config", help="TOML config file (default: built-in defaults)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set objective.beta=1e-4 (repeatable)")
    flags = p.add_argument_group("shortcuts for common keys")
    for flag, key, tp in CONVENIENCE:
        flags.add_argument(flag, dest=key.replace(".", "__"), type=tp, default=None, metavar=key.split(".")[-1].upper(),
                           help=f"same as --set {key}=...")


CONVENIENCE = [
    ("--name", "name", str), ("--out-dir", "out_dir", str), ("--dataset", "data.dataset", str),
    ("--data-path", "data.path", str), ("--variant", "model.variant", str),
    ("--fusion", "model.fusion", str), ("--text-encoder", "model.text_encoder", str),
    ("--beta", "objective.beta", float), ("--epochs", "train.epochs", int),
    ("--seed", "train.seed", int), ("--device", "train.device", str),
    ("--batch-size", "train.batch_size", int),
]


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    cfg = config_mod.load(args.config) if args.config else ExperimentConfig()
    cfg = config_mod.apply_overrides(cfg, args.set)
    for _, key, _ in CONVENIENCE:
        value = getattr(args, key.replace(".", "__"), None)
        if value is not None:
            cfg = config_mod.set_value(cfg, key, value)
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import fit

    if args.resume:
        fit(ExperimentConfig(), run_dir=Path(args.resume), resume=True, quiet=args.quiet)
        return 0
    if args.seeds:  # several seeds: the multi-seed runner (same as `mmib repeat`)
        from .cli_eval import cmd_repeat

        return cmd_repeat(args)
    cfg = config_from_args(args)
    if args.quiet:
        cfg = config_mod.set_value(cfg, "train.progress", False)
    fit(cfg, overwrite=args.overwrite, explicit_name=args.name is not None, quiet=args.quiet)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .engine import evaluate_run
    from .report import metrics_table

    rescore = [f'eval.convention="{args.convention}"'] if args.convention else []
    summary = evaluate_run(args.run_dir, overrides=rescore)
    print(metrics_table(summary, args.split))
    if args.json:
        print(json.dumps(summary[args.split], indent=2))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "reference":
        print(config_mod.reference_markdown(), end="")
        return 0
    cfg = config_from_args(args)
    if args.action == "validate":
        print(f"{args.config or 'defaults'}: valid")
    else:
        print(cfg.to_toml(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (model selection on valid, test of the best epoch)")
    add_config_args(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run that stopped (any moment, kill -9 too)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.add_argument("--seeds", metavar="N|LIST", help="train N seeds (or a comma list) into <out_dir>/<name>/"
                   "seed-<k> and report mean ± std (see mmib repeat)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="re-evaluate a saved run's selected checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--json", action="store_true", help="also print every metric as JSON")
    p.add_argument("--convention", choices=["mib", "mmsa", "mult"],
                   help="score under another sentiment metric convention (default: the run's eval.convention)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("config", help="show, validate or document configs")
    p.add_argument("action", choices=["show", "validate", "reference"])
    add_config_args(p)
    p.set_defaults(func=cmd_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmib", description="Multimodal Information Bottleneck toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: one readable line, no source location."""
    return f"mmib: warning: {message} ({category.__name__})\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.formatwarning = _one_line_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train" and not args.seeds:
            hint = ("; every completed epoch is saved: continue with mmib train --resume RUN_DIR "
                    "(the run directory printed above)")
        elif args.command in ("train", "repeat", "sweep", "paper"):
            hint = "; every completed epoch is saved: run the same command again to continue"
        print(f"\nmmib {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    except (ConfigError, FileNotFoundError, ValueError, KeyError, RuntimeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"mmib {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
