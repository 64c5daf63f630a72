"""``mmib config show | validate | reference``."""

from __future__ import annotations

import argparse

from .. import config as config_mod
from .common import add_config_args, config_from_args


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "reference":
        print(config_mod.reference_markdown(), end="")
        return 0
    from ..engine import check_config

    cfg = config_from_args(args)
    if args.action == "validate":
        check_config(cfg, source=args.config or "")  # every registry name, the pairings, the data file
        print(f"{args.config or 'defaults'}: valid")
    else:
        check_config(cfg, data=False, source=args.config or "")
        print(cfg.to_toml(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show, validate or document configs")
    p.add_argument("action", choices=["show", "validate", "reference"])
    add_config_args(p)
    p.set_defaults(func=cmd_config)
