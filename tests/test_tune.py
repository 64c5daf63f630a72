"""mmib tune on the SQLite default: N trials, pruning observed, the best config exported and
re-trainable; space files checked with one clear line; mmib study show."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_config

from mmib import config as config_mod
from mmib.cli import main
from mmib.config import ConfigError
from mmib.studies.tune import load_space

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")

# lr 1e-7 learns nothing in 2 epochs: after one finished trial, the median pruner stops such
# a trial at epoch 1 (its valid loss is above the finished trial's), so pruning is observed.
# The study is scored by --metric loss (the task loss alone moves too little in one epoch to
# prune), so the space searches no key that scales a term of the loss (tests/test_first_hour.py)
SPACE = """
[params."optim.lr"]
type = "categorical"
choices = [1e-3, 1e-7]
[params."model.attn_dropout"]
type = "float"
low = 1e-4
high = 1e-2
log = true
[pruner]
n_startup_trials = 1
[sampler]
seed = 3
"""


def test_space_errors_name_file_and_key(tmp_path):
    cfg = tiny_config(tmp_path)
    f = tmp_path / "s.toml"
    for text, msg in [
        ('[params."optim.lr"]\ntype = "float"\nlow = 1e-3\nhigh = 1e-4\n', r"params.'optim.lr': expected low < high"),
        ('[params."optim.nope"]\ntype = "categorical"\nchoices = [1]\n', r"params.'optim.nope': .*optim.nope"),
        ('[params."objective.beta"]\ntype = "gauss"\n', r"params.'objective.beta'.type: expected float or int"),
        ('[params."objective.beta"]\ntype = "float"\nlow = -1.0\nhigh = 1.0\n', r"objective.beta: expected a value >= 0"),
        ('[pruner]\ntype = "median"\n', r"params: expected a table"),
    ]:
        f.write_text(text)
        with pytest.raises(ConfigError, match=msg) as e:
            load_space(f, cfg)
        assert str(e.value).startswith(str(f))
    shipped = load_space("configs/spaces/paper.toml", config_mod.ExperimentConfig())
    assert {p.key for p in shipped.params} >= {"objective.beta", "optim.lr"} and shipped.sampler == "random"


@pytest.mark.slow
def test_tune_prunes_exports_best_and_it_retrains(tmp_path, capsys):
    cfg = tiny_config(tmp_path, "name='tiny'", "train.device='cpu'")
    cfg_file, space = tmp_path / "tiny.toml", tmp_path / "space.toml"
    cfg_file.write_text(cfg.to_toml())
    space.write_text(SPACE)
    assert main(["tune", "-c", str(cfg_file), "--space", str(space), "--trials", "4", "--metric", "loss", "-q"]) == 0
    out = capsys.readouterr().out
    assert "pruned after epoch 1" in out and "4 trials" in out
    study_dir = tmp_path / "tiny"
    assert (study_dir / "study.db").exists()
    from mmib.studies.storage import load_study

    study = load_study(str(study_dir / "study.db"), "tiny")
    states = [t.state.name for t in study.trials]
    assert len(states) == 4 and "PRUNED" in states and "COMPLETE" in states
    # every trial is an ordinary run folder; the pruned one stopped after epoch 1, resumable
    pruned = next(t for t in study.trials if t.state.name == "PRUNED")
    run = study_dir / f"trial-{pruned.number}"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1 and (run / "state.pt").exists()
    best = study.best_trial
    assert best.params["optim.lr"] == 1e-3  # chosen on validation
    summary = json.loads((study_dir / f"trial-{best.number}" / "summary.json").read_text())
    assert best.value == pytest.approx(summary["valid"]["loss"])
    # the best config retrains to the same test metrics (the same seed on CPU repeats bit for bit)
    best_toml = study_dir / "best.toml"
    assert config_mod.load(best_toml).optim.lr == 1e-3
    assert main(["train", "-c", str(best_toml), "-q"]) == 0
    again = json.loads((tmp_path / "tiny-best" / "summary.json").read_text())["test"]
    assert again["MAE"] == pytest.approx(summary["test"]["MAE"], abs=1e-9)
    capsys.readouterr()
    assert main(["study", "show", "--storage", str(study_dir / "study.db"), "--study", "tiny"]) == 0
    shown = capsys.readouterr().out
    assert f"best trial {best.number}" in shown and "optuna-dashboard sqlite:///" in shown
    n_done = states.count("COMPLETE")
    assert f"{n_done} complete, {4 - n_done} pruned" in shown
