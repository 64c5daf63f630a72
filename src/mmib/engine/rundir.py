"""The run directory: where a run's files go and the rule that nothing is overwritten.

``<out_dir>/<name>/``:
  config.toml        the fully resolved config
  data.json          dataset provenance, task, dims, split sizes
  metrics.jsonl      one JSON line per epoch (epochs count from 1): train terms, valid terms and metrics
  best.safetensors   weights of the selected epoch + config + meta (atomic)
  text_encoder/      tokenizer and config of the text encoder (rebuild offline)
  state.pt           what resuming needs (atomic, each epoch); removed when the run finishes
                     unless train.keep_state
  summary.json       written last: selected epoch (1-based), valid and test metrics, split sizes
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import ExperimentConfig

RUN_FILES = ("config.toml", "data.json", "metrics.jsonl", "best.safetensors", "state.pt", "summary.json")


class RunExistsError(RuntimeError):
    pass


def run_dir_for(cfg: ExperimentConfig, *, overwrite: bool = False, explicit_name: bool = False) -> Path:
    """A fresh run directory. A finished or started run is never silently overwritten: with an
    explicit name it is an error (use --resume or --overwrite), otherwise a suffix is added."""
    base = Path(cfg.out_dir) / cfg.name
    if not base.exists() or overwrite or not any(base.iterdir()):
        if overwrite and base.exists():
            for f in ("summary.json", "state.pt", "metrics.jsonl", "best.safetensors"):
                (base / f).unlink(missing_ok=True)
        return base
    if explicit_name:
        finished = (base / "summary.json").exists()
        raise RunExistsError(
            f"{base} already holds a {'finished' if finished else 'started'} run; "
            f"use --resume {base} to continue it, --overwrite to replace it, or another --name"
        )
    i = 2
    while (Path(cfg.out_dir) / f"{cfg.name}-{i}").exists():
        i += 1
    return Path(cfg.out_dir) / f"{cfg.name}-{i}"


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch records of ``metrics.jsonl`` (one dict per finished epoch)."""
    f = Path(run_dir) / "metrics.jsonl"
    if not f.exists():
        raise FileNotFoundError(f"{f}: no training log; expected a run directory made by mmib train")
    rows = []
    for n, line in enumerate(f.read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{f}:{n}: not a JSON record ({e.msg}); the log is damaged") from None
    return rows


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    f = Path(run_dir) / "summary.json"
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not valid JSON ({e.msg}); the summary is damaged") from None


__all__ = ["RUN_FILES", "RunExistsError", "read_log", "read_summary", "run_dir_for"]
