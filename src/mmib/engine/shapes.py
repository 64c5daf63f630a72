"""A model built from a config alone, with the feature dims its dataset usually has: no data
is read and no weights are downloaded (``mmib model summary``, the shipped-config checks)."""

from __future__ import annotations

from torch import nn

from .. import config as config_mod
from ..config import ConfigError, ExperimentConfig
from ..data.datasets import resolve as resolve_dataset
from ..encoders import text_encoder_spec
from ..models import build_model
from ..objectives import output_dim


def typical_dims(cfg: ExperimentConfig, *, explicit_text_encoder: bool = False,
                 dims: dict[str, int | None] | None = None) -> tuple[ExperimentConfig, dict[str, int], int]:
    """(config, feature dims, output width) of the dataset ``cfg`` names, from its spec.

    The dataset's usual text encoder replaces the default one unless ``explicit_text_encoder``;
    ``dims`` entries that are not None replace the dataset's."""
    name, spec = resolve_dataset(cfg.data)
    if spec.text_encoder and not explicit_text_encoder \
            and cfg.model.text_encoder == config_mod.ModelConfig.text_encoder:
        cfg = config_mod.set_value(cfg, "model.text_encoder", spec.text_encoder)
    vectors = not text_encoder_spec(cfg.model.text_encoder).reads_tokens
    given = {k: v for k, v in (dims or {}).items() if v is not None}
    out = {"text": given.get("text", spec.dims.get("text", 300)) if vectors else 0,
           "audio": given.get("audio", spec.dims.get("audio", 0)),
           "visual": given.get("visual", spec.dims.get("visual", 0))}
    for m in cfg.data.modalities:
        if m != "text" and out[m] <= 0:
            raise ConfigError(f"{name}: no usual {m} feature dim is known; give --{m}-dim")
    kind = spec.label_kind(cfg.data.labels, name)
    task = spec.task(kind) if cfg.objective.task == "auto" else cfg.objective.task
    n_labels = len(spec.emotions) if kind in ("emotions", "classes") else 1
    return cfg, out, output_dim(task, n_labels)


def build_unloaded(cfg: ExperimentConfig, dims: dict[str, int], out_dim: int) -> nn.Module:
    """The model of ``cfg`` with its text encoder's architecture only (random weights)."""
    return build_model(cfg, dims, out_dim, pretrained=False)


__all__ = ["build_unloaded", "typical_dims"]
