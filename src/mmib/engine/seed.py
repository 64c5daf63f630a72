"""Seeding and random-generator state (what makes a CPU run repeatable bit for bit)."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    # use_deterministic_algorithms also fills every new tensor with NaN (a debugging aid that
    # finds reads of uninitialised memory): 35% of a bf16 training step and 37% of evaluation
    # went to that fill (benchmarks/profile_step.py, docs/speed.md). Results do not depend on
    # it, since no kernel we use reads memory it has not written.
    torch.utils.deterministic.fill_uninitialized_memory = False


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The data order of an epoch depends only on (seed, epoch), so a resumed run replays it."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
             "numpy_pos": int(np.random.get_state()[2]), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device = {name!r} but CUDA is not available; use 'cpu' or 'auto'")
    return dev
