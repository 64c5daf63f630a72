"""`mmib train --data-path DATASET` alone: a converted file that describes itself decides the
dataset name, labels, label range and metric family; the run keeps the extraction record."""

from __future__ import annotations

import json

import pytest

from conftest import TINY, tiny_config
from own_data import EXTRACTION, own_corpus, write_own

from mmib.cli import main
from mmib.config import ConfigError, DataConfig
from mmib.data import build_dataset
from mmib.data.datasets import resolve
from mmib.data.readers import converted
from mmib.engine import check_config, read_extraction

SETS = [a for kv in TINY if not kv.startswith("data.synth") for a in ("--set", kv)]


def _train(tmp_path, data, name):
    code = main(["train", *SETS, "--set", "train.epochs=1", "--data-path", str(data), "--out-dir", str(tmp_path),
                 "--name", name])
    assert code == 0
    return tmp_path / name


def test_sentiment_file_trains_alone_with_its_range_and_family(tmp_path, capsys):
    data = write_own(tmp_path / "clips.safetensors", sentiment_range=1.0, name="myclips")
    run = _train(tmp_path, data, "sent")
    out = capsys.readouterr().out
    assert "myclips (regression)" in out
    info = json.loads((run / "data.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert info["dataset"] == summary["dataset"] == "myclips"
    assert info["metrics"] == "sentiment" and info["described_as"]["sentiment_range"] == 1.0
    assert read_extraction(run) == EXTRACTION  # what `mmib predict RUN clip.mp4` extracts with
    assert "mae" in {k.lower() for k in summary["test"]}
    assert main(["evaluate", str(run)]) == 0  # the saved config (dataset auto) resolves again


def test_emotion_file_trains_alone_as_multilabel(tmp_path):
    data = write_own(tmp_path / "emo.safetensors", labels="emotions", name="myemotions")
    run = _train(tmp_path, data, "emo")
    info = json.loads((run / "data.json").read_text())
    assert info["dataset"] == "myemotions" and info["task"] == "multilabel"
    assert info["label_names"] == ["happy", "sad", "angry"] and info["metrics"] == "emotion_acc_f1"


def test_label_outside_the_files_range_is_refused_with_file_split_row(tmp_path):
    corpus = own_corpus(sentiment_range=1.0)
    corpus.splits["valid"].sentiment[3] = 1.5
    data = converted.write(corpus, tmp_path / "c.safetensors")
    with pytest.raises(Exception, match=r"c.safetensors.*'valid'.*'sentiment'.*3.*\[-1, 1\].*1.5"):
        build_dataset(DataConfig(path=str(data), modalities=["audio", "visual"]))


def test_auto_resolution(tmp_path):
    assert resolve(DataConfig())[0] == "synth"  # no file: synth, as before
    named = own_corpus()
    named.dataset["name"] = "mosi"  # a conversion of MOSI names the registered dataset
    assert resolve(DataConfig(path=str(converted.write(named, tmp_path / "m.safetensors"))))[0] == "mosi"
    silent = converted.write(own_corpus(describe=False), tmp_path / "plain.safetensors")
    with pytest.raises(ConfigError, match=r"plain.safetensors: data.dataset = 'auto' .* pass --dataset"):
        check_config(tiny_config(tmp_path, f"data.path='{silent}'"))
    # an explicit --dataset still reads the same file
    cfg = tiny_config(tmp_path, f"data.path='{silent}'", "data.dataset='mosi'")
    assert check_config(cfg).data.dataset == "mosi"
    with pytest.raises(ConfigError, match="data.path: .*nothere.safetensors: data file not found"):
        check_config(tiny_config(tmp_path, f"data.path='{tmp_path / 'nothere.safetensors'}'"))


def test_wrong_label_kind_for_a_described_file_is_a_config_error(tmp_path):
    data = write_own(tmp_path / "emo.safetensors", labels="emotions")
    with pytest.raises(ConfigError, match="emotion labels only"):
        check_config(tiny_config(tmp_path, f"data.path='{data}'", "data.labels='sentiment'"))


def test_model_summary_takes_dims_from_a_described_file(tmp_path, capsys):
    data = write_own(tmp_path / "clips.safetensors")
    assert main(["model", "summary", "--data-path", str(data), "--text-encoder", "tiny-config"]) == 0
    out = capsys.readouterr().out
    assert "dims {'text': 0, 'audio': 3, 'visual': 4}" in out and "| dataset myclips" in out


def test_a_description_may_name_its_metric_family(tmp_path):
    corpus = own_corpus(labels="emotions")
    corpus.dataset["metrics"] = {"emotions": "emotion_wa_auc"}
    data = converted.write(corpus, tmp_path / "e.safetensors")
    name, spec = resolve(DataConfig(path=str(data)))
    assert (name, spec.metric_family("emotions"), spec.emotions) == ("myclips", "emotion_wa_auc",
                                                                     ("happy", "sad", "angry"))
    assert spec.dims == {"audio": 3, "visual": 4}
    cfg = tiny_config(tmp_path, f"data.path='{data}'", "data.dataset='myclips'")  # its own name, given
    assert check_config(cfg) is cfg and resolve(cfg.data)[1].emotions == ("happy", "sad", "angry")
    with pytest.raises(ConfigError, match="unknown dataset 'other'"):
        check_config(tiny_config(tmp_path, f"data.path='{data}'", "data.dataset='other'"))
