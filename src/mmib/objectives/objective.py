"""MIBObjective: model output -> named loss terms (task loss per head, constraint per bottleneck)."""

from __future__ import annotations

import torch

from ..config import ExperimentConfig
from ..models import constraint_weight
from ..models.outputs import MIBOutput
from .registry import CONSTRAINTS
from .task import TASK_LOSSES


class MIBObjective:
    """loss = sum over heads of task(head, y) + beta * sum over bottlenecks of constraint(post).

    Terms are named ``task/<head>`` and ``<constraint>/<bottleneck>``; ``loss`` is the total.
    """

    def __init__(self, task: str, constraint: str = "kl", beta: float = 1e-3):
        self.task = task
        self.task_loss = TASK_LOSSES.get(task)
        self.constraint_name = constraint
        self.constraint = CONSTRAINTS.get(constraint)
        self.beta = beta

    def __call__(self, out: MIBOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        total = out.prediction.new_zeros(())
        for name, pred in out.heads.items():
            terms[f"task/{name}"] = t = self.task_loss(pred, labels)
            total = total + t
        for name, post in out.posteriors.items():
            terms[f"{self.constraint_name}/{name}"] = c = self.constraint(post)
            if self.beta:
                total = total + self.beta * c
        terms["loss"] = total
        return terms


def build_objective(cfg: ExperimentConfig, task: str) -> MIBObjective:
    """The objective of a config; a variant whose constraint is off (bmib) trains with beta = 0
    whatever the config says (:func:`mmib.models.constraint_weight`)."""
    return MIBObjective(task, cfg.objective.constraint, constraint_weight(cfg))
