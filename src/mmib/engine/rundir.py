"""The run directory: where a run's files go and the rule that nothing is overwritten.

``<out_dir>/<name>/``:
  config.toml        the fully resolved config
  data.json          dataset provenance, task, dims, split sizes
  metrics.jsonl      one JSON line per epoch (epochs count from 1): train terms, valid terms and metrics
  best.safetensors   weights of the selected epoch + config + meta (atomic)
  text_encoder/      tokenizer and config of the text encoder (rebuild offline)
  state.pt           what resuming needs (atomic, each epoch; the previous one is state.prev.pt);
                     both removed when the run finishes unless train.keep_state
  checksums.json     SHA-256 of best.safetensors and the state files, verified on every read
  summary.json       written last: selected epoch (1-based), valid and test metrics, split sizes
  .lock              held while a process works on the run (a second one stops at once)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..config import ExperimentConfig

RUN_FILES = ("config.toml", "data.json", "metrics.jsonl", "best.safetensors", "state.pt", "state.prev.pt",
             "summary.json", "checksums.json", "text_encoder")


class RunExistsError(RuntimeError):
    pass


class RunInUseError(RuntimeError):
    """Another process holds the run folder's lock."""


def has_run(run_dir: Path) -> bool:
    """Whether the folder holds any run file (lock files do not count)."""
    return any((Path(run_dir) / f).exists() for f in RUN_FILES)


class RunLock:
    """An exclusive lock on a run folder (``filelock`` on ``<run>/.lock``; the operating system
    releases it when the process dies, kill -9 included). The holder's pid, host and start
    time are in ``.lock.owner`` so that the refusal can name it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.lock = FileLock(str(self.run_dir / ".lock"))
        self.owner = self.run_dir / ".lock.owner"

    def __enter__(self) -> "RunLock":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            try:
                who = json.loads(self.owner.read_text())
                holder = f"pid {who['pid']} on {who['host']}, since {who['since']}"
            except (OSError, ValueError, KeyError):
                holder = "owner unknown"
            raise RunInUseError(f"{self.run_dir} is in use by another mmib process ({holder}); wait for it "
                                "to finish, or use another --name") from None
        self.owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                          "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        for tmp in self.run_dir.glob(".*.tmp"):  # left by a kill during a write
            tmp.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.owner.unlink(missing_ok=True)
        self.lock.release()


def run_dir_for(cfg: ExperimentConfig, *, overwrite: bool = False, explicit_name: bool = False) -> Path:
    """A fresh run directory. A finished or started run is never silently overwritten: with an
    explicit name it is an error (use --resume or --overwrite), otherwise a suffix is added."""
    base = Path(cfg.out_dir) / cfg.name
    if overwrite or not has_run(base):
        return base
    if explicit_name:
        finished = (base / "summary.json").exists()
        raise RunExistsError(
            f"{base} already holds a {'finished' if finished else 'started'} run; "
            f"use --resume {base} to continue it, --overwrite to replace it, or another --name"
        )
    i = 2
    while has_run(Path(cfg.out_dir) / f"{cfg.name}-{i}"):
        i += 1
    return Path(cfg.out_dir) / f"{cfg.name}-{i}"


def clear_run(run_dir: Path) -> None:
    """Remove an old run's results before it is trained again (``--overwrite``)."""
    for f in ("summary.json", "state.pt", "state.prev.pt", "metrics.jsonl", "best.safetensors", "checksums.json",
              "tracking.json"):
        (Path(run_dir) / f).unlink(missing_ok=True)
    shutil.rmtree(Path(run_dir) / "tensorboard", ignore_errors=True)  # the old run's event files


def read_log(run_dir: str | Path, *, tolerant: bool = False) -> list[dict[str, Any]]:
    """The per-epoch records of ``metrics.jsonl`` (one dict per finished epoch); ``tolerant``
    drops damaged lines instead of raising (resume rewrites the log from the state anyway)."""
    f = Path(run_dir) / "metrics.jsonl"
    if not f.exists():
        raise FileNotFoundError(f"{f}: no training log; expected a run directory made by mmib train")
    rows = []
    for n, line in enumerate(f.read_text(errors="replace").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
                    raise ValueError("no epoch number")
                rows.append(row)
            except ValueError as e:
                if not tolerant:
                    raise ValueError(f"{f}:{n}: not an epoch record ({getattr(e, 'msg', e)}); the log is "
                                     "damaged") from None
    return rows


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    f = Path(run_dir) / "summary.json"
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not valid JSON ({e.msg}); the summary is damaged") from None


def read_extraction(run_dir: str | Path) -> dict[str, Any]:
    """How the run's training features were extracted (the data file's ``Corpus.extraction``
    record, kept in ``data.json`` under ``"extraction"``): per modality the extractor's
    description, ``aligned``, ``max_frames``, ``sample_rate``, ``fps``, ``mmib``. ``{}`` when
    the run was trained on features not made by ``mmib extract`` (synth, the field's files)."""
    f = Path(run_dir) / "data.json"
    if not f.exists():
        raise FileNotFoundError(f"{f}: no data record; expected a run directory made by mmib train")
    try:
        info = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not valid JSON ({e.msg}); the data record is damaged") from None
    return dict(info.get("extraction") or {})


__all__ = ["RUN_FILES", "RunExistsError", "RunInUseError", "RunLock", "clear_run", "has_run", "read_extraction", "read_log",
           "read_summary",
           "run_dir_for"]
