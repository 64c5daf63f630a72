"""Conv1D + pre-LayerNorm Transformer encoder for feature sequences (acoustic, visual, GloVe).

Notation: B batch, T steps, D input features, d model width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import attention
from .dropout import Dropout, keep_mask  # noqa: F401  (re-exported: mmib.encoders.sequence.Dropout)


def sinusoidal_positions(T: int, d: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(T, d) sinusoidal position table (sin on the first half of the dims, cos on the second)."""
    half = d // 2
    freq = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -(math.log(10000.0) / max(half - 1, 1)))
    pos = torch.arange(T, device=device, dtype=torch.float32)[:, None] * freq[None, :]
    table = torch.cat([pos.sin(), pos.cos()], dim=1)
    if d % 2:
        table = F.pad(table, (0, 1))
    return table.to(dtype)


class EncoderLayer(nn.Module):
    """Pre-LN self-attention + ReLU feed-forward (width 4d) with the paper's dropouts."""

    def __init__(self, d: int, n_heads: int, attn_dropout: float, res_dropout: float, relu_dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.attn_dropout = attn_dropout
        self.in_proj = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.ln_attn = nn.LayerNorm(d)
        self.ln_ff = nn.LayerNorm(d)
        self.res_dropout = Dropout(res_dropout)
        self.relu_dropout = Dropout(relu_dropout)

    def forward(self, x: torch.Tensor, attend: torch.Tensor | None) -> torch.Tensor:
        # x: (B, T, d); attend: (B, 1, 1, T) bool, True where a key may be attended, or None
        B, T, d = x.shape
        h = self.ln_attn(x)
        q, k, v = self.in_proj(h).view(B, T, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = attention(q, k, v, attend, self.attn_dropout if self.training else 0.0)  # (B, H, T, d/H)
        x = x + self.res_dropout(self.out_proj(a.transpose(1, 2).reshape(B, T, d)))
        h = self.relu_dropout(F.relu(self.fc1(self.ln_ff(x))))
        return x + self.res_dropout(self.fc2(h))


class TransformerEncoder(nn.Module):
    """Input scaled by sqrt(d) plus sinusoidal positions, n pre-LN layers, final LayerNorm."""

    def __init__(self, d: int, n_layers: int = 3, n_heads: int = 5, attn_dropout: float = 0.5,
                 res_dropout: float = 0.3, relu_dropout: float = 0.3, embed_dropout: float = 0.2):
        super().__init__()
        self.scale = math.sqrt(d)
        self.embed_dropout = Dropout(embed_dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(d, n_heads, attn_dropout, res_dropout, relu_dropout) for _ in range(n_layers)
        )
        self.ln = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, T, d); mask: (B, T) bool valid steps, None = attend everywhere
        T = x.shape[1]
        x = self.embed_dropout(self.scale * x + sinusoidal_positions(T, x.shape[2], x.device, x.dtype))
        attend = None if mask is None else mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, attend)
        return self.ln(x)


class SequenceEncoder(nn.Module):
    """Conv1D(D -> d, kernel 3, padding 1, no bias) then the Transformer: (B, T, D) -> (B, T, d)."""

    def __init__(self, in_dim: int, d: int, *, use_mask: bool = True, **transformer_options):
        super().__init__()
        self.use_mask = use_mask
        self.conv = nn.Conv1d(in_dim, d, kernel_size=3, padding=1, bias=False)
        self.transformer = TransformerEncoder(d, **transformer_options)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.use_mask:
            x = x * mask[..., None].to(x.dtype)  # padding contributes exact zeros to the conv
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.transformer(h, mask if self.use_mask else None)
