"""Fusions: every registered fusion is shape- and gradient-checked (a new fusion is tested
without touching this file); the documented formulas are checked on hand-made inputs."""

from __future__ import annotations

import itertools

import pytest
import torch

from mmib.fusion import FUSIONS, build_fusion, fuses_posteriors
from mmib.fusion.lowrank import LowRankFusion
from mmib.fusion.poe import ProductOfExperts
from mmib.fusion.tensor import TensorFusion, outer_tensor

D = 6
SUBSETS = [1, 2, 3]


def _inputs(n: int, batch: int = 5, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, D, generator=g, requires_grad=True) for _ in range(n)]


def _run(fusion, xs: list[torch.Tensor]) -> torch.Tensor:
    if getattr(fusion, "fuses_posteriors", False):
        sigmas = [torch.nn.functional.softplus(x) + 0.1 for x in xs]
        mu, sigma = fusion(xs, sigmas)
        return mu + sigma
    return fusion(xs)


@pytest.mark.parametrize("name,n", list(itertools.product(FUSIONS.names(), SUBSETS)))
def test_shape_and_gradients_reach_every_input(name: str, n: int) -> None:
    torch.manual_seed(0)
    fusion = build_fusion(name, [D] * n, D)
    fusion.eval()  # no dropout: every input must matter deterministically
    xs = _inputs(n)
    out = _run(fusion, xs)
    assert out.shape == (5, D)
    assert torch.isfinite(out).all()
    out.pow(2).sum().backward()
    for i, x in enumerate(xs):
        assert x.grad is not None and x.grad.abs().sum() > 0, f"{name}: no gradient reaches input {i}"
    for pname, p in fusion.named_parameters():
        assert p.grad is not None, f"{name}: parameter {pname} gets no gradient"


@pytest.mark.parametrize("name", FUSIONS.names())
def test_registry_lookup_and_flag(name: str) -> None:
    cls = FUSIONS.get(name)
    assert fuses_posteriors(name) == bool(getattr(cls, "fuses_posteriors", False))


def test_unknown_fusion_names_choices() -> None:
    with pytest.raises(KeyError, match="concat"):
        FUSIONS.get("nope")


def test_bad_fusion_option_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="fusion_options.*lowrank"):
        build_fusion("lowrank", [D, D], D, ranks=3)


@pytest.mark.parametrize("name", ["addition", "multiplication", "poe"])
def test_parameter_free_fusions_need_one_width(name: str) -> None:
    with pytest.raises(ValueError, match="output width"):
        build_fusion(name, [D, D + 1], D)


def test_addition_and_multiplication_formulas() -> None:
    a = torch.tensor([[1.0, 2.0]])
    b = torch.tensor([[3.0, -1.0]])
    c = torch.tensor([[0.5, 4.0]])
    assert torch.equal(build_fusion("addition", [2] * 3, 2)([a, b, c]), torch.tensor([[4.5, 5.0]]))
    assert torch.equal(build_fusion("multiplication", [2] * 3, 2)([a, b, c]), torch.tensor([[1.5, -8.0]]))


def test_concat_formula() -> None:
    f = build_fusion("concat", [2, 3], 4)
    a, b = torch.randn(3, 2), torch.randn(3, 3)
    expected = torch.cat([a, b], 1) @ f.proj.weight.T + f.proj.bias
    assert torch.allclose(f([a, b]), expected)


def test_outer_tensor_against_explicit_outer_product() -> None:
    a = torch.tensor([[2.0, 3.0]])
    b = torch.tensor([[5.0]])
    c = torch.tensor([[7.0, 11.0]])
    t = outer_tensor([a, b, c])
    assert t.shape == (1, 3 * 2 * 3)
    a1, b1, c1 = [1.0, 2.0, 3.0], [1.0, 5.0], [1.0, 7.0, 11.0]
    explicit = [i * j * k for i in a1 for j in b1 for k in c1]  # row-major (a, b, c)
    assert torch.allclose(t[0], torch.tensor(explicit))
    # the same with einsum on random inputs
    xs = [torch.randn(4, d) for d in (3, 2, 4)]
    ones = [torch.cat([torch.ones(4, 1), x], 1) for x in xs]
    assert torch.allclose(outer_tensor(xs), torch.einsum("bi,bj,bk->bijk", *ones).flatten(1))


