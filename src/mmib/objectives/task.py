"""Task losses, one per task (the registry of tasks): L1 for sentiment regression, binary
cross-entropy per label for multi-label emotions, softmax cross-entropy for single-label
classes."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..registry import Registry

TaskLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TASK_LOSSES: Registry[TaskLoss] = Registry("task", key="objective.task")


@TASK_LOSSES.register("regression")
def l1(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """pred (B, 1), labels (B, 1): mean absolute error (-log q(y|z) of a Laplace decoder)."""
    return F.l1_loss(pred, labels)


@TASK_LOSSES.register("multilabel")
def binary_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """logits (B, K), labels (B, K) in {0, 1}: binary cross-entropy per label, averaged."""
    return F.binary_cross_entropy_with_logits(logits, labels)


@TASK_LOSSES.register("multiclass")
def softmax_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """logits (B, K), labels (B, K) one-hot: cross-entropy of the softmax over the K classes
    (-log q(y|z) of a categorical decoder), averaged over the batch."""
    return F.cross_entropy(logits, labels.argmax(dim=1))


def output_dim(task: str, n_labels: int) -> int:
    """Decoder width: 1 for regression, one logit per label (multilabel) or class (multiclass)."""
    TASK_LOSSES.get(task)
    return 1 if task == "regression" else n_labels
