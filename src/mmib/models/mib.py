"""The MIB model family assembled from parts: unimodal encoders -> bottlenecks -> fusion.

Variants (method.md): ``emib`` fuse then one IB head; ``lmib`` an IB head per modality,
fuse the codes, decode; ``cmib`` both; ``bmib`` E-MIB's architecture (trained with
beta = 0 by the objective); ``noib`` the same encoders and fusion with no IB heads.
The model holds no optimiser, no beta and no device.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ConfigError, ModelConfig
from ..encoders import PretrainedTextEncoder, SequenceEncoder, pool
from ..encoders.text import Backbone
from ..fusion import build_fusion, fuses_posteriors
from .ib import IBHead
from .outputs import MIBOutput, Posterior

PER_MODALITY_IB = ("lmib", "cmib")
FUSED_IB = ("emib", "bmib", "cmib")


def check_fusion(cfg: ModelConfig) -> None:
    """A posterior fusion (``poe``) needs per-modality posteriors: only lmib and cmib have them."""
    if fuses_posteriors(cfg.fusion) and cfg.variant not in PER_MODALITY_IB:
        raise ConfigError(
            f"model.fusion = {cfg.fusion!r} fuses per-modality Gaussian posteriors, which variant "
            f"{cfg.variant!r} does not have; use model.variant = 'lmib' or 'cmib', or a vector "
            "fusion (concat, addition, multiplication, tensor, lowrank, graph)")
    if fuses_posteriors(cfg.fusion) and cfg.no_ib_modalities:
        raise ConfigError(
            f"model.fusion = {cfg.fusion!r} fuses every modality's posterior; it cannot be used with "
            f"model.no_ib_modalities = {cfg.no_ib_modalities!r}")


class MIBModel(nn.Module):
    """Unimodal encoders -> (per-modality IB heads) -> fusion -> (fused IB head) -> decoder.

    ``forward(inputs, masks, sample=None) -> MIBOutput``; inputs[m] are (B, T) token ids or
    (B, T, D_m) features, masks[m] (B, T) bool; ``sample`` draws z (default: in training).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        modalities: list[str],
        dims: dict[str, int],
        out_dim: int,
        backbone: Backbone | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        self.modalities = list(modalities)
        d = cfg.d
        masked = cfg.pooling == "masked"
        transformer = dict(n_layers=cfg.n_layers, n_heads=cfg.n_heads, attn_dropout=cfg.attn_dropout,
                           res_dropout=cfg.res_dropout, relu_dropout=cfg.relu_dropout,
                           embed_dropout=cfg.embed_dropout)
        self.encoders = nn.ModuleDict()
        for m in self.modalities:
            if m == "text" and backbone is not None:
                self.encoders[m] = PretrainedTextEncoder(backbone.model, backbone.hidden_size, d, use_mask=masked,
                                                         partial_last_layer=cfg.text_partial_last_layer)
            else:
                if dims.get(m, 0) <= 0:
                    raise ValueError(f"modality {m!r} needs a feature dim > 0 (got {dims.get(m)}); "
                                     "token-id text needs a pretrained text encoder")
                self.encoders[m] = SequenceEncoder(dims[m], d, use_mask=masked, **transformer)
        check_fusion(cfg)
        self.fuses_posteriors = fuses_posteriors(cfg.fusion)
        # modalities with a unimodal bottleneck (lmib / cmib; Table V removes it from some)
        self.ib_modalities = ([m for m in self.modalities if m not in cfg.no_ib_modalities]
                              if cfg.variant in PER_MODALITY_IB else [])
        if self.ib_modalities:
            self.unimodal_ib = nn.ModuleDict({m: IBHead(d, cfg.ib_hidden) for m in self.ib_modalities})
            self.unimodal_decoders = nn.ModuleDict({m: nn.Linear(d, out_dim) for m in self.ib_modalities})
        self.fusion = build_fusion(cfg.fusion, [d] * len(self.modalities), d, **cfg.fusion_options)
        if cfg.variant in FUSED_IB:
            self.fused_ib = IBHead(d, cfg.ib_hidden)
        self.decoder = nn.Linear(d, out_dim)

    def encode(self, inputs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Unimodal representations: per modality (B, d), pooled as ``cfg.pooling`` says."""
        out = {}
        for m in self.modalities:
            enc = self.encoders[m]
            if self.cfg.pooling == "masked" and isinstance(enc, PretrainedTextEncoder):
                out[m] = enc.last_step(inputs[m], masks[m])  # the same, with less work
            else:
                out[m] = pool(enc(inputs[m], masks[m]), masks[m], self.cfg.pooling)
        return out

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        sample: bool | None = None,
    ) -> MIBOutput:
        """inputs/masks as in :class:`mmib.data.Batch`; ``sample`` draws z (default: in training)."""
        sample = self.training if sample is None else sample
        unimodal = self.encode(inputs, masks)
        heads: dict[str, torch.Tensor] = {}
        posteriors: dict[str, Posterior] = {}
        fusion_posterior = None
        for m in self.ib_modalities:
            post = self.unimodal_ib[m](unimodal[m], sample)
            posteriors[m] = post
            heads[m] = self.unimodal_decoders[m](post.z)
        codes = [posteriors[m].z if m in posteriors else unimodal[m] for m in self.modalities]
        if self.fuses_posteriors:
            # product of experts: fuse the Gaussians themselves, then draw the fused code
            mu, sigma = self.fusion([posteriors[m].mu for m in self.modalities],
                                    [posteriors[m].sigma for m in self.modalities])
            fused = mu + sigma * torch.randn_like(sigma) if sample else mu
            fusion_posterior = Posterior(x=mu, mu=mu, sigma=sigma, z=fused)
        else:
            fused = self.fusion(codes)  # (B, d)
        if self.cfg.variant in FUSED_IB:
            post = self.fused_ib(fused, sample)
            posteriors["fused"] = post
            fused = post.z
        heads["fused"] = self.decoder(fused)
        return MIBOutput(prediction=heads["fused"], heads=heads, posteriors=posteriors,
                         unimodal=unimodal, fused=fused, fusion_posterior=fusion_posterior)

    def text_parameters(self) -> list[nn.Parameter]:
        """Parameters of the pretrained text backbone (they get ``optim.text_lr``)."""
        enc = self.encoders["text"] if "text" in self.encoders else None
        if isinstance(enc, PretrainedTextEncoder):
            return list(enc.backbone.parameters())
        return []

    def param_groups(self, lr: float, text_lr: float, weight_decay: float = 0.0) -> list[dict]:
        text = self.text_parameters()
        text_ids = {id(p) for p in text}
        rest = [p for p in self.parameters() if id(p) not in text_ids and p.requires_grad]
        text = [p for p in text if p.requires_grad]
        groups = [{"params": rest, "lr": lr, "weight_decay": weight_decay, "name": "model"}]
        if text:
            groups.append({"params": text, "lr": text_lr, "weight_decay": weight_decay, "name": "text_encoder"})
        return groups
