"""mmib sweep --storage: a grid shared by worker processes through a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

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
