"""fit: train with model selection on the validation split, resume, then test the selected epoch.

The loop and the selection live here; the model, the objective and the data come built from
an :class:`~mmib.engine.Experiment`; the final test reuses that experiment (its model with
the selected weights loaded) and returns a :class:`FitResult`. Nothing here prints: progress
lines go to ``log`` (the CLI passes ``print``). Files: :mod:`mmib.engine.rundir`.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch

from .. import config as config_mod
from ..data.corruptions import augment, context_for
from ..data.examples import shortening_notes
from ..config import ExperimentConfig
from ..metrics import higher_is_better
from ..tracking import RunInfo, Trackers, flat_params
from . import distributed, faults
from .checkpoint import (CorruptFileError, DamagedFileWarning, atomic_write_text, load_state, remove_state, save_state, save_weights,
                         verify)
from .checks import check_config
from .evaluate import summarize
from .experiment import Experiment, trainable_state
from .interrupt import note_run, safe_point
from .loop import train_one_epoch
from .rundir import RunExistsError, RunLock, clear_run, has_run, read_log, read_summary, run_dir_for
from .seed import epoch_generator, resolve_device, rng_state, set_rng_state
from .speed import grad_scaler, precision_name

Log = Callable[[str], None]
EpochHook = Callable[[int, dict[str, float]], None]
"""Gets (epoch counted from 1, that epoch's validation loss terms and metrics)."""


@dataclass
class FitResult(Mapping[str, Any]):
    """What :func:`fit` returns: the summary (the content of summary.json), the run directory
    and, unless the run was already finished, the experiment with the selected weights loaded.
    It reads as the summary too: ``result["test"]["MAE"]``."""

    summary: dict[str, Any]
    run_dir: Path
    experiment: Experiment | None = None
    resumed_from: int = 0
    """The number of epochs that were already done when this call started (0: a new run)."""

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.summary)

    def __len__(self) -> int:
        return len(self.summary)


def _quiet(_: str) -> None:
    pass


def busy_note(threads: int) -> str | None:
    """A hint when the CPU is shared: with more runnable processes than cores, torch's threads
    wait for each other, and one thread per process is often several times faster."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:
        return None
    if threads <= 1 or load <= cores:
        return None
    return (f"note: this machine is busy (load {load:.1f} on {cores} cores) and torch uses {threads} threads: "
            "on a shared machine one thread is often several times faster (OMP_NUM_THREADS=1; docs/speed.md)")


def fit(cfg: ExperimentConfig, *, run_dir: Path | None = None, resume: bool = False,
        overwrite: bool = False, explicit_name: bool = False, log: Log | None = None,
        allow_world_size_change: bool = False, on_epoch: EpochHook | None = None,
        tracking: Mapping[str, Any] | None = None) -> FitResult:
    """Train, select on validation, test the selected checkpoint.

    ``resume=True`` continues the run in ``run_dir`` from its last completed epoch (its saved
    config wins). ``log`` receives one line per epoch and a few more (default: silent). The
    run folder is locked while this runs: a second process on it stops at once.

    Under ``torchrun`` every rank calls this; rank 0 alone locks and writes the run folder and
    logs, the other ranks learn its path from rank 0 (the folder must be on a file system all
    ranks see). Resuming with another number of ranks than the run was saved with is an error
    unless ``allow_world_size_change``. ``on_epoch(epoch, valid)`` is called after each epoch's
    files are saved (a tuner reports the validation metrics there and may raise to stop the
    run early: the run folder then stays resumable). ``tracking``: extra parameters the
    trackers of ``train.loggers`` record beside the config (a sweep cell's grid values, a
    group's seed); only rank 0 tracks."""
    world = distributed.world()
    log = (log or _quiet) if world.main else _quiet
    if world.active:  # join the group before rank 0 tells the others where the run goes
        distributed.init(resolve_device(distributed.local_device(cfg.train.device, world)))
    if resume:
        assert run_dir is not None
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"{run_dir}: no such run directory")
        with RunLock(run_dir) if world.main else nullcontext():
            if (run_dir / "summary.json").exists():
                log(f"{run_dir} is already finished; nothing to resume")
                return FitResult(read_summary(run_dir), run_dir)
            if not (run_dir / "config.toml").exists():
                raise FileNotFoundError(
                    f"{run_dir}: no config.toml: the run stopped before it wrote its config (nothing was "
                    "trained); start it again with the same command and --overwrite, or delete the folder")
            cfg = config_mod.load(run_dir / "config.toml")
            return _train(Experiment.build(cfg), run_dir, True, log, allow_world_size_change, on_epoch, tracking)
    check_config(cfg)  # before a folder is made or a text encoder is loaded
    if cfg.data.path and not Path(cfg.data.path).is_absolute():
        # the saved config must find the data from any working directory (evaluate, resume)
        cfg = config_mod.set_value(cfg, "data.path", str(Path(cfg.data.path).expanduser().resolve()))
    if not world.main:
        target = Path(distributed.broadcast(None, world))
        return _train(Experiment.build(cfg), target, False, log, on_epoch=on_epoch, tracking=tracking)
    given = run_dir is not None
    while True:
        target = Path(run_dir) if given else run_dir_for(cfg, overwrite=overwrite, explicit_name=explicit_name)
        with RunLock(target):
            if not given and not overwrite and has_run(target):
                if explicit_name:  # started by another process since we looked
                    run_dir_for(cfg, explicit_name=True)  # raises RunExistsError naming it
                continue  # the default name: take the next suffix
            if overwrite:
                clear_run(target)
            atomic_write_text(target / "config.toml", cfg.to_toml())  # first: any later kill is resumable
            distributed.broadcast(str(target), world)
            faults.point("built")
            return _train(Experiment.build(cfg), target, False, log, on_epoch=on_epoch, tracking=tracking)


