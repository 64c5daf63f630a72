"""The information-bottleneck family: CLUB and MINE against the closed-form mutual information
of correlated Gaussians, their gradients (to the code only) and state, the ithp variant's
loss terms on small known inputs and its config checks, and a run with an estimator that is
interrupted and resumed."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from mmib import config as config_mod
from mmib.config import ConfigError
from mmib.data import collate
from mmib.data.synth import generate
from mmib.encoders import build_backbone, load_tokenizer
from mmib.engine import check_config
from mmib.models.ithp import ITHPModel, masked_mean
from mmib.models.outputs import Posterior
from mmib.objectives import build_objective
from mmib.objectives.estimators import CLUB, MINE
from mmib.objectives.kl import gaussian_kl

from conftest import TINY, tiny_config


def correlated(n: int, d: int, rho: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, I); z = rho x + sqrt(1 - rho^2) eps: I(X; Z) = -d/2 log(1 - rho^2)."""
    x = torch.randn(n, d, generator=g)
    return x, rho * x + math.sqrt(1 - rho * rho) * torch.randn(n, d, generator=g)


def trained(cls, d: int, rho: float, steps: int, seed: int = 0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 100)
    est = cls(d, d, 32)
    opt = torch.optim.Adam(est.parameters(), lr=5e-3)
    for _ in range(steps):
        loss = est.learning_loss(*correlated(128, d, rho, g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        value = sum(float(est.estimate(*correlated(512, d, rho, g))) for _ in range(10)) / 10
    return est, value


D, RHO = 2, 0.8
TRUE_MI = -D / 2 * math.log(1 - RHO ** 2)  # 1.022 nats


@pytest.mark.slow
def test_mine_estimates_the_mutual_information_of_correlated_gaussians():
    # the Donsker-Varadhan bound is tight at the optimal statistics network: after 400 steps
    # the estimate lands within 0.15 nats (15%) of the closed form
    _, value = trained(MINE, D, RHO, steps=400)
    assert abs(value - TRUE_MI) < 0.15, (value, TRUE_MI)


@pytest.mark.slow
def test_club_estimates_its_closed_form_upper_bound():
    # with q(x|z) the true Gaussian conditional, CLUB = d rho^2 / (1 - rho^2) = 3.56 nats here,
    # an upper bound of the true 1.02: the trained estimate lands within 10% of it, above I(X; Z)
    _, value = trained(CLUB, D, RHO, steps=1500)
    club = D * RHO ** 2 / (1 - RHO ** 2)
    assert abs(value - club) < 0.1 * club and value > TRUE_MI, (value, club, TRUE_MI)


@pytest.mark.slow
def test_independent_variables_give_estimates_near_zero():
    for cls in (CLUB, MINE):
        _, value = trained(cls, D, 0.0, steps=300)
        assert abs(value) < 0.1, (cls.__name__, value)


@pytest.mark.parametrize("cls", [CLUB, MINE])
def test_as_a_constraint_the_gradient_reaches_the_code_and_not_the_estimator(cls):
    est, _ = trained(cls, D, RHO, steps=20)
    est.zero_grad(set_to_none=True)
    g = torch.Generator().manual_seed(0)
    x, z = correlated(32, D, RHO, g)
    x.requires_grad_(True)
    z.requires_grad_(True)
    value = est.constraint(Posterior(x=x, mu=z, sigma=torch.ones_like(z), z=z))
    assert value.shape == () and torch.allclose(value, est.estimate(x, z) / D)  # per latent dimension
    value.backward()
    assert z.grad.abs().sum() > 0 and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in est.parameters())


def test_mine_moving_average_follows_training_only():
    est, _ = trained(MINE, D, RHO, steps=5)
    before = est.moving_average.clone()
    assert before > 0
    x, z = correlated(64, D, RHO, torch.Generator().manual_seed(1))
    with torch.no_grad():
        est.estimate(x, z)
    assert torch.equal(est.moving_average, before)  # estimating never moves it
    batch_mean = torch.exp(est.scores(x, z)[1]).mean().detach()
    est.learning_loss(x, z)
    assert torch.allclose(est.moving_average, 0.99 * before + 0.01 * batch_mean)


# ----------------------------------------------------------------------------- ithp


def _ithp_cfg(*extra: str) -> config_mod.ExperimentConfig:
    return config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + ["model.variant='ithp'", *extra])


