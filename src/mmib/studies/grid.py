"""Grids of config values: parsing ``--grid KEY=V1,V2``, the cartesian product, and the names
cells get (row labels, directory names)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Iterable, Mapping, Sequence

from .. import config as config_mod
from ..config import ConfigError
from ..report.sweeps import describe, fmt, short_key

Grid = list[tuple[str, list[Any]]]

# keys that place runs or are varied by --seeds: a grid over them would break the layout
_RESERVED = ("name", "out_dir", "train.seed")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes: ``[],["text"]`` -> 2 items."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def parse_grid(specs: Iterable[str]) -> Grid:
    """``["model.variant=emib,lmib", "objective.beta=1e-3,0"]`` -> ordered (key, values).

    Values are TOML (``1e-3``, ``true``, ``["text", "audio"]``), falling back to bare strings."""
    grid: Grid = []
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"--grid {spec!r}: expected KEY=V1,V2,..., e.g. model.variant=emib,lmib")
        key, text = spec.split("=", 1)
        items = _split_top_level(text)
        if any(not x for x in items):
            raise ConfigError(f"--grid {spec!r}: an empty value (two commas in a row or a trailing comma)")
        grid.append((key.strip(), [config_mod.parse_value(x) for x in items]))
    return normalise_grid(grid)


def normalise_grid(grid: Mapping[str, Sequence[Any]] | Sequence[tuple[str, Sequence[Any]]]) -> Grid:
    """A dict or a list of pairs -> a checked list of (key, values)."""
    pairs = list(grid.items()) if isinstance(grid, Mapping) else list(grid)
    out: Grid = []
    for key, values in pairs:
        if key in _RESERVED:
            raise ConfigError(f"--grid {key}: cannot vary {key} in a sweep "
                              f"({'use --seeds' if key == 'train.seed' else 'it places the runs'})")
        if any(key == k for k, _ in out):
            raise ConfigError(f"--grid {key}: the key is given twice; list all its values in one --grid")
        values = list(values)
        if not values:
            raise ConfigError(f"--grid {key}: no values")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(f"--grid {key}: a value is listed twice ({values})")
        out.append((key, values))
    if not out:
        raise ConfigError("a sweep needs at least one --grid KEY=V1,V2,...")
    return out


def expand(grid: Grid) -> list[dict[str, Any]]:
    """The cartesian product, first key slowest: one {key: value} per cell."""
    keys = [k for k, _ in grid]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in grid))]


def row_label(values: dict[str, Any]) -> str:
    return " / ".join(fmt(v) for v in values.values())


def cell_name(values: dict[str, Any]) -> str:
    """The cell's directory name: ``variant=lmib,fusion=tensor`` (safe characters only)."""
    leaves = [short_key(k) for k in values]
    parts = []
    for (key, value), leaf in zip(values.items(), leaves):
        label = key if leaves.count(leaf) > 1 else leaf
        parts.append(f"{label}={re.sub(r'[^A-Za-z0-9._+-]', '_', fmt(value))}")
    return ",".join(parts)


__all__ = ["Grid", "cell_name", "describe", "expand", "fmt", "normalise_grid", "parse_grid", "row_label",
           "short_key"]
