"""A sweep shared by many workers through an Optuna study (``mmib sweep / paper --storage URL``).

The grid becomes a study whose single parameter is the cell's position, sampled by
:class:`optuna.samplers.GridSampler`; every worker (any number, on any machines that see the
same run folders and storage) runs the same command and trains the cells the study hands it:

- trials 0..n-1 get cells 0..n-1 from the grid sampler (trial numbers are unique in the
  storage), so two workers never start the same cell; a later trial that the sampler gives
  an already finished or running cell (a race at the end of the grid) is pruned untrained;
- a finished cell (a COMPLETE trial) is never trained again, and its seed group's
  summaries are reused as in a one-process sweep;
- a worker killed mid-cell stops sending heartbeats; after the grace period its trial is
  failed and retried with the same cell (:mod:`mmib.studies.storage`), and the new worker
  resumes the cell's runs from their last completed epoch;
- a worker with nothing left to start waits for the running cells, then every worker writes
  the same sweep table (:func:`mmib.studies.sweep.run_sweep` over finished cells trains
  nothing), identical to a one-process sweep's.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import ConfigError, ExperimentConfig
from ..metrics import higher_is_better
from ..report.tables import metrics_line
from .grid import describe, normalise_grid, row_label
from .seeds import parse_seeds, run_seeds
from .storage import describe_url, open_storage, optuna_module
from .sweep import SkipRule, _check_dirs, averages, default_average, plan, run_sweep

POLL_S = 5.0
"""Seconds between looks at the study while other workers finish their cells."""


def _cell_of(t: Any) -> int | None:
    return t.params.get("cell") if "cell" in t.params else t.system_attrs.get("fixed_params", {}).get("cell")


def _progress(study: Any, n: int) -> tuple[set[int], set[int]]:
    """(cells with a COMPLETE trial, cells with a RUNNING or WAITING trial)."""
    states = optuna_module().trial.TrialState
    done, busy = set(), set()
    for t in study.get_trials(deepcopy=False):
        c = _cell_of(t)
        if c is None or not 0 <= c < n:
            continue
        if t.state == states.COMPLETE:
            done.add(c)
        elif t.state in (states.RUNNING, states.WAITING):
            busy.add(c)
    return done, busy - done


def run_shared_sweep(cfg: ExperimentConfig, grid: Any, seeds: int | str | Sequence[int] = 5, *, storage: str,
                     study_name: str | None = None, skip: SkipRule | None = None, skip_invalid: bool = False,
                     average: Sequence[str] | None = None, title: str = "", overwrite: bool = False,
                     log: Callable[[str], None] | None = None, train_log: Callable[[str], None] | None = None,
                     poll_s: float = POLL_S) -> dict[str, Any]:
    """Train this worker's share of the grid's cells, wait for the others, then write and return
    the sweep (as :func:`~mmib.studies.sweep.run_sweep`). ``study_name`` defaults to the
    sweep's name (``cfg.name``)."""
    optuna = optuna_module()
    log = log or (lambda m: None)
    grid = normalise_grid(grid)
    seed_list = list(seeds) if isinstance(seeds, (list, tuple)) else parse_seeds(seeds, cfg.train.seed)
    cells, _ = plan(cfg, grid, skip=skip, skip_invalid=skip_invalid)
    _check_dirs(Path(cfg.out_dir) / cfg.name, cells, overwrite)
    n = len(cells)
    name = study_name or cfg.name
    direction = "maximize" if higher_is_better(cfg.train.select_metric) else "minimize"
    study = optuna.create_study(study_name=name, storage=open_storage(storage), load_if_exists=True,
                                direction=direction, sampler=optuna.samplers.GridSampler({"cell": list(range(n))}))
    labels = [row_label(c.values) for c in cells]
    old = study.user_attrs.get("cells")
    if old is not None and old != labels:
        raise ConfigError(f"--study {name!r} in {describe_url(storage)} holds another grid ({len(old)} cells: "
                          f"{', '.join(old[:3])}...); use another --study or --name")
    if old is None:
        study.set_user_attr("kind", "sweep")
        study.set_user_attr("cells", labels)
        study.set_user_attr("dir", str(Path(cfg.out_dir) / cfg.name))
        study.set_user_attr("metric", cfg.train.select_metric)
        study.set_user_attr("grid", [[k, v] for k, v in grid])
        study.set_user_attr("seeds", seed_list)
        study.set_user_attr("values", [c.values for c in cells])
        study.set_user_attr("average_keys", default_average(grid) if average is None else list(average))
    worker = f"{socket.gethostname()}:{os.getpid()}"
    log(f"worker {worker}: study {name!r} in {describe_url(storage)}, {n} cells")

    def objective(trial: Any) -> float:
        c = trial.suggest_categorical("cell", list(range(n)))
        mine = trial.number
        for t in study.get_trials(deepcopy=False):  # a cell already done, or started by an earlier trial
            if t.number != mine and _cell_of(t) == c and (
                    t.state == optuna.trial.TrialState.COMPLETE
                    or (t.state == optuna.trial.TrialState.RUNNING and t.number < mine)):
                raise optuna.TrialPruned(f"cell {c} is already taken by trial {t.number}")
        cell = cells[c]
        trial.set_user_attr("worker", worker)
        log(f"cell {c + 1}/{n} (trial {trial.number}): {describe(cell.values)}")
        res = run_seeds(cell.cfg, seed_list, overwrite=overwrite, log=lambda m: log(f"  {m}"), train_log=train_log)
        log(f"cell {c + 1}/{n} done: {describe(cell.values)}: test mean over {len(seed_list)} seed(s) "
            f"{metrics_line(res['test']['mean'])}")
        trial.set_user_attr("results", res)
        return float(res["valid"]["mean"][cfg.train.select_metric])

    while True:
        optuna.storages.fail_stale_trials(study)  # a stopped worker's cell goes back in the queue
        done, busy = _progress(study, n)
        if len(done) == n:
            break
        if len(done | busy) == n:
            time.sleep(poll_s)  # every cell is started: wait for the other workers
            continue
        study.optimize(objective, n_trials=1, catch=())
    log(f"worker {worker}: every cell is finished; writing the sweep")
    return run_sweep(cfg, grid, seed_list, skip=skip, skip_invalid=skip_invalid, average=average, title=title,
                     overwrite=False, log=log, train_log=train_log)


def sweep_progress(study: Any) -> dict[str, Any]:
    """A shared sweep's state: counts, and the finished cells in the layout of a sweep result
    (so :func:`mmib.report.sweeps.table` prints them as ``mmib sweep`` does)."""
    states = optuna_module().trial.TrialState
    labels = study.user_attrs.get("cells", [])
    n = len(labels)
    done, busy = _progress(study, n)
    results: dict[int, Any] = {}
    for t in study.get_trials(deepcopy=False):
        if t.state == states.COMPLETE and "results" in t.user_attrs:
            results.setdefault(_cell_of(t), t.user_attrs["results"])
    failed = sum(1 for t in study.get_trials(deepcopy=False) if t.state == states.FAIL)
    values = study.user_attrs.get("values", [{} for _ in labels])
    grid = [(k, v) for k, v in study.user_attrs.get("grid", [])]
    cells = [{"label": labels[c], "values": values[c], "results": results[c]} for c in sorted(results)]
    return {"grid": grid, "seeds": study.user_attrs.get("seeds", []), "cells": cells,
            "averages": averages(cells, grid, study.user_attrs.get("average_keys", [])),
            "done": len(done), "running": len(busy), "failed": failed, "total": n}


__all__ = ["POLL_S", "run_shared_sweep", "sweep_progress"]
