"""The ``mmib`` command: a thin layer that parses, calls one library function and prints.

Each module here holds a few subcommands and a ``register(subparsers)`` function; add a
module to ``COMMAND_MODULES`` to add commands.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from ..config import ConfigError

COMMAND_MODULES: list[str] = ["train", "predict", "studies", "tune", "plot", "export", "data", "extract", "model", "config",
                              "serve"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmib", description="Multimodal Information Bottleneck toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
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
    except (ConfigError, OSError, ValueError, KeyError, RuntimeError, ImportError) as e:
        print(f"mmib {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2


def _message(e: BaseException) -> str:
    """One line: a KeyError's text without quotes; an OSError as ``path: what happened``."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, OSError) and e.filename and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


__all__ = ["COMMAND_MODULES", "build_parser", "main"]
