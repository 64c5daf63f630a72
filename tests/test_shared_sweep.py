"""mmib sweep --storage: a grid shared by worker processes through a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY
from pg_server import postgres_url  # noqa: F401  (module fixture)

from mmib import config as config_mod
from mmib.cli import main
from mmib.report import sweeps
from mmib.studies import run_sweep
from mmib.studies.grid import parse_grid
from mmib.studies.storage import kind, load_study, sqlalchemy_url

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")
GRID = ["model.variant=noib,cmib", "model.fusion=concat,addition"]


def _config(tmp_path):
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + [
        f"out_dir='{tmp_path / 'runs'}'", "train.epochs=1", "train.device='cpu'"])
    path = tmp_path / "tiny.toml"
    path.write_text(cfg.to_toml())
    return path, cfg


def test_storage_urls():
    assert kind("study.db") == "sqlite" and sqlalchemy_url("x/study.db").startswith("sqlite:///")
    assert kind("journal:study.log") == kind("a.log") == "journal"
    assert kind("postgresql://u@h/db") == "database"
    with pytest.raises(ValueError, match="--storage 'nope': expected sqlite"):
        kind("nope")


@pytest.mark.slow
def test_two_workers_share_a_grid_over_postgresql(tmp_path, postgres_url, capsys):  # noqa: F811
    path, cfg = _config(tmp_path)
    cmd = [sys.executable, "-m", "mmib", "sweep", "-c", str(path), "--name", "shared", "--seeds", "1", "-q",
           "--storage", postgres_url] + [a for g in GRID for a in ("--grid", g)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(2)]
    outs = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, outs):
        assert w.returncode == 0, err[-3000:]
    logs = "".join(out for out, _ in outs)
    # every cell trained exactly once over both workers; both workers end with the table
    trained = re.findall(r"seed 0: training in (\S+)", logs)
    assert len(trained) == 4 and len(set(trained)) == 4, logs
    assert all(re.findall(r"seed 0: training in ", out) for out, _ in outs), "one worker trained nothing"
    assert all("Sweep over" in out for out, _ in outs)
    study = load_study(postgres_url, "shared")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["cell"] for t in complete) == [0, 1, 2, 3]
    # the table equals a one-process sweep's
    single = run_sweep(config_mod.set_value(cfg, "name", "single"), parse_grid(GRID), [0])
    shared = json.loads((tmp_path / "runs" / "shared" / "sweep.json").read_text())
    assert sweeps.table(shared) == sweeps.table(single)
    # a third worker finds every cell done: it trains nothing and writes the same table
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert again.returncode == 0 and "training in" not in again.stdout, again.stderr[-2000:]
    # mmib study show: progress and the table in mmib sweep's layout
    capsys.readouterr()
    assert main(["study", "show", "--storage", postgres_url, "--study", "shared"]) == 0
    shown = capsys.readouterr().out
    assert "cells: 4/4 finished" in shown and sweeps.table(single) in shown


@pytest.mark.slow
def test_a_worker_killed_mid_cell_leaves_the_cell_to_another(tmp_path):
    """SQLite storage; heartbeats every second, 2 s of grace: worker A is killed after the first
    epoch of its cell; worker B trains the other cell, finds A's trial stale, takes the cell
    again and resumes its run from epoch 2."""
    path, _ = _config(tmp_path)
    storage = str(tmp_path / "study.db")
    cmd = [sys.executable, "-m", "mmib", "sweep", "-c", str(path), "--name", "lost", "--seeds", "1", "-q",
           "--set", "train.epochs=2", "--grid", "model.fusion=concat,addition", "--storage", storage]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MMIB_HEARTBEAT_S": "1", "MMIB_GRACE_S": "2"}
    a = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300,
                       env={**env, "MMIB_FAULT": "epoch_end:1:kill"})
    assert a.returncode == -9, a.stderr[-2000:]
    killed_cell = re.search(r"training in (\S+)", a.stdout).group(1)
    first_epoch = (Path(killed_cell) / "metrics.jsonl").read_text().splitlines()
    assert len(first_epoch) == 1
    b = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, env=env)
    assert b.returncode == 0, b.stderr[-2000:]
    states = sorted(t.state.name for t in load_study(storage, "lost").trials)
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    assert f"training in {killed_cell}" in b.stdout  # taken up again by B
    lines = (Path(killed_cell) / "metrics.jsonl").read_text().splitlines()
    # resumed: epoch 1's record (its timing included) is A's, epoch 2 is B's
    assert lines[0] == first_epoch[0] and [json.loads(x)["epoch"] for x in lines] == [1, 2]
    assert json.loads((tmp_path / "runs" / "lost" / "sweep.json").read_text())["finished"]