def test_tensor_fusion_is_an_mlp_on_the_outer_product() -> None:
    torch.manual_seed(0)
    f = TensorFusion([3, 2, 4], 5, dropout=0.0).eval()
    xs = [torch.randn(4, d) for d in (3, 2, 4)]
    t = outer_tensor(xs)
    l1, l2 = f.mlp[0], f.mlp[2]
    expected = torch.relu(t @ l1.weight.T + l1.bias) @ l2.weight.T + l2.bias
    assert torch.allclose(f(xs), expected, atol=1e-6)


def test_lowrank_equals_tensor_fusion_with_factorised_weight() -> None:
    torch.manual_seed(0)
    dims = [3, 2, 4]
    lmf = LowRankFusion(dims, 5, rank=3)
    tfn = TensorFusion(dims, 5, hidden=0, dropout=0.0).eval()
    with torch.no_grad():
        tfn.mlp[0].weight.copy_(lmf.full_weight().T)
        tfn.mlp[0].bias.copy_(lmf.bias)
    xs = [torch.randn(6, d) for d in dims]
    assert torch.allclose(lmf(xs), tfn(xs), atol=1e-5)
    # and the rebuilt weight really is the sum of rank-1 outer products of the factors
    w = lmf.full_weight()
    f1, f2, f3 = lmf.factors
    lam = lmf.rank_weights[0]
    explicit = torch.einsum("r,rio,rjo,rko->ijko", lam, f1, f2, f3).reshape(-1, 5)
    assert torch.allclose(w, explicit, atol=1e-6)


def test_lowrank_factors_are_parameters() -> None:
    lmf = LowRankFusion([D, D], D, rank=2)
    names = {n for n, _ in lmf.named_parameters()}
    assert {"factors.0", "factors.1", "rank_weights", "bias"} <= names


def test_poe_matches_closed_form() -> None:
    poe = ProductOfExperts([2, 2], 2, eps=0.0)
    mus = [torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 0.0]])]
    sigmas = [torch.tensor([[1.0, 0.5]]), torch.tensor([[2.0, 1.0]])]
    mu, sigma = poe(mus, sigmas)
    # dim 0: precisions 1 (prior), 1, 1/4 -> var 1/2.25; mu = var * (1*1 + 3/4)
    # dim 1: precisions 1, 4, 1 -> var 1/6; mu = var * (-2*4 + 0)
    assert torch.allclose(sigma.pow(2), torch.tensor([[1 / 2.25, 1 / 6]]))
    assert torch.allclose(mu, torch.tensor([[1.75 / 2.25, -8 / 6]]))


def test_poe_dominated_by_confident_expert_and_prior_only() -> None:
    poe = ProductOfExperts([3, 3], 3)
    mus = [torch.full((1, 3), 2.0), torch.full((1, 3), -5.0)]
    sigmas = [torch.full((1, 3), 1e-3), torch.full((1, 3), 100.0)]
    mu, sigma = poe(mus, sigmas)
    assert torch.allclose(mu, torch.full((1, 3), 2.0), atol=1e-4)
    assert (sigma <= 1.01e-3).all()  # never less certain than the most certain expert
    # with very uncertain experts only the prior N(0, I) remains
    mu, sigma = poe([torch.ones(1, 3)], [torch.full((1, 3), 1e4)])
    assert torch.allclose(mu, torch.zeros(1, 3), atol=1e-6)
    assert torch.allclose(sigma, torch.ones(1, 3), atol=1e-6)


def test_graph_fusion_single_modality_is_a_projection() -> None:
    torch.manual_seed(0)
    f = build_fusion("graph", [D], 4)
    x = torch.randn(3, D)
    assert torch.allclose(f([x]), f.out(x), atol=1e-6)  # one node, weight 1


