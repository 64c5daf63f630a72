"""MIBObjective: model output -> named loss terms (task loss per head, constraint per
bottleneck, reconstruction per hierarchical stage, and the estimators' own losses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ExperimentConfig
from ..models import constraint_weight
from ..models.outputs import MIBOutput
from .registry import CONSTRAINTS, is_trainable
from .task import TASK_LOSSES


class MIBObjective(nn.Module):
    """loss = sum over heads of task(head, y) + beta * sum over bottlenecks of constraint(post)
    + recon_weight * sum over reconstructions of MSE(prediction, target).

    Terms are named ``task/<head>``, ``<constraint>/<bottleneck>``, ``recon/<stage>``; ``loss``
    is the total. A trainable constraint (an :class:`~mmib.objectives.estimators.Estimator`:
    club, mine) has one network per bottleneck, built here from ``bottlenecks`` (name ->
    (input dim, code dim), :meth:`MIBModel.bottlenecks`); while gradients are enabled its
    learning losses come back as ``estimator/<bottleneck>`` and their sum ``estimator``,
    which the training step back-propagates beside ``loss`` (they reach only the estimators'
    parameters). The objective is a module so that the estimators move, save and load with it.
    """

    def __init__(self, task: str, constraint: str = "kl", beta: float = 1e-3, *,
                 bottlenecks: dict[str, tuple[int, int]] | None = None, estimator_hidden: int = 64,
                 recon_weight: float = 1.0):
        super().__init__()
        self.task = task
        self.task_loss = TASK_LOSSES.get(task)
        self.constraint_name = constraint
        self.beta = beta
        self.recon_weight = recon_weight
        self.trainable = is_trainable(constraint)
        self.estimators = nn.ModuleDict()
        if self.trainable:
            cls = CONSTRAINTS.get(constraint)
            for name, (dx, dz) in (bottlenecks or {}).items():
                self.estimators[name] = cls(dx, dz, estimator_hidden)
            self.constraint = None
        else:
            self.constraint = CONSTRAINTS.get(constraint)

    def _constraint(self, name: str):
        if not self.trainable:
            return self.constraint
        if name not in self.estimators:
            raise KeyError(f"objective.constraint = {self.constraint_name!r} has no estimator for bottleneck "
                           f"{name!r}: the objective was built for {sorted(self.estimators)} "
                           "(build it with the model's bottlenecks())")
        return self.estimators[name].constraint

    def forward(self, out: MIBOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        total = out.prediction.new_zeros(())
        for name, pred in out.heads.items():
            terms[f"task/{name}"] = t = self.task_loss(pred, labels)
            total = total + t
        for name, post in out.posteriors.items():
            terms[f"{self.constraint_name}/{name}"] = c = self._constraint(name)(post)
            if self.beta:
                total = total + self.beta * c
        for name, (pred, target) in out.reconstructions.items():
            terms[f"recon/{name}"] = r = F.mse_loss(pred, target)
            if self.recon_weight:
                total = total + self.recon_weight * r
        if self.trainable and torch.is_grad_enabled() and out.posteriors:
            est = out.prediction.new_zeros(())
            for name, post in out.posteriors.items():
                terms[f"estimator/{name}"] = e = self.estimators[name].learning_loss(post.x.detach(), post.z.detach())
                est = est + e
            terms["estimator"] = est
        terms["loss"] = total
        return terms


def build_objective(cfg: ExperimentConfig, task: str,
                    bottlenecks: dict[str, tuple[int, int]] | None = None) -> MIBObjective:
    """The objective of a config; a variant whose constraint is off (bmib) trains with beta = 0
    whatever the config says (:func:`mmib.models.constraint_weight`). ``bottlenecks``: the
    model's (name -> (input dim, code dim)), needed by a trainable constraint."""
    o = cfg.objective
    return MIBObjective(task, o.constraint, constraint_weight(cfg), bottlenecks=bottlenecks,
                        estimator_hidden=o.estimator_hidden, recon_weight=o.recon_weight)
