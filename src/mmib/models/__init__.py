"""Models: the MIB variants (a registry of specs), their IB head and typed outputs;
``build_model`` from a config."""

from __future__ import annotations

from torch import nn

from ..config import ExperimentConfig
from ..encoders import text_encoder_spec
from ..registry import import_parts
from .ib import IBHead
from .mib import MIBModel, check_fusion
from .outputs import MIBOutput, Posterior
from .variants import VARIANTS, VariantSpec, constraint_weight


def build_model(
    cfg: ExperimentConfig,
    dims: dict[str, int],
    out_dim: int,
    *,
    pretrained: bool = True,
    text_source: str | None = None,
) -> nn.Module:
    """Build the model a config describes. ``pretrained=False`` skips loading pretrained text
    weights (a checkpoint supplies them); ``text_source`` overrides where the text encoder's
    architecture is read from (a run directory's copy)."""
    spec = VARIANTS.get(cfg.model.variant)
    check_fusion(cfg.model)  # fail before loading a text encoder
    backbone = None
    if "text" in cfg.data.modalities:
        text = text_encoder_spec(cfg.model.text_encoder)
        if text.reads_tokens:
            source = text_encoder_spec(text_source) if text_source else text
            backbone = source.backbone(pretrained)
    builder = spec.builder or MIBModel
    model = builder(cfg.model, cfg.data.modalities, dims, out_dim, backbone, spec=spec)
    if cfg.model.freeze_text_encoder:
        for p in model.text_parameters():
            p.requires_grad_(False)
    return model


import_parts(__name__)

__all__ = ["VARIANTS", "IBHead", "MIBModel", "MIBOutput", "Posterior", "VariantSpec", "build_model",
           "check_fusion", "constraint_weight"]
