import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import tiny_config
from mmib.engine import RunExistsError, evaluate_run, fit


def test_same_seed_identical_other_seed_different(tmp_path):
    a = fit(tiny_config(tmp_path, "name='a'"))
    b = fit(tiny_config(tmp_path, "name='b'"))
    c = fit(tiny_config(tmp_path, "name='c'", "train.seed=1"))
    assert a["test"] == b["test"] and a["valid"] == b["valid"]
    assert c["test"] != a["test"]
    logs = [(tmp_path / n / "metrics.jsonl").read_text() for n in "ab"]
    strip = lambda t: [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in t.splitlines()]  # noqa: E731
    assert strip(logs[0]) == strip(logs[1])


def test_run_directory_layout_and_reevaluation(tmp_path):
    s = fit(tiny_config(tmp_path, "name='r'"))
    run = tmp_path / "r"
    for f in ("config.toml", "data.json", "metrics.jsonl", "best.safetensors", "summary.json"):
        assert (run / f).exists(), f
    assert not (run / "state.pt").exists()  # resume state is kept only while a run is unfinished
    assert [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert 1 <= s["best_epoch"] <= 2  # epochs count from 1 everywhere, as printed
    fit(tiny_config(tmp_path, "name='kept'", "train.keep_state=true"))
    assert (tmp_path / "kept" / "state.pt").exists()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all("valid" in json.loads(x) for x in lines)
    assert evaluate_run(run)["test"] == s["test"]
    assert s["sizes"] == {"train": 64, "valid": 16, "test": 24}


def test_finished_run_is_never_overwritten(tmp_path):
    cfg = tiny_config(tmp_path, "name='x'", "train.epochs=1")
    fit(cfg)
    before = (tmp_path / "x" / "summary.json").read_text()
    with pytest.raises(RunExistsError, match="already holds a finished run"):
        fit(cfg, explicit_name=True)
    fit(cfg)  # without an explicit name a fresh directory is chosen
    assert (tmp_path / "x-2" / "summary.json").exists()
    assert (tmp_path / "x" / "summary.json").read_text() == before


@pytest.mark.slow
def test_cmib_beats_the_training_mean(tmp_path):
    cfg = tiny_config(tmp_path, "name='m'", "data.synth.n_train=400", "data.synth.n_valid=100",
                      "data.synth.n_test=200", "train.epochs=4", "optim.lr=3e-3", "optim.text_lr=3e-4",
                      "model.d=16")
    s = fit(cfg)
    from mmib.data import build_dataset
    from mmib.encoders import load_tokenizer

    data = build_dataset(cfg.data, load_tokenizer("tiny-config"))
    mean = np.mean([ex.label[0] for ex in data.train])
    y = np.array([ex.label[0] for ex in data.test])
    y = y[y != 0]  # the paper's convention scores MAE on non-zero labels
    baseline_mae = np.mean(np.abs(y - mean))
    # training seeds 0-5 of this config: MAE 1.05-1.11 against the mean's 1.18, Corr 0.36-0.43
    assert s["test"]["MAE"] < baseline_mae - 0.05, (s["test"]["MAE"], baseline_mae)
    assert s["test"]["Corr"] > 0.3  # the mean predictor has no correlation at all


def _train_cmd(*args):
    return [sys.executable, "-m", "mmib.cli", "train", *args]


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(tmp_path):
    cfg = tiny_config(tmp_path, "train.epochs=3")
    cfg_path = tmp_path / "cfg.toml"
    cfg.save(cfg_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = subprocess.run(_train_cmd("-c", str(cfg_path), "--name", "full", "-q"), env=env,
                          capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    run = tmp_path / "killed"
    # SIGKILL at a named point (the end of epoch 1), not after a sleep: the same on any machine
    proc = subprocess.run(_train_cmd("-c", str(cfg_path), "--name", "killed", "-q"),
                          env={**env, "MMIB_FAULT": "epoch_end:1:kill"}, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "summary.json").exists()
    again = subprocess.run(_train_cmd("--resume", str(run), "-q"), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    a = json.loads((tmp_path / "full" / "summary.json").read_text())
    b = json.loads((run / "summary.json").read_text())
    assert a["test"] == b["test"] and a["best_epoch"] == b["best_epoch"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3


def test_loss_scaler_state_is_saved_and_resumed(tmp_path, monkeypatch):
    """fp16 training (CUDA) carries a loss scale; resume must continue it, not restart at init.
    A CPU GradScaler that doubles its scale every step stands in for the CUDA one."""
    import torch

    fit_mod = sys.modules["mmib.engine.fit"]  # the module (mmib.engine.fit is also the function)
    monkeypatch.setattr(fit_mod, "grad_scaler", lambda device, amp: torch.amp.GradScaler(
        "cpu", init_scale=2.0 ** 4, growth_interval=1))
    cfg = tiny_config(tmp_path, "name='s'", "train.epochs=1", "train.keep_state=true")
    fit(cfg)
    run = tmp_path / "s"
    steps = -(-64 // 16)  # 64 training utterances, batch 16 (tiny_config)
    st = torch.load(run / "state.pt", weights_only=True)
    assert st["scaler"]["scale"] == 2.0 ** (4 + steps)
    # pretend the run stopped before its first epoch ended, with this scaler state saved
    st["epoch"], st["best_score"], st["best_epoch"] = 0, None, 0  # 0 epochs done
    torch.save(st, run / "state.pt")
    from mmib.engine.checkpoint import record

    record(run / "state.pt")  # as if mmib had written it (a hand-edited state fails its checksum)
    (run / "summary.json").unlink()
    fit(cfg, run_dir=run, resume=True)
    assert torch.load(run / "state.pt", weights_only=True)["scaler"]["scale"] == 2.0 ** (4 + 2 * steps)


@pytest.mark.slow
def test_ctrl_c_says_how_to_continue_and_the_run_resumes(tmp_path):
    cfg = tiny_config(tmp_path, "train.epochs=5")
    cfg_path = tmp_path / "cfg.toml"
    cfg.save(cfg_path)
    run = tmp_path / "stopped"
    # Ctrl-C (SIGINT) delivered at a named point, after epoch 3: no race with the machine's speed
    proc = subprocess.Popen(_train_cmd("-c", str(cfg_path), "--name", "stopped", "-q"),
                            env={**os.environ, "OMP_NUM_THREADS": "1", "MMIB_FAULT": "epoch_end:3:sigint"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "mmib train: interrupted; every completed epoch is saved: continue with mmib train --resume" in err
    done = len((run / "metrics.jsonl").read_text().splitlines())
    assert done == 3 and not (run / "summary.json").exists()
    again = subprocess.run(_train_cmd("--resume", str(run), "-q"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 5
