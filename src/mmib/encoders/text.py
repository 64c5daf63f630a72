"""The pretrained text encoder module: a Hugging Face backbone then Conv1D to d.

Which backbone ``model.text_encoder`` names is resolved by the registry
(:mod:`mmib.encoders.registry`).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import use_fast_attention
from .dropout import swap_dropout
from .last_layer import last_hidden_at, padded_ids, supports_partial_last_layer


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
        swap_dropout(backbone)  # cheaper masks on CPU (encoders/dropout.py); no weights change
        use_fast_attention(backbone)  # the faster attention kernel on CPU (encoders/attention.py)
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
        runs only at the two steps the conv reads there (:mod:`mmib.encoders.last_layer`), and
        cached backbone states are read at those two steps only; otherwise the whole
        sequence is computed and the step picked."""
        lengths = mask.long().sum(1).clamp(min=1)
        rows = torch.arange(ids.shape[0], device=ids.device)
        if self._layout_ok is None:
            self._layout_ok = supports_partial_last_layer(self.backbone)
        # torch.compile traces the plain path: the partial one swaps modules inside forward
        compiling = getattr(torch.compiler, "is_compiling", lambda: False)()
        cached = ids.is_floating_point()  # backbone states from the frozen-encoder cache
        partial = self.partial_last_layer and self._layout_ok and not compiling
        if not self.use_mask or not (cached or partial):
            return self.forward(ids, mask)[rows, lengths - 1]
        steps = torch.stack([(lengths - 2).clamp(min=0), lengths - 1], 1)
        if cached:
            h = ids[rows[:, None], steps]  # (B, 2, H)
        else:
            h = last_hidden_at(self.backbone, ids, mask, steps)  # (B, 2, H)
        h_prev = h[:, 0] * (lengths >= 2)[:, None].to(h.dtype)  # a 1-step sequence reads the conv's zero pad
        w = self.conv.weight  # (d, H, 3); step L reads zeros (padding), so tap 2 drops out
        return h_prev @ w[:, :, 0].T + h[:, 1] @ w[:, :, 1].T

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if ids.is_floating_point():  # cached backbone states (B, L, H)
            h = ids
        else:
            h = self.backbone(input_ids=padded_ids(self.backbone, ids, mask), attention_mask=mask.long()).last_hidden_state
        if self.use_mask:
            h = h * mask[..., None].to(h.dtype)  # padded states must not leak through the conv
        return self.conv(h.transpose(1, 2)).transpose(1, 2)
