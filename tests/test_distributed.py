"""Data-parallel training under torchrun (gloo on CPU, 2 ranks) against one process.

Tolerance: with dropout 0, a deterministic model (no bottleneck sampling) and a frozen text
encoder, a 2-rank run computes the same global batches and, through the loss weights of
``shard_batches``, the same gradient as one process; only the order of the floating-point
sums differs (each rank sums its half, DDP adds the halves). Over 2 epochs of Adam that
moves the test metrics by ~1e-8 (measured); the test allows 1e-5, three orders of magnitude
of headroom, and still fails on any real difference (one utterance more or less in a batch,
a wrong loss weight, metrics averaged over ranks instead of gathered: all >= 1e-3 here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY

from mmib import config as config_mod
from mmib.engine import distributed, fit
from mmib.engine.distributed import World, shard_batches

DETERMINISTIC = ["model.variant='noib'", "model.freeze_text_encoder=true", "model.attn_dropout=0.0",
                 "model.res_dropout=0.0", "model.relu_dropout=0.0", "model.embed_dropout=0.0",
                 "train.device='cpu'"]
TOL = 1e-5


def _write_config(tmp_path: Path) -> Path:
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + DETERMINISTIC + [
        f"out_dir='{tmp_path / 'runs'}'", "name='ddp'", f"train.cache_dir='{tmp_path / 'cache'}'"])
    path = tmp_path / "tiny.toml"
    path.write_text(cfg.to_toml())
    return path


def _torchrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "mmib",
           *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_shards_keep_the_global_batch_and_weight_the_loss():
    order = [[5, 1, 7, 3, 9], [2, 4], [8]]
    parts = [shard_batches(order, World(r, 2)) for r in range(2)]
    # every utterance of a batch on exactly one rank; a batch smaller than the world is left out
    assert [sorted(a + b) for (a, _), (b, _) in zip(*parts)] == [[1, 3, 5, 7, 9], [2, 4]]
    # weights: 2 * n_rank / n_batch, so the mean over ranks of weight * part-mean = the batch mean
    assert [w for _, w in parts[0]] == [2 * 3 / 5, 1.0] and [w for _, w in parts[1]] == [2 * 2 / 5, 1.0]
    assert shard_batches(order, World()) == [(b, 1.0) for b in order]


@pytest.mark.slow
def test_torchrun_two_ranks_equal_one_process_and_resume_after_kill(tmp_path, monkeypatch):
    cfg_path = _write_config(tmp_path)
    runs = tmp_path / "runs"
    r = _torchrun("train", "-c", str(cfg_path), "-q")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("test metrics of ddp") == 1  # rank 0 alone prints the result
    assert sorted(p.name for p in runs.iterdir()) == ["ddp"]  # one run folder, written once
    log = (runs / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in log] == [1, 2]
    two = json.loads((runs / "ddp" / "summary.json").read_text())["test"]

    one = fit(config_mod.apply_overrides(config_mod.load(cfg_path), ["name='one'"])).summary["test"]
    for k in ("MAE", "Corr", "loss", "Has0_acc_2", "Non0_F1_score", "Mult_acc_7"):
        assert abs(two[k] - one[k]) <= TOL, (k, two[k], one[k])

    # kill -9 of rank 1 after epoch 1 (its state saved by rank 0): the job fails, resume finishes
    r = _torchrun("train", "-c", str(cfg_path), "--name", "killed", "-q",
                  env={"MMIB_FAULT": "epoch_end:1:kill", "MMIB_FAULT_RANK": "1"})
    assert r.returncode != 0
    killed = runs / "killed"
    assert (killed / "state.pt").exists() and not (killed / "summary.json").exists()
    # one process may not silently continue a 2-process run
    with pytest.raises(RuntimeError, match="trained by 2 process.*--allow-world-size-change"):
        fit(config_mod.ExperimentConfig(), run_dir=killed, resume=True)
    # unless allowed: a copy continues in one process, to the same metrics (same global batches)
    copy = runs / "killed-1p"
    shutil.copytree(killed, copy, ignore=shutil.ignore_patterns(".lock*"))
    one_p = fit(config_mod.ExperimentConfig(), run_dir=copy, resume=True, allow_world_size_change=True)
    assert abs(one_p["test"]["MAE"] - two["MAE"]) <= TOL
    r = _torchrun("train", "--resume", str(killed), "-q")
    assert r.returncode == 0, r.stderr[-3000:]
    resumed = json.loads((killed / "summary.json").read_text())["test"]
    assert abs(resumed["MAE"] - two["MAE"]) <= TOL and abs(resumed["Corr"] - two["Corr"]) <= TOL
    assert not (killed / "state.pt").exists()


def test_world_from_environment(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert distributed.world() == World(0, 1, 0) and distributed.is_main()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    w = distributed.world()
    assert (w.rank, w.size, w.local_rank, w.main, w.active) == (3, 4, 1, False, True)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK=4 is not below WORLD_SIZE=4"):
        distributed.world()


@pytest.mark.slow
def test_torchrun_trains_a_trainable_constraint(tmp_path):
    """A constraint with networks of its own (mine: one estimator per bottleneck, outside DDP)
    trains under 2 ranks: its gradients are averaged over the ranks as DDP averages the model's,
    so the ranks never wait on each other and the saved estimator is rank 0's (= every rank's)."""
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + [
        f"out_dir='{tmp_path / 'runs'}'", "name='est'", "model.variant='emib'", "objective.constraint='mine'",
        "train.device='cpu'", f"train.cache_dir='{tmp_path / 'cache'}'"])
    path = tmp_path / "est.toml"
    path.write_text(cfg.to_toml())
    r = _torchrun("train", "-c", str(path), "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "runs" / "est"
    summary = json.loads((run / "summary.json").read_text())
    assert "mine/fused" in summary["test"]
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in log] == [1, 2] and all("estimator" in h["train"] for h in log)
    from mmib.engine.evaluate import evaluate_run
    again = evaluate_run(run)["test"]  # one process: the estimator comes from the checkpoint
    # the metrics match up to the float order of split evaluation; the MINE term is a batch
    # statistic (pairs within a batch), so ranks' halves of a batch give another value
    assert all(abs(again[k] - summary["test"][k]) < TOL for k in ("MAE", "Corr", "task/fused"))
    assert again["mine/fused"] == pytest.approx(summary["test"]["mine/fused"], abs=0.01)
