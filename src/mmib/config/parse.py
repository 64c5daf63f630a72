"""TOML in, typed config out: coercion against the annotations, files, and dotted-key
overrides (``section.key=value``), all through one setter, :func:`set_values`."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Mapping, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ._checks import ConfigError
from .schema import ExperimentConfig


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _list_example(key: str, value: Any) -> str:
    items = [str(v).strip() for v in value.split(",")] if isinstance(value, str) else ["a", "b"]
    return f"--set '{key}={json.dumps(items)}'"


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it (ints widen to floats)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table of {tp.__name__} fields, got {value!r}")
        return _from_dict(tp, value, key)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {_type_name(item_tp)}, got {value!r} "
                              f"(e.g. {_list_example(key, value)})")
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r} (e.g. --set '{key}={{rank = 4}}')")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")  # pragma: no cover


def _from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for k in data:
        if k not in names:
            where = f"{prefix}." if prefix else ""
            raise ConfigError(f"unknown key {where}{k}; expected one of: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in data.items()}
    return cls(**kwargs)  # the section's __post_init__ checks the values


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Build and check a config from a nested dict (missing keys take defaults)."""
    return _from_dict(ExperimentConfig, data)


def load(path: str | Path) -> ExperimentConfig:
    """Read a TOML config file; errors name the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def loads(text: str) -> ExperimentConfig:
    """A config from TOML text (a run's saved config)."""
    try:
        return from_dict(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML ({e})") from None


def parse_value(text: str) -> Any:
    """Parse an override's right-hand side as a TOML value, falling back to a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_values(cfg: ExperimentConfig, values: Mapping[str, Any], *, origin: str = "override") -> ExperimentConfig:
    """A copy of ``cfg`` with dotted keys set to already-parsed values, then checked.

    The one dotted-key setter: overrides, CLI flags and sweep cells all come through here.
    ``origin`` names where the keys came from in errors (override, --grid)."""
    data = cfg.to_dict()
    for key, value in values.items():
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"{origin} {key!r}: {p!r} is not a config section")
            node = node[p]
        if parts[-1] not in node:
            choices = ", ".join(sorted(node))
            if origin == "--grid":
                raise ConfigError(f"--grid {key.strip()}: unknown key; expected one of: {choices} "
                                  "(see mmib config reference)")
            raise ConfigError(f"unknown key {key.strip()}; expected one of: {choices}")
        node[parts[-1]] = value
    return from_dict(data)


def set_value(cfg: ExperimentConfig, key: str, value: Any) -> ExperimentConfig:
    """Set one dotted key to an already-parsed value (see :func:`set_values`)."""
    return set_values(cfg, {key: value})


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["section.key=value", ...]`` (values in TOML syntax) -> {dotted key: value}."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. objective.beta=1e-4")
        key, text = item.split("=", 1)
        out[key.strip()] = parse_value(text.strip())
    return out


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Apply ``section.key=value`` overrides (values in TOML syntax) and re-check."""
    return set_values(cfg, parse_overrides(overrides))


__all__ = ["ConfigError", "apply_overrides", "from_dict", "load", "loads", "parse_overrides", "parse_value",
           "set_value", "set_values", "tomllib"]