def _load_resume_state(run_dir: Path, log: Log, epochs: int | None = None) -> dict[str, Any] | None:
    """The newest resume state that verifies (state.pt, else state.prev.pt), or None if neither exists."""
    errors = []
    for name in ("state.pt", "state.prev.pt"):
        path = run_dir / name
        if not path.exists():
            continue
        try:
            st = load_state(path, epochs)
        except CorruptFileError as e:
            errors.append(str(e))
            continue
        if errors:
            warnings.warn(f"{errors[0]}; resuming from {name} (one epoch earlier)", DamagedFileWarning, stacklevel=2)
        return st
    if errors:
        raise CorruptFileError("; ".join(errors) + "; no resume state left: start again with --overwrite")
    return None


def _check_world(st: dict[str, Any], run_dir: Path, world: distributed.World, allow: bool, log: Log) -> None:
    saved = int(st.get("world_size", 1))
    if saved == world.size:
        return
    if not allow:
        raise RuntimeError(
            f"{run_dir}: the run was trained by {saved} process(es) and is resumed by {world.size}; the global "
            "batch and learning rates are the same, but the floating-point order of the gradient sums changes, "
            "so the result is no longer the one the original setup would give. Resume with "
            f"{saved} process(es), or pass --allow-world-size-change")
    log(f"resuming a run of {saved} process(es) with {world.size} (allowed)")


def _trackers(exp: Experiment, run_dir: Path, done: int, tracking: Mapping[str, Any] | None, log: Log) -> Trackers:
    c = exp.cfg.train
    if not c.loggers:
        return Trackers([], None)
    from ..tracking.mlflow_logger import default_uri

    name = run_dir.name if not run_dir.name.startswith("seed-") else f"{run_dir.parent.name}/{run_dir.name}"
    info = RunInfo(run_dir, name, exp.cfg.to_toml(), flat_params(exp.cfg.to_dict()), dict(tracking or {}),
                   c.tracking_uri or default_uri(exp.cfg.out_dir), c.tracking_experiment, done)
    return Trackers(c.loggers, info, warn=lambda m: log(f"warning: {m}"))