def test_graph_fusion_formula_two_and_three_modalities() -> None:
    torch.manual_seed(0)
    xs = [x.detach() for x in _inputs(3)]
    aff = lambda a, b: (a.softmax(-1) * b.softmax(-1)).sum(-1, keepdim=True)  # noqa: E731

    f2 = build_fusion("graph", [D] * 2, 4)
    s = [torch.tanh(f2.score(x)) for x in xs[:2]]
    w = torch.cat(s, 1).softmax(1)
    unimodal = w[:, :1] * xs[0] + w[:, 1:] * xs[1]
    bimodal = f2.pair(torch.cat(xs[:2], 1))  # a single pair node has weight 1
    assert torch.allclose(f2(xs[:2]), f2.out((unimodal + bimodal) / 2), atol=1e-6)

    f3 = build_fusion("graph", [D] * 3, 4)
    s = [torch.tanh(f3.score(x)) for x in xs]
    w = torch.cat(s, 1).softmax(1)
    unimodal = sum(w[:, i:i + 1] * xs[i] for i in range(3))
    pairs = [(0, 1), (0, 2), (1, 2)]
    nodes = {p: f3.pair(torch.cat([xs[p[0]], xs[p[1]]], 1)) for p in pairs}
    sp = {p: (s[p[0]] + s[p[1]]) / (aff(xs[p[0]], xs[p[1]]) + 0.5) for p in pairs}
    wb = torch.cat([sp[p] for p in pairs], 1).softmax(1)
    bimodal = sum(wb[:, i:i + 1] * nodes[p] for i, p in enumerate(pairs))
    third = {(0, 1): 2, (0, 2): 1, (1, 2): 0}
    tri = [f3.triple(torch.cat([nodes[p], xs[third[p]]], 1)) for p in pairs]
    st = [(sp[p] + s[third[p]]) / (aff(nodes[p], xs[third[p]]) + 0.5) for p in pairs]
    wt = torch.cat(st, 1).softmax(1)
    trimodal = sum(wt[:, i:i + 1] * tri[i] for i in range(3))
    expected = f3.out((unimodal + bimodal + trimodal) / 3)
    assert torch.allclose(f3(xs), expected, atol=1e-6)


@pytest.mark.parametrize("n", [4])
def test_fusions_accept_more_than_three_modalities(n: int) -> None:
    for name in FUSIONS.names():
        if name == "tensor":
            continue  # (d+1)^4 values: fine in principle, needlessly large here
        out = _run(build_fusion(name, [D] * n, D), _inputs(n))
        assert out.shape == (5, D)


def test_extending_example() -> None:
    """The worked example of docs/extending.md registers a fusion that a model can train with."""
    import re
    from pathlib import Path

    from mmib import config as config_mod
    from mmib.data import collate
    from mmib.data.synth import generate
    from mmib.models import build_model
    from mmib.objectives import build_objective

    doc = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    assert "gated" not in FUSIONS
    try:
        exec(compile(code, "docs/extending.md", "exec"), {"__name__": "gated_example"})
        assert "gated" in FUSIONS
        f = build_fusion("gated", [2, 2], 3, gate_bias=1.0)
        a, b = torch.randn(4, 2), torch.randn(4, 2)
        expected = sum(torch.sigmoid(g(x)) * p(x) for g, p, x in zip(f.gates, f.projections, [a, b]))
        assert torch.allclose(f([a, b]), expected)
        cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), [
            "model.text_encoder='glove'", "model.fusion='gated'", "model.d=10", "model.n_heads=2",
            "model.ib_hidden=16", "data.synth.n_train=8", "data.synth.n_valid=2", "data.synth.n_test=2"])
        data = generate(cfg.data, None)
        model = build_model(cfg, data.dims, 1)
        batch = collate(data.train, cfg.data.modalities)
        build_objective(cfg, "regression")(model(batch.inputs, batch.masks), batch.labels)["loss"].backward()
        assert all(p.grad is not None for p in model.fusion.parameters())
    finally:
        FUSIONS._items.pop("gated", None)  # keep the registry as the other tests expect it
