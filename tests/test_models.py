"""The MIB model family: every variant x fusion trains, any modality subset works, beta = 0
is the task loss alone, inference is deterministic by default, masked pooling ignores
padding, the glove text path and the product-of-experts wiring."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from mmib import config as config_mod
from mmib.config import ConfigError
from mmib.data import collate
from mmib.data.synth import generate
from mmib.encoders import build_backbone, load_tokenizer
from mmib.encoders import Backbone
from mmib.engine import check_config
from mmib.engine.loop import predict
from mmib.fusion import FUSIONS, fuses_posteriors
from mmib.models import VARIANTS, IBHead, MIBModel, build_model
from mmib.objectives import CONSTRAINTS, build_objective

TINY = ["model.text_encoder='tiny-config'", "model.d=10", "model.n_heads=2", "model.ib_hidden=16",
        "data.synth.n_train=32", "data.synth.n_valid=8", "data.synth.n_test=8"]
ALL = ["text", "audio", "visual"]


def tiny_cfg(*overrides: str) -> config_mod.ExperimentConfig:
    return config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + list(overrides))


@pytest.fixture(scope="module")
def data():
    return generate(tiny_cfg().data, load_tokenizer("tiny-config"))


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    torch.manual_seed(0)
    return build_backbone("tiny-config", pretrained=False)


def make_model(cfg, data, backbone: Backbone, modalities=ALL) -> MIBModel:
    """A fresh model with its own copy of the shared tiny text backbone (same start weights)."""
    torch.manual_seed(0)
    bb = Backbone(copy.deepcopy(backbone.model), backbone.hidden_size)
    builder = VARIANTS.get(cfg.model.variant).builder or MIBModel
    return builder(cfg.model, list(modalities), data.dims, 1, bb)


def batch_of(data, n: int = 24, modalities=ALL):
    return collate(data.train[:n], list(modalities))


def eval_loss(model, objective, batch) -> float:
    """The objective's total loss at evaluation (z = mu, no dropout)."""
    model.eval()
    with torch.no_grad():
        return float(objective(model(batch.inputs, batch.masks), batch.labels)["loss"])


COMBOS = [(v, f) for v, f in itertools.product(VARIANTS.names(), FUSIONS.names())
          if VARIANTS.get(v).unimodal_ib or not fuses_posteriors(f)]


