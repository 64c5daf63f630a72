"""``mpnet``: the pretrained all-mpnet-base-v2, offline, from the five PyPI parts of the extra
``mmib[mpnet]`` (assembled once per test session, tests/conftest.py ``mpnet_folder``):
resolved without network, hash-checked, encoding sentences, training the demo for one
short epoch. The failure modes are tested with small fake parts in test_split_parts.py."""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from mmib.cli import main
from mmib.data.examples import tokenize
from mmib.encoders import PretrainedTextEncoder, build_backbone, load_tokenizer
from mmib.encoders.last_layer import supports_partial_last_layer
from mmib.encoders.mpnet import SHA256, SIZE, mpnet_path, unavailable
from mmib.encoders.split_parts import MARKER, file_sha256


def test_mpnet_resolves_offline_checks_the_hash_and_encodes_sentences(mpnet_folder):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert unavailable() is None and mpnet_path() == mpnet_folder
    weights = mpnet_folder / "model.safetensors"
    assert weights.stat().st_size == SIZE and file_sha256(weights) == SHA256  # hashed here once more
    if (mpnet_folder / MARKER).exists():  # assembled from the parts (not found in an HF cache)
        assert json.loads((mpnet_folder / MARKER).read_text())["sha256"] == SHA256
    tok = load_tokenizer("mpnet")
    bb = build_backbone("mpnet")
    assert bb.model.config.model_type == "mpnet" and bb.hidden_size == 768
    assert sum(p.numel() for p in bb.model.parameters()) == 108_895_872  # MPNet-base without its pooler
    sentences = ["a wonderful film", "a great movie", "the train leaves at noon"]
    rows = [torch.from_numpy(tokenize(s.split(), tok, 16)) for s in sentences]
    assert all(r[0] == tok.cls_token_id and r[-1] == tok.sep_token_id for r in rows)
    T = max(len(r) for r in rows)
    ids, mask = torch.zeros(3, T, dtype=torch.long), torch.zeros(3, T, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, True
    enc = PretrainedTextEncoder(bb.model, bb.hidden_size, 50).eval()
    with torch.no_grad():
        h = bb.model(input_ids=ids.masked_fill(~mask, tok.pad_token_id), attention_mask=mask.long()).last_hidden_state
        e = torch.nn.functional.normalize((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)
        full, fast = enc(ids, mask), enc.last_step(ids, mask)
    sim = e @ e.T  # the sentence-transformers embedding (mean pooling): the pretrained weights at work
    assert sim[0, 1] > 0.6 and sim[0, 1] > sim[0, 2] + 0.3, sim
    assert supports_partial_last_layer(bb.model)
    torch.testing.assert_close(fast, full[torch.arange(3), mask.sum(1) - 1], rtol=1e-4, atol=1e-4)


def test_mpnet_trains_one_short_epoch_of_the_demo(mpnet_folder, tmp_path, capsys):
    # one training step: a 110M-parameter run still writes (and hashes) best.safetensors (0.44 GB)
    # and state.pt (1.3 GB, the optimiser's moments), most of this test's time
    rc = main(["train", "-c", "configs/demo.toml", "--text-encoder", "mpnet", "--epochs", "1", "--batch-size", "8",
               "--out-dir", str(tmp_path), "--name", "mpnet", "-q",
               "--set", "data.synth.n_train=8", "--set", "data.synth.n_valid=4", "--set", "data.synth.n_test=4",
               "--set", "data.max_len=10"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "mpnet" / "summary.json").read_text())
    assert summary["text_encoder"] == "mpnet" and summary["epochs"] == 1
    assert np.isfinite(summary["test"]["MAE"])