@pytest.fixture(scope="module")
def data():
    return generate(_ithp_cfg().data, load_tokenizer("tiny-config"))


def test_masked_mean_ignores_padding():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.equal(masked_mean(x, torch.tensor([[True, True, False]])), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(masked_mean(x, torch.tensor([[False, False, False]])), torch.zeros(1, 2))


def test_ithp_loss_terms_on_known_inputs(data):
    """Feature modalities only (prime audio, detectors visual then ... ): every term recomputed by
    hand from the model's own pieces."""
    cfg = _ithp_cfg("model.prime_modality='visual'", "model.detectors=['audio']",
                    "data.modalities=['audio', 'visual']", "objective.beta=0.5", "objective.recon_weight=2.0")
    torch.manual_seed(0)
    model = ITHPModel(cfg.model, ["audio", "visual"], data.dims, 1).eval()
    assert model.detectors == ["audio"] and model.bottlenecks() == {"b0": (10, 10)}
    batch = collate(data.train[:6], ["audio", "visual"])
    out = model(batch.inputs, batch.masks)
    assert set(out.posteriors) == {"b0"} and set(out.reconstructions) == {"b0"}
    post = out.posteriors["b0"]
    # the first stage compresses the prime's pooled vector; at evaluation z is the mean
    assert torch.equal(post.x, out.unimodal["visual"]) and torch.equal(post.z, post.mu)
    pred, target = out.reconstructions["b0"]
    a = batch.inputs["audio"].float()
    w = batch.masks["audio"].float().unsqueeze(-1)
    by_hand = (a * w).sum(1) / w.sum(1)
    by_hand = (by_hand - by_hand.mean(1, keepdim=True)) / torch.sqrt(by_hand.var(1, unbiased=False, keepdim=True) + 1e-5)
    assert torch.allclose(target, by_hand, atol=1e-5) and not target.requires_grad  # fixed by the data
    assert pred.shape == (6, data.dims["audio"]) and torch.allclose(pred, model.reconstructors[0](post.z))
    terms = build_objective(cfg, "regression", model.bottlenecks())(out, batch.labels)
    task = F.l1_loss(out.prediction, batch.labels)
    kl = gaussian_kl(post.mu, post.sigma).mean()
    recon = (pred - target).pow(2).mean()
    assert set(terms) == {"task/fused", "kl/b0", "recon/b0", "loss"}
    assert torch.allclose(terms["task/fused"], task) and torch.allclose(terms["kl/b0"], kl)
    assert torch.allclose(terms["recon/b0"], recon)
    assert torch.allclose(terms["loss"], task + 0.5 * kl + 2.0 * recon)


def test_ithp_stages_chain_in_the_detector_order(data):
    cfg = _ithp_cfg("model.detectors=['visual', 'audio']")
    torch.manual_seed(0)
    model = ITHPModel(cfg.model, ["text", "audio", "visual"], data.dims, 1,
                      build_backbone("tiny-config", pretrained=False)).eval()
    batch = collate(data.train[:4], ["text", "audio", "visual"])
    out = model(batch.inputs, batch.masks)
    b0, b1 = out.posteriors["b0"], out.posteriors["b1"]
    assert torch.equal(b1.x, b0.z)  # stage 1 compresses stage 0's code
    assert out.reconstructions["b0"][0].shape[1] == data.dims["visual"]  # stage 0 predicts the first detector
    assert out.reconstructions["b1"][0].shape[1] == data.dims["audio"]
    assert set(model.encoders) == {"text"}  # detectors are targets, not inputs
    # the fused representation: the prime's vector fused with the final code
    assert torch.allclose(out.fused, model.fusion([out.unimodal["text"], b1.z]))


@pytest.mark.parametrize("overrides,match", [
    (["model.prime_modality='audio'", "data.modalities=['text', 'visual']"], "model.prime_modality: expected one of"),
    (["model.detectors=['audio']"], "model.detectors: expected an order of the non-prime modalities"),
    (["data.modalities=['text']"], "variant 'ithp' needs at least two modalities"),
    (["model.fusion='poe'"], "fuses per-modality Gaussian posteriors"),
])
def test_ithp_bad_settings_name_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        check_config(_ithp_cfg(*overrides), data=False)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["model.variant='ithp'", "objective.constraint='mine'"],
                                   ["objective.constraint='club'"]])
