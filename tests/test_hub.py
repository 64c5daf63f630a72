"""mmib export / mmib.load: a Hub-layout folder that reloads and predicts exactly what the run
predicts, a model card that says how it was scored, and folders whose code never runs."""

from __future__ import annotations

import fnmatch
import json
import shutil

import numpy as np
import pytest
from conftest import tiny_config

import mmib
from mmib.cli import main
from mmib.engine import fit
from mmib.hub import export_run
from mmib.hub.resolve import DOWNLOAD_PATTERNS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    res = fit(tiny_config(tmp, "name='r'", "train.epochs=1"), run_dir=tmp / "r")
    return res


def _same(a, b):
    assert a.ids == b.ids
    np.testing.assert_array_equal(a.pred, b.pred)
    for k in a.kl:
        np.testing.assert_array_equal(a.kl[k], b.kl[k])


@pytest.mark.slow
def test_an_export_reloads_and_predicts_exactly_what_the_run_predicts(run, tmp_path):
    out = tmp_path / "export"
    assert main(["export", str(run.run_dir), str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "README.md", "text_encoder"}
    assert (out / "model.safetensors").read_bytes() == (run.run_dir / "best.safetensors").read_bytes()
    info = json.loads((out / "config.json").read_text())
    assert info["library_name"] == "mmib" and info["format"] == "mmib-export-1"
    assert info["data"]["sizes"] == {"train": 64, "valid": 16, "test": 24}

    examples = run.experiment.examples("test")
    expected = run.experiment.predict(examples, objective=None)
    exported = mmib.load(out)
    _same(exported.predict(examples), expected)
    _same(exported.predict(examples), mmib.load(run.run_dir).predict(examples))
    assert main(["export", str(run.run_dir), str(out)]) == 2  # not silently overwritten


@pytest.mark.slow
def test_the_model_card_names_the_convention_selection_and_split_sizes(run, tmp_path):
    from huggingface_hub import ModelCard

    out = export_run(run.run_dir, tmp_path / "e")
    card = ModelCard.load(out / "README.md")
    d = card.data.to_dict()
    assert d["library_name"] == "mmib" and d["paper_doi"] == "10.1109/TMM.2022.3171679"
    assert d["mmib"]["metric_convention"] == "mib" and d["mmib"]["splits"] == {"train": 64, "valid": 16, "test": 24}
    assert d["model-index"][0]["results"][0]["dataset"]["split"] == "test"
    mae = run.summary["test"]["MAE"]
    metrics = {m["type"]: m["value"] for r in d["model-index"][0]["results"] for m in r["metrics"]}
    assert metrics["MAE"] == round(mae, 6)
    text = card.text
    assert "Metric convention: `mib`" in text and "| test | 24 |" in text and "| train | 64 |" in text
    assert "lowest validation `loss`" in text and "Intended use and limits" in text


@pytest.mark.slow
def test_a_folder_with_custom_code_loads_without_running_it(run, tmp_path):
    out = export_run(run.run_dir, tmp_path / "e")
    marker = tmp_path / "CODE_RAN"
    evil = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    auto = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel", "AutoTokenizer": ["evil.EvilTok", None]}
    for folder in (out, out / "text_encoder"):
        (folder / "evil.py").write_text(evil)
    for f in (out / "config.json", out / "text_encoder" / "config.json", out / "text_encoder" / "tokenizer_config.json"):
        d = json.loads(f.read_text())
        d["auto_map"] = auto
        f.write_text(json.dumps(d))
    examples = run.experiment.examples("test")
    _same(mmib.load(out).predict(examples), run.experiment.predict(examples, objective=None))
    assert not marker.exists()
    # a Hub download takes the data files only: code is never fetched
    for name in ("evil.py", "text_encoder/evil.py", "modeling_x.py"):
        assert not any(fnmatch.fnmatch(name, p) for p in DOWNLOAD_PATTERNS)
    for name in ("config.json", "model.safetensors", "text_encoder/tokenizer.json", "text_encoder/vocab.txt"):
        assert any(fnmatch.fnmatch(name, p) for p in DOWNLOAD_PATTERNS)


def test_a_hub_id_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="someone/no-such-mmib-model: not a local folder.*HF_HUB_OFFLINE"):
        mmib.load("someone/no-such-mmib-model")
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        mmib.load("./no/such/folder")


@pytest.mark.slow
def test_a_seed_group_export_reports_mean_and_std(tmp_path):
    from mmib.studies import run_seeds

    cfg = tiny_config(tmp_path, "name='g'", "train.epochs=1")
    res = run_seeds(cfg, [0, 1])
    out = export_run(tmp_path / "g", tmp_path / "e")
    info = json.loads((out / "config.json").read_text())
    assert info["group"]["seeds"] == [0, 1]
    seed = info["config"]["train"]["seed"]
    valid = {s: json.loads((tmp_path / "g" / f"seed-{s}" / "summary.json").read_text())["valid"]["loss"]
             for s in (0, 1)}
    assert valid[seed] == min(valid.values())  # the best seed on validation, never on test
    text = (out / "README.md").read_text()
    mean, std = res["test"]["mean"]["MAE"], res["test"]["std"]["MAE"]
    assert f"| MAE | {mean:.4f} | {std:.4f} |" in text and "over 2 seeds" in text
    loaded = mmib.load(out)
    assert loaded.cfg.train.seed == seed
    shutil.rmtree(out)
