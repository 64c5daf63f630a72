"""Text encoders beyond BERT (RoBERTa, XLM-R, ELECTRA, DeBERTa-v2/v3, MPNet, a Chinese BERT), each a
tiny random-weight model with a tokenizer of its family built in the test, through mmib's
ordinary path: tokenising, padding, the last-layer speed path (or its fallback), training,
reloading and the frozen-encoder cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_config
from encoder_families import FAMILIES, build, tokenizer

import mmib
from mmib.data.examples import tokenize
from mmib.encoders import PretrainedTextEncoder
from mmib.encoders.huggingface import load_backbone, load_tokenizer
from mmib.encoders.last_layer import padded_ids, supports_partial_last_layer
from mmib.engine import fit

PARTIAL = {"bert-chinese", "roberta", "xlm-roberta", "electra", "mpnet"}  # the rest fall back to the whole backbone


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {f: build(f, root / f) for f in FAMILIES}


def _encoder(folder, seed=0):
    torch.manual_seed(seed)
    bb = load_backbone(folder, pretrained=True)
    return PretrainedTextEncoder(bb.model, bb.hidden_size, 12).eval()


def _batch(tok, sentences):
    rows = [torch.from_numpy(tokenize(s.split(), tok, 50)) for s in sentences]
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, True
    return rows, ids, mask


SENTENCES = ["a good film", "the plot was terrible and the acting was bad but the music was great", "fine"]


@pytest.fixture(scope="module")
def tokenizer_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tokenizers")
    out = {}
    for f in FAMILIES:
        tokenizer(f).save_pretrained(str(root / f))
        out[f] = root / f
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_the_family_tokenises_through_mmib(tokenizer_folders, family):
    tok = load_tokenizer(tokenizer_folders[family])
    text = "我们很喜欢这部电影" if family == "bert-chinese" else "a good film"
    ids = tokenize(text.split(), tok, 50)
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id and len(ids) > 3
    assert tok.unk_token_id not in ids.tolist()  # the family's own pieces, not [UNK]
    assert ids.max() < len(tok)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_outputs_do_not_depend_on_padding_and_the_speed_path_matches(folders, family):
    enc = _encoder(folders[family])
    rows, ids, mask = _batch(load_tokenizer(folders[family]), SENTENCES)
    lengths = mask.sum(1)
    with torch.no_grad():
        full = enc(ids, mask)
        for i, r in enumerate(rows):  # alone, unpadded: the same states (RoBERTa / XLM-R pad with id 1)
            alone = enc(r[None], torch.ones(1, len(r), dtype=torch.bool))[0]
            torch.testing.assert_close(full[i, :len(r)], alone, rtol=1e-5, atol=1e-5)
        fast = enc.last_step(ids, mask)
    assert supports_partial_last_layer(enc.backbone) == (family in PARTIAL)
    pad = enc.backbone.config.pad_token_id  # what the backbone sees on padding steps: its own pad id
    assert (padded_ids(enc.backbone, ids, mask)[~mask] == pad).all() and (padded_ids(enc.backbone, ids, mask)[mask] == ids[mask]).all()
    torch.testing.assert_close(fast, full[torch.arange(len(rows)), lengths - 1], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_the_family_trains_reloads_and_caches(folders, family, tmp_path):
    folder = str(folders[family])
    res = fit(tiny_config(tmp_path, f"model.text_encoder='{folder}'", "train.epochs=1", "name='r'"),
              run_dir=tmp_path / "r")
    assert np.isfinite(res.summary["test"]["MAE"])
    examples = res.experiment.examples("test")
    np.testing.assert_array_equal(mmib.load(res.run_dir).predict(examples).pred,
                                  res.experiment.predict(examples, objective=None).pred)
    # the frozen encoder trains on cached states that equal the backbone's
    frozen = fit(tiny_config(tmp_path, f"model.text_encoder='{folder}'", "train.epochs=1", "name='f'",
                             "model.freeze_text_encoder=true", f"train.cache_dir='{tmp_path / 'cache'}'"),
                 run_dir=tmp_path / "f")
    exp = frozen.experiment
    assert exp.text_cache is not None and exp.text_cache.log and np.isfinite(frozen.summary["test"]["MAE"])
    ex_ids, ex_states = exp.data.test[0].inputs["text"], exp.examples("test")[0].inputs["text"]
    bb = exp.model.encoders["text"].backbone.eval()
    with torch.no_grad():
        want = bb(input_ids=torch.from_numpy(ex_ids)[None]).last_hidden_state[0].numpy()
    np.testing.assert_allclose(ex_states, want, rtol=1e-5, atol=1e-5)
