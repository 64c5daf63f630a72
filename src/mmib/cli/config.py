"""``mmib config show | validate | reference``."""

from __future__ import annotations

import argparse
import sys

from .. import config as config_mod
from .common import add_config_args, config_from_args


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "reference":
        print(config_mod.reference_markdown(), end="")
        return 0
    from ..engine import check_config

    cfg = config_from_args(args)
    notes: list[str] = []  # what this machine lacks to train it (offline encoder, no data file): described
    name = args.config or "defaults"
    if args.action == "validate":
        check_config(cfg, source=args.config or "", notes=notes)  # every registry name, the pairings, the data
        print(f"{name}: valid" + (f"; to train it here, {len(notes)} thing(s) to fix first:" if notes else ""))
        for n in notes:
            print(f"  - {n}")
    else:
        check_config(cfg, data=False, source=args.config or "", notes=notes)
        print(cfg.to_toml(), end="")
        for n in notes:  # on stderr: the TOML on stdout stays a config file
            print(f"mmib config: note: {name}: {n}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show, validate or document configs")
    p.add_argument("action", choices=["show", "validate", "reference"])
    add_config_args(p)
    p.set_defaults(func=cmd_config)
