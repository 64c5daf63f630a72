"""Robustness curves: rate 0 is the saved result, corruptions are deterministic, a missing
modality is the emptiest input, a modality the model ignores gives a flat curve; the command,
the files, the plot and training-time augmentation."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from conftest import tiny_config
from mmib.cli import main
from mmib.data.corruptions import CORRUPTIONS, context_for, corrupt, rng_for
from mmib.engine import Experiment, check_config, fit
from mmib.studies.robustness import corrupted_results, parse_rates

# end to end with trained runs: in the slow tier (CI runs everything)
pytestmark = [pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning"), pytest.mark.slow]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    fit(tiny_config(root, "name='r'", "train.epochs=2"))
    return root / "r"


def test_rate_zero_reproduces_the_saved_test_metrics_exactly(run):
    summary = json.loads((run / "summary.json").read_text())
    rows = corrupted_results(Experiment.load(run), modalities=["text", "audio"], kinds_=["noise", "mask"], rates=[0.0])
    assert rows
    for row in rows:
        assert {k: row["metrics"][k] for k in summary["test"]} == summary["test"]


def test_corruption_is_deterministic_given_the_seed(run):
    exp = Experiment.load(run)
    ctx = context_for(exp.data.train, exp.cfg.data.modalities, exp.get_tokenizer())
    test = exp.data.test
    for name, c in CORRUPTIONS.items():
        m = "text" if c.inputs == "tokens" else "audio"
        a = corrupt(test, m, c.kind, 0.5, rng_for(0, m, c.kind, 0.5), ctx)
        b = corrupt(test, m, c.kind, 0.5, rng_for(0, m, c.kind, 0.5), ctx)
        other = corrupt(test, m, c.kind, 0.5, rng_for(1, m, c.kind, 0.5), ctx)
        assert all(np.array_equal(x.inputs[m], y.inputs[m]) for x, y in zip(a, b)), name
        assert any(not np.array_equal(x.inputs[m], y.inputs[m]) for x, y in zip(a, other)), name
        assert all(np.array_equal(x.inputs["visual"], y.inputs["visual"]) for x, y in zip(a, test))  # others untouched


def test_each_corruption_does_what_its_formula_says(run):
    exp = Experiment.load(run)
    ctx = context_for(exp.data.train, exp.cfg.data.modalities, exp.get_tokenizer())
    ex = exp.data.test[:8]
    masked = corrupt(ex, "text", "mask", 1.0, rng_for(0, "text", "mask", 1.0), ctx)
    for a, b in zip(ex, masked):
        t = b.inputs["text"]
        assert t[0] == a.inputs["text"][0] and t[-1] == a.inputs["text"][-1] and (t[1:-1] == ctx.mask_id).all()
    zeroed = corrupt(ex, "audio", "mask", 1.0, rng_for(0, "audio", "mask", 1.0), ctx)
    assert all(not b.inputs["audio"].any() for b in zeroed)
    dropped = corrupt(ex, "audio", "drop", 0.5, rng_for(0, "audio", "drop", 0.5), ctx)
    assert all(1 <= len(b.inputs["audio"]) <= len(a.inputs["audio"]) for a, b in zip(ex, dropped))
    noisy = corrupt(ex, "audio", "noise", 0.5, rng_for(0, "audio", "noise", 0.5), ctx)
    diff = np.concatenate([b.inputs["audio"] - a.inputs["audio"] for a, b in zip(exp.data.test, corrupt(
        exp.data.test, "audio", "noise", 0.5, rng_for(0, "audio", "noise", 0.5), ctx))])
    assert np.allclose(diff.std(0) / ctx.std["audio"], 0.5, rtol=0.15)  # r * sigma_j
    assert noisy[0].inputs["audio"].shape == ex[0].inputs["audio"].shape


def test_a_fully_missing_modality_is_the_emptiest_input(run):
    exp = Experiment.load(run)
    ctx = context_for(exp.data.train, exp.cfg.data.modalities, exp.get_tokenizer())
    test = exp.data.test
    gone = corrupt(test, "audio", "missing", 1.0, rng_for(0, "audio", "missing", 1.0), ctx)
    by_hand = [dataclasses.replace(ex, inputs={**ex.inputs, "audio": np.zeros((1, exp.data.dims["audio"]),
                                                                               np.float32)}) for ex in test]
    assert np.array_equal(exp.predict(gone).pred, exp.predict(by_hand).pred)
    text = corrupt(test, "text", "missing", 1.0, rng_for(0, "text", "missing", 1.0), ctx)
    assert all(list(ex.inputs["text"]) == [ctx.cls_id, ctx.sep_id] for ex in text)


def test_a_modality_the_model_ignores_gives_a_flat_curve(run):
    exp = Experiment.load(run)
    d = exp.cfg.model.d
    with torch.no_grad():
        exp.model.fusion.proj.weight[:, d:2 * d] = 0  # concat fusion: the audio columns (text, audio, visual)
    rows = corrupted_results(exp, modalities=["audio"], kinds_=["noise", "mask", "drop", "missing"],
                        rates=[0.0, 0.5, 0.9])
    base = next(r["metrics"] for r in rows if r["rate"] == 0.0)
    keys = ["MAE", "Corr", "Non0_acc_2", "Mult_acc_7"]
    for r in rows:
        assert {k: r["metrics"][k] for k in keys} == {k: base[k] for k in keys}, (r["kind"], r["rate"])


def test_robustness_command_writes_tables_files_and_curves(run, tmp_path, capsys):
    out = tmp_path / "rob"
    assert main(["robustness", str(run), "--rates", "0,0.5", "--kinds", "noise,missing", "-q",
                 "-o", str(out / "r.json"), "-o", str(out / "r.csv"), "-o", str(out / "r.md"),
                 "--plot", str(out / "r.png")]) == 0
    text = capsys.readouterr().out
    assert "audio noise 0.5" in text and "KL fused" in text and "area under the curve" in text
    res = json.loads((out / "r.json").read_text())
    assert res["format"] == "mmib-robustness-1" and res["rates"] == [0.0, 0.5]
    kinds = {(c["modality"], c["kind"]) for c in res["models"][0]["curves"]}
    assert ("text", "missing") in kinds and ("text", "noise") not in kinds  # noise has no token version
    assert "drop" in res["models"][0]["summary"][0] and (out / "r.png").stat().st_size > 10_000
    assert (out / "r.csv").read_text().startswith("model,variant,modality,kind,rate,n,")
    assert main(["plot", str(out / "r.json")]) == 0 and (out / "r.png").exists()


def test_rates_parse_and_bad_kinds_are_refused():
    assert parse_rates("0:0.9:0.1") == [round(0.1 * i, 10) for i in range(10)]
    assert parse_rates("0.5,0") == [0.0, 0.5]
    with pytest.raises(ValueError, match="--rates"):
        parse_rates("0:2:0.5")


def test_training_time_augmentation_uses_the_same_corruptions(tmp_path):
    cfg = tiny_config(tmp_path, "name='aug'", "train.epochs=2", "data.augment=['noise:audio:0.5', 'mask:text:0.2']")
    check_config(cfg)
    a = fit(cfg)
    b = fit(tiny_config(tmp_path, "name='aug2'", "train.epochs=2",
                        "data.augment=['noise:audio:0.5', 'mask:text:0.2']"))
    plain = fit(tiny_config(tmp_path, "name='plain'", "train.epochs=2"))
    assert a["test"] == b["test"] and a["test"] != plain["test"]  # deterministic, and it changes training
    from mmib import config as config_mod
    from mmib.config import ConfigError

    for bad, needle in (("['noise:speech:0.5']", "not in data.modalities"), ("['noise:text:0.5']", "does not apply"),
                        ("['blur:audio:0.5']", "unknown corruption kind"), ("['noise:audio:2']", "KIND:MODALITY:RATE")):
        with pytest.raises(ConfigError, match=needle):
            check_config(config_mod.set_value(cfg, "data.augment", json.loads(bad.replace("'", '"'))))


@pytest.mark.slow
def test_paper_robustness_preset_compares_four_variants(tmp_path, capsys):
    from conftest import TINY

    sets = [a for kv in TINY + ["train.epochs=1", "data.synth.n_test=12"] for a in ("--set", kv)]
    assert main(["paper", "robustness", *sets, "--out-dir", str(tmp_path), "--name", "rp", "--seeds", "1",
                 "-q"]) == 0
    res = json.loads((tmp_path / "rp" / "robustness.json").read_text())
    assert [m["label"] for m in res["models"]] == ["noib", "emib", "lmib", "cmib"]
    assert res["rates"] == [round(0.1 * i, 10) for i in range(10)]
    assert (tmp_path / "rp" / "plots" / "robustness.png").exists() and (tmp_path / "rp" / "robustness.md").exists()
