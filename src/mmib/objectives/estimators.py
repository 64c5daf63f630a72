"""Trainable mutual-information estimators as constraints: CLUB (an upper bound) and MINE
(the Donsker-Varadhan lower bound).

Unlike the closed-form constraints, an estimator has a network of its own, one per
bottleneck, trained alongside the model on its own loss. An :class:`Estimator` has two faces:

- ``estimate(x, z)`` (also its ``forward``): its current estimate of I(X; Z) in nats. As a
  constraint (``constraint(post)``) it is divided by the code's width, the scaling of the ``kl``
  constraint (a mean over latent dims), so one beta means the same for every constraint.
  Gradients reach x and z only: the estimator's own parameters are read as constants here.
- ``learning_loss(x, z)``: what its own parameters minimise, on detached x and z, so it
  trains the estimator and nothing else.

:class:`~mmib.objectives.MIBObjective` builds one estimator per bottleneck and returns the
learning losses as ``estimator/<bottleneck>`` terms (summed in ``estimator``); the training
step adds them to the loss it back-propagates and the optimiser holds the estimators'
parameters in a group of their own (``objective.estimator_lr``). Nothing in the model knows.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

from ..models.outputs import Posterior
from .registry import CONSTRAINTS, is_trainable


class Estimator(nn.Module):
    """A constraint with a trainable network; subclasses define ``estimate`` and ``learning_loss``."""

    trainable = True

    def __init__(self, dx: int, dz: int, hidden: int = 64):
        super().__init__()
        self.dx, self.dz, self.hidden = dx, dz, hidden

    def frozen(self) -> dict[str, torch.Tensor]:
        """The parameters and buffers detached: compute with them without training them."""
        state = {k: v.detach() for k, v in self.named_parameters()}
        state.update(dict(self.named_buffers()))
        return state

    def estimate(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def learning_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.estimate(x, z)

    def constraint(self, post: Posterior) -> torch.Tensor:
        """The constraint: the estimate (gradient to x and z only) per latent dimension."""
        return functional_call(self, self.frozen(), (post.x, post.z)) / post.z.shape[1]


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


@CONSTRAINTS.register("club")
class CLUB(Estimator):
    """Contrastive log-ratio upper bound (Cheng et al., ICML 2020) with a Gaussian variational
    network q(x | z) = N(m(z), diag s(z)^2):

        I_CLUB = mean_i log q(x_i | z_i) - mean_i mean_j log q(x_j | z_i)

    The log-normaliser cancels between the two terms; the second (all pairs i, j) is computed
    in closed form from the batch's mean and variance of x, O(B d). With q the true
    conditional, I_CLUB >= I(X; Z) (for correlated Gaussians of correlation rho it is
    rho^2 / (1 - rho^2) per dimension against -log(1 - rho^2) / 2). The network learns by
    maximum likelihood: ``learning_loss`` = -mean_i log q(x_i | z_i)."""

    def __init__(self, dx: int, dz: int, hidden: int = 64):
        super().__init__(dx, dz, hidden)
        self.mean = _mlp(dz, hidden, dx)
        self.log_var = nn.Sequential(_mlp(dz, hidden, dx), nn.Tanh())  # bounded: log s^2 in (-1, 1) * scale
        self.log_var_scale = 5.0

    def conditional(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log variance) of q(x | z), each (B, dx)."""
        return self.mean(z), self.log_var(z) * self.log_var_scale

    def estimate(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        m, log_var = self.conditional(z)
        inv = torch.exp(-log_var)
        positive = -0.5 * ((x - m).pow(2) * inv).sum(1)  # log q(x_i | z_i) + const
        x_mean = x.mean(0, keepdim=True)
        x_var = x.var(0, unbiased=False, keepdim=True)
        # mean_j (x_j - m_i)^2 = Var(x) + (mean(x) - m_i)^2, per dimension
        negative = -0.5 * ((x_var + (x_mean - m).pow(2)) * inv).sum(1)
        return (positive - negative).mean()

    def learning_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        m, log_var = self.conditional(z)
        nll = 0.5 * ((x - m).pow(2) * torch.exp(-log_var) + log_var + math.log(2 * math.pi)).sum(1)
        return nll.mean()


@CONSTRAINTS.register("mine")
class MINE(Estimator):
    """Mutual information neural estimation (Belghazi et al., ICML 2018): a statistics network
    T(x, z) and the Donsker-Varadhan lower bound

        I_DV = mean_i T(x_i, z_i) - log mean_{i != j} exp T(x_i, z_j)

    with every off-diagonal pair of the batch as a sample of p(x) p(z) (deterministic: no
    shuffling; a batch of one sample has none and contributes 0). T's first layer is separable, W_x x + W_z z, so all B^2 pairs cost one
    (B, B, hidden) sum. The network ascends the bound with MINE's bias-corrected gradient:
    the denominator of the gradient of log mean exp T is a moving average of mean exp T
    (rate ``ema_rate``, kept in a buffer, updated only while training with gradients), so
    ``learning_loss`` = -(mean T_joint - mean exp T_marginal / moving average)."""

    ema_rate = 0.01

    def __init__(self, dx: int, dz: int, hidden: int = 64):
        super().__init__(dx, dz, hidden)
        self.wx = nn.Linear(dx, hidden)
        self.wz = nn.Linear(dz, hidden, bias=False)
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer("moving_average", torch.zeros(()))  # 0: not yet started

    def scores(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(joint scores (B,), off-diagonal pair scores (B*(B-1),))."""
        hx, hz = self.wx(x), self.wz(z)
        t = self.out(hx[:, None, :] + hz[None, :, :]).squeeze(-1)  # (B, B): t[i, j] = T(x_i, z_j)
        off = ~torch.eye(t.shape[0], dtype=torch.bool, device=t.device)
        return t.diagonal(), t[off]

    def estimate(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if x.shape[0] < 2:  # no pair of distinct samples: nothing to contrast
            return (x.sum() + z.sum()) * 0
        joint, marginal = self.scores(x, z)
        return joint.mean() - (torch.logsumexp(marginal, 0) - math.log(marginal.numel()))

    def learning_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if x.shape[0] < 2:
            return sum(p.sum() for p in self.parameters()) * 0
        joint, marginal = self.scores(x, z)
        batch_mean = torch.exp(marginal).mean()
        with torch.no_grad():
            ma = self.moving_average
            avg = torch.where(ma > 0, (1 - self.ema_rate) * ma + self.ema_rate * batch_mean, batch_mean)
            ma.copy_(avg)
        return -(joint.mean() - batch_mean / avg.clamp_min(1e-30))


__all__ = ["CLUB", "MINE", "Estimator"]
