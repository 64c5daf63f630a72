"""Typed experiment configuration: the schema (one dataclass per section, checked where its
fields are declared), TOML in and out with one dotted-key setter, and the reference page.

Names defined by registries (variants, fusions, datasets, ...) are checked one level up,
by :func:`mmib.engine.check_config`, which consults the registries themselves.
"""

from __future__ import annotations

from ._checks import MODALITIES, ConfigError
from .parse import (apply_overrides, from_dict, load, loads, parse_overrides, parse_value, set_value,
                    set_values, tomllib)
from .reference import describe, reference_markdown
from .schema import (DataConfig, EvalConfig, ExperimentConfig, ModelConfig, ObjectiveConfig, OptimConfig,
                     SynthConfig, TrainConfig)

__all__ = ["MODALITIES", "ConfigError", "DataConfig", "EvalConfig", "ExperimentConfig", "ModelConfig",
           "ObjectiveConfig", "OptimConfig", "SynthConfig", "TrainConfig", "apply_overrides", "describe",
           "from_dict", "load", "loads", "parse_overrides", "parse_value", "reference_markdown", "set_value",
           "set_values", "tomllib"]
