import subprocess
from pathlib import Path
import sys

import pytest

from conftest import TINY


def mmib(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mmib.cli", *args], capture_output=True, text=True, cwd=cwd)


def table(stdout: str) -> list[str]:
    lines = stdout.strip().splitlines()
    i = next(i for i, line in enumerate(lines) if "Acc7" in line)
    return lines[i : i + 3]


@pytest.mark.slow
def test_train_then_evaluate_print_the_same_metrics(tmp_path):
    sets = [a for kv in TINY for a in ("--set", kv)]
    r = mmib("train", *sets, "--out-dir", str(tmp_path), "--name", "cli", "--variant", "cmib")
    assert r.returncode == 0, r.stderr
    assert "train/valid/test = 64/16/24" in r.stdout
    t = table(r.stdout)
    assert all(col in t[0] for col in ("Acc7", "Acc2", "F1", "MAE", "Corr"))
    e = mmib("evaluate", str(tmp_path / "cli"))
    assert e.returncode == 0, e.stderr
    assert table(e.stdout) == t
    again = mmib("train", *sets, "--out-dir", str(tmp_path), "--name", "cli")
    assert again.returncode == 2 and "already holds a finished run" in again.stderr


@pytest.mark.slow
def test_config_show_applies_overrides():
    r = mmib("config", "show", "--beta", "0.5", "--set", "model.fusion='concat'")
    assert r.returncode == 0 and "beta = 0.5" in r.stdout


@pytest.mark.slow
def test_unknown_override_is_a_clear_error():
    r = mmib("train", "--set", "model.widht=3")
    assert r.returncode == 2 and "unknown key model.widht" in r.stderr


@pytest.mark.slow
def test_missing_data_file_is_reported_before_any_text_encoder_loads(tmp_path):
    # bert-base-uncased is not available offline: the data error must come first
    r = mmib("train", "-c", "configs/mosi.toml", "--data-path", str(tmp_path / "mosi.pkl"),
             cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 2 and f"data.path: {tmp_path / 'mosi.pkl'}: data file not found" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_unavailable_text_encoder_is_one_clear_error(tmp_path):
    missing = tmp_path / "bert-base-uncased"
    r = mmib("model", "summary", "--text-encoder", str(missing))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"model.text_encoder '{missing}': cannot load it (no such folder)" in r.stderr
    assert "--text-encoder minilm" in r.stderr
