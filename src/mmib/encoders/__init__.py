"""Unimodal networks: pretrained text encoders (a registry of specs) and Conv1D + Transformer
sequence encoders for acoustic, visual and word-vector inputs."""

from ..registry import import_parts
from .pooling import pool
from .registry import TEXT_ENCODERS, Backbone, TextEncoderSpec
from .resolve import build_backbone, load_tokenizer, text_encoder_spec
from .sequence import SequenceEncoder, TransformerEncoder
from .text import PretrainedTextEncoder

import_parts(__name__)

__all__ = ["TEXT_ENCODERS", "Backbone", "PretrainedTextEncoder", "SequenceEncoder", "TextEncoderSpec",
           "TransformerEncoder", "build_backbone", "load_tokenizer", "pool", "text_encoder_spec"]
