"""Every registry, every entry: datasets, readers and text encoders work as their specs say; every
shipped config builds its model; a run loads its tokenizer once and builds data and model once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from fixtures_data import write_magbert, write_mmsa, write_mult
from mmib import config as config_mod
from mmib.data import DATASETS, build_dataset
from mmib.data.readers import READERS, detect, formats, load_corpus
from mmib.data.safe_pickle import safe_load
from mmib.encoders import TEXT_ENCODERS, text_encoder_spec
from mmib.encoders.huggingface import availability
from mmib.engine import check_config
from mmib.engine.shapes import build_unloaded, typical_dims
from mmib.metrics import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = {"mmsa": lambda p: write_mmsa(p), "mult": lambda p: write_mult(p), "magbert": lambda p: write_magbert(p)}
"""A file each built-in reader reads (a reader added later is checked for its spec only)."""


@pytest.mark.parametrize("name", READERS.names())
def test_every_reader_recognises_its_own_layout(tmp_path, name):
    spec = READERS.get(name)
    assert spec.description and callable(spec.read) and callable(spec.looks_like)
    assert name in formats()
    if name not in FIXTURES:
        pytest.skip(f"no test file for reader {name!r}")
    path = FIXTURES[name](tmp_path / f"{name}.pkl")
    assert detect(safe_load(path), path) == name
    corpus = load_corpus(path, name)
    assert corpus.reader == name and corpus.sizes["train"] > 0


def _file_for(name: str, tmp_path: Path) -> Path:
    if name == "iemocap":
        return write_mult(tmp_path / "iemocap.pkl", kind="iemocap")
    bound = DATASETS.get(name).sentiment_range or 3.0
    return write_mmsa(tmp_path / f"{name}.pkl", label_bound=bound)


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_spec_builds_what_it_says(tmp_path, name):
    spec = DATASETS.get(name)
    kind = spec.label_kind("auto", name)
    assert spec.metric_family(kind) in FAMILIES
    cfg = tiny_config(tmp_path, f"data.dataset='{name}'")
    text = "'glove'" if spec.text_encoder == "glove" else "'tiny-config'"
    cfg = config_mod.apply_overrides(cfg, [f"model.text_encoder={text}", "data.max_len=20"])
    if spec.reads_file:
        cfg = config_mod.set_value(cfg, "data.path", str(_file_for(name, tmp_path)))
    check_config(cfg)
    tok = text_encoder_spec(cfg.model.text_encoder)
    data = build_dataset(cfg.data, tok.tokenizer() if tok.tokenizer else None)
    assert data.task == spec.task(kind) and data.metrics == spec.metric_family(kind)
    if kind == "emotions":
        assert data.label_names == list(spec.emotions)
    else:
        y = [float(ex.label[0]) for ex in data.train]
        assert max(map(abs, y)) <= spec.sentiment_range + 1e-6


@pytest.mark.parametrize("name", TEXT_ENCODERS.names())
def test_every_text_encoder_builds_with_its_tokenizer(name):
    spec = TEXT_ENCODERS.get(name)
    if not spec.reads_tokens:
        assert spec.backbone is None and spec.tokenizer is None
        return
    if spec.source and availability(spec.source):  # a Hub model that is not here offline: one clear line
        with pytest.raises(RuntimeError, match=f"model.text_encoder '{spec.source}': cannot load it"):
            spec.tokenizer()
        with pytest.raises(RuntimeError, match="cannot load it"):
            spec.backbone(False)
        return
    if spec.check is not None and spec.check():  # e.g. mpnet without its parts, offline: one clear line
        with pytest.raises(RuntimeError, match="cannot load it"):
            spec.tokenizer()
        return
    tok = spec.tokenizer()
    ids = tok("a good film")["input_ids"]
    with torch.device("meta"):  # the architecture, without computing 110M random weights
        bb = spec.backbone(False)
    assert bb.hidden_size == bb.model.config.hidden_size
    assert max(ids) < bb.model.config.vocab_size


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_builds_its_model(path):
    cfg = config_mod.load(path)
    if cfg.model.text_encoder not in TEXT_ENCODERS:  # the hub's bert-base-uncased: its architecture offline
        cfg = config_mod.set_value(cfg, "model.text_encoder", "bert-base-config")
    check_config(cfg, data=False)
    cfg, dims, out = typical_dims(cfg, explicit_text_encoder=True)
    with torch.device("meta"):
        model = build_unloaded(cfg, dims, out)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert set(model.encoders) == set(cfg.data.modalities)


def test_a_run_loads_its_tokenizer_once_and_builds_data_and_model_once(tmp_path, monkeypatch):
    import transformers

    import mmib.data.real as real
    import mmib.engine.experiment as experiment
    from mmib.engine import fit

    counts = {"tokenizer": 0, "data": 0, "model": 0, "corpus": 0}

    def counting(key, fn):
        def wrapped(*a, **kw):
            counts[key] += 1
            return fn(*a, **kw)
        return wrapped

    real_tok = transformers.AutoTokenizer.from_pretrained
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", counting("tokenizer", real_tok))
    monkeypatch.setattr(experiment, "build_dataset", counting("data", experiment.build_dataset))
    monkeypatch.setattr(experiment, "build_model", counting("model", experiment.build_model))
    monkeypatch.setattr(real, "load_corpus", counting("corpus", real.load_corpus))
    path = write_mmsa(tmp_path / "mosi.pkl")
    cfg = tiny_config(tmp_path, "name='once'", "data.dataset='mosi'", f"data.path='{path}'")
    result = fit(cfg)
    assert counts == {"tokenizer": 1, "data": 1, "model": 1, "corpus": 1}
    assert (tmp_path / "once" / "text_encoder" / "tokenizer_config.json").exists()
    # the final test used the in-memory model with the selected weights: same numbers as a rebuild
    from mmib.engine import evaluate_run

    assert evaluate_run(result.run_dir)["test"] == result["test"]
