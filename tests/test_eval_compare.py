"""mmib compare: loading runs and groups, paired tests on matching seeds, warnings, output files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from eval_runs import eval_runs  # noqa: F401  (session fixture)
from mmib.report import comparisons
from mmib.studies import comparisons as C
from mmib.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")


def fake_run(d: Path, seed: int, mae: float, acc: float, convention: str = "mib", dataset: str = "synth") -> Path:
    d.mkdir(parents=True)
    test = {"Mult_acc_7": 0.3, "Has0_acc_2": acc, "Has0_F1_score": acc, "Non0_acc_2": acc,
            "Non0_F1_score": acc, "MAE": mae, "Corr": 0.5, "loss": mae}
    s = {"name": d.name, "seed": seed, "dataset": dataset, "task": "regression", "metric_family": "sentiment",
         "metric_convention": convention, "variant": "cmib", "fusion": "concat", "test": test}
    (d / "summary.json").write_text(json.dumps(s))
    return d


def fake_group(root: Path, name: str, maes: dict[int, float], accs: dict[int, float], **kw) -> Path:
    g = root / name
    for seed, mae in maes.items():
        fake_run(g / f"seed-{seed}", seed, mae, accs[seed], **kw)
    (g / "group.json").write_text(json.dumps({"seeds": sorted(maes)}))
    return g


def test_paired_test_matches_scipy_and_handles_degenerate_differences():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.1, 3.9, 4.2, 6.0]
    r = C.paired_test(a, b)
    assert r["n"] == 5 and r["mean_diff"] == pytest.approx(np.mean(np.subtract(b, a)))
    assert r["t_p"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert r["wilcoxon_p"] == pytest.approx(0.0625)  # all 5 differences positive: exact 2 / 2^5
    same = C.paired_test(a, a)
    assert same["t_p"] == 1.0 and same["wilcoxon_p"] == 1.0 and same["note"] == "identical"
    shifted = C.paired_test(a, [x + 1 for x in a])
    assert shifted["t_p"] is None and "constant difference" in shifted["note"]
    assert C.paired_test([1.0], [2.0])["t_p"] is None


def test_groups_pair_on_common_seeds(tmp_path):
    a = fake_group(tmp_path, "a", {0: 0.9, 1: 0.8, 2: 0.85, 3: 0.7}, {0: 0.7, 1: 0.72, 2: 0.69, 3: 0.75})
    b = fake_group(tmp_path, "b", {1: 0.7, 2: 0.6, 3: 0.62, 4: 0.5}, {1: 0.8, 2: 0.79, 3: 0.81, 4: 0.9})
    rep = C.compare([C.load_result(a), C.load_result(b)])
    t = rep["tests"][0]
    assert t["seeds"] == [1, 2, 3] and t["reference"] == "a" and t["other"] == "b"
    mae = t["metrics"]["MAE"]
    assert mae["mean_diff"] == pytest.approx(np.mean([0.7 - 0.8, 0.6 - 0.85, 0.62 - 0.7]))
    assert mae["t_p"] == pytest.approx(stats.ttest_rel([0.7, 0.6, 0.62], [0.8, 0.85, 0.7]).pvalue)
    assert mae["better"] == "b" and t["metrics"]["Non0_acc_2"]["better"] == "b"  # lower MAE, higher acc
    assert t["metrics"]["Mult_acc_7"]["better"] == "-"
    # the table statistics use every seed of each group, not only the paired ones
    assert rep["results"][0]["mean"]["MAE"] == pytest.approx(np.mean([0.9, 0.8, 0.85, 0.7]))
    assert rep["results"][1]["seeds"] == [1, 2, 3, 4]
    text = comparisons.render(rep)
    assert "b - a over 3 matching seed(s) [1, 2, 3]" in text and "Wilcoxon p" in text
    assert not rep["warnings"]


def test_mismatched_conventions_are_flagged(tmp_path):
    a = fake_run(tmp_path / "x", 0, 0.8, 0.7)
    b = fake_run(tmp_path / "y", 0, 0.7, 0.8, convention="mmsa")
    rep = C.compare([C.load_result(a), C.load_result(b)])
    assert any("metric_convention" in w for w in rep["warnings"])
    assert "not applicable" in comparisons.render(rep)


def test_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run"):
        C.load_result(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither a finished run"):
        C.load_result(tmp_path / "empty")


def test_compare_command_end_to_end(eval_runs, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main(["compare", str(eval_runs / "cm"), str(eval_runs / "bm"), str(eval_runs / "cm" / "seed-1"),
                 "--all-pairs", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cm (2 seeds)" in text and "bm (1 seed)" in text
    assert "metric_convention" in text  # cm is scored with mib, bm with mmsa: flagged
    rep = json.loads(out.read_text())
    assert len(rep["tests"]) == 3
    pair = next(t for t in rep["tests"] if t["reference"] == "cm" and t["other"] == "seed-1")
    assert pair["seeds"] == [1]  # a run of the group pairs with its own seed only
    assert main(["compare", str(eval_runs / "cm"), "--markdown", "-o", str(tmp_path / "t.md")]) == 0
    assert "| cm (2 seeds) |" in (tmp_path / "t.md").read_text()
    assert main(["compare", str(tmp_path / "nothing")]) == 2
