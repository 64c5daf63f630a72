"""What the subcommands share: the config arguments and building the config from them."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Sequence

from .. import config as config_mod
from ..config import ExperimentConfig


class LazyChoices:
    """argparse ``choices`` read from a registry only when a value is checked or the
    subcommand's help is shown, so that building the parser imports no registry (and no torch).
    Give the argument a ``metavar`` (argparse would list the choices at once without one) and
    ``%(choices)s`` in its help."""

    def __init__(self, names: Callable[[], Sequence[str]]) -> None:
        self._names = names
        self._cache: tuple[str, ...] | None = None

    def _all(self) -> tuple[str, ...]:
        if self._cache is None:
            self._cache = tuple(self._names())
        return self._cache

    def __contains__(self, value: object) -> bool:
        return value in self._all()

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def say(message: str) -> None:
    """A result line on stdout, flushed at once (a log file shows it as it happens)."""
    print(message, flush=True)


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


CONVENIENCE: list[tuple[str, str, Callable[[str], Any]]] = [
    ("--name", "name", str), ("--out-dir", "out_dir", str), ("--dataset", "data.dataset", str),
    ("--data-path", "data.path", str), ("--modalities", "data.modalities", _list),
    ("--variant", "model.variant", str), ("--fusion", "model.fusion", str),
    ("--text-encoder", "model.text_encoder", str), ("--beta", "objective.beta", float),
    ("--epochs", "train.epochs", int), ("--seed", "train.seed", int), ("--device", "train.device", str),
    ("--batch-size", "train.batch_size", int),
]
"""(flag, config key, parser): flags for the keys people set most."""

_HELP = {"data.modalities": "comma list, e.g. text,audio (same as --set 'data.modalities=[\"text\", \"audio\"]')",
         "model.text_encoder": "minilm (default, offline), mpnet (all-mpnet-base-v2, offline with mmib[mpnet]), "
                               "bert-base-config, a Hugging Face name or a local folder (docs/models.md)"}


def add_config_args(p: argparse.ArgumentParser) -> None:
    """--config FILE, --set KEY=VALUE and the common convenience flags."""
    p.add_argument("-c", "--config", help="TOML config file (default: built-in defaults)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set objective.beta=1e-4 (repeatable)")
    flags = p.add_argument_group("shortcuts for common keys")
    for flag, key, tp in CONVENIENCE:
        flags.add_argument(flag, dest=key.replace(".", "__"), type=tp, default=None,
                           metavar=key.split(".")[-1].upper(), help=_HELP.get(key, f"same as --set {key}=..."))


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars or per-epoch lines (the results still print)")


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """{config key: value} of the convenience flags that were given."""
    return {key: getattr(args, key.replace(".", "__")) for _, key, _ in CONVENIENCE
            if getattr(args, key.replace(".", "__"), None) is not None}


def config_from_args(args: argparse.Namespace, fixed: Sequence[str] = (), default_suffix: str | None = None,
                     ) -> ExperimentConfig:
    """The config file, then ``fixed`` overrides (a preset's), then --set, then the flags;
    ``-q`` turns progress bars off. ``default_suffix``: without --name the config's name gets
    ``-<suffix>`` (a sweep's folder)."""
    cfg = config_mod.load(args.config) if getattr(args, "config", None) else ExperimentConfig()
    cfg = config_mod.apply_overrides(cfg, list(fixed) + list(getattr(args, "set", [])))
    values = flag_values(args)
    if default_suffix and args.name is None:
        values["name"] = f"{cfg.name}-{default_suffix}"
    if getattr(args, "quiet", False):
        values["train.progress"] = False
    return config_mod.set_values(cfg, values, origin="flag") if values else cfg


def explicitly_set(args: argparse.Namespace, key: str) -> bool:
    """Whether the command line itself set ``key`` (by flag or --set)."""
    return key in flag_values(args) or any(s.split("=", 1)[0].strip() == key for s in getattr(args, "set", []))


def echo(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Where progress lines go: stdout, or nowhere with -q."""
    return None if getattr(args, "quiet", False) else say


__all__ = ["CONVENIENCE", "LazyChoices", "add_config_args", "add_quiet", "config_from_args", "echo", "explicitly_set",
           "flag_values", "say"]
