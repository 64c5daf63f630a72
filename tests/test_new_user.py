"""What a new user hit, each fixed: naming modalities, -q output, offline text encoders, one-seed
groups, uninformative modalities, resume state of finished runs, constant-prediction warnings."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import pytest

from conftest import TINY
from fixtures_data import write_mmsa
from mmib.cli import main

ROOT = Path(__file__).resolve().parents[1]


def mmib(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mmib", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env)


def tiny_args(tmp_path) -> list[str]:
    return [a for kv in TINY for a in ("--set", kv)] + ["--out-dir", str(tmp_path)]


def test_modalities_flag_and_list_errors_show_the_working_form(capsys):
    assert main(["config", "show", "--modalities", "text,audio"]) == 0
    assert 'modalities = [\n    "text",\n    "audio",\n]' in capsys.readouterr().out
    assert main(["config", "show", "--set", "data.modalities=text"]) == 2
    err = capsys.readouterr().err
    assert "data.modalities: expected a list of str, got 'text'" in err
    assert """--set 'data.modalities=["text"]'""" in err
    assert main(["config", "show", "--modalities", "text,speech"]) == 2
    assert "--modalities text,audio" in capsys.readouterr().err


def test_quiet_training_still_prints_the_result(tmp_path, capsys):
    assert main(["train", *tiny_args(tmp_path), "--name", "q", "-q", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "train loss" not in out and "run " not in out  # no per-epoch or start lines
    assert "test metrics of q (selected epoch 1 by validation" in out and "Acc7" in out


@pytest.mark.slow
def test_unknown_text_encoder_offline_is_described_by_validate_at_once(tmp_path):
    # offline, a Hub name cannot be checked: validate describes it with the fix (issue 34), a
    # folder that does not exist is refused
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    r = mmib("config", "validate", "--text-encoder", "someone/no-such-encoder", env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "model.text_encoder: 'someone/no-such-encoder' is the name of a Hugging Face model" in r.stdout
    assert "not in the local Hugging Face cache, and HF_HUB_OFFLINE is set" in r.stdout
    assert "--text-encoder minilm" in r.stdout
    r = mmib("config", "validate", "--text-encoder", str(tmp_path / "missing-folder"), env=env)
    assert r.returncode == 2 and "no such folder" in r.stderr


@pytest.mark.slow
def test_unreachable_hub_is_one_line_at_once(tmp_path):
    """Not offline by the environment, but the Hub does not answer (a closed loopback port stands
    in for no network): one clear line within seconds, no retries."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))
    t0 = time.time()
    r = mmib("model", "summary", "--text-encoder", "someone/no-such-encoder", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "cannot load it (not in the local Hugging Face cache, and the Hugging Face Hub is unreachable)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert time.time() - t0 < 30


def test_one_seed_group_prints_the_value_alone(tmp_path, capsys):
    assert main(["train", *tiny_args(tmp_path), "--name", "one", "-q", "--epochs", "1", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "one seed [0] (n = 1, no std)" in out
    table = out[out.index("Acc7"):]
    assert "±" not in table.split("saved")[0]


def test_inspect_flags_an_all_zero_or_constant_modality(tmp_path, capsys):
    f = write_mmsa(tmp_path / "zeros.pkl", aligned=False, neg_inf=False)
    data = pickle.loads(f.read_bytes())
    for split in data.values():
        split["audio"][:] = 0
        split["vision"][:] = 0.5
    f.write_bytes(pickle.dumps(data, protocol=4))
    assert main(["data", "inspect", str(f)]) == 0
    out = capsys.readouterr().out
    assert "audio: every value is 0 in every split" in out
    assert "visual: every feature is constant" in out


def test_a_healthy_file_has_no_such_problem(tmp_path, capsys):
    f = write_mmsa(tmp_path / "ok.pkl", aligned=False, neg_inf=False)
    assert main(["data", "inspect", str(f)]) == 0
    assert "carries no information" not in capsys.readouterr().out


def test_constant_predictions_warn_with_the_likely_cause():
    from mmib import metrics as M

    y = np.array([[-1.0], [2.0], [0.4], [-0.6]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M.compute("regression", np.full_like(y, 0.3), y, ["sentiment"])
    msgs = [str(w.message) for w in caught if issubclass(w.category, M.MetricWarning)]
    assert msgs and all("the model has not learned yet?" in m for m in msgs)


def test_shipped_real_data_configs_say_how_many_epochs_the_paper_needs():
    for name in ("mosi", "mosei", "iemocap"):
        assert "tens of epochs" in (ROOT / "configs" / f"{name}.toml").read_text(), name