def test_a_run_with_an_estimator_resumes_to_the_same_result(tmp_path, monkeypatch, extra):
    """The estimators' weights and MINE's moving average are saved in state.pt and
    best.safetensors: Ctrl-C after epoch 1 then --resume equals the uninterrupted run, and
    mmib evaluate re-derives the saved test metrics (estimator terms included)."""
    from mmib.engine import faults, fit
    from mmib.engine.evaluate import evaluate_run

    base = ["train.epochs=3", "train.progress=false", *extra]
    whole = fit(tiny_config(tmp_path / "a", *base))
    monkeypatch.setenv("MMIB_FAULT", "epoch_end:1:sigint")
    monkeypatch.setattr(faults, "_COUNTER", faults._Counter())
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config(tmp_path / "b", *base))
    monkeypatch.delenv("MMIB_FAULT")
    run = tmp_path / "b" / "demo"
    resumed = fit(tiny_config(tmp_path / "b", *base), run_dir=run, resume=True)
    assert resumed.resumed_from == 1
    assert resumed["test"] == whole["test"] and resumed["best_epoch"] == whole["best_epoch"]
    name = extra[-1].split("=")[1].strip("'")
    assert any(k.startswith(f"{name}/") for k in whole["test"])
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all("estimator" in h["train"] for h in log)  # the estimators trained every epoch
    assert evaluate_run(run)["test"] == whole["test"]


def test_the_ibfamily_preset_compares_every_variant_and_estimator_under_one_protocol():
    from mmib.studies import presets
    from mmib.studies.grid import expand

    p = presets.get("ibfamily")
    cells = expand(p.grid)
    kept = [c for c in cells if p.skip(c) is None]
    assert len(cells) == 15 and len(kept) == 13
    assert {c["model.variant"] for c in kept} == {"noib", "emib", "lmib", "cmib", "ithp"}
    assert {(c["model.variant"], c["objective.constraint"]) for c in cells if p.skip(c)} == {
        ("noib", "club"), ("noib", "mine")}
    assert "ibfamily" in presets.listing()


@pytest.mark.slow
def test_an_export_carries_the_estimators(tmp_path):
    """mmib export keeps a trainable constraint's estimators (objective.* in model.safetensors):
    the exported folder reloads them bit for bit and predicts what the run predicts."""
    import numpy as np

    import mmib
    from mmib.cli import main

    mmib.train(tiny_config(tmp_path / "runs", "objective.constraint='mine'"), quiet=True)
    run, hub = tmp_path / "runs" / "demo", tmp_path / "hub"
    assert main(["export", str(run), str(hub)]) == 0
    a, b = mmib.load(run), mmib.load(hub)
    sa, sb = a.experiment.objective.state_dict(), b.experiment.objective.state_dict()
    assert sa and sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    test = generate(a.cfg.data, a.experiment.get_tokenizer()).test
    assert np.array_equal(a.predict(test).pred, b.predict(test).pred)
