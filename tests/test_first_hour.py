"""The first hour of a new user (issue 34): a CLI that starts at once, progress that shows in a
log, SIGTERM as a clean stop, configs that describe themselves offline, tuning that cannot
game beta, one vocabulary of metric names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eval_runs import eval_runs  # noqa: F401  (session fixture: trained runs shared with other test files)

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("torch", "transformers", "numpy", "sklearn", "matplotlib", "optuna")

_PROBE = """
import contextlib, io, sys
from mmib.cli import main
for argv in {argvs!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit as e:
            assert e.code == 0, (argv, e.code)
    assert out.getvalue().strip(), argv
    print(argv, sorted(m for m in {heavy!r} if m in sys.modules))
"""


def test_help_and_version_import_no_heavy_module():
    """mmib --help, mmib train --help, mmib --version and every other subcommand's --help, in a
    fresh interpreter: torch (and numpy, transformers, ...) never imported. The subcommands whose
    help lists a registry's names (extract, data inspect) load it for that help only."""
    commands = ["predict", "evaluate", "repeat", "sweep", "paper", "robustness", "compare", "tune", "study",
                "plot", "export", "data", "model", "config"]
    argvs = [["--help"], ["train", "--help"], ["--version"]] + [[c, "--help"] for c in commands]
    r = subprocess.run([sys.executable, "-c", _PROBE.format(argvs=argvs, heavy=HEAVY)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(argvs) and all(line.endswith(" []") for line in lines), r.stdout
    v = subprocess.run([sys.executable, "-m", "mmib", "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("mmib 0.")


def _tiny_cli(tmp_path) -> list[str]:
    from conftest import TINY

    return [a for kv in TINY for a in ("--set", kv)] + ["--out-dir", str(tmp_path)]


def test_progress_shows_in_a_log_inside_each_epoch_and_after_each_seed(tmp_path):
    """stderr a pipe (a log file, SLURM, CI): plain progress lines appear inside an epoch, before
    its epoch line, and each seed's result is printed as that seed ends, before the next starts."""
    import os

    env = {**os.environ, "MMIB_PROGRESS_EVERY": "0"}
    r = subprocess.run([sys.executable, "-m", "mmib", "train", *_tiny_cli(tmp_path), "--name", "log", "--epochs",
                        "1", "--set", "train.progress=true", "--seeds", "2"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:]
    lines = r.stdout.splitlines()
    for seed, run in ((0, 1), (1, 2)):
        start = lines.index(next(x for x in lines if x.startswith(f"[{run}/2] seed {seed}: training in")))
        epoch = next(i for i, x in enumerate(lines) if i > start and x.startswith("epoch   1/1 train loss"))
        inside = [x for x in lines[start:epoch] if x.startswith("epoch 1/1: ") and "batches" in x]
        assert inside and "utt/s" in inside[0] and "ETA" in inside[0], lines[start:epoch]
        done = next(i for i, x in enumerate(lines) if x.startswith(f"[{run}/2] seed {seed}: done in"))
        assert done > epoch and "test Acc7" in lines[done] and "MAE" in lines[done]
        if seed == 0:
            assert done < lines.index(next(x for x in lines if x.startswith("[2/2] seed 1: training in")))


def test_sigterm_mid_epoch_with_sigint_ignored_stops_cleanly_and_resumes_identical(tmp_path, capsys):
    """A job started in the background (SIGINT ignored) gets SIGTERM (SLURM, kill) in the middle
    of epoch 2: exit 143, one line with the resume command, and --resume ends with the metrics of
    the uninterrupted run."""
    import json
    import os
    import signal

    from conftest import tiny_config
    from mmib.cli import main
    from mmib.engine import fit

    whole = fit(tiny_config(tmp_path, "name='whole'", "train.epochs=2"))
    cfg = tmp_path / "cfg.toml"
    tiny_config(tmp_path, "train.epochs=2").save(cfg)
    env = {**os.environ, "MMIB_FAULT": "step:6:sigterm"}  # epoch 2, its second of 4 steps
    r = subprocess.run([sys.executable, "-m", "mmib", "train", "-c", str(cfg), "--name", "term", "-q"],
                       capture_output=True, text=True, env=env, cwd=ROOT,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    run = tmp_path / "term"
    assert r.returncode == 143, r.stderr[-2000:]
    err = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("mmib: warning:")]
    assert err == [f"mmib train: stopped by SIGTERM; every completed epoch is saved: continue with mmib train "
                   f"--resume {run}"], r.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1 and not (run / "summary.json").exists()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "-q"]) == 0
    assert json.loads((run / "summary.json").read_text())["test"] == whole["test"]
    # the result names the baseline a model must beat (item 7; rows from mmib.engine.baselines)
    assert "baseline: mean of train" in capsys.readouterr().out


def test_configs_mosi_offline_is_described_with_the_fix_and_training_refuses_with_it(tmp_path, monkeypatch,
                                                                                       capsys):
    """configs/mosi.toml names bert-base-uncased, which cannot be downloaded offline: config show
    and config validate exit 0 and print the fix; training refuses in one line with the same fix."""
    import huggingface_hub.constants as hf

    from fixtures_data import write_mmsa
    from mmib.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty cache; HF_HUB_OFFLINE is set
    fix = ("to use it here, give a local copy (--text-encoder /path/to/bert-base-uncased: a folder with config.json, "
           "weights and tokenizer files) or use --text-encoder minilm (shipped, works offline)")
    assert main(["config", "show", "-c", "configs/mosi.toml", "--beta", "1e-4"]) == 0
    show = capsys.readouterr()
    assert "beta = 0.0001" in show.out and 'text_encoder = "bert-base-uncased"' in show.out
    assert "mmib config: note: configs/mosi.toml: model.text_encoder: 'bert-base-uncased'" in show.err
    assert fix in show.err
    assert main(["config", "validate", "-c", "configs/mosi.toml"]) == 0
    valid = capsys.readouterr().out
    assert valid.startswith("configs/mosi.toml: valid; to train it here, 2 thing(s)")
    assert "pass --data-path FILE" in valid and fix in valid
    data = write_mmsa(tmp_path / "mosi.pkl", aligned=False, neg_inf=False)
    assert main(["train", "-c", "configs/mosi.toml", "--data-path", str(data), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("mmib train: error: configs/mosi.toml: model.text_encoder: 'bert-base-uncased'")
    assert fix in err and not (tmp_path / "mosi").exists()


BETA_SPACE = """
[params."objective.beta"]
type = "categorical"
choices = [1e-4, 100.0]
[pruner]
type = "none"
[sampler]
seed = 0
"""


def test_tune_scores_trials_without_the_kl_term_and_warns_when_the_metric_holds_it(tmp_path, capsys):
    """A space over beta where the validation loss would reward the smaller beta (100 x KL dwarfs
    any difference in the task loss): the default objective is the task loss of the final
    prediction, so each trial's value holds no KL; --metric loss warns before any trial."""
    import json

    import pytest as _pytest

    from conftest import tiny_config
    from mmib.cli import main
    from mmib.studies.storage import load_study
    from mmib.studies.tune import ObjectiveWarning

    cfg, space = tmp_path / "tiny.toml", tmp_path / "beta.toml"
    tiny_config(tmp_path, "name='beta'", "train.epochs=1").save(cfg)
    space.write_text(BETA_SPACE)
    assert main(["tune", "-c", str(cfg), "--space", str(space), "--trials", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert "task/fused on valid (minimize, no regulariser term)" in out
    study = load_study(str(tmp_path / "beta" / "study.db"), "beta")
    assert study.user_attrs["objective"]["metric"] == "task/fused" and study.user_attrs["objective"]["regulariser_free"]
    trials = {t.params["objective.beta"]: t for t in study.trials}
    assert sorted(trials) == [1e-4, 100.0]  # both betas tried (sampler seed 0)
    valid = {b: json.loads((tmp_path / "beta" / f"trial-{t.number}" / "summary.json").read_text())["valid"]
             for b, t in trials.items()}
    assert min(valid, key=lambda b: valid[b]["loss"]) == 1e-4  # the loss would pick the smallest beta...
    for b, t in trials.items():  # ...the objective is the task loss alone: no beta x KL in it
        assert t.value == _pytest.approx(valid[b]["task/fused"]) and t.value < valid[b]["loss"]
    assert study.best_trial.params["objective.beta"] == min(valid, key=lambda b: valid[b]["task/fused"])
    with _pytest.warns(ObjectiveWarning, match=r"'loss' on valid holds a term that the searched objective.beta"):
        assert main(["tune", "-c", str(cfg), "--space", str(space), "--trials", "0", "--study", "by-loss",
                     "--metric", "loss", "-q"]) == 0
    assert "scaled by the searched objective.beta" in capsys.readouterr().out


def test_one_metric_vocabulary_in_every_output_and_distinct_robustness_labels(eval_runs, tmp_path, capsys):
    """Tables, mmib compare (text and CSV), mmib robustness (text, JSON names, CSV) and the plot's
    labels name each metric the same way; two runs that are both seed-0 get distinct labels."""
    import csv
    import json
    import shutil

    from mmib.cli import main
    from mmib.metrics import display_name
    from mmib.report.robustness import curves_figure

    names = ["Acc7", "Acc2 has0", "F1 has0", "Acc2 non0", "F1 non0", "MAE", "Corr"]
    keys = ["Mult_acc_7", "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score"]
    assert [display_name(k) for k in keys] == names[:5]
    cm = eval_runs / "cm"
    assert main(["evaluate", str(cm / "seed-0")]) == 0
    table = capsys.readouterr().out
    assert main(["compare", str(cm), str(cm), "-o", str(tmp_path / "c.csv")]) == 0
    compared = capsys.readouterr().out
    other = tmp_path / "other" / "seed-0"  # another group's seed-0
    shutil.copytree(cm / "seed-0", other)
    out = [str(tmp_path / f"r.{x}") for x in ("json", "csv")]
    assert main(["robustness", str(cm / "seed-0"), str(other), "--rates", "0,0.5", "--kinds", "noise",
                 "--modalities", "audio", "-q", "-o", out[0], "-o", out[1]]) == 0
    robust = capsys.readouterr().out
    for text in (table, compared, robust):
        assert all(n in text for n in names) and not any(k in text for k in keys), text
    assert "paired tests" in compared and "\n  Acc7 " in compared  # the tests' rows too
    header = next(csv.reader(open(tmp_path / "c.csv")))
    assert [h for h in header if h.endswith(" mean")] == [f"{n} mean" for n in names]
    res = json.loads((tmp_path / "r.json").read_text())
    assert [m["label"] for m in res["models"]] == ["cm/seed-0", "other/seed-0"]
    assert [res["models"][0]["metric_names"][k] for k in keys] == names[:5]
    header = next(csv.reader(open(tmp_path / "r.csv")))
    assert {f"{n} mean" for n in names} <= set(header) and not any(k in " ".join(header) for k in keys)
    ax = curves_figure(res).axes[0]
    assert ax.get_ylabel() == "Acc2 has0 (%)" and "test Acc2 has0 under" in curves_figure(res)._suptitle.get_text()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cm/seed-0 (cmib)", "other/seed-0 (cmib)"]


def test_small_items_of_the_first_hour(eval_runs, tmp_path, capsys, monkeypatch):
    """Parameter counts with separators; data inspect never prints None; predicted labels as
    written (-1.2, not -1.2000000476837158); a busy machine hints at one thread."""
    import csv
    import os
    import re

    import numpy as np

    from fixtures_data import write_mmsa
    from mmib.cli import main
    from mmib.data.inspect import render, report
    from mmib.data.readers import load_corpus
    from mmib.engine.fit import busy_note

    assert main(["model", "summary", "--text-encoder", "tiny-config", "--set", "model.d=10",
                 "--set", "model.n_heads=2"]) == 0
    assert re.fullmatch(r"total parameters: \d{1,3}(,\d{3})+", capsys.readouterr().out.strip().splitlines()[-1])
    rep = report(load_corpus(write_mmsa(tmp_path / "m.pkl", aligned=False, neg_inf=False), log=False))
    rep["source"] = {"converted_file": str(tmp_path / "x.safetensors"), "converted_sha256": "ab12"}  # extracted
    text = render(rep)
    assert "None" not in text and "source    extracted by mmib extract" in text and "ab12 (this file)" in text
    out = tmp_path / "p.csv"
    assert main(["predict", str(eval_runs / "cm" / "seed-0"), "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert all(r["label"] == str(np.float32(r["label"])) for r in rows)  # the shortest decimal of each
    assert max(len(r["label"]) for r in rows) <= 12
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 7.0, 6.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert "load 7.5 on 2 cores) and torch uses 2 threads" in busy_note(2) and "OMP_NUM_THREADS=1" in busy_note(2)
    assert busy_note(1) is None
