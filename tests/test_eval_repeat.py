"""Multi-seed runs: seed parsing, aggregation, the group layout, reuse and refusal."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import tiny_config
from eval_runs import eval_runs  # noqa: F401  (session fixture)
from mmib.studies import seeds as repeat

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")


def test_parse_seeds():
    assert repeat.parse_seeds("3") == [0, 1, 2]
    assert repeat.parse_seeds("3", base=10) == [10, 11, 12]
    assert repeat.parse_seeds("4,1, 7") == [4, 1, 7]
    for bad in ("0", "x", "1,1", "-2"):
        with pytest.raises(ValueError, match="--seeds"):
            repeat.parse_seeds(bad)


def test_aggregate_mean_and_sample_std():
    per = {0: {"MAE": 1.0, "Corr": 0.5}, 1: {"MAE": 2.0, "Corr": 0.7}, 2: {"MAE": 3.0, "Corr": 0.6}}
    agg = repeat.aggregate(per)
    assert agg["mean"]["MAE"] == pytest.approx(2.0)
    assert agg["std"]["MAE"] == pytest.approx(1.0)  # ddof = 1: sqrt((1 + 0 + 1) / 2)
    assert agg["std"]["Corr"] == pytest.approx(0.1)
    assert repeat.aggregate({5: {"MAE": 1.5}})["std"]["MAE"] == 0.0


def test_group_layout_and_results(eval_runs):
    group = eval_runs / "cm"
    meta = json.loads((group / "group.json").read_text())
    assert meta["seeds"] == [0, 1]
    res = json.loads((group / "results.json").read_text())
    assert res["seeds"] == [0, 1] and res["metric_convention"] == "mib" and res["metric_family"] == "sentiment"
    seeds = [json.loads((group / f"seed-{k}" / "summary.json").read_text()) for k in (0, 1)]
    assert [s["seed"] for s in seeds] == [0, 1]
    # different seeds really trained different models
    assert seeds[0]["test"]["loss"] != seeds[1]["test"]["loss"]
    for key in ("Mult_acc_7", "Non0_acc_2", "Has0_F1_score", "MAE", "Corr", "loss"):
        vals = [s["test"][key] for s in seeds]
        assert res["test"]["mean"][key] == pytest.approx(np.mean(vals), abs=1e-12)
        assert res["test"]["std"][key] == pytest.approx(np.std(vals, ddof=1), abs=1e-12)
        assert res["test"]["per_seed"]["1"][key] == seeds[1]["test"][key]
    rows = list(csv.DictReader((group / "results.csv").open()))
    assert [r["seed"] for r in rows] == ["0", "1", "mean", "std"]
    assert float(rows[0]["MAE"]) == seeds[0]["test"]["MAE"]  # full precision
    assert float(rows[2]["Corr"]) == res["test"]["mean"]["Corr"]
    md = (group / "results.md").read_text()
    assert "| model | Acc7 | Acc2 has0 | F1 has0 | Acc2 non0 | F1 non0 | MAE | Corr |" in md
    assert "| cm | " in md and " ± " in md and "convention mib" in md


def test_rerun_reuses_finished_seeds_and_refuses_other_configs(eval_runs, tmp_path):
    cfg = tiny_config(eval_runs, "name='cm'", "train.progress=false")
    lines: list[str] = []
    res = repeat.run_seeds(cfg, [0, 1], log=lines.append)
    assert all("finished earlier" in x for x in lines) and len(lines) == 2
    assert res["test"]["mean"] == json.loads((eval_runs / "cm" / "results.json").read_text())["test"]["mean"]
    other = tiny_config(eval_runs, "name='cm'", "objective.beta=0.5")
    with pytest.raises(repeat.GroupExistsError, match="different config"):
        repeat.run_seeds(other, [0], log=lines.append)
    with pytest.raises(repeat.GroupExistsError, match="single run"):
        repeat.run_seeds(tiny_config(eval_runs, "name='bm'"), [0], log=lines.append)


def test_repeat_command_prints_the_table(eval_runs, capsys):
    from mmib.cli import main

    from eval_runs import tiny_args

    assert main(["repeat", *tiny_args(), "--out-dir", str(eval_runs), "--name", "cm", "--seeds", "2",
                 "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "mean ± std over 2 seeds [0, 1]" in out
    assert "| cm |" in out and "results.csv" in out
