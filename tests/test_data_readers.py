"""Readers: structure detection, lengths and padding, labels, repairs, errors, conversion."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fixtures_data import write_magbert, write_mmsa, write_mult
from mmib import config as config_mod
from mmib.config import ExperimentConfig
from mmib.data import build_dataset
from mmib.data.readers import converted, load_corpus
from mmib.data.examples import shorten, shorten_ids
from mmib.data.validate import SPLITS, DataError
from mmib.encoders import load_tokenizer


def data_cfg(path, *overrides):
    return config_mod.apply_overrides(ExperimentConfig(), [f"data.path='{path}'", *overrides]).data


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiny-config")


# ----------------------------------------------------------------------------- structure

def test_mmsa_aligned_lengths_from_the_text_mask(tmp_path):
    f = write_mmsa(tmp_path / "aligned_50.pkl")
    raw = pickle.loads(f.read_bytes())
    c = load_corpus(f, log=False)
    assert c.reader == "mmsa" and c.sizes == {"train": 24, "valid": 8, "test": 8}
    assert c.dims == {"text_ids": 0, "text_vectors": 768, "audio": 5, "visual": 20}
    sp, r = c.splits["train"], raw["train"]
    mask_len = r["text_bert"][:, 1].sum(1).astype(int)
    for i in (0, 5):
        k = mask_len[i]
        assert np.array_equal(sp.fields["text_ids"][i], r["text_bert"][i, 0, :k].astype(np.int64))
        assert sp.fields["text_ids"][i].dtype == np.int64 and sp.fields["text_ids"][i][0] == 101
        assert np.array_equal(sp.fields["visual"][i], r["vision"][i, :k])
        assert len(sp.fields["audio"][i]) == len(sp.fields["text_vectors"][i]) == k
    assert sp.ids[0] == "vidtrain0$_$0" and sp.raw_text[0] == r["raw_text"][0]
    assert np.allclose(sp.sentiment, r["regression_labels"])
    # MMSA audio holds -inf: replaced by 0 and counted
    assert sp.fields["audio"][0][0, 0] == 0
    assert c.repairs["audio"]["train"]["neginf"] == 1


def test_mmsa_unaligned_uses_stored_lengths(tmp_path):
    f = write_mmsa(tmp_path / "unaligned_50.pkl", aligned=False)
    raw = pickle.loads(f.read_bytes())["valid"]
    sp = load_corpus(f, log=False).splits["valid"]
    assert list(sp.fields["audio"].lengths) == list(raw["audio_lengths"])
    assert list(sp.fields["visual"].lengths) == list(raw["vision_lengths"])
    i = 3
    assert np.array_equal(sp.fields["visual"][i], raw["vision"][i, : raw["vision_lengths"][i]])


def test_magbert_items(tmp_path):
    f = write_magbert(tmp_path / "mosi.pkl")
    raw = pickle.loads(f.read_bytes())
    c = load_corpus(f, log=False)
    assert c.reader == "magbert" and c.word_aligned and c.dims == {"visual": 47, "audio": 74}
    (words, visual, acoustic), label, seg = raw["dev"][2]
    sp = c.splits["valid"]  # dev is the validation split
    assert sp.words[2] == list(words) and sp.ids[2] == seg and sp.sentiment[2] == np.float32(label[0, 0])
    assert np.allclose(sp.fields["audio"][2], acoustic) and np.allclose(sp.fields["visual"][2], visual)


def test_mult_strips_left_padding_and_decodes_ids(tmp_path):
    f = write_mult(tmp_path / "mosi_data.pkl")
    raw = pickle.loads(f.read_bytes())["test"]
    c = load_corpus(f, log=False)
    assert c.reader == "mult" and c.dims == {"text_vectors": 300, "audio": 5, "visual": 20}
    sp = c.splits["test"]
    for i in range(len(sp)):
        k = len(sp.fields["text_vectors"][i])
        assert not raw["text"][i, : 50 - k].any() and raw["text"][i, 50 - k].any()
        assert np.array_equal(sp.fields["text_vectors"][i], raw["text"][i, 50 - k:])
    assert sp.ids[0] == "vid0$_$0$_$1"
    assert np.allclose(sp.sentiment, raw["labels"].reshape(-1))


def test_iemocap_one_hot_labels(tmp_path):
    f = write_mult(tmp_path / "iemocap_data.pkl", kind="iemocap")
    raw = pickle.loads(f.read_bytes())["train"]["labels"]
    c = load_corpus(f, log=False)
    assert c.emotion_names == ["neutral", "happy", "sad", "angry"] and not c.has_sentiment
    assert np.array_equal(c.splits["train"].emotions, raw.argmax(2).astype(np.float32))
    assert c.dims == {"text_vectors": 300, "audio": 74, "visual": 35}


@pytest.mark.parametrize("fmt", ["mmsa", "magbert", "mult"])
def test_format_named_in_config_and_mismatch(tmp_path, fmt):
    writers = {"mmsa": write_mmsa, "magbert": write_magbert, "mult": write_mult}
    f = writers[fmt](tmp_path / "x.pkl")
    assert load_corpus(f, fmt, log=False).reader == fmt
    other = "mult" if fmt == "mmsa" else "mmsa"
    with pytest.raises(DataError, match="x.pkl"):
        load_corpus(f, other, log=False)


def test_unrecognised_structure(tmp_path):
    f = tmp_path / "odd.pkl"
    f.write_bytes(pickle.dumps({"train": {"foo": 1}, "valid": {}, "test": {}}))
    with pytest.raises(DataError, match="cannot tell the format.*data.format"):
        load_corpus(f, log=False)


# ----------------------------------------------------------------------------- errors

def _mmsa(tmp_path, edit):
    f = write_mmsa(tmp_path / "mosi.pkl")
    data = pickle.loads(f.read_bytes())
    edit(data)
    f.write_bytes(pickle.dumps(data))
    return f


def test_missing_split_is_named(tmp_path):
    f = _mmsa(tmp_path, lambda d: d.pop("valid"))
    with pytest.raises(DataError, match=r"mosi\.pkl: split 'valid' is missing.*keys \['test', 'train'\]"):
        load_corpus(f, log=False)


def test_wrong_dim_in_one_split(tmp_path):
    def edit(d):
        d["test"]["vision"] = d["test"]["vision"][:, :, :7]
    with pytest.raises(DataError, match=r"mosi\.pkl: split 'test', field 'visual'.*expected feature dim 20.*got dim 7"):
        load_corpus(_mmsa(tmp_path, edit), log=False)


def test_mismatched_utterance_count(tmp_path):
    def edit(d):
        d["train"]["audio"] = d["train"]["audio"][:-1]
    with pytest.raises(DataError, match=r"split 'train', field 'audio'.*expected 24 utterances.*got 23"):
        load_corpus(_mmsa(tmp_path, edit), log=False)


def test_length_beyond_padding(tmp_path):
    f = write_mmsa(tmp_path / "u.pkl", aligned=False)
    data = pickle.loads(f.read_bytes())
    data["valid"]["audio_lengths"][4] = 9999
    f.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"split 'valid', field 'audio_lengths', index 4: expected an integer length in \[0, 375\]"):
        load_corpus(f, log=False)


def test_nan_label_is_an_error_not_a_repair(tmp_path):
    def edit(d):
        d["test"]["regression_labels"][5] = np.nan
    with pytest.raises(DataError, match=r"split 'test', field 'regression_labels', index 5: expected a finite"):
        load_corpus(_mmsa(tmp_path, edit), log=False)


def test_sentiment_out_of_range_names_the_index(tmp_path):
    def edit(d):
        d["train"]["regression_labels"][7] = 4.5
    f = _mmsa(tmp_path, edit)
    with pytest.raises(DataError, match=r"mosi\.pkl: split 'train', field 'sentiment', index 7: expected a sentiment "
                       r"score in \[-3, 3\].*got 4\.5"):
        build_dataset(data_cfg(f, "data.dataset='mosi'"), None)


def test_sims_range(tmp_path, tok):
    f = write_mmsa(tmp_path / "sims.pkl", label_bound=1.0, audio_dim=33, vision_dim=709, text_len=39)
    d = build_dataset(data_cfg(f, "data.dataset='sims'"), tok)
    assert d.dims == {"audio": 33, "visual": 709, "text": 0} and d.task == "regression"
    g = write_mmsa(tmp_path / "mosi.pkl")
    with pytest.raises(DataError, match=r"expected a sentiment score in \[-1, 1\] for dataset 'sims'"):
        build_dataset(data_cfg(g, "data.dataset='sims'"), tok)


def test_bad_one_hot_names_the_index(tmp_path):
    f = write_mult(tmp_path / "iemocap_data.pkl", kind="iemocap")
    data = pickle.loads(f.read_bytes())
    data["valid"]["labels"][3, 2] = [1, 1]
    f.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"split 'valid', field 'labels', index 3: expected one-hot.*emotion 2"):
        load_corpus(f, log=False)


def test_magbert_rows_must_match_words(tmp_path):
    f = write_magbert(tmp_path / "mosi.pkl")
    data = pickle.loads(f.read_bytes())
    (w, v, a), y, s = data["test"][6]
    data["test"][6] = ((w, v, a[:-1]), y, s)
    f.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=rf"split 'test', field 'acoustic', index 6: expected {len(w)} rows, one per word"):
        load_corpus(f, log=False)


def test_magbert_wrong_dim(tmp_path):
    f = write_magbert(tmp_path / "mosi.pkl")
    data = pickle.loads(f.read_bytes())
    (w, v, a), y, s = data["dev"][1]
    data["dev"][1] = ((w, v[:, :35], a), y, s)
    f.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"split 'valid', field 'visual', index 1: expected feature dim 47"):
        load_corpus(f, log=False)


# ----------------------------------------------------------------------------- building examples

def test_text_source_follows_the_encoder(tmp_path, tok):
    f = write_mmsa(tmp_path / "mosi.pkl")
    ids = build_dataset(data_cfg(f, "data.dataset='mosi'"), tok)
    vec = build_dataset(data_cfg(f, "data.dataset='mosi'"), None)
    assert ids.dims["text"] == 0 and ids.train[0].inputs["text"].dtype == np.int64
    assert vec.dims["text"] == 768 and vec.train[0].inputs["text"].shape[1] == 768
    assert ids.info["text_input"].startswith("token ids") and vec.info["text_input"].startswith("feature vectors")
    m = write_mult(tmp_path / "mosi_data.pkl")
    with pytest.raises(DataError, match="model.text_encoder = 'glove'"):
        build_dataset(data_cfg(m, "data.dataset='mosi'"), tok)
    # text not used: no tokenizer needed, and no text input built
    d = build_dataset(data_cfg(m, "data.dataset='mosi'", "data.modalities=['audio', 'visual']"), None)
    assert set(d.train[0].inputs) == {"audio", "visual"}


def test_magbert_words_are_aligned_to_subtokens(tmp_path, tok):
    f = write_magbert(tmp_path / "mosi.pkl")
    d = build_dataset(data_cfg(f, "data.dataset='mosi'"), tok)
    c = load_corpus(f, log=False)
    ex, words = d.train[0], c.splits["train"].words[0]
    ids = ex.inputs["text"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert len(ex.inputs["audio"]) == len(ids) and not ex.inputs["audio"][0].any()
    first_word_pieces = len(tok.tokenize(words[0]))
    assert np.allclose(ex.inputs["audio"][1:1 + first_word_pieces], c.splits["train"].fields["audio"][0][0])
    assert d.dims == {"audio": 74, "visual": 47, "text": 0}


def test_mosei_emotions_when_the_file_has_them(tmp_path, tok):
    f = write_magbert(tmp_path / "mosei.pkl", visual_dim=35, sdk_labels=True)
    d = build_dataset(data_cfg(f, "data.dataset='mosei'", "data.labels='emotions'"), tok)
    assert d.task == "multilabel" and d.label_names == ["happy", "sad", "anger", "surprise", "disgust", "fear"]
    assert d.train[0].label.shape == (6,) and set(np.unique(np.stack([e.label for e in d.train]))) <= {0.0, 1.0}
    assert build_dataset(data_cfg(f, "data.dataset='mosei'"), tok).task == "regression"
    g = write_magbert(tmp_path / "plain.pkl")
    with pytest.raises(DataError, match="no emotion labels"):
        build_dataset(data_cfg(g, "data.dataset='mosei'", "data.labels='emotions'"), tok)
    with pytest.raises(DataError, match="'iemocap' expects the emotions neutral, happy, sad, angry"):
        build_dataset(data_cfg(f, "data.dataset='iemocap'"), tok)


def test_truncation_head_and_pool(tmp_path):
    x = np.arange(10, dtype=np.float32)[:, None]
    assert np.array_equal(shorten(x, 4, "head")[:, 0], [0, 1, 2, 3])
    pooled = shorten(x, 4, "pool")[:, 0]
    assert len(pooled) == 4 and np.isclose(pooled.mean(), x.mean(), atol=0.3) and np.all(np.diff(pooled) > 0)
    assert shorten(x, 20, "pool") is x
    assert list(shorten_ids(np.array([101, 5, 6, 7, 102]), 3)) == [101, 5, 102]
    f = write_mmsa(tmp_path / "u.pkl", aligned=False)
    d = build_dataset(data_cfg(f, "data.dataset='mosi'", "data.modalities=['audio', 'visual']",
                               "data.max_len=30", "data.truncation='pool'"), None)
    assert max(len(e.inputs["visual"]) for e in d.train) == 30
    assert d.info["utterances_shortened"]["visual"] > 0 and d.info["truncation"] == "pool"


def test_missing_path_and_modalities(tmp_path):
    with pytest.raises(DataError, match="data.path: dataset 'mosi' reads a feature file"):
        build_dataset(data_cfg("", "data.dataset='mosi'"), None)
    f = write_mmsa(tmp_path / "m.pkl")
    data = pickle.loads(f.read_bytes())
    for s in SPLITS:
        del data[s]["vision"]
    f.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"data.modalities: \['visual'\] not in"):
        build_dataset(data_cfg(f, "data.dataset='mosi'"), None)


# ----------------------------------------------------------------------------- conversion

@pytest.mark.parametrize("writer", [write_mmsa, write_magbert, write_mult])
def test_converted_round_trip_is_exact(tmp_path, writer):
    f = writer(tmp_path / "in.pkl")
    a = load_corpus(f, log=False)
    out = converted.write(a, tmp_path / "out.safetensors")
    assert converted.is_converted(out) and not converted.is_converted(f)
    b = load_corpus(out, log=False)
    assert (b.reader, b.emotion_names, b.word_aligned, b.notes) == (a.reader, a.emotion_names, a.word_aligned, a.notes)
    assert b.repairs == a.repairs and b.source["sha256"] == a.source["sha256"] and "converted_file" in b.source
    for s in SPLITS:
        x, y = a.splits[s], b.splits[s]
        assert x.ids == y.ids and x.raw_text == y.raw_text and x.words == y.words
        for lab in ("sentiment", "emotions"):
            u, v = getattr(x, lab), getattr(y, lab)
            assert (u is None and v is None) or np.array_equal(u, v)
        assert set(x.fields) == set(y.fields)
        for k in x.fields:
            assert np.array_equal(x.fields[k].values, y.fields[k].values)
            assert x.fields[k].values.dtype == y.fields[k].values.dtype
            assert np.array_equal(x.fields[k].lengths, y.fields[k].lengths)


def test_converted_reads_only_the_fields_asked_for(tmp_path):
    out = converted.write(load_corpus(write_mmsa(tmp_path / "in.pkl"), log=False), tmp_path / "c.safetensors")
    c = load_corpus(out, fields={"text_ids", "audio"}, log=False)
    assert set(c.splits["train"].fields) == {"text_ids", "audio"}
    with pytest.raises(DataError, match="not a file written by `mmib data convert`"):
        load_corpus(tmp_path / "in.pkl", "converted", log=False)


def test_repairs_in_word_level_and_left_padded_files(tmp_path):
    f = write_magbert(tmp_path / "mosi.pkl")
    data = pickle.loads(f.read_bytes())
    (w, v, a), y, s = data["train"][3]
    a = a.copy()
    a[0, :4] = [np.nan, np.inf, -np.inf, -np.inf]
    data["train"][3] = ((w, v, a), y, s)
    f.write_bytes(pickle.dumps(data))
    c = load_corpus(f, log=False)
    assert c.repairs == {"audio": {"train": {"nan": 1, "posinf": 1, "neginf": 2}}}
    assert np.isfinite(c.splits["train"].fields["audio"].values).all()

    g = write_mult(tmp_path / "iemocap_data.pkl", kind="iemocap")
    data = pickle.loads(g.read_bytes())
    data["test"]["audio"][2, -1, :3] = -np.inf  # the last (valid) step of a left-padded sequence
    g.write_bytes(pickle.dumps(data))
    c = load_corpus(g, log=False)
    assert c.repairs["audio"]["test"]["neginf"] == 3 and not c.splits["test"].fields["audio"][2][-1, :3].any()


def test_repairs_are_printed_one_line_per_field(tmp_path, capsys):
    f = write_mmsa(tmp_path / "aligned_50.pkl")
    load_corpus(f)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mmib data: aligned_50.pkl: audio: replaced 0 NaN, 0 +inf, 3 -inf values by 0 "
                   "(train 1, valid 1, test 1)"]
