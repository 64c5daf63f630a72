"""Checkpoints: atomic writes, safetensors weights with the resolved config inside, resume state.

``best.safetensors`` holds the weights plus metadata (``config`` as TOML, ``meta`` as JSON):
one file, replaced atomically, so weights and config can never disagree. ``state.pt`` holds
what resuming needs; it is read with ``weights_only=True`` (no code can run from it).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_weights(path: Path, model: torch.nn.Module, config_toml: str, meta: dict[str, Any]) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"config": config_toml, "meta": json.dumps(meta), "format": "mmib-1"}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=metadata))


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], str, dict[str, Any]]:
    """(state dict, config TOML, meta) from a checkpoint file; clear errors for bad files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for corrupt files
        raise ValueError(f"{path}: not a readable safetensors checkpoint ({e})") from None
    if metadata.get("format") != "mmib-1" or "config" not in metadata:
        raise ValueError(f"{path}: safetensors file without mmib metadata (config/meta); "
                         "expected a checkpoint written by mmib")
    return state, metadata["config"], json.loads(metadata.get("meta", "{}"))


def save_state(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_state(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)
