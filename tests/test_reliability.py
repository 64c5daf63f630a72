"""Faults lose nothing, corruption is detected, every failure is one line (issue 12's findings)."""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from fixtures_data import write_mmsa
from mmib import config as config_mod
from mmib.cli import main
from mmib.config import ConfigError
from mmib.data.readers import load_corpus
from mmib.engine import RunInUseError, evaluate_run, fit
from mmib.engine.checkpoint import CorruptFileError, DamagedFileWarning

ROOT = Path(__file__).resolve().parents[1]


def _flip(path: Path, n: int = 64, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    start = len(data) // 2 if offset is None else offset
    for i in range(start, start + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _cmd(*args):
    return [sys.executable, "-m", "mmib", "train", *args]


def _tiny_file(tmp_path: Path, *extra: str) -> Path:
    cfg = tiny_config(tmp_path, *extra)
    path = tmp_path / "cfg.toml"
    cfg.save(path)
    return path


# ----------------------------------------------------------------------------- 3: one process per run folder

@pytest.mark.slow
def test_a_second_process_on_a_run_folder_stops_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "busy"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from mmib.engine import RunLock\n"
        f"with RunLock({str(run)!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUseError, match=rf"{run} is in use by another mmib process \(pid {holder.pid} on"):
            fit(tiny_config(tmp_path, "name='busy'"), explicit_name=True)
        assert not (run / "config.toml").exists()  # nothing was written into the other's folder
    finally:
        holder.kill()
        holder.wait()
    fit(tiny_config(tmp_path, "name='busy'", "train.epochs=1"), explicit_name=True)  # free again: it trains


@pytest.mark.slow
def test_two_trainings_started_together_with_one_name(tmp_path):
    """The issue's race: both exited 0 and the folder mixed seed 1's config with seed 0's
    weights. Now one trains, the other stops with a clear line, and the folder is consistent."""
    cfg = _tiny_file(tmp_path, "train.epochs=2")
    procs = [subprocess.Popen(_cmd("-c", str(cfg), "--name", "same", "--seed", str(s), "-q"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in (0, 1)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    err = next(e for rc, e in results if rc == 2)
    assert ("is in use by another mmib process" in err or "already holds" in err) and "Traceback" not in err
    run = tmp_path / "same"
    seed = config_mod.load(run / "config.toml").train.seed
    assert json.loads((run / "summary.json").read_text())["seed"] == seed
    assert evaluate_run(run)["test"] == json.loads((run / "summary.json").read_text())["test"]


# ----------------------------------------------------------------------------- 4: corruption is detected

def test_flipped_bytes_in_the_checkpoint_are_detected_by_evaluate_predict_and_load(tmp_path, capsys):
    fit(tiny_config(tmp_path, "name='c'"))
    run = tmp_path / "c"
    _flip(run / "best.safetensors")
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'best.safetensors'}: checksum mismatch" in err and len(err.strip().splitlines()) == 1
    assert main(["predict", str(run)]) == 2 and "checksum mismatch" in capsys.readouterr().err
    (run / "checksums.json").unlink()  # without the record the stored weights digest still catches it
    import mmib

    with pytest.raises(CorruptFileError, match="do not match the checksum stored with them"):
        mmib.load(run)


@pytest.mark.slow
def test_a_damaged_state_resumes_from_the_previous_epoch_and_ends_identical(tmp_path):
    whole = fit(tiny_config(tmp_path, "name='whole'", "train.epochs=3"))
    cfg = tiny_config(tmp_path, "name='cut'", "train.epochs=3", "train.keep_state=true")
    fit(cfg)
    run = tmp_path / "cut"
    (run / "summary.json").unlink()  # as if stopped after its last epoch's state was written
    _flip(run / "state.pt")
    with pytest.warns(DamagedFileWarning, match=r"state\.pt: checksum mismatch.*resuming from state\.prev\.pt"):
        resumed = fit(cfg, run_dir=run, resume=True)
    assert resumed.resumed_from == 2 and resumed["test"] == whole["test"]


@pytest.mark.slow
def test_damaged_states_without_a_good_one_are_one_clear_error(tmp_path, capsys):
    cfg = tiny_config(tmp_path, "name='gone'", "train.epochs=2", "train.keep_state=true")
    fit(cfg)
    run = tmp_path / "gone"
    (run / "summary.json").unlink()
    (run / "state.pt").write_bytes(b"")  # empty (was: EOFError traceback)
    evil = pickle.dumps({"model": {}, "optimizer": {}, "epoch": 1, "x": os.system}, protocol=2)
    (run / "state.prev.pt").write_bytes(evil)  # hostile (was: raw UnpicklingError)
    assert main(["train", "--resume", str(run), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "state.pt: checksum mismatch" in err and "state.prev.pt" in err and "--overwrite" in err


@pytest.mark.slow
def test_resume_refuses_a_damaged_best_checkpoint_before_training(tmp_path):
    cfg = tiny_config(tmp_path, "name='b'", "train.epochs=2", "train.keep_state=true")
    fit(cfg)
    run = tmp_path / "b"
    (run / "summary.json").unlink()
    _flip(run / "best.safetensors")
    with pytest.raises(CorruptFileError, match="best.safetensors: checksum mismatch.*--overwrite"):
        fit(cfg, run_dir=run, resume=True)


# ----------------------------------------------------------------------------- 5: values that cannot train

@pytest.mark.parametrize("override", ["optim.lr=inf", "objective.beta=inf", "optim.text_lr=nan",
                                      "optim.lr=1e9", "train.seed=99999999999999999999"])
def test_values_that_cannot_train_are_refused_by_name(override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{key}: expected"):
        config_mod.apply_overrides(config_mod.ExperimentConfig(), [override])


@pytest.mark.slow
def test_huge_features_are_repaired_and_counted_like_nan(tmp_path, capsys):
    f = write_mmsa(tmp_path / "huge.pkl", neg_inf=False)
    data = pickle.loads(f.read_bytes())
    data["train"]["audio"][0, :3, 0] = 3e38
    f.write_bytes(pickle.dumps(data, protocol=4))
    corpus = load_corpus(f)
    assert corpus.repairs["audio"]["train"]["huge"] == 3
    assert np.abs(corpus.splits["train"].fields["audio"].values).max() < 1e8
    assert "3 beyond +-1e+08 values by 0" in capsys.readouterr().err
    s = fit(tiny_config(tmp_path, "name='h'", "data.dataset='mosi'", f"data.path='{f}'", "train.epochs=1"))
    assert np.isfinite(s["test"]["loss"])


def _nan_after(monkeypatch, calls: int):
    from mmib.objectives import objective as obj_mod

    real = obj_mod.MIBObjective.__call__
    count = {"n": 0}

    def poisoned(self, out, labels):
        terms = real(self, out, labels)
        if torch.is_grad_enabled():
            count["n"] += 1
            if count["n"] > calls:
                terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(obj_mod.MIBObjective, "__call__", poisoned)


@pytest.mark.slow
def test_divergence_stops_with_the_last_good_epoch_kept_and_the_folder_resumable(tmp_path, monkeypatch, capsys):
    _nan_after(monkeypatch, 4)  # 4 steps = the first epoch (64 utterances, batch 16)
    assert main(["train", "-c", str(_tiny_file(tmp_path)), "--name", "div", "-q"]) == 2
    err = capsys.readouterr().err
    assert "div: epoch 2: the training loss is nan" in err and "train.on_nonfinite" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    run = tmp_path / "div"
    assert [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [1]
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "-q"]) == 0  # the folder blocks nothing
    assert json.loads((run / "summary.json").read_text())["best_epoch"] in (1, 2)


@pytest.mark.slow
def test_divergence_can_skip_and_count_the_steps(tmp_path, monkeypatch):
    _nan_after(monkeypatch, 5)
    s = fit(tiny_config(tmp_path, "name='skip'", "train.on_nonfinite='skip'", "train.epochs=2"))
    log = [json.loads(x) for x in (tmp_path / "skip" / "metrics.jsonl").read_text().splitlines()]
    assert "skipped_steps" not in log[0]["train"] and log[1]["train"]["skipped_steps"] == 3.0
    assert np.isfinite(log[1]["train"]["loss"]) and np.isfinite(s["test"]["MAE"])


# ----------------------------------------------------------------------------- 6: one line, not a traceback

def test_a_full_disk_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MMIB_FAULT", "write:5:oserror")
    from mmib.engine import faults

    monkeypatch.setattr(faults, "_COUNTER", faults._Counter())
    assert main(["train", "-c", str(_tiny_file(tmp_path)), "--name", "full", "-q"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(tmp_path / "full") in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "full").glob(".*.tmp"))


def test_an_unwritable_folder_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    import tempfile

    def refuse(dir=None, **kw):
        raise PermissionError(13, "Permission denied", dir)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # as root, chmod cannot make a folder read-only
    assert main(["train", "-c", str(_tiny_file(tmp_path)), "--name", "ro", "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'ro'}: cannot write config.toml there (Permission denied)" in err


@pytest.mark.slow
def test_a_corrupt_log_does_not_block_resume_and_is_named_where_it_is_read(tmp_path, capsys):
    cfg = tiny_config(tmp_path, "name='log'", "train.epochs=2", "train.keep_state=true")
    fit(cfg)
    run = tmp_path / "log"
    (run / "summary.json").unlink()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train"\nnot json\n')
    assert main(["plot", str(run), "--only", "curves"]) == 2
    assert f"{run / 'metrics.jsonl'}:1: not an epoch record" in capsys.readouterr().err
    fit(cfg, run_dir=run, resume=True)
    assert (run / "summary.json").exists()


# ----------------------------------------------------------------------------- 7: leftovers and half-made folders

def test_stale_temp_files_are_removed_and_a_config_only_folder_resumes(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path, "name='half'", "train.epochs=1")
    run = tmp_path / "half"
    run.mkdir()
    (run / "config.toml").write_text(cfg.to_toml())  # a kill right after the first file
    (run / ".state.pt.x1y2.tmp").write_bytes(b"partial")
    (run / ".best.safetensors.a.tmp").write_bytes(b"partial")
    fit(cfg, run_dir=run, resume=True)
    assert (run / "summary.json").exists() and not list(run.glob(".*.tmp"))


def test_a_folder_without_config_says_how_to_restart(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--resume", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no config.toml: the run stopped before it wrote its config" in err and "--overwrite" in err


def test_run_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        fit(tiny_config(tmp_path, "name='perm'", "train.epochs=1"))
    finally:
        os.umask(old)
    for f in ("config.toml", "summary.json", "best.safetensors", "metrics.jsonl", "checksums.json"):
        assert stat.S_IMODE((tmp_path / "perm" / f).stat().st_mode) == 0o644, f


# ----------------------------------------------------------------------------- 8: CH-SIMS as MMSA computes it

def test_sims_boundaries_are_compared_in_float32_as_mmsa():
    from mmib import metrics as M

    m = M.sentiment_sims(np.float32([0.05, -0.75]), np.float32([0.1, -0.7]))
    assert m["Mult_acc_3"] == 1.0 and m["Mult_acc_5"] == 1.0


# ----------------------------------------------------------------------------- 9: fault tests at named points

@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    cfg = _tiny_file(root, "train.epochs=2")
    full = subprocess.run(_cmd("-c", str(cfg), "--name", "full", "-q"), capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert full.returncode == 0, full.stderr
    return cfg, json.loads((root / "full" / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("point", ["built:1", "write:3", "write:9", "epoch_end:1", "write:22"])
def test_a_kill_at_any_named_moment_then_resume_ends_identical(tmp_path, uninterrupted, point):
    """SIGKILL (no cleanup) at a named point: during the first writes, mid-epoch checkpoint
    writes (best, checksums, state), after an epoch, during the second epoch's writes."""
    cfg, a = uninterrupted
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run(_cmd("-c", str(cfg), "--out-dir", str(tmp_path), "--name", "k", "-q"),
                            capture_output=True, text=True, env={**env, "MMIB_FAULT": f"{point}:kill"})
    assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-500:])
    run = tmp_path / "k"
    again = subprocess.run(_cmd("--resume", str(run), "-q"), env=env, capture_output=True, text=True)
    assert again.returncode == 0, (point, again.stderr)
    b = json.loads((run / "summary.json").read_text())
    assert a["test"] == b["test"] and a["best_epoch"] == b["best_epoch"], point
    assert not list(run.glob(".*.tmp")) and not (run / "state.pt").exists()
