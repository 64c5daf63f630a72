"""End to end through the CLI: train on files of every format, convert, inspect, refuse bad files."""

from __future__ import annotations

import json
import math
import os
import pickle

import numpy as np
import pytest

from fixtures_data import write_magbert, write_mmsa, write_mult
from mmib.cli import main

# tiny models on a few dozen utterances often predict one class; that is not what these tests check
pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")

TINY = ["--epochs", "1", "--set", "model.d=10", "--set", "model.n_heads=2", "--set", "model.ib_hidden=16",
        "--set", "train.batch_size=8", "--set", "train.progress=false", "--set", "optim.lr=1e-3",
        "--set", "model.n_layers=1", "--quiet"]


def train(tmp_path, name, dataset, path, encoder, *extra):
    rc = main(["train", "--dataset", dataset, "--data-path", str(path), "--text-encoder", encoder,
               "--out-dir", str(tmp_path / "runs"), "--name", name, *TINY, *extra])
    assert rc == 0
    run = tmp_path / "runs" / name
    return (json.loads((run / "summary.json").read_text()), json.loads((run / "data.json").read_text()),
            [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()])


CASES = {
    # name: (writer, writer kwargs, dataset, text encoder, extra args, expected dims)
    "mmsa-aligned": (write_mmsa, {}, "mosi", "tiny-config", [], {"text": 0, "audio": 5, "visual": 20}),
    "mmsa-unaligned-glove": (write_mmsa, {"aligned": False}, "mosi", "glove", [],
                             {"text": 768, "audio": 5, "visual": 20}),
    "magbert": (write_magbert, {}, "mosi", "tiny-config", [], {"text": 0, "audio": 74, "visual": 47}),
    "mult-mosi": (write_mult, {}, "mosi", "glove", [], {"text": 300, "audio": 5, "visual": 20}),
    "mult-iemocap": (write_mult, {"kind": "iemocap"}, "iemocap", "glove", ["--set", "data.max_len=20"],
                     {"text": 300, "audio": 74, "visual": 35}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_train_on_each_format(tmp_path, case):
    writer, kw, dataset, encoder, extra, dims = CASES[case]
    f = writer(tmp_path / "data.pkl", **kw)
    summary, data, log = train(tmp_path, case, dataset, f, encoder, *extra)
    assert summary["sizes"] == {"train": 24, "valid": 8, "test": 8}
    assert data["dims"] == dims and data["source"]["sha256"] and data["reader"] == writer.__name__[6:]
    assert all(math.isfinite(v) for v in log[0]["train"].values())
    if dataset == "iemocap":
        assert summary["task"] == "multilabel" and data["label_names"] == ["neutral", "happy", "sad", "angry"]
        assert {"happy_acc", "angry_F1"} <= set(summary["test"])
    else:
        assert summary["task"] == "regression" and "MAE" in summary["test"]


def test_mosei_emotions_through_the_cli(tmp_path):
    f = write_magbert(tmp_path / "mosei.pkl", visual_dim=35, sdk_labels=True)
    summary, data, _ = train(tmp_path, "emo", "mosei", f, "tiny-config", "--set", "data.labels='emotions'")
    assert summary["task"] == "multilabel" and len(data["label_names"]) == 6 and data["labels"] == "emotions"


def _with_bad_values(path):
    data = pickle.loads(path.read_bytes())
    data["train"]["audio"][2, :3, 1] = np.nan
    data["train"]["vision"][4, 0, :2] = np.inf
    data["valid"]["text"][1, 0, 0] = np.nan
    path.write_bytes(pickle.dumps(data))
    return path


def test_convert_then_train_gives_the_same_metrics_and_repairs_are_reported(tmp_path, capsys):
    f = _with_bad_values(write_mmsa(tmp_path / "aligned_50.pkl"))
    out = tmp_path / "mosi.safetensors"
    assert main(["data", "convert", str(f), str(out)]) == 0
    err = capsys.readouterr().err
    assert "audio: replaced 3 NaN, 0 +inf, 3 -inf values by 0" in err
    assert "visual: replaced 0 NaN, 2 +inf, 0 -inf" in err
    for enc in ("tiny-config", "glove"):
        a, data_a, log_a = train(tmp_path, f"pkl-{enc}", "mosi", f, enc)
        b, data_b, log_b = train(tmp_path, f"conv-{enc}", "mosi", out, enc)
        assert a["test"] == b["test"] and a["valid"] == b["valid"]
        assert [r["train"] for r in log_a] == [r["train"] for r in log_b]
        assert all(math.isfinite(v) for r in log_a for v in r["train"].values())
        assert data_a["repairs"] == data_b["repairs"]
        assert data_b["source"]["sha256"] == data_a["source"]["sha256"] and "converted_file" in data_b["source"]
    assert data_a["repairs"]["audio"] == {"nan": 3, "posinf": 0, "neginf": 3}
    assert data_a["repairs"]["visual"] == {"nan": 0, "posinf": 2, "neginf": 0}
    assert data_a["repairs_per_split"]["text_vectors"]["valid"]["nan"] == 1
    assert main(["data", "inspect", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "format    mmsa (converted)" in shown and str(f.name) in shown and "audio: replaced 3 NaN" in shown
    # the converted file is refused as an overwrite target and can be replaced explicitly
    assert main(["data", "convert", str(f), str(out)]) == 2
    assert main(["data", "convert", str(f), str(out), "--overwrite"]) == 0


def test_inspect_prints_sizes_dims_labels_and_problems(tmp_path, capsys):
    f = _with_bad_values(write_mmsa(tmp_path / "unaligned_50.pkl", aligned=False))
    assert main(["data", "inspect", str(f)]) == 0
    out = capsys.readouterr().out
    assert "format    mmsa" in out and "train 24 / valid 8 / test 8" in out
    assert "audio" in out and "visual" in out and " 20 " in out
    assert "labels    sentiment" in out and "pos " in out
    assert "audio: replaced 3 NaN" in out and "longer than max_len = 50" in out
    assert main(["data", "inspect", str(f), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["sizes"]["valid"] == 8 and rep["fields"]["visual"]["dim"] == 20 and rep["problems"]


def test_inspect_reports_a_bad_file(tmp_path, capsys):
    f = write_mult(tmp_path / "iemocap_data.pkl", kind="iemocap")
    f.write_bytes(f.read_bytes()[:5000])
    assert main(["data", "inspect", str(f)]) == 1
    assert "truncated" in capsys.readouterr().out


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_malicious_data_file_never_runs(tmp_path, capsys):
    f = write_mmsa(tmp_path / "aligned_50.pkl")
    data = pickle.loads(f.read_bytes())
    target = tmp_path / "pwned"
    data["train"]["raw_text"] = _Payload(target)
    f.write_bytes(pickle.dumps(data))
    assert main(["train", "--dataset", "mosi", "--data-path", str(f), "--text-encoder", "tiny-config",
                 "--out-dir", str(tmp_path / "runs"), *TINY]) == 2
    assert "refused to load global" in capsys.readouterr().err
    assert main(["data", "convert", str(f), str(tmp_path / "x.safetensors")]) == 2
    assert main(["data", "inspect", str(f)]) == 1
    assert not target.exists() and not (tmp_path / "x.safetensors").exists()


def test_text_encoder_mismatch_is_explained(tmp_path, capsys):
    f = write_mult(tmp_path / "mosi_data.pkl")
    assert main(["train", "--dataset", "mosi", "--data-path", str(f), "--text-encoder", "tiny-config",
                 "--out-dir", str(tmp_path / "runs"), *TINY]) == 2
    assert "needs model.text_encoder = 'glove'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["mosi", "mosei", "iemocap"])
def test_paper_configs(name):
    from pathlib import Path

    from mmib import config as config_mod

    cfg = config_mod.load(Path(__file__).parent.parent / "configs" / f"{name}.toml")
    assert cfg.data.dataset == name and cfg.model.variant == "cmib" and cfg.objective.beta == 1e-3
    assert cfg.train.batch_size == 32 and cfg.train.epochs == 50 and cfg.model.d == 50
    if name == "iemocap":
        assert cfg.model.text_encoder == "glove" and cfg.optim.lr == 1e-3 and cfg.data.max_len == 20
    else:
        assert (cfg.optim.lr, cfg.optim.text_lr, cfg.data.max_len) == (2e-5, 1e-5, 50)
        assert cfg.model.text_encoder == "bert-base-uncased"


def test_iemocap_config_trains_on_an_iemocap_file(tmp_path):
    from pathlib import Path

    f = write_mult(tmp_path / "iemocap_data.pkl", kind="iemocap")
    config = str(Path(__file__).parent.parent / "configs" / "iemocap.toml")
    summary, data, _ = train(tmp_path, "iemo", "iemocap", f, "glove", "-c", config)
    assert summary["task"] == "multilabel" and data["max_len"] == 20 and summary["sizes"]["test"] == 8


def test_relative_data_path_is_saved_absolute_so_evaluate_works_from_anywhere(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    write_mmsa(tmp_path / "data" / "mosi.pkl")
    monkeypatch.chdir(tmp_path / "data")
    summary, _, _ = train(tmp_path, "rel", "mosi", "mosi.pkl", "tiny-config")
    run = tmp_path / "runs" / "rel"
    saved = [ln for ln in (run / "config.toml").read_text().splitlines() if ln.startswith("path")]
    assert saved == [f'path = "{(tmp_path / "data" / "mosi.pkl").resolve()}"']
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["MAE"] == summary["test"]["MAE"]
