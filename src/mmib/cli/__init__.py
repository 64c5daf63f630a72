"""The ``mmib`` command: a thin layer that parses, calls one library function and prints.

Each module here holds a few subcommands and a ``register(subparsers)`` function; add a
module to ``COMMAND_MODULES`` to add commands. Building the parser imports no torch, numpy
or registry: a module imports what its command needs inside the command function (and
registry names as :class:`~mmib.cli.common.LazyChoices`), so ``mmib --help`` starts at once
(tests/test_first_hour.py checks it for every subcommand).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sys
import threading
import warnings

from ..config import ConfigError

COMMAND_MODULES: list[str] = ["train", "predict", "studies", "tune", "plot", "export", "data", "extract", "model", "config",
                              "serve"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="mmib", description="Multimodal Information Bottleneck toolkit")
    parser.add_argument("--version", action="version", version=f"mmib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: one readable line, no source location."""
    return f"mmib: warning: {message} ({category.__name__})\n"


class Terminated(KeyboardInterrupt):
    """SIGTERM (SLURM preemption or time limit, ``kill``, a container stopping), raised where
    Ctrl-C raises KeyboardInterrupt, so that both stop the same way."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated("SIGTERM")


EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2, as a shell reports it."""
EXIT_TERMINATED = 143
"""SIGTERM: 128 + 15; a batch script can tell a stop it asked for (requeue) from a failure (2)."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.formatwarning = _one_line_warning
    # SIGTERM stops like Ctrl-C: the same safe points, one line with the resume command; also
    # in a job started with SIGINT ignored (`cmd &`, nohup), where Ctrl-C cannot reach it
    old = signal.signal(signal.SIGTERM, _on_sigterm) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        return args.func(args)
    except KeyboardInterrupt as e:
        term = isinstance(e, Terminated)
        print(f"\nmmib {args.command}: {'stopped by SIGTERM' if term else 'interrupted'}{_resume_hint(args, e)}",
              file=sys.stderr, flush=True)
        return EXIT_TERMINATED if term else EXIT_INTERRUPTED
    except (ConfigError, OSError, ValueError, KeyError, RuntimeError, ImportError) as e:
        print(f"mmib {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _resume_hint(args: argparse.Namespace, e: BaseException) -> str:
    """How to continue: the resume command of a single run, else the same command again."""
    if args.command == "train" and not args.seeds:
        run = getattr(e, "run_dir", None) or args.resume
        where = shlex.quote(str(run)) if run else "RUN_DIR (the run directory printed above)"
        return f"; every completed epoch is saved: continue with mmib train --resume {where}"
    if args.command in ("train", "repeat", "sweep", "paper"):
        return "; every completed epoch is saved: run the same command again to continue"
    return ""


def _message(e: BaseException) -> str:
    """One line: a KeyError's text without quotes; an OSError as ``path: what happened``."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, OSError) and e.filename and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


__all__ = ["COMMAND_MODULES", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "Terminated", "build_parser", "main"]
