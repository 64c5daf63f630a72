"""The text-encoder registry: what ``model.text_encoder`` names.

A :class:`TextEncoderSpec` says what the text path reads (``tokens``: a pretrained backbone
with its tokenizer; ``vectors``: precomputed word vectors through a Conv1D + Transformer,
the glove path), how to build the backbone and how to load the tokenizer. Names that are not
registered are Hugging Face model names or local folders (:func:`text_encoder_spec`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from torch import nn

from ..registry import Registry


@dataclass
class Backbone:
    """A pretrained text backbone and the width of its hidden states."""

    model: nn.Module
    hidden_size: int


@dataclass(frozen=True)
class TextEncoderSpec:
    """One text encoder.

    input: ``tokens`` (a backbone over token ids) or ``vectors`` (feature vectors, no backbone).
    backbone: ``fn(pretrained) -> Backbone``; ``pretrained=False`` builds the architecture
        only (a checkpoint supplies the weights).
    tokenizer: ``fn() -> tokenizer`` (a Hugging Face tokenizer).
    source: where a Hugging Face entry's files are (a model name or a folder), if any.
    """

    description: str
    input: Literal["tokens", "vectors"] = "tokens"
    backbone: Callable[[bool], Backbone] | None = None
    tokenizer: Callable[[], Any] | None = None
    source: str | None = None

    @property
    def reads_tokens(self) -> bool:
        return self.input == "tokens"


TEXT_ENCODERS: Registry[TextEncoderSpec] = Registry("text encoder", key="model.text_encoder")


def text_encoder_spec(name: str) -> TextEncoderSpec:
    """The spec of a registered name, else a Hugging Face model name or local folder."""
    if name in TEXT_ENCODERS:
        return TEXT_ENCODERS.get(name)
    from .huggingface import hf_spec

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


__all__ = ["TEXT_ENCODERS", "Backbone", "TextEncoderSpec", "build_backbone", "load_tokenizer",
           "text_encoder_spec"]
