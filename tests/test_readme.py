"""The README's Python API example runs as written (on a tiny configuration)."""

import re
from pathlib import Path

import mmib
from conftest import TINY

README = Path(__file__).resolve().parents[1] / "README.md"


def python_api_block() -> str:
    text = README.read_text()
    section = text.split("## Python API", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "README: no python block under '## Python API'"
    return m.group(1)


def test_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(README.parent / "configs")
    monkeypatch.chdir(tmp_path)
    real_load = mmib.config.load

    def tiny_load(path):  # the demo config, shrunk to the suite's tiny model and data
        return mmib.config.apply_overrides(real_load(path), TINY)

    monkeypatch.setattr(mmib.config, "load", tiny_load)
    scope: dict = {}
    exec(compile(python_api_block(), str(README), "exec"), scope)
    summary, preds = scope["summary"], scope["preds"]
    assert (tmp_path / "runs" / "demo" / "summary.json").exists()
    assert summary["variant"] == "emib" and summary["sizes"]["test"] == 24  # the override reached the run
    assert str(summary["test"]["MAE"]) in capsys.readouterr().out
    n_test = summary["sizes"]["test"]
    assert preds.pred.shape == (n_test, 1)
    assert list(preds.heads) == ["fused"]  # E-MIB, as the example asks: one head
    assert preds.kl["fused"].shape == (n_test,)
