"""The MIB model family assembled from parts: unimodal encoders -> bottlenecks -> fusion.

Which bottlenecks a variant has comes from its :class:`~mmib.models.variants.VariantSpec`
(emib: fused; lmib: per modality; cmib: both; bmib: E-MIB's; noib: none). The model holds
no optimiser, no beta and no device.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ConfigError, ModelConfig
from ..encoders import Backbone, PretrainedTextEncoder, SequenceEncoder, pool
from ..fusion import FUSIONS, build_fusion, fuses_posteriors
from .ib import IBHead
from .outputs import MIBOutput, Posterior
from .variants import VARIANTS, VariantSpec, variants_with_unimodal_ib


def check_fusion(cfg: ModelConfig) -> None:
    """The variant / fusion pairing: a posterior fusion (``poe``) needs per-modality
    posteriors, which only variants with unimodal IBs have, and every modality's; unimodal
    IBs can only be removed from a variant that has them. Raises ConfigError."""
    spec = VARIANTS.get(cfg.variant)
    posterior = fuses_posteriors(cfg.fusion)
    if posterior and not spec.unimodal_ib:
        vector = ", ".join(n for n in FUSIONS.names() if not fuses_posteriors(n))
        raise ConfigError(
            f"model.fusion = {cfg.fusion!r} fuses per-modality Gaussian posteriors, which variant "
            f"{cfg.variant!r} does not have; use model.variant = "
            f"{' or '.join(repr(v) for v in variants_with_unimodal_ib())}, or a vector fusion ({vector})")
    if posterior and cfg.no_ib_modalities:
        raise ConfigError(
            f"model.no_ib_modalities: expected an empty list with model.fusion = {cfg.fusion!r} (a product "
            f"of experts needs every modality's posterior), got {cfg.no_ib_modalities!r}")
    if cfg.no_ib_modalities and not spec.unimodal_ib:
        raise ConfigError(
            f"model.no_ib_modalities: expected an empty list unless model.variant is "
            f"{' or '.join(variants_with_unimodal_ib())} (only they have unimodal IBs), got {cfg.no_ib_modalities!r}")


def build_encoders(cfg: ModelConfig, modalities: list[str], dims: dict[str, int],
                   backbone: Backbone | None) -> nn.ModuleDict:
    """One unimodal encoder per modality: the pretrained text encoder for token-id text (when
    a backbone is given), Conv1D + Transformer for feature sequences."""
    masked = cfg.pooling == "masked"
    transformer = dict(n_layers=cfg.n_layers, n_heads=cfg.n_heads, attn_dropout=cfg.attn_dropout,
                       res_dropout=cfg.res_dropout, relu_dropout=cfg.relu_dropout, embed_dropout=cfg.embed_dropout)
    encoders = nn.ModuleDict()
    for m in modalities:
        if m == "text" and backbone is not None:
            encoders[m] = PretrainedTextEncoder(backbone.model, backbone.hidden_size, cfg.d, use_mask=masked,
                                                partial_last_layer=cfg.text_partial_last_layer)
        else:
            if dims.get(m, 0) <= 0:
                raise ValueError(f"modality {m!r} needs a feature dim > 0 (got {dims.get(m)}); "
                                 "token-id text needs a pretrained text encoder")
            encoders[m] = SequenceEncoder(dims[m], cfg.d, use_mask=masked, **transformer)
    return encoders


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
        *,
        spec: VariantSpec | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        self.spec = spec = spec or VARIANTS.get(cfg.variant)
        self.modalities = list(modalities)
        d = cfg.d
        self.encoders = build_encoders(cfg, self.modalities, dims, backbone)
        check_fusion(cfg)
        self.fuses_posteriors = fuses_posteriors(cfg.fusion)
        # modalities with a unimodal bottleneck (lmib / cmib; Table V removes it from some)
        self.ib_modalities = ([m for m in self.modalities if m not in cfg.no_ib_modalities]
                              if spec.unimodal_ib else [])
        if self.ib_modalities:
            self.unimodal_ib = nn.ModuleDict({m: IBHead(d, cfg.ib_hidden) for m in self.ib_modalities})
            self.unimodal_decoders = nn.ModuleDict({m: nn.Linear(d, out_dim) for m in self.ib_modalities})
        self.fusion = build_fusion(cfg.fusion, [d] * len(self.modalities), d, **cfg.fusion_options)
        if spec.fused_ib:
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
        if self.spec.fused_ib:
            post = self.fused_ib(fused, sample)
            posteriors["fused"] = post
            fused = post.z
        heads["fused"] = self.decoder(fused)
        return MIBOutput(prediction=heads["fused"], heads=heads, posteriors=posteriors,
                         unimodal=unimodal, fused=fused, fusion_posterior=fusion_posterior)

    def bottlenecks(self) -> dict[str, tuple[int, int]]:
        """Every constrained bottleneck by the name its posterior has in ``MIBOutput.posteriors``:
        (input dim, code dim). A trainable constraint builds one estimator per entry."""
        out = {m: (self.cfg.d, self.cfg.d) for m in self.ib_modalities}
        if self.spec.fused_ib:
            out["fused"] = (self.cfg.d, self.cfg.d)
        return out

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
