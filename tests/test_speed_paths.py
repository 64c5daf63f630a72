"""The fast paths give the same results as the slow ones: dynamic vs fixed padding, the
frozen-text-encoder cache vs recomputing the encoder, length-sorted evaluation, fused Adam,
mixed precision; and the cache is reused and invalidated as its key says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmib.config import ConfigError
from mmib.data import collate
from mmib.engine.cache import TextCache, cache_applies, tokens_fingerprint
from mmib.engine import fit, setup
from mmib.engine.loop import predict, train_one_epoch
from mmib.engine.seed import epoch_generator
from mmib.engine.speed import float_outputs, resolve_precision

from conftest import tiny_config

NO_DROPOUT = ["model.attn_dropout=0.0", "model.res_dropout=0.0", "model.relu_dropout=0.0",
              "model.embed_dropout=0.0"]


def _train(s, epochs: int = 1, sgd: bool = False) -> None:
    # Adam divides by the root of the squared gradient, so it turns float noise in gradients
    # that are zero in exact arithmetic (e.g. attention key biases) into visible steps; SGD
    # checks that two paths compute the same gradients without that amplifier
    opt = torch.optim.SGD(s.model.parameters(), lr=0.05) if sgd else s.make_optimizer()[0]
    torch.manual_seed(123)  # the same IB noise for both paths being compared
    c = s.cfg
    for epoch in range(epochs):
        train_one_epoch(s.model, s.objective, opt, s.examples("train"), modalities=c.data.modalities,
                        batch_size=c.train.batch_size, pad_to=s.pad_to,
                        generator=epoch_generator(c.train.seed, epoch), device=s.device,
                        bucket=c.data.bucket, progress=False, amp=s.amp)


def _same(p, q, atol: float = 1e-5) -> None:
    assert p.ids == q.ids
    np.testing.assert_allclose(p.pred, q.pred, atol=atol, rtol=1e-4)
    np.testing.assert_allclose(p.fused, q.fused, atol=atol, rtol=1e-4)
    for k in p.heads:
        np.testing.assert_allclose(p.heads[k], q.heads[k], atol=atol, rtol=1e-4)


# ----------------------------------------------------------------------------- padding

def test_dynamic_and_fixed_padding_predict_the_same(tmp_path):
    dyn = setup(tiny_config(tmp_path, "data.padding='dynamic'"))
    fix = setup(tiny_config(tmp_path, "data.padding='fixed'"))
    assert fix.pad_to == 50 and dyn.pad_to is None
    _same(dyn.predict("test"), fix.predict("test"))
    # padding really differs between the two paths, so the test is not vacuous
    assert max(len(ex.inputs["text"]) for ex in dyn.data.test) < 50


def test_dynamic_and_fixed_padding_train_the_same(tmp_path):
    # without dropout (whose random masks are drawn per padded step) and with a frozen,
    # hence deterministic, text encoder, one epoch must move both models identically
    over = NO_DROPOUT + ["model.freeze_text_encoder=true", "train.cache_text=false"]
    dyn = setup(tiny_config(tmp_path, "data.padding='dynamic'", *over))
    fix = setup(tiny_config(tmp_path, "data.padding='fixed'", *over))
    _train(dyn, sgd=True)
    _train(fix, sgd=True)
    _same(dyn.predict("test"), fix.predict("test"), atol=1e-5)
    assert not np.allclose(dyn.predict("test").pred, setup(dyn.cfg).predict("test").pred, atol=1e-3)


def test_last_step_pooling_depends_on_padding(tmp_path):
    # the reference code's pooling reads a padding step: the control for the tests above
    dyn = setup(tiny_config(tmp_path, "data.padding='dynamic'", "model.pooling='last'"))
    fix = setup(tiny_config(tmp_path, "data.padding='fixed'", "model.pooling='last'"))
    assert not np.allclose(dyn.predict("test").pred, fix.predict("test").pred, atol=1e-4)


def test_length_sorted_evaluation_keeps_file_order_and_batch_size_does_not_matter(tmp_path):
    s = setup(tiny_config(tmp_path))
    p = s.predict("test")
    assert p.ids == [ex.id for ex in s.data.test]
    np.testing.assert_allclose(p.labels[:, 0], [ex.label[0] for ex in s.data.test])
    c = s.cfg
    q = predict(s.model, s.data.test, modalities=c.data.modalities, batch_size=5, pad_to=None,
                device=s.device, objective=s.objective)
    _same(p, q)


# ----------------------------------------------------------------------------- text cache

def _frozen(tmp_path, *extra):
    return tiny_config(tmp_path, "model.freeze_text_encoder=true", f"train.cache_dir='{tmp_path}/cache'",
                       *extra)


def test_cached_frozen_path_matches_uncached(tmp_path):
    plain = setup(_frozen(tmp_path, "train.cache_text=false"))
    cached = setup(_frozen(tmp_path))
    assert plain.text_cache is None and cached.text_cache is not None
    ex = cached.examples("train")[0]
    assert ex.inputs["text"].dtype == np.float32 and ex.inputs["text"].shape == (
        len(cached.data.train[0].inputs["text"]), 32)
    _same(plain.predict("test"), cached.predict("test"))
    _train(plain, 2, sgd=True)
    _train(cached, 2, sgd=True)
    _same(plain.predict("test"), cached.predict("test"), atol=1e-5)
    # the trainable Conv1D after the backbone did train on the cache
    fresh = setup(_frozen(tmp_path))
    conv = lambda s: s.model.encoders["text"].conv.weight  # noqa: E731
    assert not torch.allclose(conv(fresh), conv(cached))
    assert torch.allclose(fresh.model.encoders["text"].backbone.embeddings.word_embeddings.weight,
                          cached.model.encoders["text"].backbone.embeddings.word_embeddings.weight)


def test_cache_is_reused_and_invalidated(tmp_path):
    a = setup(_frozen(tmp_path))
    a.examples("train")
    assert a.text_cache.log[-1]["hit"] is False
    folders = list((tmp_path / "cache" / "text").iterdir())
    assert len(folders) == 1 and (folders[0] / "states.npy").exists()
    b = setup(_frozen(tmp_path))
    b.examples("train")
    assert b.text_cache.log[-1]["hit"] is True
    # other data -> other key
    c = setup(_frozen(tmp_path, "data.synth.seed=1"))
    c.examples("train")
    assert c.text_cache.log[-1]["hit"] is False
    # other weights -> other key (the fingerprint follows in-place writes)
    key = b.text_cache.encoder_key()
    with torch.no_grad():
        b.model.encoders["text"].backbone.embeddings.word_embeddings.weight[5, 0] += 1.0
    assert b.text_cache.encoder_key() != key
    b._examples.clear()
    b.examples("train")
    assert b.text_cache.log[-1]["hit"] is False
    # a damaged folder is rebuilt, never read
    (folders[0] / "offsets.npy").write_bytes(b"junk")
    d = setup(_frozen(tmp_path))
    d.examples("train")
    assert d.text_cache.log[-1]["hit"] is False
    assert len(list((tmp_path / "cache" / "text").glob(".*tmp*"))) == 0


def test_cache_key_depends_on_every_token(tmp_path):
    s = setup(_frozen(tmp_path))
    exs = s.data.train[:4]
    before = tokens_fingerprint(exs)
    exs[2].inputs["text"] = exs[2].inputs["text"].copy()
    exs[2].inputs["text"][1] += 1
    assert tokens_fingerprint(exs) != before


def test_cache_applies_only_when_exact(tmp_path):
    s = setup(_frozen(tmp_path))
    assert cache_applies(s.cfg, s.model)[0]
    for extra in (["model.freeze_text_encoder=false"], ["train.cache_text=false"],
                  ["model.pooling='last'"]):
        cfg = _frozen(tmp_path, *extra)
        ok, why = cache_applies(cfg, s.model)
        assert not ok and why
        assert setup(cfg).text_cache is None


def test_frozen_backbone_stays_in_eval_mode(tmp_path):
    s = setup(_frozen(tmp_path))
    s.model.train()
    assert s.model.encoders["text"].training and not s.model.encoders["text"].backbone.training
    t = setup(tiny_config(tmp_path))
    t.model.train()
    assert t.model.encoders["text"].backbone.training


def test_fit_end_to_end_on_the_cache(tmp_path):
    from mmib.engine import load_setup

    summary = fit(_frozen(tmp_path, "train.epochs=1"))
    assert np.isfinite(summary["test"]["loss"])
    assert any((tmp_path / "cache" / "text").iterdir())
    # a saved run evaluates on the cache (keyed after its weights are loaded) exactly as
    # it does by running the encoder
    cached, _ = load_setup(summary["run"])
    plain, _ = load_setup(summary["run"], overrides=["train.cache_text=false"])
    assert cached.text_cache is not None and plain.text_cache is None
    _same(cached.predict("test"), plain.predict("test"))
    assert cached.text_cache.log[-1]["hit"]


# ----------------------------------------------------------------------------- options

def test_precision_resolution_and_validation(tmp_path):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) is None
    assert resolve_precision("fp32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ConfigError, match="train.precision"):
        tiny_config(tmp_path, "train.precision='fp8'")
    with pytest.raises(ConfigError, match="train.cache_dir"):
        tiny_config(tmp_path, "train.cache_dir=''")


def test_bf16_autocast_trains_and_predicts_close_to_fp32(tmp_path):
    fp32 = setup(tiny_config(tmp_path, "train.precision='fp32'"))
    bf16 = setup(tiny_config(tmp_path, "train.precision='bf16'"))
    assert bf16.amp is torch.bfloat16
    p, q = fp32.predict("test"), bf16.predict("test")
    assert q.pred.dtype == np.float32
    assert np.abs(p.pred - q.pred).max() < 0.05 * (np.abs(p.pred).max() + 1)
    _train(bf16)
    assert all(np.isfinite(v) for v in bf16.predict("test").terms.values())
    assert all(prm.dtype == torch.float32 for prm in bf16.model.parameters())


def test_float_outputs_casts_every_tensor(tmp_path):
    s = setup(tiny_config(tmp_path))
    batch = collate(s.data.test[:3], s.cfg.data.modalities)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = s.model(batch.inputs, batch.masks)
    assert out.prediction.dtype == torch.bfloat16
    f = float_outputs(out)
    assert f.prediction.dtype == torch.float32
    assert all(p.mu.dtype == torch.float32 and p.sigma.dtype == torch.float32 for p in f.posteriors.values())


def test_fused_adam_matches_the_loop_adam(tmp_path):
    a = setup(tiny_config(tmp_path, "train.fused_optimizer=true"))
    b = setup(tiny_config(tmp_path, "train.fused_optimizer=false"))
    opt_a, _ = a.make_optimizer()
    opt_b, _ = b.make_optimizer()
    assert opt_a.defaults.get("fused") and not opt_b.defaults.get("fused")
    batch = collate(a.data.train[:16], a.cfg.data.modalities)
    for _ in range(3):  # the same gradients into both optimisers: only Adam's arithmetic differs
        a.model.zero_grad()
        a.objective(a.model(batch.inputs, batch.masks), batch.labels)["loss"].backward()
        for x, y in zip(a.model.parameters(), b.model.parameters()):
            y.grad = None if x.grad is None else x.grad.clone()
        opt_a.step()
        opt_b.step()
    moved = False
    for (n, x), (_, y) in zip(a.model.named_parameters(), b.model.named_parameters()):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=1e-5, msg=n)
    moved = any(not torch.equal(x, y) for x, y in zip(a.model.parameters(),
                                                      setup(a.cfg).model.parameters()))
    assert moved


def test_text_cache_standalone_compute_matches_backbone(tmp_path):
    s = setup(_frozen(tmp_path))
    enc = s.model.encoders["text"]
    cache = TextCache(enc, tmp_path / "c2", device=s.device, batch_size=4)
    states, offsets = cache.compute(s.data.valid[:6])
    ids = torch.from_numpy(s.data.valid[3].inputs["text"])[None]
    s.model.eval()
    with torch.no_grad():
        h = enc.backbone(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
    np.testing.assert_allclose(states[offsets[3]:offsets[4]], h.numpy(), atol=1e-5)


def test_length_sorted_batches_bound_padding(tmp_path):
    from mmib.data.batching import example_length, length_sorted_batches

    s = setup(tiny_config(tmp_path, "data.synth.n_test=200"))
    exs = s.data.test
    batches = length_sorted_batches(exs, 16, max_waste=0.05)
    assert sorted(i for b in batches for i in b) == list(range(len(exs)))
    padded = real = 0
    for b in batches:
        lens = [example_length(exs[i]) for i in b]
        assert 1 <= len(b) <= 16
        padded += len(b) * max(lens)
        real += sum(lens)
        if len(b) > 1:  # a batch only grows while its padding stays within the slack
            assert len(b) * max(lens) <= 1.05 * sum(lens) + max(lens)
    fixed_count = sum(len(c) * max(example_length(exs[i]) for i in c)
                      for c in (sorted(range(len(exs)), key=lambda i: example_length(exs[i]))[k:k + 64]
                                for k in range(0, len(exs), 64)))
    assert padded <= 1.06 * real < fixed_count


def test_eval_max_padding_sets_the_batches_not_the_outputs(tmp_path, monkeypatch):
    import mmib.engine.loop as loop

    seen = []
    real = loop.length_sorted_batches

    def spy(examples, max_size, max_waste=0.2):
        out = real(examples, max_size, max_waste)
        seen.append((max_waste, len(out)))
        return out

    monkeypatch.setattr(loop, "length_sorted_batches", spy)
    tight = setup(tiny_config(tmp_path, "data.synth.n_test=200", "train.eval_max_padding=0.0"))
    loose = setup(tiny_config(tmp_path, "data.synth.n_test=200", "train.eval_max_padding=1.0"))
    _same(tight.predict("test"), loose.predict("test"))
    assert [w for w, _ in seen] == [0.0, 1.0]
    assert seen[0][1] > seen[1][1]  # the bound really changed the batching
    with pytest.raises(ConfigError, match="train.eval_max_padding"):
        setup(tiny_config(tmp_path, "train.eval_max_padding=-0.1"))
