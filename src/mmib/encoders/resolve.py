"""``model.text_encoder`` value -> its spec, backbone and tokenizer."""

from __future__ import annotations

from .huggingface import hf_spec
from .registry import TEXT_ENCODERS, Backbone, TextEncoderSpec


def text_encoder_spec(name: str) -> TextEncoderSpec:
    """The spec of a registered name, else a Hugging Face model name or local folder."""
    if name in TEXT_ENCODERS:
        return TEXT_ENCODERS.get(name)
    return hf_spec(name)


def build_backbone(name: str, pretrained: bool = True) -> Backbone:
    """The backbone of a ``model.text_encoder`` value (registry name, else HF name/path)."""
    spec = text_encoder_spec(name)
    if spec.backbone is None:
        raise ValueError(f"model.text_encoder {name!r} reads feature vectors; it has no backbone")
    return spec.backbone(pretrained)


def load_tokenizer(name: str):
    """The tokenizer of a text encoder, or None for a feature-vector path (glove)."""
    spec = text_encoder_spec(name)
    return spec.tokenizer() if spec.tokenizer is not None else None


__all__ = ["build_backbone", "load_tokenizer", "text_encoder_spec"]
