"""The text encoder's last layer computed at two steps only equals the whole computation."""

import pytest
import torch

from mmib.encoders.last_layer import last_hidden_at, supports_partial_last_layer
from mmib.encoders import PretrainedTextEncoder, build_backbone


def _batch(T=9, lengths=(9, 3, 1, 2, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    mask = torch.arange(T)[None] < lengths[:, None]
    ids = torch.randint(1000, 2000, (len(lengths), T), generator=g) * mask
    return ids, mask, lengths


def _encoder(name, seed=0):
    torch.manual_seed(seed)
    bb = build_backbone(name, pretrained=False)
    return PretrainedTextEncoder(bb.model, bb.hidden_size, 50)


def _no_dropout(enc):
    for m in enc.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    enc.backbone.config.attention_probs_dropout_prob = 0.0


@pytest.mark.parametrize("name", ["tiny-config", "minilm-config"])
def test_last_step_equals_the_whole_sequence_then_pooling(name):
    enc = _encoder(name).eval()
    ids, mask, lengths = _batch()
    rows = torch.arange(len(lengths))
    with torch.no_grad():
        full = enc(ids, mask)[rows, lengths - 1]
        fast = enc.last_step(ids, mask)
        # the hidden states themselves, at any positions
        pos = torch.stack([(lengths - 2).clamp(min=0), lengths - 1], 1)
        h_full = enc.backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state[rows[:, None], pos]
        h_fast = last_hidden_at(enc.backbone, ids, mask, pos)
    assert supports_partial_last_layer(enc.backbone)
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h_fast, h_full, rtol=1e-5, atol=1e-5)
    assert len(enc.backbone.encoder.layer) == enc.backbone.config.num_hidden_layers  # restored


def _both_gradients(enc, ids, mask, lengths) -> tuple[dict, dict]:
    """Parameter gradients of the whole computation at the last steps and of ``last_step``,
    under the same random output gradient."""
    g = torch.randn(len(lengths), 50, generator=torch.Generator().manual_seed(1))
    rows = torch.arange(len(lengths))

    def grads(fn):
        enc.zero_grad()
        (fn() * g).sum().backward()
        return {n: p.grad.clone() for n, p in enc.named_parameters() if p.grad is not None}

    return grads(lambda: enc(ids, mask)[rows, lengths - 1]), grads(lambda: enc.last_step(ids, mask))


def test_gradients_equal_the_whole_computation():
    enc = _encoder("minilm-config").train()
    _no_dropout(enc)
    ids, mask, lengths = _batch()
    a, b = _both_gradients(enc, ids, mask, lengths)
    assert a.keys() == b.keys() and any("layer.5." in n for n in a)  # the last layer trains too
    for n in a:
        torch.testing.assert_close(b[n], a[n], rtol=1e-4, atol=1e-5, msg=n)


def test_other_layouts_run_the_whole_backbone():
    enc = _encoder("tiny-config").eval()
    enc.backbone.config.position_embedding_type = "relative_key"
    assert not supports_partial_last_layer(enc.backbone)
    enc.partial_last_layer = True
    ids, mask, lengths = _batch()
    with torch.no_grad():
        torch.testing.assert_close(enc.last_step(ids, mask), enc(ids, mask)[torch.arange(5), lengths - 1])


def test_the_layer_list_is_restored_when_the_backbone_fails():
    enc = _encoder("tiny-config")
    layers = enc.backbone.encoder.layer
    with pytest.raises(Exception):
        last_hidden_at(enc.backbone, torch.full((2, 3), 10 ** 9), torch.ones(2, 3, dtype=torch.bool),
                       torch.zeros(2, 2, dtype=torch.long))
    assert enc.backbone.encoder.layer is layers


def test_model_predictions_do_not_depend_on_the_switch(tmp_path):
    from conftest import tiny_config
    from mmib.engine import setup

    preds = []
    for flag in (True, False):
        s = setup(tiny_config(tmp_path, f"model.text_partial_last_layer={str(flag).lower()}"), pretrained=False)
        assert s.model.encoders["text"].partial_last_layer is flag
        preds.append(s.predict("test"))
    torch.testing.assert_close(torch.as_tensor(preds[0].pred), torch.as_tensor(preds[1].pred), rtol=1e-5, atol=1e-6)
    for k in preds[0].kl:
        torch.testing.assert_close(torch.as_tensor(preds[0].kl[k]), torch.as_tensor(preds[1].kl[k]),
                                   rtol=1e-5, atol=1e-5)


def test_unmasked_encoder_reads_padding_so_it_runs_the_whole_sequence():
    torch.manual_seed(0)
    bb = build_backbone("tiny-config", pretrained=False)
    enc = PretrainedTextEncoder(bb.model, bb.hidden_size, 50, use_mask=False).eval()
    ids, mask, lengths = _batch()
    with torch.no_grad():
        torch.testing.assert_close(enc.last_step(ids, mask), enc(ids, mask)[torch.arange(5), lengths - 1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cached_states_are_read_at_the_two_steps_the_conv_needs(dtype):
    """The frozen-encoder cache feeds backbone states (B, T, H): last_step reads them at L-2
    and L-1 only, and equals the Conv1D over the whole sequence at L-1 (values and gradients)."""
    enc = _encoder("tiny-config")
    ids, mask, lengths = _batch()
    rows = torch.arange(len(lengths))
    states = torch.randn(*ids.shape, enc.conv.in_channels).to(dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        fast = enc.last_step(states, mask)
        enc.conv.weight.grad = None
        fast.float().square().sum().backward()
        g_fast = enc.conv.weight.grad.clone()
        full = enc(states, mask)[rows, lengths - 1]
        enc.conv.weight.grad = None
        full.float().square().sum().backward()
    tol = 1e-5 if dtype == torch.float32 else 3e-2
    assert torch.allclose(fast.float(), full.float(), atol=tol, rtol=tol)
    assert torch.allclose(g_fast, enc.conv.weight.grad, atol=tol * 10, rtol=tol)


def test_mpnet_relative_bias_keeps_the_speed_path_exact_with_gradients(tmp_path):
    """MPNet adds a relative position bias to every layer's scores; the last layer computed at
    two steps takes the bias rows of those steps: values and gradients equal the whole
    computation (the bias table's gradient included)."""
    from encoder_families import build

    from mmib.encoders.huggingface import load_backbone

    torch.manual_seed(0)
    bb = load_backbone(build("mpnet", tmp_path / "mpnet"), pretrained=True)
    enc = PretrainedTextEncoder(bb.model, bb.hidden_size, 50).train()
    _no_dropout(enc)
    assert supports_partial_last_layer(enc.backbone)
    ids, mask, lengths = _batch(lengths=(9, 3, 1, 2, 6))
    ids = ids % 40 + 5 * mask  # the tiny vocabulary; padding 0 (mmib's batches) becomes pad id 1 inside
    a, b = _both_gradients(enc, ids, mask, lengths)
    assert a.keys() == b.keys() and "backbone.encoder.relative_attention_bias.weight" in a
    assert any("layer.1." in n for n in a)  # the last layer trains too
    for n in a:
        torch.testing.assert_close(b[n], a[n], rtol=1e-4, atol=1e-5, msg=n)
