"""Models: the MIB variants, their IB head and typed outputs; ``build_model`` from a config."""

from __future__ import annotations

from ..config import ExperimentConfig
from ..encoders import build_backbone
from ..registry import Registry
from .ib import IBHead
from .mib import MIBModel, check_fusion
from .outputs import MIBOutput, Posterior

VARIANTS: Registry[str] = Registry("variant")
for _name, _doc in (
    ("emib", "E-MIB: fuse, then one IB head on the fused vector"),
    ("lmib", "L-MIB: an IB head per modality, fuse the codes, decode"),
    ("cmib", "C-MIB: IB heads per modality and on the fused vector"),
    ("bmib", "B-MIB: E-MIB with the constraint removed (beta = 0)"),
    ("noib", "W/O IB: unimodal networks and fusion, no IB heads"),
):
    VARIANTS.register(_name)(_doc)


def build_model(
    cfg: ExperimentConfig,
    dims: dict[str, int],
    out_dim: int,
    *,
    pretrained: bool = True,
    text_source: str | None = None,
) -> MIBModel:
    """Build the model a config describes. ``pretrained=False`` skips loading pretrained text
    weights (a checkpoint supplies them); ``text_source`` overrides where the text encoder's
    architecture and tokenizer are read from (a run directory's copy)."""
    VARIANTS.get(cfg.model.variant)
    check_fusion(cfg.model)  # fail before loading a text encoder
    backbone = None
    if "text" in cfg.data.modalities and cfg.model.text_encoder != "glove":
        backbone = build_backbone(text_source or cfg.model.text_encoder, pretrained=pretrained)
    model = MIBModel(cfg.model, cfg.data.modalities, dims, out_dim, backbone)
    if cfg.model.freeze_text_encoder:
        for p in model.text_parameters():
            p.requires_grad_(False)
    return model


__all__ = ["VARIANTS", "IBHead", "MIBModel", "MIBOutput", "Posterior", "build_model"]
