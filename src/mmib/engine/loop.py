"""One training epoch, and prediction over a split (evaluation reads outputs only)."""

from __future__ import annotations

import numpy as np
import torch

from ..data import Batch, batch_order, collate
from ..data.batching import length_sorted_batches
from ..data.types import Example, Predictions
from ..models import MIBModel, MIBOutput
from ..objectives import MIBObjective
from ..objectives.kl import gaussian_kl
from ..progress import Progress
from . import faults
from .distributed import SINGLE, World, all_finite, average_gradients, shard_batches, sum_over_ranks
from .speed import autocast, float_outputs


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss (``train.on_nonfinite = "stop"``)."""


def train_step(
    model: MIBModel,
    objective: MIBObjective,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    *,
    grad_clip: float = 0.0,
    scheduler=None,
    amp: torch.dtype | None = None,
    scaler=None,
    on_nonfinite: str = "stop",
    where: str = "training",
    loss_weight: float = 1.0,
    world: World = SINGLE,
) -> dict[str, torch.Tensor] | None:
    """One optimisation step on ``batch`` (already on the model's device); returns the
    detached loss terms. ``amp``: autocast dtype of the forward pass (None = fp32; the
    objective always runs in fp32); ``scaler``: the fp16 loss scaler, if any. A non-finite
    loss raises :class:`DivergenceError` (``on_nonfinite = "stop"``) or skips the step and
    returns None (``"skip"``); the weights are never updated from it. Under torchrun,
    ``loss_weight`` scales this rank's loss so that DDP's average over ranks is the global
    batch's gradient (:func:`~mmib.engine.distributed.shard_batches`), and a non-finite loss
    on any rank skips (or stops) the step on every rank."""
    with autocast(batch.labels.device, amp):
        out = model(batch.inputs, batch.masks)
    if amp is not None:
        out = float_outputs(out)
    terms = objective(out, batch.labels)
    loss = terms["loss"]
    if "estimator" in terms:  # a trainable constraint's networks learn in the same backward pass
        loss = loss + terms["estimator"]
    if not all_finite(loss, world):
        if on_nonfinite == "skip":
            optimizer.zero_grad(set_to_none=True)
            return None
        raise DivergenceError(
            f"{where}: the training loss is {loss.item()}{f' on rank {world.rank}' if world.active else ''} (batch {batch.ids[:3]}...): training stopped, every "
            "completed epoch is kept. Lower optim.lr or set train.on_nonfinite = 'skip', then start again "
            "with --overwrite (or continue as it is with mmib train --resume RUN_DIR)")
    optimizer.zero_grad(set_to_none=True)
    if loss_weight != 1.0:
        loss = loss * loss_weight
    if scaler is not None:
        scaler.scale(loss).backward()
        if "estimator" in terms:
            average_gradients(list(objective.estimators.parameters()), world)
        if grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if "estimator" in terms:
            average_gradients(list(objective.estimators.parameters()), world)
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return {k: v.detach() for k, v in terms.items()}


def train_one_epoch(
    model: MIBModel,
    objective: MIBObjective,
    optimizer: torch.optim.Optimizer,
    examples: list[Example],
    *,
    modalities: list[str],
    batch_size: int,
    pad_to: int | None,
    generator: torch.Generator,
    device: torch.device,
    bucket: bool = True,
    grad_clip: float = 0.0,
    scheduler=None,
    progress: bool = True,
    desc: str = "train",
    amp: torch.dtype | None = None,
    scaler=None,
    on_nonfinite: str = "stop",
    where: str = "training",
    world: World = SINGLE,
) -> dict[str, float]:
    """One pass over ``examples`` in a shuffled order; returns the mean of each loss term
    (and ``skipped_steps`` when steps with a non-finite loss were skipped).
    ``amp`` / ``scaler`` / ``on_nonfinite``: as in :func:`train_step`. Under torchrun
    (``world``), this rank trains on its part of every global batch and the means are over
    all ranks' utterances."""
    model.train()
    sums: dict[str, float] = {}
    n = skipped = 0
    order = batch_order(examples, batch_size, shuffle=True, generator=generator, bucket=bucket)
    parts = shard_batches(order, world)
    bar = Progress(parts, desc=desc, enabled=progress and world.main)
    for idx, weight in bar:
        batch = collate([examples[i] for i in idx], modalities, pad_to).to(device)
        terms = train_step(model, objective, optimizer, batch, grad_clip=grad_clip, scheduler=scheduler,
                           amp=amp, scaler=scaler, on_nonfinite=on_nonfinite, where=where, loss_weight=weight,
                           world=world)
        if terms is None:
            skipped += 1
            continue
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(batch)
        n += len(batch)
        bar.add_items(len(batch) * world.size)
        bar.set_postfix(loss=f"{sums['loss'] / n:.4f}")
        faults.point("step")
    if world.active:  # every rank's sums: the epoch's means over all utterances
        total = sum_over_ranks({**sums, " n": float(n)}, world)
        n = int(total.pop(" n"))
        sums = total
    if skipped and not n:
        raise DivergenceError(f"{where}: every training step had a non-finite loss: training stopped, every "
                              "completed epoch is kept. Lower optim.lr, then start again with --overwrite")
    out = {k: v / max(n, 1) for k, v in sums.items()}
    if skipped:
        out["skipped_steps"] = float(skipped)
    return out


def infer(model: MIBModel, batch: Batch, *, inference: str = "mean", mc_samples: int = 10,
          amp: torch.dtype | None = None) -> MIBOutput:
    """The model's outputs on one batch (no gradients needed): ``inference`` mean (z = mu),
    sample (one draw of z, as the reference code) or mc (the final prediction averaged over
    ``mc_samples`` draws); fp32 outputs after an ``amp`` forward pass."""
    with autocast(batch.labels.device, amp):
        out = model(batch.inputs, batch.masks, sample=inference != "mean")
        if inference == "mc":
            draws = [out.prediction] + [model(batch.inputs, batch.masks, sample=True).prediction
                                        for _ in range(mc_samples - 1)]
            out.prediction = torch.stack(draws).mean(0)
            out.heads["fused"] = out.prediction
    return float_outputs(out) if amp is not None else out


class _Collect:
    """Per-utterance outputs of successive batches, and the running mean of each loss term."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.preds: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.fused: list[torch.Tensor] = []
        self.heads: dict[str, list[torch.Tensor]] = {}
        self.kls: dict[str, list[torch.Tensor]] = {}
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, batch: Batch, out: MIBOutput, terms: dict[str, torch.Tensor] | None) -> None:
        for k, v in (terms or {}).items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * len(batch)
        self.n += len(batch)
        self.ids.extend(batch.ids)
        self.preds.append(out.prediction.float().cpu())
        self.labels.append(batch.labels.cpu())
        self.fused.append(out.fused.float().cpu())
        for k, v in out.heads.items():
            self.heads.setdefault(k, []).append(v.float().cpu())
        for k, post in out.posteriors.items():
            self.kls.setdefault(k, []).append(gaussian_kl(post.mu.float(), post.sigma.float()).mean(1).cpu())

    def result(self, order: np.ndarray | None = None) -> Predictions:
        """``order``: positions in batch order of the utterances in the wanted order."""
        def cat(xs: list[torch.Tensor]) -> np.ndarray:
            a = torch.cat(xs).numpy()
            return a if order is None else a[order]
        ids = self.ids if order is None else [self.ids[i] for i in order]
        return Predictions(ids=ids, pred=cat(self.preds), labels=cat(self.labels),
                           heads={k: cat(v) for k, v in self.heads.items()},
                           kl={k: cat(v) for k, v in self.kls.items()}, fused=cat(self.fused),
                           terms={k: v / max(self.n, 1) for k, v in self.sums.items()})


@torch.no_grad()
def predict_batch(model: MIBModel, batch: Batch, *, inference: str = "mean", mc_samples: int = 10,
                  amp: torch.dtype | None = None) -> Predictions:
    """:func:`predict` for one batch that is already collated (and on the model's device)."""
    model.eval()
    c = _Collect()
    c.add(batch, infer(model, batch, inference=inference, mc_samples=mc_samples, amp=amp), None)
    return c.result()


@torch.no_grad()
def predict(
    model: MIBModel,
    examples: list[Example],
    *,
    modalities: list[str],
    batch_size: int,
    pad_to: int | None,
    device: torch.device,
    objective: MIBObjective | None = None,
    inference: str = "mean",
    mc_samples: int = 10,
    progress: bool = False,
    desc: str = "eval",
    amp: torch.dtype | None = None,
    max_padding: float = 0.2,
) -> Predictions:
    """Outputs for every example in file order (``inference``, ``amp``: as in :func:`infer`).

    With dynamic padding (``pad_to`` None) the batches hold utterances of similar length
    (sorted, at most ``batch_size``, padding at most ``max_padding`` times their real steps),
    so little padding is computed; outputs come back in file order. Masked pooling makes each utterance's output independent of its
    batch-mates and padding."""
    model.eval()
    if pad_to is None:
        chunks = length_sorted_batches(examples, batch_size, max_padding)
    else:
        chunks = [list(range(i, min(i + batch_size, len(examples)))) for i in range(0, len(examples), batch_size)]
    index = [i for c in chunks for i in c]
    c = _Collect()
    bar = Progress(chunks, desc=desc, enabled=progress)
    for idx in bar:
        bar.add_items(len(idx))
        batch: Batch = collate([examples[i] for i in idx], modalities, pad_to).to(device)
        out = infer(model, batch, inference=inference, mc_samples=mc_samples, amp=amp)
        c.add(batch, out, objective(out, batch.labels) if objective is not None else None)
    return c.result(np.argsort(np.asarray(index, dtype=np.int64), kind="stable"))  # batch order -> file order
