"""Graph fusion (after ARGF's graph fusion network, Mai et al. AAAI 2020).

The modalities are the nodes of a graph whose higher layers hold their interactions:

- unimodal layer: u = sum_m alpha_m x_m with alpha = softmax_m(s_m), s_m = tanh(w . x_m + c)
  a learned importance score of each modality;
- bimodal layer: a node b_ij = tanh(MLP([x_i; x_j])) per pair, weighted by
  softmax over pairs of s_ij = (s_i + s_j) / (<softmax(x_i), softmax(x_j)> + 0.5): the learned
  scores of the two modalities, raised when the pair is dissimilar (more complementary);
- trimodal layer: a node t = tanh(Linear([b_ij; x_k])) per pair and third modality k, weighted
  the same way with s_ijk = (s_ij + s_k) / (<softmax(b_ij), softmax(x_k)> + 0.5).

The layers that exist (one with one modality, two with two, three with three or more) are
averaged and projected to ``out_dim``. Inputs must share one width.
Notation: B batch, D the shared input width.
"""

from __future__ import annotations

from itertools import combinations

import torch
from torch import nn

from .registry import FUSIONS


def _affinity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (B, 1): inner product of the softmax-normalised vectors, in (0, 1]."""
    return (a.softmax(-1) * b.softmax(-1)).sum(-1, keepdim=True)


def _weighted(nodes: list[torch.Tensor], scores: list[torch.Tensor]) -> torch.Tensor:
    """nodes: each (B, D), scores: each (B, 1) -> (B, D), the softmax(scores)-weighted sum."""
    w = torch.cat(scores, dim=1).softmax(dim=1)  # (B, N)
    return (torch.stack(nodes, dim=1) * w[..., None]).sum(1)


@FUSIONS.register("graph")
class GraphFusion(nn.Module):
    """Options: ``hidden`` width of the bimodal node MLP (default: the input width)."""

    def __init__(self, in_dims: list[int], out_dim: int, hidden: int | None = None):
        super().__init__()
        if not in_dims or len(set(in_dims)) != 1:
            raise ValueError(f"fusion 'graph': needs one or more inputs of one width, got {in_dims}")
        d = in_dims[0]
        hidden = hidden or d
        self.n = len(in_dims)
        self.score = nn.Linear(d, 1)
        # only the layers the number of modalities allows (no parameters that never train)
        if self.n >= 2:
            self.pair = nn.Sequential(nn.Linear(2 * d, hidden), nn.ReLU(), nn.Linear(hidden, d), nn.Tanh())
        if self.n >= 3:
            self.triple = nn.Sequential(nn.Linear(2 * d, d), nn.Tanh())
        self.out = nn.Linear(d, out_dim)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        s = [torch.tanh(self.score(x)) for x in xs]  # each (B, 1)
        layers = [_weighted(xs, s)]  # unimodal layer (B, D)
        if self.n >= 2:
            pairs = list(combinations(range(self.n), 2))
            b = {(i, j): self.pair(torch.cat([xs[i], xs[j]], -1)) for i, j in pairs}
            sb = {(i, j): (s[i] + s[j]) / (_affinity(xs[i], xs[j]) + 0.5) for i, j in pairs}
            layers.append(_weighted([b[p] for p in pairs], [sb[p] for p in pairs]))
            if self.n >= 3:
                nodes, scores = [], []
                for p in pairs:
                    for k in range(self.n):
                        if k in p:
                            continue
                        nodes.append(self.triple(torch.cat([b[p], xs[k]], -1)))
                        scores.append((sb[p] + s[k]) / (_affinity(b[p], xs[k]) + 0.5))
                layers.append(_weighted(nodes, scores))
        return self.out(torch.stack(layers).mean(0))  # (B, out_dim)