def _train(exp: Experiment, run_dir: Path, resume: bool, log: Log, allow_world_size_change: bool = False,
           on_epoch: EpochHook | None = None, tracking: Mapping[str, Any] | None = None) -> FitResult:
    cfg, c = exp.cfg, exp.cfg.train
    world, main = exp.world, exp.world.main
    net = distributed.wrap(exp.model, world, exp.device)  # what trains; exp.model is what is saved and evaluated
    opt, sched = exp.make_optimizer()
    scaler = grad_scaler(exp.device, exp.amp)
    toml = cfg.to_toml()
    data_info = exp.data_info()
    if main:
        for line in shortening_notes(data_info):  # loud when frames are cut, not only in data.json
            log(line)
    done, best_score, best_epoch = 0, None, 0
    state_path = run_dir / "state.pt"
    st = _load_resume_state(run_dir, log, c.epochs) if resume else None
    if resume:
        try:
            verify(run_dir / "best.safetensors")
        except CorruptFileError as e:
            raise CorruptFileError(f"{e}: the selected weights are lost; start the run again with --overwrite") \
                from None
    if st is not None:
        _check_world(st, run_dir, world, allow_world_size_change, log)
        exp.model.load_state_dict(st["model"])
        exp.objective.load_state_dict(st.get("objective", {}))
        opt.load_state_dict(st["optimizer"])
        if sched is not None and st.get("scheduler"):
            sched.load_state_dict(st["scheduler"])
        set_rng_state(st["rng"])
        if scaler is not None and st.get("scaler"):
            scaler.load_state_dict(st["scaler"])  # fp16 on CUDA: the loss scale continues too
        done, best_score, best_epoch = st["epoch"], st["best_score"], st["best_epoch"]
        log(f"resuming {run_dir} at epoch {done + 1}/{c.epochs}")
        if st.get("precision", precision_name(exp.amp)) != precision_name(exp.amp):
            log(f"note: epochs 1-{done} ran in {st['precision']}, the rest runs in {precision_name(exp.amp)} "
                f"({exp.precision_note}); set train.precision to keep one precision across machines")
    if st is None and main:
        atomic_write_text(run_dir / "config.toml", toml)
        atomic_write_text(run_dir / "data.json", json.dumps(data_info, indent=2))
        if exp.model.text_parameters():
            tok_dir = run_dir / "text_encoder"
            exp.get_tokenizer().save_pretrained(str(tok_dir))
            exp.model.encoders["text"].backbone.config.save_pretrained(str(tok_dir))
    # keep only epochs the saved state covers (a killed epoch may have logged nothing or a line)
    log_path = run_dir / "metrics.jsonl"
    history = [h for h in read_log(run_dir, tolerant=True) if h["epoch"] <= done] if log_path.exists() else []
    if main:
        atomic_write_text(log_path, "".join(json.dumps(h) + "\n" for h in history))

    sel = c.select_metric
    sizes = exp.data.sizes
    log(f"run {run_dir} | {exp.data.dataset} ({exp.task}) train/valid/test = "
        f"{sizes['train']}/{sizes['valid']}/{sizes['test']} | {cfg.model.variant} + {cfg.model.fusion} "
        f"| {sum(p.numel() for p in exp.model.parameters()):,} parameters | {exp.device} "
        f"{precision_name(exp.amp)}"
        + (f" | {world.size} processes (torchrun)" if world.active else "")
        + (f" | {torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}"
           if exp.device.type == "cpu" else ""))
    if exp.device.type == "cpu":
        busy = busy_note(torch.get_num_threads())
        if busy:
            log(busy)
    if exp.text_cache is not None:
        if main:  # rank 0 builds the cache; the others then read it
            for split in ("train", "valid", "test"):
                exp.examples(split)
        distributed.barrier(world)
        exp.examples("train")
        r = exp.text_cache.log[-1]
        log(f"frozen text encoder: training on cached states ({'reused' if r['hit'] else 'built'} "
            f"in {r['seconds']:.1f}s under {c.cache_dir})")
    context = context_for(exp.data.train, cfg.data.modalities, exp.get_tokenizer()) if cfg.data.augment else None
    trackers = _trackers(exp, run_dir, done, tracking, log) if main else Trackers([], None)
    try:
        for epoch in range(done + 1, c.epochs + 1):  # epochs count from 1
            t0 = time.time()
            examples = exp.examples("train")
            if context is not None:
                examples = augment(examples, cfg.data.augment, c.seed, epoch, context)
            train_terms = train_one_epoch(
                net, exp.objective, opt, examples, modalities=cfg.data.modalities,
                batch_size=c.batch_size, pad_to=exp.pad_to, generator=epoch_generator(c.seed, epoch - 1),
                device=exp.device, bucket=cfg.data.bucket, grad_clip=cfg.optim.grad_clip, scheduler=sched,
                progress=c.progress, desc=f"epoch {epoch}/{c.epochs}", amp=exp.amp, scaler=scaler,
                on_nonfinite=c.on_nonfinite, where=f"{run_dir}: epoch {epoch}", world=world)
            valid, _ = exp.evaluate("valid")
            if sel not in valid:
                raise KeyError(f"train.select_metric = {sel!r} is not computed on this task; "
                               f"expected one of {sorted(valid)}")
            score = valid[sel]
            improved = best_score is None or (score > best_score if higher_is_better(sel) else score < best_score)
            record: dict[str, Any] = {"epoch": epoch, "seconds": round(time.time() - t0, 3),
                                      "train": train_terms, "valid": valid, "selected": improved}
            if c.log_test_every_epoch:
                record["test_every_epoch (not used for selection)"], _ = exp.evaluate("test")
            with safe_point():  # Ctrl-C / SIGTERM here act once the epoch's files are written
                if improved:
                    best_score, best_epoch = score, epoch
                    if main:
                        save_weights(run_dir / "best.safetensors", trainable_state(exp.model, exp.objective), toml,
                                     {"epoch": epoch, "valid": valid, "data": data_info})
                history.append(record)
                if main:
                    atomic_write_text(log_path, "".join(json.dumps(h) + "\n" for h in history))
                    trackers.epoch(record, [(g.get("name", str(i)), g["lr"]) for i, g in enumerate(opt.param_groups)])
                    save_state(state_path, {
                        "model": exp.model.state_dict(), "objective": exp.objective.state_dict(),
                        "optimizer": opt.state_dict(), "scheduler": sched.state_dict() if sched is not None else {},
                        "rng": rng_state(), "epoch": epoch, "best_score": best_score, "best_epoch": best_epoch,
                        "scaler": scaler.state_dict() if scaler is not None else {}, "world_size": world.size,
                        "precision": precision_name(exp.amp),
                    })
            distributed.barrier(world)  # the epoch's files are complete before any rank goes on
            faults.point("epoch_end")
            shown = "" if sel == "loss" else f" {sel} {score:.4f}"  # the selection metric, when not the loss
            skipped = int(train_terms.get("skipped_steps", 0))
            log(f"epoch {epoch:>3}/{c.epochs} train loss {train_terms['loss']:.4f} | valid loss "
                f"{valid['loss']:.4f}{shown}{' *' if improved else ''} | {record['seconds']:.1f}s"
                + (f" | {skipped} non-finite step(s) skipped" if skipped else ""))
            if on_epoch is not None:
                on_epoch(epoch, valid)

        exp.load_weights(run_dir / "best.safetensors")  # the selected epoch, as saved
        summary = summarize(exp, run_dir)
        if main:
            atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
            if not c.keep_state:
                remove_state(run_dir)  # finished: resume needs nothing more
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            note_run(e, run_dir)  # the command line names the folder to resume
        trackers.finish(None, ok=False)
        raise
    trackers.finish(summary, ok=True)
    distributed.barrier(world)
    return FitResult(summary, run_dir, exp, done)


__all__ = ["FitResult", "RunExistsError", "fit"]
