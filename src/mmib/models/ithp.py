"""ITHP, the information-theoretic hierarchical perception model (Xiao et al., ICLR 2024), as
the variant ``ithp``: a chain of variational bottlenecks from a prime modality.

In our words: the prime modality x_0 (``model.prime_modality``, default text) is encoded
and compressed into a code b_0 that must also predict the first detector modality x_1;
b_0 is compressed into b_1, which must predict x_2; and so on, one stage per detector
(``model.detectors``, in order). Stage k has

- a variational bottleneck p(b_k | b_{k-1}) (an :class:`~mmib.models.IBHead`; b_{-1} is the
  prime's unimodal vector), constrained like every bottleneck: ``kl/b<k>`` weighted by
  ``objective.beta`` (or any other constraint, CLUB and MINE included);
- a decoder q(x_{k+1} | b_k), a two-layer MLP whose mean squared error against the target
  of x_{k+1} is ``recon/b<k>``, weighted by ``objective.recon_weight``.

The loss is sum_k [beta * KL_k + recon_weight * MSE_k] + task loss, the Lagrangian of
"compress the prime, keep what predicts the detectors". The final code b_{K-1} is fused with
the prime's own vector by the configured vector fusion (``model.fusion``; ``addition`` is
the public code's residual "x + b"), and the fused vector is decoded for the task.

The target of a detector is fixed by the data, not learned (a learned target would collapse
to a constant): for feature sequences, the masked mean of its input frames, normalised
across features (a layer norm without parameters, so modalities of any scale weigh alike);
for token-id text, the text encoder's pooled output with no gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError, ExperimentConfig, ModelConfig
from ..encoders import Backbone
from ..fusion import build_fusion
from .ib import IBHead
from .mib import MIBModel, build_encoders
from .outputs import MIBOutput, Posterior
from .variants import VARIANTS, VariantSpec


def detector_order(cfg: ModelConfig, modalities: list[str]) -> list[str]:
    """The detectors in stage order: ``cfg.detectors``, or the non-prime modalities in data order."""
    return list(cfg.detectors) or [m for m in modalities if m != cfg.prime_modality]


def check_ithp(cfg: ExperimentConfig) -> None:
    """The prime modality is used, and the detectors are exactly the other modalities."""
    m, mods = cfg.model, list(cfg.data.modalities)
    if m.prime_modality not in mods:
        raise ConfigError(f"model.prime_modality: expected one of data.modalities = {mods} for variant 'ithp', "
                          f"got {m.prime_modality!r}")
    others = sorted(x for x in mods if x != m.prime_modality)
    if not others:
        raise ConfigError(f"data.modalities: variant 'ithp' needs at least two modalities (a prime and a detector), "
                          f"got {mods}")
    if m.detectors and sorted(m.detectors) != others:
        raise ConfigError(f"model.detectors: expected an order of the non-prime modalities {others} "
                          f"(or an empty list), got {list(m.detectors)!r}")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, T, D), mask (B, T) -> (B, D) the mean over valid steps (0 where none is valid)."""
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


class ITHPModel(MIBModel):
    """Prime encoder -> stage bottlenecks b_0 ... b_{K-1} (each reconstructing a detector) ->
    fusion of the prime's vector with the final code -> decoder. ``forward`` as :class:`MIBModel`'s; posteriors and
    reconstructions are named ``b0``, ``b1``, ..."""

    def __init__(
        self,
        cfg: ModelConfig,
        modalities: list[str],
        dims: dict[str, int],
        out_dim: int,
        backbone: Backbone | None = None,
        *,
        spec: VariantSpec | None = None,
    ):
        nn.Module.__init__(self)
        self.cfg = cfg
        self.spec = spec or VARIANTS.get("ithp")
        self.prime = cfg.prime_modality
        self.detectors = detector_order(cfg, list(modalities))
        if self.prime not in modalities or sorted(self.detectors) != sorted(m for m in modalities if m != self.prime):
            raise ConfigError(f"model.prime_modality / model.detectors: {self.prime!r} and {self.detectors} do not "
                              f"split data.modalities = {list(modalities)}")
        d = cfg.d
        # encoders: the prime's, and a token-id text detector's (its target is its pooled output)
        tokens = "text" in modalities and backbone is not None
        self.modalities = [self.prime] + (["text"] if tokens and self.prime != "text" else [])
        self.encoders = build_encoders(cfg, self.modalities, dims, backbone)
        self.target_dims = {m: (d if m in self.encoders else dims[m]) for m in self.detectors}
        self.ib_modalities: list[str] = []  # no per-modality heads (MIBModel's name, for shared code)
        self.fuses_posteriors = False
        self.stages = nn.ModuleList([IBHead(d, cfg.ib_hidden) for _ in self.detectors])
        self.reconstructors = nn.ModuleList([
            nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, self.target_dims[m])) for m in self.detectors])
        self.fusion = build_fusion(cfg.fusion, [d, d], d, **cfg.fusion_options)  # the prime, the final code
        self.decoder = nn.Linear(d, out_dim)

    def stage_names(self) -> list[str]:
        return [f"b{k}" for k in range(len(self.detectors))]

    def bottlenecks(self) -> dict[str, tuple[int, int]]:
        return {n: (self.cfg.d, self.cfg.d) for n in self.stage_names()}

    def target(self, m: str, inputs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
               encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        """What stage reconstructing ``m`` must predict, (B, D): fixed by the data (no gradient)."""
        if m in encoded:  # token-id text: its encoder's pooled output, as a constant
            return encoded[m].detach()
        x = masked_mean(inputs[m].float(), masks[m])
        return F.layer_norm(x, x.shape[-1:]).detach()

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        sample: bool | None = None,
    ) -> MIBOutput:
        sample = self.training if sample is None else sample
        encoded = self.encode(inputs, masks)
        prime = h = encoded[self.prime]
        posteriors: dict[str, Posterior] = {}
        reconstructions: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for k, (name, m) in enumerate(zip(self.stage_names(), self.detectors)):
            post = self.stages[k](h, sample)
            posteriors[name] = post
            reconstructions[name] = (self.reconstructors[k](post.z), self.target(m, inputs, masks, encoded))
            h = post.z
        fused = self.fusion([prime, h])
        pred = self.decoder(fused)
        return MIBOutput(prediction=pred, heads={"fused": pred}, posteriors=posteriors,
                         unimodal={self.prime: encoded[self.prime]}, fused=fused,
                         reconstructions=reconstructions)


VARIANTS.add("ithp", VariantSpec(
    "ITHP: a chain of bottlenecks from the prime modality, each reconstructing the next detector "
    "(Xiao et al., ICLR 2024)", chained_ib=True, builder=ITHPModel, check=check_ithp))

__all__ = ["ITHPModel", "check_ithp", "detector_order", "masked_mean"]
