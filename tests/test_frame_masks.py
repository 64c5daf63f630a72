"""Per-frame masks (`visual_mask` / `audio_mask`) through reading, examples, batching, the
encoders and the corruptions: a masked frame's values never reach the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tiny_config
from own_data import own_corpus, write_own

from mmib.data import collate
from mmib.data.corruptions import context_for, corrupt, rng_for
from mmib.data.examples import make_example, shorten_masked
from mmib.data.inspect import render, report
from mmib.data.readers import converted, load_corpus
from mmib.encoders.pooling import pool
from mmib.engine.experiment import Experiment


def test_masks_survive_write_and_read(tmp_path):
    corpus = own_corpus(masked_visual=0.4)
    back = converted.read(write_own(tmp_path / "d.safetensors", masked_visual=0.4))
    for s in ("train", "valid", "test"):
        a, b = corpus.splits[s].fields["visual_mask"], back.splits[s].fields["visual_mask"]
        assert b.values.dtype == np.uint8 and np.array_equal(a.values, b.values)
        assert np.array_equal(a.lengths, back.splits[s].fields["visual"].lengths)
    assert 0 < (back.splits["train"].fields["visual_mask"].values == 0).mean() < 1
    rep = report(back)
    assert "visual_mask" not in rep["fields"]  # a mask is not a feature field
    assert 0.2 < rep["fields"]["visual"]["masked_fraction"]["train"] < 0.6
    assert "visual_mask   masked frames train" in render(rep)
    assert "dataset   myclips (sentiment in [-1, 1];" in render(rep)


def test_mask_of_wrong_length_is_refused(tmp_path):
    corpus = own_corpus()
    r = corpus.splits["valid"].fields["visual_mask"]
    lengths = r.lengths.copy()
    lengths[2] -= 1
    corpus.splits["valid"].fields["visual_mask"] = type(r)(r.values[:-1], lengths)
    path = converted.write(corpus, tmp_path / "bad.safetensors")
    with pytest.raises(Exception, match=r"bad.safetensors.*valid.*visual_mask.*index 2"):
        load_corpus(path)


def test_pool_averages_valid_frames_only_and_head_cuts_the_mask():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    mask = np.array([1, 0, 0, 0, 1, 1], bool)
    pooled, m = shorten_masked(x, mask, 3, "pool")  # windows [0, 2), [2, 4), [4, 6)
    assert m.tolist() == [True, False, True]
    assert np.allclose(pooled[0], x[0]) and np.allclose(pooled[2], x[4:6].mean(0)) and not pooled[1].any()
    head, hm = shorten_masked(x, mask, 2, "head")
    assert len(head) == 2 and hm.tolist() == [True, False]


def test_collate_ands_the_frame_mask_and_zeroes_masked_inputs():
    a = make_example("a", np.zeros(1), features={"visual": np.full((4, 2), 7.0, np.float32)}, max_len=10,
                     masks={"visual": np.array([1, 0, 1, 0], np.uint8)})
    b = make_example("b", np.zeros(1), features={"visual": np.full((2, 2), 5.0, np.float32)}, max_len=10,
                     masks={"visual": np.zeros(2, np.uint8)})
    batch = collate([a, b], ["visual"])
    assert batch.masks["visual"].tolist() == [[True, False, True, False], [True, False, False, False]]
    assert batch.inputs["visual"][0, :, 0].tolist() == [7, 0, 7, 0]
    assert not batch.inputs["visual"][1].any()  # no valid frame: one valid step of zeros
    h = torch.arange(8.0).reshape(2, 4, 1)
    assert pool(h, batch.masks["visual"], "masked")[:, 0].tolist() == [2.0, 4.0]  # last True, not sum - 1


class _Pieces:
    """A tokenizer that cuts every word into pieces of 2 characters."""
    cls_token_id, sep_token_id = 1, 2

    def tokenize(self, text):
        return [w[i:i + 2] for w in text.split() for i in range(0, len(w), 2)]

    def convert_tokens_to_ids(self, toks):
        return [10 + len(t) for t in toks]


def test_word_aligned_masks_repeat_over_sub_tokens():
    words = ["abcd", "ef", "ghijkl"]  # 2, 1 and 3 sub-tokens
    ex = make_example("u", np.zeros(1), features={"visual": np.eye(3, dtype=np.float32)}, max_len=20,
                      tokenizer=_Pieces(), words=words, word_aligned=True, masks={"visual": np.array([1, 0, 1])})
    # [CLS] abcd abcd ef ghijkl x3 [SEP]: the special tokens' zero rows are masked too
    assert ex.inputs["visual_mask"].tolist() == [False, True, True, False, True, True, True, False]
    assert len(ex.inputs["visual"]) == 8


@pytest.mark.parametrize("word_aligned", [False, True])
def test_masked_frame_values_do_not_change_the_output(tmp_path, word_aligned):
    corpus = own_corpus(masked_visual=0.3, word_aligned=word_aligned)
    paths = []
    for k, fill in enumerate((0.0, 1e3)):
        r = corpus.splits["test"].fields["visual"]
        m = corpus.splits["test"].fields["visual_mask"].values == 0
        r.values[m] = fill  # only masked frames differ between the two files
        paths.append(converted.write(corpus, tmp_path / f"d{k}.safetensors"))
    preds = []
    for p in paths:
        cfg = tiny_config(tmp_path, "data.dataset='mosi'", f"data.path='{p}'", "data.max_len=6",
                          "data.truncation='pool'", "model.pooling='masked'")
        exp = Experiment.build(cfg)
        preds.append(exp.predict("test"))
    assert np.array_equal(preds[0].pred, preds[1].pred)
    # the check could fail: the same change on a valid frame does change the output
    corpus.splits["test"].fields["visual_mask"].values[:] = 1
    p = converted.write(corpus, tmp_path / "unmasked.safetensors")
    exp = Experiment.build(tiny_config(tmp_path, "data.dataset='mosi'", f"data.path='{p}'", "data.max_len=6",
                                       "data.truncation='pool'", "model.pooling='masked'"))
    assert not np.allclose(exp.predict("test").pred, preds[1].pred)


def test_corruptions_keep_masks_aligned(tmp_path):
    cfg = tiny_config(tmp_path, "data.dataset='mosi'", f"data.path='{write_own(tmp_path / 'd.safetensors')}'")
    exp = Experiment.build(cfg)
    test = exp.examples("test")
    ctx = context_for(exp.examples("train"), ["audio", "visual"])
    for kind in ("drop", "noise", "missing", "mask"):
        out = corrupt(test, "visual", kind, 0.5, rng_for(0, "visual", kind, 0.5), ctx)
        for before, after in zip(test, out):
            assert len(after.inputs["visual_mask"]) == len(after.inputs["visual"])
        if kind == "drop":  # the kept frames keep their own flags
            for before, after in zip(test, out):
                rows = [int(np.flatnonzero((before.inputs["visual"] == r).all(1))[0]) for r in after.inputs["visual"]]
                assert after.inputs["visual_mask"].tolist() == before.inputs["visual_mask"][rows].tolist()
        exp.predict(out)  # still a valid batch


def test_prediction_records_take_frame_masks():
    from mmib.config import DataConfig
    from mmib.data.records import record_example

    cfg = DataConfig(modalities=["visual"])
    rec = {"id": "r", "visual": [[1.0, 2.0], [3.0, 4.0]], "visual_mask": [1, 0]}
    ex = record_example(rec, "line 1", cfg=cfg, dims={"visual": 2}, tokenizer=None, n_labels=1)
    assert ex.inputs["visual_mask"].tolist() == [True, False]
    with pytest.raises(ValueError, match="line 1: 'visual_mask' must hold one 0/1 flag per visual row"):
        record_example({**rec, "visual_mask": [1]}, "line 1", cfg=cfg, dims={"visual": 2}, tokenizer=None,
                       n_labels=1)
