"""Re-evaluate a saved run, and load a checkpoint for prediction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..metrics import resolve_family
from .checkpoint import atomic_write_text, read_weights
from .fit import Setup, setup


def checkpoint_path(path: str | Path) -> Path:
    """A run directory or a .safetensors file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint (a finished run has best.safetensors)")
    return path


def load_setup(path: str | Path, *, build_data: bool = True, overrides: list[str] | None = None) -> tuple[Setup, dict[str, Any]]:
    """Rebuild data, model and objective from a checkpoint and load its weights (no download:
    the text encoder's architecture and tokenizer come from the run's ``text_encoder/``)."""
    ckpt = checkpoint_path(path)
    state, toml, meta = read_weights(ckpt)
    cfg = config_mod.apply_overrides(config_mod.from_dict(config_mod.tomllib.loads(toml)), overrides or [])
    text_dir = ckpt.parent / "text_encoder"
    text_source = str(text_dir) if text_dir.exists() else None
    data = None
    if not build_data:
        from ..data.types import DatasetSplits

        info = meta["data"]
        data = DatasetSplits([], [], [], info["dataset"], info["task"], info["label_names"], info["dims"], {})
    s = setup(cfg, pretrained=False, text_source=text_source, data=data)
    missing, unexpected = s.model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{ckpt}: weights do not match the config's model "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    return s, meta


def evaluate_run(run_dir: str | Path, *, write: bool = False, quiet: bool = False,
                 overrides: list[str] | None = None) -> dict[str, Any]:
    """Test (and valid) metrics of a run's selected checkpoint; ``write`` saves summary.json."""
    run_dir = Path(run_dir)
    s, meta = load_setup(run_dir, overrides=overrides)  # e.g. eval.convention="mmsa" to re-score
    valid, _ = s.evaluate("valid")
    test, _ = s.evaluate("test")
    summary = {
        "run": str(run_dir),
        "name": run_dir.name,
        "dataset": s.data.dataset,
        "task": s.task,
        "variant": s.cfg.model.variant,
        "fusion": s.cfg.model.fusion,
        "text_encoder": s.cfg.model.text_encoder,
        "seed": s.cfg.train.seed,
        "best_epoch": meta["epoch"],
        "sizes": s.data.sizes,
        "metric_convention": s.cfg.eval.convention,
        "metric_family": resolve_family(s.cfg.eval.metrics, s.task, s.data.dataset,
                                        s.data.label_names, s.data.info),
        "inference": s.cfg.model.inference,
        "parameters": sum(p.numel() for p in s.model.parameters()),
        "valid": valid,
        "test": test,
    }
    if write:
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    return summary
