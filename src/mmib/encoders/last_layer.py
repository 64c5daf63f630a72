"""The text encoder's last layer, computed only where masked pooling reads it.

With masked pooling the text representation is the Conv1D output (kernel 3, padding 1) at
each utterance's last valid step L-1. That output reads the backbone's last hidden states
at steps L-2 and L-1 only (step L is padding, zeroed before the conv, or the conv's own
zero padding). The backbone's last layer still needs keys and values at every step, but its
queries, attention output and feed-forward block are needed at those two steps alone. For
a BERT-style encoder that skips about 10/12 of one layer for all but two tokens: ~6% of
bert-base's FLOPs at MOSI's ~15 tokens per utterance, ~12% of MiniLM's (6 layers). The
result is the same function (float rounding aside), forward and backward; dropout in the
skipped positions is simply never drawn.

Applies to Hugging Face BERT-layout encoders (``encoder.layer[i]`` with
``attention.self.{query,key,value}``, ``attention.output``, ``intermediate``, ``output``)
with absolute positions and no decoder: BERT (any vocabulary, e.g. Chinese), RoBERTa, XLM-R
and ELECTRA (:data:`PARTIAL_FAMILIES`), and to MPNet (``attention.attn.{q,k,v,o}``): its
relative position bias depends on the query and key positions only, never on the content,
so the last layer's rows at the two steps take the bias rows of those steps
(``encoder.compute_position_bias``, the model's own function). Anything else, e.g.
DeBERTa-v2/v3 whose disentangled relative attention adds content-dependent position terms
to every score, runs the whole backbone.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .attention import attention

PARTIAL_FAMILIES = ("bert", "roberta", "xlm-roberta", "electra")
_LAYOUT = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output",
           "intermediate", "output")
_MPNET_LAYOUT = ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                 "attention.LayerNorm", "intermediate", "output")


def supports_partial_last_layer(backbone: nn.Module) -> bool:
    """Whether :func:`last_hidden_at` can run on ``backbone``."""
    config = getattr(backbone, "config", None)
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if config is None or not isinstance(layers, nn.ModuleList) or len(layers) < 1:
        return False
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False  # relative positions add terms to the attention scores
    if getattr(config, "model_type", "") == "mpnet":
        names = {n for n, _ in layers[-1].named_modules()}
        return all(n in names for n in _MPNET_LAYOUT) and hasattr(backbone.encoder, "compute_position_bias") \
            and hasattr(layers[-1].attention.attn, "attention_head_size")
    if getattr(config, "model_type", "") not in PARTIAL_FAMILIES:
        return False
    last = layers[-1]
    names = {n for n, _ in last.named_modules()}
    attn = getattr(getattr(last, "attention", None), "self", None)
    return all(n in names for n in _LAYOUT) and hasattr(attn, "num_attention_heads") \
        and hasattr(attn, "attention_head_size")


def padded_ids(backbone: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``ids`` (B, T) with the padding steps set to the backbone's own pad id. Batches pad with
    0, which is a real token for RoBERTa / XLM-R (``<s>``; their pad is 1): their position ids
    count the non-pad tokens, so the padding must carry the pad id for the positions to be
    those the model was trained with (valid steps never attend to padding either way)."""
    pad = getattr(getattr(backbone, "config", None), "pad_token_id", None)
    return ids if not pad else ids.masked_fill(~mask.bool(), pad)


@contextmanager
def _without_last_layer(backbone: nn.Module) -> Iterator[nn.Module]:
    """The backbone runs all but its last layer inside the block (the layer is yielded)."""
    encoder = backbone.encoder
    layers = encoder.layer
    encoder.layer = nn.ModuleList(list(layers)[:-1])
    try:
        yield layers[-1]
    finally:
        encoder.layer = layers


def _attend_at(attn: nn.Module, projections: tuple[nn.Module, nn.Module, nn.Module], x: torch.Tensor,
               mask: torch.Tensor, positions: torch.Tensor,
               bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-attention of the queries at ``positions`` (B, P) over the valid steps of ``mask``
    (B, T) bool, given the layer input x (B, T, H); ``projections``: the query, key and value
    maps; ``bias``: added scores (B, heads, P, T) or None. Returns (context (B, P, H), the
    inputs at the positions (B, P, H), for the residual)."""
    B, T, H = x.shape
    heads, size = attn.num_attention_heads, attn.attention_head_size
    query, key, value = projections
    rows = torch.arange(B, device=x.device)[:, None]
    xq = x[rows, positions]  # (B, P, H)
    q = query(xq).view(B, -1, heads, size).transpose(1, 2)
    k = key(x).view(B, T, heads, size).transpose(1, 2)
    v = value(x).view(B, T, heads, size).transpose(1, 2)
    if bias is None:
        scores = mask[:, None, None, :]
    else:
        scores = bias.to(q.dtype).masked_fill(~mask[:, None, None, :], torch.finfo(q.dtype).min)
    p = attn.dropout.p if attn.training and hasattr(attn, "dropout") else 0.0
    ctx = attention(q, k, v, scores, p, scale=size ** -0.5)
    return ctx.transpose(1, 2).reshape(B, -1, heads * size), xq


def _layer_at(layer: nn.Module, x: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """One BERT layer's output at ``positions`` (B, P) given its input x (B, T, H), attending
    over the valid steps of ``mask`` (B, T) bool."""
    attn = layer.attention.self
    ctx, xq = _attend_at(attn, (attn.query, attn.key, attn.value), x, mask, positions)
    a = layer.attention.output(ctx, xq)  # dense, dropout, LayerNorm(+ residual)
    return layer.output(layer.intermediate(a), a)  # feed-forward, dropout, LayerNorm(+ residual)


def _mpnet_layer_at(layer: nn.Module, encoder: nn.Module, x: torch.Tensor, mask: torch.Tensor,
                    positions: torch.Tensor) -> torch.Tensor:
    """:func:`_layer_at` for an MPNet layer: the scores also get the relative position bias
    (heads, query step, key step), the same for every layer and every sequence."""
    attn = layer.attention.attn
    bias = encoder.compute_position_bias(x[:1])[0]  # (heads, T, T)
    bias = bias[:, positions].permute(1, 0, 2, 3)  # (B, heads, P, T)
    ctx, xq = _attend_at(attn, (attn.q, attn.k, attn.v), x, mask, positions, bias)
    a = layer.attention.LayerNorm(layer.attention.dropout(attn.o(ctx)) + xq)
    return layer.output(layer.intermediate(a), a)


def last_hidden_at(backbone: nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                   positions: torch.Tensor) -> torch.Tensor:
    """The backbone's last hidden states at ``positions`` (B, P): (B, P, H), the same as
    ``backbone(ids, mask).last_hidden_state`` gathered there."""
    with _without_last_layer(backbone) as last:
        x = backbone(input_ids=padded_ids(backbone, ids, mask), attention_mask=mask.long()).last_hidden_state
    if getattr(backbone.config, "model_type", "") == "mpnet":
        return _mpnet_layer_at(last, backbone.encoder, x, mask.bool(), positions)
    return _layer_at(last, x, mask.bool(), positions)
