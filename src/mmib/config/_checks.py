"""Value checks used by the config sections' ``__post_init__``: each raises ConfigError
naming the full key, what was expected and what was given."""

from __future__ import annotations

import math
from typing import Any, Sequence


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key and what was expected."""


MODALITIES = ("text", "audio", "visual")


def need(ok: bool, key: str, expected: str, got: Any) -> None:
    if not ok:
        raise ConfigError(f"{key}: expected {expected}, got {got!r}")


def choice(value: Any, key: str, choices: Sequence[str]) -> None:
    need(value in choices, key, "one of " + ", ".join(choices), value)


def number(value: float, key: str, *, low: float = 0.0, strict: bool = False, high: float | None = None,
           what: str = "") -> None:
    """A finite number >= low (> low when ``strict``), <= high when given."""
    bound = f"> {low:g}" if strict else f">= {low:g}"
    need(math.isfinite(value), key, f"a finite value {bound} (inf and nan cannot train)", value)
    need(value > low if strict else value >= low, key, what or f"a value {bound}", value)
    if high is not None:
        need(value <= high, key, what or f"a value <= {high:g} (larger is not a sensible setting)", value)


def integer(value: int, key: str, low: int, high: int | None = None) -> None:
    ok = value >= low and (high is None or value <= high)
    need(ok, key, f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]", value)


def probability(value: float, key: str) -> None:
    need(math.isfinite(value) and 0 <= value < 1, key, "a probability in [0, 1)", value)


def modality_list(value: list[str], key: str, *, allow_empty: bool) -> None:
    example = f"(e.g. --set '{key}=[\"text\", \"audio\"]'" + (", or --modalities text,audio)"
                                                               if key == "data.modalities" else ")")
    need(allow_empty or len(value) > 0, key, f"a non-empty subset of text, audio, visual {example}", value)
    need(all(x in MODALITIES for x in value) and len(set(value)) == len(value), key,
         f"distinct names among text, audio, visual {example}", value)
