import numpy as np
import pytest

from mmib import config as config_mod
from mmib.config import ExperimentConfig
from mmib.data import build_dataset
from mmib.data.synth import NEGATIVE, POSITIVE
from mmib.encoders import load_tokenizer


def synth(*overrides, tokenizer=None):
    cfg = config_mod.apply_overrides(ExperimentConfig(), [
        "data.synth.n_train=2000", "data.synth.n_valid=50", "data.synth.n_test=500", *overrides])
    return build_dataset(cfg.data, tokenizer)


def features(examples, m):
    X = np.stack([ex.inputs[m].mean(0) for ex in examples])
    y = np.array([ex.label[0] for ex in examples])
    return X, y


def r2(m, data):
    """Test R^2 of a least-squares fit of the label on a modality's mean features."""
    X, y = features(data.train, m)
    Xt, yt = features(data.test, m)
    A = np.c_[X, np.ones(len(X))]
    w, *_ = np.linalg.lstsq(A, y, rcond=None)
    pred = np.c_[Xt, np.ones(len(Xt))] @ w
    return 1 - np.mean((pred - yt) ** 2) / np.var(yt)


@pytest.mark.slow
def test_same_seed_same_data_other_seed_other_data():
    a, b, c = synth(), synth(), synth("data.synth.seed=1")
    for ea, eb in zip(a.train + a.test, b.train + b.test):
        assert ea.id == eb.id and ea.text == eb.text and np.array_equal(ea.label, eb.label)
        for m in ea.inputs:
            assert np.array_equal(ea.inputs[m], eb.inputs[m])
    assert any(ea.text != ec.text for ea, ec in zip(a.train, c.train))


def test_mosi_like_shape_and_spread():
    d = synth()
    assert d.sizes == {"train": 2000, "valid": 50, "test": 500}
    assert d.dims == {"text": 300, "audio": 74, "visual": 47}
    y = np.array([ex.label[0] for ex in d.train + d.test])
    assert y.min() >= -3 and y.max() <= 3
    assert 1.0 < y.std() < 2.0 and abs(y.mean()) < 0.3
    assert 0.01 < np.mean(y == 0) < 0.2
    n = np.array([len(ex.text.split()) for ex in d.train])
    assert 9 < n.mean() < 15 and n.max() <= 50 and n.min() >= 2
    for ex in d.train[:20]:
        assert len(ex.inputs["audio"]) == len(ex.inputs["visual"]) == len(ex.text.split())


def test_word_aligned_tokens_with_real_tokenizer():
    tok = load_tokenizer("minilm")
    d = synth("data.synth.n_train=30", tokenizer=tok)
    assert d.dims["text"] == 0
    for ex in d.train:
        ids = ex.inputs["text"]
        assert ids.dtype == np.int64 and ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert len(ids) <= 50 and len(ex.inputs["audio"]) == len(ids)
        assert not ex.inputs["audio"][0].any() and not ex.inputs["audio"][-1].any()  # [CLS]/[SEP] rows


def test_text_words_carry_the_label():
    d = synth()
    frac, ys = [], []
    for ex in d.train:
        words = ex.text.split()
        pos = sum(w in POSITIVE for w in words)
        neg = sum(w in NEGATIVE for w in words)
        if pos + neg:
            frac.append(pos / (pos + neg))
            ys.append(ex.label[0])
    assert np.corrcoef(frac, ys)[0, 1] > 0.4


@pytest.mark.slow
def test_modality_shares_and_noise_are_controllable():
    base = synth()
    assert r2("audio", base) > 0.08 and r2("visual", base) > 0.0
    # no share: the acoustic channel carries nothing about the label
    assert r2("audio", synth("data.synth.audio_share=0")) < 0.02
    # more nuisance: less of the label recoverable from the same channel
    assert r2("audio", synth("data.synth.audio_noise=0")) > r2("audio", base) + 0.02
    assert r2("audio", synth("data.synth.audio_noise=4")) < r2("audio", base)


@pytest.mark.parametrize("key", ["n_train", "n_valid", "n_test"])
def test_empty_split_is_refused(key):
    with pytest.raises(config_mod.ConfigError, match=f"data.synth.{key}"):
        config_mod.apply_overrides(ExperimentConfig(), [f"data.synth.{key}=0"])
