"""The text-encoder registry: what ``model.text_encoder`` names.

A :class:`TextEncoderSpec` says what the text path reads (``tokens``: a pretrained backbone
with its tokenizer; ``vectors``: precomputed word vectors through a Conv1D + Transformer,
the glove path), how to build the backbone and how to load the tokenizer. Names that are not
registered are Hugging Face model names or local folders (:func:`mmib.encoders.text_encoder_spec`).
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
    check: ``fn() -> reason or None``: why the encoder cannot load here, without loading it
        (``mmib config validate`` refuses the name at once with that reason).
    """

    description: str
    input: Literal["tokens", "vectors"] = "tokens"
    backbone: Callable[[bool], Backbone] | None = None
    tokenizer: Callable[[], Any] | None = None
    source: str | None = None
    check: Callable[[], str | None] | None = None

    @property
    def reads_tokens(self) -> bool:
        return self.input == "tokens"


TEXT_ENCODERS: Registry[TextEncoderSpec] = Registry("text encoder", key="model.text_encoder")


__all__ = ["TEXT_ENCODERS", "Backbone", "TextEncoderSpec"]