@pytest.mark.parametrize("variant,fusion", COMBOS)
def test_every_variant_and_fusion_trains(data, backbone, variant: str, fusion: str) -> None:
    cfg = tiny_cfg(f"model.variant='{variant}'", f"model.fusion='{fusion}'")
    model = make_model(cfg, data, backbone)
    objective = build_objective(cfg, "regression")
    batch = batch_of(data, 16)

    before = eval_loss(model, objective, batch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(8):
        terms = objective(model(batch.inputs, batch.masks), batch.labels)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
    after = eval_loss(model, objective, batch)
    assert after < before, f"{variant} + {fusion}: loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("variant,constraint", [(v, c) for c in CONSTRAINTS.names() for v in ("cmib", "ithp")])
def test_every_constraint_trains_in_the_engine_step(data, backbone, variant: str, constraint: str) -> None:
    """Each registered constraint (the trainable estimators included, with their networks in the
    optimiser's own group, as the engine builds it) lowers the loss with the engine's train step."""
    from mmib.engine.loop import train_step

    cfg = tiny_cfg(f"model.variant='{variant}'", f"objective.constraint='{constraint}'", "objective.beta=0.1")
    model = make_model(cfg, data, backbone)
    objective = build_objective(cfg, "regression", model.bottlenecks())
    assert set(objective.estimators) == (set(model.bottlenecks()) if objective.trainable else set())
    groups = model.param_groups(1e-2, 1e-2)
    if objective.trainable:
        groups.append({"params": list(objective.parameters()), "lr": 1e-2})
    opt = torch.optim.Adam(groups)
    batch = batch_of(data, 16)

    before = eval_loss(model, objective, batch)
    start = [p.detach().clone() for p in objective.parameters()]
    model.train()
    for _ in range(8):
        terms = train_step(model, objective, opt, batch)
    after = eval_loss(model, objective, batch)
    assert after < before, f"{variant} + {constraint}: loss {before:.4f} -> {after:.4f}"
    if objective.trainable:  # the estimators learned in the same step
        assert "estimator" in terms and any(not torch.equal(a, b) for a, b in zip(start, objective.parameters()))


@pytest.mark.parametrize("variant", ["emib", "bmib", "noib"])
def test_poe_needs_per_modality_posteriors(data, backbone, variant: str) -> None:
    cfg = tiny_cfg(f"model.variant='{variant}'", "model.fusion='poe'")
    with pytest.raises(ConfigError, match="model.fusion = 'poe'.*lmib"):
        build_model(cfg, data.dims, 1)


SUBSETS = [["text"], ["audio"], ["visual"], ["text", "audio"], ["audio", "visual"], ["text", "visual"]]


@pytest.mark.parametrize("fusion,modalities", list(itertools.product(FUSIONS.names(), SUBSETS)))
def test_any_modality_subset_with_every_fusion(data, backbone, fusion: str, modalities: list[str]) -> None:
    variant = "cmib" if fuses_posteriors(fusion) else "emib"
    cfg = tiny_cfg(f"model.variant='{variant}'", f"model.fusion='{fusion}'",
                   f"data.modalities={modalities!r}".replace("'", '"'))
    model = make_model(cfg, data, backbone, modalities)
    assert set(model.encoders) == set(modalities)
    batch = batch_of(data, 6, modalities)
    out = model(batch.inputs, batch.masks)
    assert out.prediction.shape == (6, 1)
    terms = build_objective(cfg, "regression")(out, batch.labels)
    terms["loss"].backward()
    for m in modalities:
        grads = [p.grad for p in model.encoders[m].parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), f"no gradient reaches the {m} encoder"


def test_variant_structure(data, backbone) -> None:
    heads = {"emib": {"fused"}, "bmib": {"fused"}, "noib": {"fused"},
             "lmib": {"text", "audio", "visual", "fused"}, "cmib": {"text", "audio", "visual", "fused"},
             "ithp": {"fused"}}
    posts = {"emib": {"fused"}, "bmib": {"fused"}, "noib": set(),
             "lmib": {"text", "audio", "visual"}, "cmib": {"text", "audio", "visual", "fused"},
             "ithp": {"b0", "b1"}}
    batch = batch_of(data, 4)
    for v in VARIANTS.names():
        out = make_model(tiny_cfg(f"model.variant='{v}'"), data, backbone)(batch.inputs, batch.masks)
        assert set(out.heads) == heads[v] and set(out.posteriors) == posts[v], v
        assert set(out.unimodal) == ({"text"} if v == "ithp" else set(ALL)) and out.fused.shape == (4, 10)


def test_bmib_objective_is_the_task_loss(data, backbone) -> None:
    cfg = tiny_cfg("model.variant='bmib'", "objective.beta=0.5")
    objective = build_objective(cfg, "regression")
    assert objective.beta == 0.0
    model = make_model(cfg, data, backbone)
    batch = batch_of(data, 8)
    model.train()
    torch.manual_seed(1)
    terms = objective(model(batch.inputs, batch.masks), batch.labels)
    assert "kl/fused" in terms and float(terms["kl/fused"].detach()) > 0  # still logged
    assert torch.equal(terms["loss"], terms["task/fused"])


def test_beta_zero_gradients_equal_the_task_loss_gradients(data, backbone) -> None:
    """With beta = 0 the bottleneck adds no gradient: C-MIB's update is that of its task heads
    alone, exactly what the no-IB baseline's objective (the task loss) gives."""
    cfg = tiny_cfg("model.variant='cmib'", "objective.beta=0")
    model = make_model(cfg, data, backbone)
    objective = build_objective(cfg, "regression")
    batch = batch_of(data, 8)
    model.train()

    def grads(loss_of) -> list[torch.Tensor]:
        model.zero_grad()
        torch.manual_seed(3)  # same dropout masks and eps draws in both passes
        loss_of(objective(model(batch.inputs, batch.masks), batch.labels)).backward()
        return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]

    full = grads(lambda t: t["loss"])
    task = grads(lambda t: sum(v for k, v in t.items() if k.startswith("task/")))
    for a, b in zip(full, task):
        assert torch.equal(a, b)
    # and a positive beta does change them
    cfg = tiny_cfg("model.variant='cmib'", "objective.beta=1")
    objective = build_objective(cfg, "regression")
    with_kl = grads(lambda t: t["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(full, with_kl))


def test_inference_is_deterministic_by_default(data, backbone) -> None:
    model = make_model(tiny_cfg("model.variant='cmib'"), data, backbone)
    kw = dict(modalities=ALL, batch_size=8, pad_to=None, device=torch.device("cpu"))
    examples = data.test
    a = predict(model, examples, **kw)
    b = predict(model, examples, **kw)
    assert (a.pred == b.pred).all()
    s1 = predict(model, examples, inference="sample", **kw)
    s2 = predict(model, examples, inference="sample", **kw)
    assert not (s1.pred == s2.pred).all()
    mc = predict(model, examples, inference="mc", mc_samples=8, **kw)
    assert not (mc.pred == a.pred).all()
    # eval-mode forward without sampling reads z = mu: the same twice, and equal to mu
    model.eval()
    batch = batch_of(data, 4)
    out1, out2 = model(batch.inputs, batch.masks), model(batch.inputs, batch.masks)
    assert torch.equal(out1.prediction, out2.prediction)
    assert torch.equal(out1.posteriors["fused"].z, out1.posteriors["fused"].mu)


def test_ib_head() -> None:
    torch.manual_seed(0)
    head = IBHead(6, hidden=32)
    x = torch.randn(5, 6)
    post = head(x, sample=False)
    h = head.encoder(x)
    assert torch.allclose(post.mu, head.mu(h))
    assert torch.allclose(post.sigma, torch.nn.functional.softplus(head.sigma(h) - 5))
    assert (post.sigma > 0).all() and torch.equal(post.z, post.mu) and post.x is x
    torch.manual_seed(1)
    drawn = head(x, sample=True)
    torch.manual_seed(1)
    h = head.encoder(x)
    eps = torch.randn(5, 6)
    assert torch.allclose(drawn.z, drawn.mu + drawn.sigma * eps)


@pytest.mark.parametrize("pooling", ["masked", "last"])
def test_masked_pooling_ignores_padding(data, backbone, pooling: str) -> None:
    cfg = tiny_cfg("model.variant='cmib'", f"model.pooling='{pooling}'")
    model = make_model(cfg, data, backbone).eval()
    lengths = [len(ex.inputs["text"]) for ex in data.train]
    short, long = data.train[lengths.index(min(lengths))], data.train[lengths.index(max(lengths))]
    assert min(lengths) < max(lengths)
    alone = collate([short], ALL)
    padded = collate([short, long], ALL)
    with torch.no_grad():
        p_alone = model(alone.inputs, alone.masks).prediction[0]
        p_padded = model(padded.inputs, padded.masks).prediction[0]
    if pooling == "masked":
        assert torch.allclose(p_alone, p_padded, atol=1e-5)
    else:  # the reference code's behaviour: padding changes the prediction
        assert not torch.allclose(p_alone, p_padded, atol=1e-5)


def test_glove_text_path_trains() -> None:
    cfg = tiny_cfg("model.text_encoder='glove'", "model.variant='cmib'")
    glove = generate(cfg.data, None)  # no tokenizer: 300-d word vectors for text
    assert glove.dims["text"] == 300
    model = build_model(cfg, glove.dims, 1)
    assert type(model.encoders["text"]).__name__ == "SequenceEncoder"
    assert model.encoders["text"].conv.weight.shape == (10, 300, 3)
    assert model.text_parameters() == []
    objective = build_objective(cfg, "regression")
    batch = collate(glove.train[:16], ALL)
    assert batch.inputs["text"].dtype == torch.float32
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        return objective(model(batch.inputs, batch.masks), batch.labels)["loss"]

    model.eval()
    with torch.no_grad():
        before = float(loss())
    model.train()
    for _ in range(10):
        opt.zero_grad()
        loss().backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert float(loss()) < before


def test_poe_fused_code_is_the_product_of_the_unimodal_posteriors(data, backbone) -> None:
    model = make_model(tiny_cfg("model.variant='lmib'", "model.fusion='poe'"), data, backbone).eval()
    batch = batch_of(data, 4)
    out = model(batch.inputs, batch.masks)
    precision = 1 + sum(out.posteriors[m].sigma.pow(-2) for m in ALL)
    mu = sum(out.posteriors[m].mu * out.posteriors[m].sigma.pow(-2) for m in ALL) / precision
    assert torch.allclose(out.fused, mu, rtol=1e-3, atol=1e-5)  # float32, precisions ~1e4
    assert torch.allclose(out.fusion_posterior.sigma, precision.rsqrt(), rtol=1e-3)
    assert "fused" not in out.posteriors  # L-MIB puts no constraint on the fused code
    model.train()
    drawn = model(batch.inputs, batch.masks)
    assert not torch.equal(drawn.fused, drawn.fusion_posterior.mu)


def test_freeze_text_encoder(data) -> None:
    cfg = tiny_cfg("model.freeze_text_encoder=true")
    model = build_model(cfg, data.dims, 1, pretrained=False)
    assert model.text_parameters() and not any(p.requires_grad for p in model.text_parameters())
    groups = model.param_groups(1e-3, 1e-5)
    assert [g["name"] for g in groups] == ["model"]


def test_table5_removes_one_modality_ib(data, backbone) -> None:
    """C-MIB without the audio bottleneck: no audio posterior, head or constraint; audio's
    representation reaches the fusion as it is (the fused vector depends on it) and trains."""
    cfg = tiny_cfg("model.variant='cmib'", "model.no_ib_modalities=['audio']")
    model = make_model(cfg, data, backbone)
    assert set(model.unimodal_ib) == {"text", "visual"} and "audio" not in model.unimodal_decoders
    full = make_model(tiny_cfg("model.variant='cmib'"), data, backbone)
    per_head = sum(p.numel() for p in full.unimodal_ib["audio"].parameters()) + \
        sum(p.numel() for p in full.unimodal_decoders["audio"].parameters())
    assert sum(p.numel() for p in full.parameters()) - sum(p.numel() for p in model.parameters()) == per_head
    batch = batch_of(data, 6)
    model.eval()
    out = model(batch.inputs, batch.masks)
    assert set(out.heads) == {"text", "visual", "fused"} and set(out.posteriors) == {"text", "visual", "fused"}
    # with z = mu at evaluation, concat fusion sees text mu, the raw audio representation, visual mu
    expect = model.fusion([out.posteriors["text"].mu, out.unimodal["audio"], out.posteriors["visual"].mu])
    assert torch.allclose(out.posteriors["fused"].x, expect)
    terms = build_objective(cfg, "regression")(out, batch.labels)
    assert "kl/audio" not in terms and {"kl/text", "kl/visual", "kl/fused"} <= set(terms)
    terms["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoders["audio"].parameters())


@pytest.mark.parametrize("overrides,match", [
    (["model.variant='emib'", "model.no_ib_modalities=['audio']"], "only they have unimodal IBs"),
    (["model.variant='cmib'", "model.no_ib_modalities=['speech']"], "model.no_ib_modalities"),
    (["model.variant='cmib'", "data.modalities=['text', 'visual']", "model.no_ib_modalities=['audio']"],
     "model.no_ib_modalities"),
    (["model.variant='lmib'", "model.fusion='poe'", "model.no_ib_modalities=['text']"], "product of experts"),
])
def test_table5_bad_settings_are_refused(overrides, match) -> None:
    with pytest.raises(ConfigError, match=match):
        check_config(tiny_cfg(*overrides))
