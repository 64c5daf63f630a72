"""The protocol: selection on valid only, test once, summaries that re-derive exactly."""

from __future__ import annotations

import json

import pytest

from eval_runs import eval_runs  # noqa: F401  (session fixture)
from mmib.cli import main
from mmib.engine import evaluate_run

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")


@pytest.mark.parametrize("run", ["cm/seed-0", "bm", "iem"])
def test_evaluate_reproduces_the_summary_exactly(eval_runs, run):
    summary = json.loads((eval_runs / run / "summary.json").read_text())
    again = evaluate_run(eval_runs / run)
    assert again["test"] == summary["test"]  # bit for bit, every metric and loss term
    assert again["valid"] == summary["valid"]
    assert again["metric_convention"] == summary["metric_convention"]


def test_evaluate_command_prints_the_same_numbers(eval_runs, capsys):
    summary = json.loads((eval_runs / "cm" / "seed-1" / "summary.json").read_text())
    assert main(["evaluate", str(eval_runs / "cm" / "seed-1"), "--json"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("{"):])
    assert printed == summary["test"]
    assert "convention mib" in out


def test_selection_uses_validation_only_and_test_every_epoch_is_labelled(eval_runs):
    log = [json.loads(x) for x in (eval_runs / "bm" / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((eval_runs / "bm" / "summary.json").read_text())
    assert len(log) == 3
    best = min(range(3), key=lambda e: log[e]["valid"]["loss"])
    assert summary["best_epoch"] == best + 1 == log[best]["epoch"]  # epochs count from 1, as printed
    key = "test_every_epoch (not used for selection)"
    assert all(key in r for r in log) and all("test" not in r for r in log)
    # the test metrics reported are those of the selected checkpoint
    assert summary["test"]["loss"] == pytest.approx(log[best][key]["loss"], rel=1e-5)


def test_convention_is_recorded_and_applied(eval_runs):
    s = json.loads((eval_runs / "bm" / "summary.json").read_text())
    assert s["metric_convention"] == "mmsa" and s["metric_family"] == "sentiment"
    cm = json.loads((eval_runs / "cm" / "seed-0" / "summary.json").read_text())
    assert cm["metric_convention"] == "mib"
    iem = json.loads((eval_runs / "iem" / "summary.json").read_text())
    assert iem["metric_family"] == "emotion_acc_f1"
    assert {"neutral_acc", "happy_F1", "sad_acc", "angry_F1", "mean_acc", "mean_F1"} <= set(iem["test"])


def test_evaluate_can_rescore_under_another_convention(eval_runs, capsys):
    import numpy as np

    from mmib.engine import load_setup
    from mmib.metrics import compute

    run = eval_runs / "cm" / "seed-0"
    assert main(["evaluate", str(run), "--convention", "mmsa", "--json"]) == 0
    out = capsys.readouterr().out
    assert "convention mmsa" in out
    printed = json.loads(out[out.index("{"):])
    s, _ = load_setup(run)
    p = s.predict("test")
    expected = compute("regression", p.pred, p.labels, ["sentiment"], convention="mmsa")
    assert {k: printed[k] for k in expected} == expected
    y, pred = p.labels[:, 0].astype(np.float64), p.pred[:, 0].astype(np.float64)
    assert printed["MAE"] == np.mean(np.abs(pred - y))  # mmsa: MAE over all samples
    # the saved summary is untouched
    assert json.loads((run / "summary.json").read_text())["metric_convention"] == "mib"
