"""Objectives: the KL against a Monte-Carlo estimate, each alternative constraint on inputs
whose value is known by hand, every registered constraint's basic properties, and the
objective's named terms (beta = 0 leaves only the task loss)."""

from __future__ import annotations

import math

import pytest
import torch

from mmib.models.outputs import MIBOutput, Posterior
from mmib.objectives import CONSTRAINTS, MIBObjective
from mmib.objectives.coral import coral_distance, covariance
from mmib.objectives.registry import is_trainable
from mmib.objectives.kl import gaussian_kl
from mmib.objectives.mmd import gaussian_mmd2


def constraint_fn(name: str, d: int):
    """A registered constraint as a callable on posteriors of width d (an estimator is built)."""
    entry = CONSTRAINTS.get(name)
    return entry(d, d, 16).constraint if is_trainable(name) else entry


def _post(x: torch.Tensor, z: torch.Tensor, mu: torch.Tensor | None = None,
          sigma: torch.Tensor | None = None) -> Posterior:
    mu = z if mu is None else mu
    sigma = torch.ones_like(z) if sigma is None else sigma
    return Posterior(x=x, mu=mu, sigma=sigma, z=z)


def test_kl_matches_monte_carlo() -> None:
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 2.0]])
    sigma = torch.tensor([[0.3, 1.5, 1.0]])
    analytic = gaussian_kl(mu, sigma)  # (1, 3) per element
    n = 400_000
    z = mu + sigma * torch.randn(n, 3, generator=g)
    log_q = -0.5 * ((z - mu) / sigma).pow(2) - torch.log(sigma)
    log_p = -0.5 * z.pow(2)
    mc = (log_q - log_p).mean(0)  # the shared -0.5 log(2 pi) cancels
    assert torch.allclose(analytic[0], mc, atol=0.02), (analytic, mc)


def test_kl_is_zero_at_the_prior_and_reduces_by_mean() -> None:
    mu, sigma = torch.zeros(4, 3), torch.ones(4, 3)
    assert CONSTRAINTS.get("kl")(_post(mu, mu, mu, sigma)).abs() < 1e-6
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    # one element with KL 0.5 among four: the mean (reference scaling) is 0.125
    assert math.isclose(float(CONSTRAINTS.get("kl")(_post(mu, mu, mu, torch.ones(2, 2)))), 0.125, rel_tol=1e-5)


def test_mmd_on_known_inputs() -> None:
    x = torch.tensor([[0.0], [0.0]])
    z = torch.tensor([[1.0], [1.0]])
    # pooled off-diagonal squared distances: 8 of 12 are 1 -> bandwidth 2/3
    expected = 2 - 2 * math.exp(-1.5)
    assert math.isclose(float(gaussian_mmd2(x, z)), expected, rel_tol=1e-5)
    assert math.isclose(float(CONSTRAINTS.get("mmd")(_post(x, z))), 1 / (1 + expected), rel_tol=1e-5)
    same = torch.randn(5, 3)
    assert float(gaussian_mmd2(same, same)) == pytest.approx(0.0, abs=1e-6)
    assert float(CONSTRAINTS.get("mmd")(_post(same, same))) == pytest.approx(1.0, abs=1e-6)


def test_coral_on_known_inputs() -> None:
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # covariance [[2, 0], [0, 0]]
    z = torch.tensor([[0.0, 1.0], [0.0, -1.0]])  # covariance [[0, 0], [0, 2]]
    assert torch.allclose(covariance(x), torch.tensor([[2.0, 0.0], [0.0, 0.0]]))
    dist = (4 + 4) / (4 * 2 * 2)
    assert math.isclose(float(coral_distance(x, z)), dist, rel_tol=1e-6)
    assert math.isclose(float(CONSTRAINTS.get("coral")(_post(x, z))), 1 / (1 + dist), rel_tol=1e-6)
    assert math.isclose(float(CONSTRAINTS.get("coral")(_post(x, x + 3.0))), 1.0, rel_tol=1e-6)


def test_orthogonality_on_known_inputs() -> None:
    f = CONSTRAINTS.get("orthogonality")
    # feature columns of x and z orthogonal across the batch -> 0
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    z = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    assert float(f(_post(x, z))) == pytest.approx(0.0, abs=1e-7)
    # x^T z = [[0, 2], [0, 0]] after row normalisation -> mean of squares = 4 / 4
    z = torch.tensor([[0.0, 3.0], [0.0, 0.5]])
    assert float(f(_post(x, z))) == pytest.approx(1.0)
    # rows are normalised: scaling x or z changes nothing
    x, z = torch.randn(4, 3), torch.randn(4, 3)
    assert float(f(_post(5 * x, 0.1 * z))) == pytest.approx(float(f(_post(x, z))), rel=1e-5)


def test_euclidean_and_cosine_on_known_inputs() -> None:
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    # distances 5 and 0 -> mean 2.5
    assert float(CONSTRAINTS.get("euclidean")(_post(x, z))) == pytest.approx(1 / 3.5)
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    z = torch.tensor([[0.0, 2.0], [-3.0, 0.0]])
    # cosine distances 1 and 2 -> mean 1.5
    assert float(CONSTRAINTS.get("cosine")(_post(x, z))) == pytest.approx(1 / 2.5)


@pytest.mark.parametrize("name", CONSTRAINTS.names())
def test_every_constraint_is_a_finite_differentiable_scalar(name: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 5, requires_grad=True)
    mu = torch.randn(8, 5, requires_grad=True)
    sigma = torch.rand(8, 5) + 0.1
    z = mu + sigma * torch.randn(8, 5)
    value = constraint_fn(name, 5)(Posterior(x=x, mu=mu, sigma=sigma, z=z))
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0


def _output(beta_free: bool = False) -> tuple[MIBOutput, torch.Tensor]:
    torch.manual_seed(0)
    pred = torch.randn(4, 1, requires_grad=True)
    mu = torch.randn(4, 3, requires_grad=True)
    post = Posterior(x=torch.randn(4, 3), mu=mu, sigma=torch.rand(4, 3) + 0.1, z=mu)
    heads = {"text": pred * 2, "fused": pred}
    return MIBOutput(prediction=pred, heads=heads, posteriors={"text": post, "fused": post}), torch.randn(4, 1)


def test_objective_names_every_term_and_sums_them() -> None:
    out, y = _output()
    terms = MIBObjective("regression", "kl", beta=0.5)(out, y)
    assert set(terms) == {"task/text", "task/fused", "kl/text", "kl/fused", "loss"}
    expected = terms["task/text"] + terms["task/fused"] + 0.5 * (terms["kl/text"] + terms["kl/fused"])
    assert torch.allclose(terms["loss"], expected)


@pytest.mark.parametrize("constraint", CONSTRAINTS.names())
def test_beta_zero_is_the_task_loss_alone(constraint: str) -> None:
    out, y = _output()
    terms = MIBObjective("regression", constraint, beta=0.0, bottlenecks={"text": (3, 3), "fused": (3, 3)})(out, y)
    assert torch.equal(terms["loss"], terms["task/text"] + terms["task/fused"])
    terms["loss"].backward()
    # the constraint contributes no gradient: the posterior's mean only feeds the constraint
    assert out.posteriors["fused"].mu.grad is None
