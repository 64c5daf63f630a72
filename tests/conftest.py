"""Shared test helpers: tiny configs that train in seconds on 2 CPU cores."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mmib import config as config_mod

# The fault tests rehearse Ctrl-C (MMIB_FAULT=...:sigint). A shell that starts pytest in the
# background without job control (`cmd &`, nohup) sets SIGINT to "ignore", which Python and
# every child process would inherit, and the rehearsed Ctrl-C would then do nothing. Restore
# Python's own handler; children then start with the default disposition.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# train.precision = "auto" would pick bf16 on a CPU with bf16 matrix units: the suite's
# exactness checks are written for fp32, so auto means fp32 here on every machine, in this
# process and in every subprocess it starts, module-scoped fixtures included
# (tests/test_precision_choice.py tests the choice itself; explicit bf16 is tested too)
os.environ["MMIB_CPU_BF16"] = "0"

TINY = [
    "model.text_encoder='tiny-config'",
    "model.d=10",
    "model.n_heads=2",
    "model.ib_hidden=16",
    "data.synth.n_train=64",
    "data.synth.n_valid=16",
    "data.synth.n_test=24",
    "train.epochs=2",
    "train.batch_size=16",
    "train.progress=false",
    "optim.lr=1e-3",
    "optim.text_lr=1e-3",
]


def tiny_config(tmp_path: Path, *overrides: str) -> config_mod.ExperimentConfig:
    """A tiny C-MIB on tiny synth writing runs under tmp_path."""
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + [f"out_dir='{tmp_path}'"])
    return config_mod.apply_overrides(cfg, list(overrides))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # the suite must never touch the network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One thread per test process: tiny models gain nothing from more, and on a busy 2-core
# machine oversubscribed OpenMP threads make them tens of times slower. Subprocesses inherit it.
os.environ["OMP_NUM_THREADS"] = "1"
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _mmib_cache(tmp_path_factory):
    """mmib's per-user cache folder (``MMIB_CACHE``) is one folder of this test session,
    inherited by subprocesses: the suite writes nothing to ~/.cache/mmib, and what it assembles
    there (all-mpnet-base-v2 from its parts: 438 MB hashed) is assembled once per session."""
    os.environ["MMIB_CACHE"] = str(tmp_path_factory.getbasetemp() / "mmib-cache")
    os.environ.pop("MMIB_MPNET_DIR", None)


@pytest.fixture(scope="session")
def mpnet_folder(_mmib_cache):
    """all-mpnet-base-v2 from the installed parts of ``mmib[mpnet]``, in the session's cache."""
    from mmib.encoders import mpnet

    if not mpnet.PARTS.installed():
        pytest.skip("needs the extra mmib[mpnet] (the README's test command installs it)")
    return mpnet.mpnet_path()
