"""Unimodal networks: pretrained text encoders and Conv1D + Transformer sequence encoders."""

from .pooling import pool
from .sequence import SequenceEncoder, TransformerEncoder
from .text import TEXT_BACKBONES, PretrainedTextEncoder, build_backbone, load_tokenizer

__all__ = ["TEXT_BACKBONES", "PretrainedTextEncoder", "SequenceEncoder", "TransformerEncoder",
           "build_backbone", "load_tokenizer", "pool"]
