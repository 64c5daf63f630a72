"""Data-parallel training under ``torchrun`` (PyTorch's launcher; DistributedDataParallel underneath).

``torchrun --nproc-per-node N -m mmib train -c CONFIG`` starts N processes (ranks) that read
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment. Here:

- :func:`world` reads them (one process without torchrun: rank 0 of a world of 1) and
  :func:`init` joins the process group once: backend ``nccl`` on GPUs, ``gloo`` on CPU;
  ``train.device = "auto"`` (or ``"cuda"``) becomes each rank's local GPU ``cuda:LOCAL_RANK``.
- :func:`shard_batches`: every rank computes the same global batch order (a function of seed
  and epoch, length buckets included) and takes every N-th utterance of each global batch,
  so each rank's part is padding-bounded like the whole batch, the global batch and the
  learning rates are those of one process, and every rank takes the same number of steps.
  Each part's loss is weighted by ``N * n_rank / n_batch``: DDP averages gradients over
  ranks, so the update is the gradient of the global batch's mean loss, as in one process.
- :func:`gather_predictions`: evaluation splits a split over the ranks and gathers every
  rank's predictions back into file order before any metric is computed (F1 and Corr of a
  split cannot be averaged from its parts).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the ranks: ``rank`` of ``size``, ``local_rank`` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


SINGLE = World()
"""One process (no torchrun)."""


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"environment variable {name}={text!r}: expected a non-negative integer (set by torchrun)")
    return int(text)


def world() -> World:
    """The world torchrun describes in the environment (a single process: ``World()``)."""
    size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if size < 1 or rank >= size:
        raise ValueError(f"environment: RANK={rank} is not below WORLD_SIZE={size} (set by torchrun)")
    return World(rank, size, _env_int("LOCAL_RANK", rank))


def is_main() -> bool:
    """Whether this process is rank 0 (always, without torchrun)."""
    return world().main


def local_device(name: str, w: World) -> str:
    """``train.device`` for this rank: ``auto`` / ``cuda`` -> ``cuda:LOCAL_RANK`` when CUDA is
    available under torchrun; anything else unchanged."""
    if w.active and name in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{w.local_rank % torch.cuda.device_count()}"
    return name


def init(device: torch.device) -> World:
    """Join the process group (once per process) when torchrun started more than one rank."""
    w = world()
    if w.active and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return w


def wrap(model: torch.nn.Module, w: World, device: torch.device) -> torch.nn.Module:
    """The model to train: wrapped in DistributedDataParallel when the world has several ranks.
    ``find_unused_parameters``: heads or bottlenecks that a variant leaves out of the loss get
    no gradient, and DDP must know not to wait for them."""
    if not w.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def shard_batches(order: Sequence[Sequence[int]], w: World) -> list[tuple[list[int], float]]:
    """This rank's part of every global batch and its loss weight (1.0 in one process).

    A global batch with fewer utterances than ranks (a split's tiny last batch) is left out on
    every rank, so that no rank has an empty step while the others wait for its gradient."""
    if not w.active:
        return [(list(b), 1.0) for b in order]
    out = []
    for b in order:
        if len(b) < w.size:
            continue
        part = list(b)[w.rank::w.size]
        out.append((part, w.size * len(part) / len(b)))
    return out


def barrier(w: World) -> None:
    if w.active:
        dist.barrier()


def broadcast(obj: Any, w: World) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not w.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather(obj: Any, w: World) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    if not w.active:
        return [obj]
    out: list[Any] = [None] * w.size
    dist.all_gather_object(out, obj)
    return out


def all_finite(loss: torch.Tensor, w: World) -> bool:
    """Whether the loss is finite on every rank (a step is skipped everywhere or nowhere)."""
    ok = torch.isfinite(loss.detach()).to(torch.float32).reshape(1)
    if w.active:
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() > 0)


def average_gradients(params: Sequence[torch.nn.Parameter], w: World) -> None:
    """Average the gradients of parameters DDP does not hold (a trainable constraint's
    estimators, which live in the objective) over the ranks, as DDP does for the model's."""
    if not w.active:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(w.size)


def sum_over_ranks(values: dict[str, float], w: World) -> dict[str, float]:
    """Element-wise sums of per-rank numbers (same keys on every rank, e.g. loss sums and counts)."""
    if not w.active or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return dict(zip(keys, t.cpu().tolist()))


def split_indices(n: int, w: World) -> list[int]:
    """The positions of a split's utterances that this rank evaluates (every size-th one)."""
    return list(range(w.rank, n, w.size))


def merge_in_order(parts: list[tuple[list[int], Any]], n: int) -> np.ndarray:
    """Positions gathered from every rank -> the permutation that restores file order."""
    index = np.concatenate([np.asarray(p, dtype=np.int64) for p, _ in parts]) if parts else np.zeros(0, np.int64)
    if len(index) != n or len(set(index.tolist())) != n:
        raise RuntimeError(f"distributed evaluation gathered {len(index)} predictions for {n} utterances")
    return np.argsort(index, kind="stable")


def shutdown() -> None:
    """Leave the process group (end of a torchrun process)."""
    if dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["SINGLE", "World", "all_finite", "all_gather", "barrier", "broadcast", "init", "is_main", "local_device",
           "merge_in_order", "shard_batches", "shutdown", "split_indices", "sum_over_ranks", "world", "wrap"]
