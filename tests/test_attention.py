"""Attention on CPU (encoders/attention.py): the weights formed explicitly equal the fused
kernel (forward and gradients, every mask form), the kernel choice follows the measured
limits, and Hugging Face text backbones run through it with mmib's dropout, unchanged in
eval mode and in their weights."""

from __future__ import annotations

import copy
import importlib

import pytest
import torch
import torch.nn.functional as F

from mmib.encoders import PretrainedTextEncoder, build_backbone
from mmib.encoders.attention import (
    EXPLICIT_MAX_KEYS,
    HF_NAME,
    SOFTMAX_TRANSPOSED_KEYS,
    attention,
    explicit_attention,
    explicit_on_cpu,
    softmax_keys,
    transposed_softmax_keys,
)
from mmib.encoders.dropout import Dropout

attention_module = importlib.import_module("mmib.encoders.attention")


def _qkv(B=3, H=2, Q=5, K=7, D=8, dtype=torch.float32, grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, n, D, generator=g).to(dtype).requires_grad_(grad) for n in (Q, K, K)]


def _masks(B=3, Q=5, K=7):
    lengths = torch.tensor([7, 4, 1])
    keys = torch.arange(K)[None] < lengths[:, None]  # (B, K)
    boolean = keys[:, None, None, :].expand(B, 1, Q, K)
    additive = torch.zeros(B, 1, Q, K).masked_fill(~boolean, torch.finfo(torch.float32).min)
    return {"none": None, "bool": boolean, "additive": additive}


@pytest.mark.parametrize("mask", ["none", "bool", "additive"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_explicit_weights_equal_the_fused_kernel_forward_and_backward(mask, scale):
    attend = _masks()[mask]
    q, k, v = _qkv(grad=True)
    assert explicit_on_cpu(q, k, 0.0)
    out = attention(q, k, v, attend, 0.0, scale=scale)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    q2, k2, v2 = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    ref = F.scaled_dot_product_attention(q2, k2, v2, attn_mask=attend, scale=scale)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q2, k2, v2))
    assert torch.allclose(out, ref, atol=1e-5)
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-4)


def test_explicit_weights_in_bf16_stay_close_to_fp32():
    q, k, v = _qkv(dtype=torch.bfloat16)
    attend = _masks()["bool"]
    out = attention(q, k, v, attend, 0.0)
    assert out.dtype == torch.bfloat16
    ref = F.scaled_dot_product_attention(*(t.float() for t in (q, k, v)), attn_mask=attend)
    assert (out.float() - ref).abs().max() < 0.05


def test_the_kernel_choice_follows_the_measured_limits():
    short, long = _qkv(K=12), _qkv(K=EXPLICIT_MAX_KEYS["low precision"] + 1, dtype=torch.bfloat16)
    assert explicit_on_cpu(short[0], short[1], 0.0)
    assert not explicit_on_cpu(long[0], long[1], 0.0)
    assert explicit_on_cpu(long[0], long[1], 0.1)  # with dropout the fused kernel has no fast path
    n = EXPLICIT_MAX_KEYS["fp32 without gradient"] + 1
    q, k, _ = _qkv(K=n)
    assert not explicit_on_cpu(q, k, 0.0)
    qg, kg, _ = _qkv(K=n, grad=True)
    assert explicit_on_cpu(qg, kg, 0.0) == (n <= EXPLICIT_MAX_KEYS["fp32 with gradient"])
    qm = torch.empty(1, 1, 2, 4, device="meta")
    assert not explicit_on_cpu(qm, qm, 0.5)  # not on CPU (GPUs): always the fused kernel


@pytest.mark.parametrize("native", [True, False])
def test_bf16_attention_is_formed_explicitly_only_on_cpus_with_bf16_instructions(native, monkeypatch):
    """Explicit bf16 weights won up to 256 keys with avx512_bf16 (attention_cpu_20261203-0310)
    and lost every case on an AVX2-only CPU (-1728): there the fused kernel runs, except under
    dropout, where the fused call would fall back to the same explicit form."""
    monkeypatch.setattr(attention_module, "_native_bf16", lambda: native)
    q, k, v = _qkv(K=12, dtype=torch.bfloat16)
    assert explicit_on_cpu(q, k, 0.0) == native
    assert explicit_on_cpu(q, k, 0.1)
    assert explicit_on_cpu(*_qkv(K=12)[:2], 0.0)  # fp32 keeps its limits either way
    torch.testing.assert_close(attention(q, k, v, None, 0.0).float(),
                               explicit_attention(q, k, v, None, 0.0).float(), atol=2e-2, rtol=2e-2)


def test_a_fully_masked_query_row_gives_finite_outputs():
    q, k, v = _qkv()
    attend = torch.zeros(3, 1, 5, 7, dtype=torch.bool)
    attend[0] = True
    assert torch.isfinite(attention(q, k, v, attend, 0.0)).all()


def _backbone(name="tiny-config", seed=0):
    torch.manual_seed(seed)
    bb = build_backbone(name, pretrained=False)
    return bb


def _batch(T=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([9, 3, 1, 6])
    mask = torch.arange(T)[None] < lengths[:, None]
    return torch.randint(1000, 2000, (4, T), generator=g) * mask, mask


def test_a_text_encoder_runs_its_backbone_through_mmib_attention_and_dropout():
    bb = _backbone()
    plain = copy.deepcopy(bb.model)  # stock Hugging Face modules, sdpa attention
    assert plain.config._attn_implementation == "sdpa"
    enc = PretrainedTextEncoder(bb.model, bb.hidden_size, 16)
    backbone = enc.backbone
    assert backbone.config._attn_implementation == HF_NAME
    kinds = {type(m) for m in backbone.modules() if isinstance(m, torch.nn.Dropout)}
    assert kinds == {Dropout}
    assert backbone.state_dict().keys() == plain.state_dict().keys()
    ids, mask = _batch()
    valid = mask[..., None]
    backbone.eval()
    plain.eval()
    with torch.no_grad():
        a = backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        b = plain(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    assert torch.allclose(a * valid, b * valid, atol=1e-5)
    # training: dropout follows the seed and is active; gradients equal the stock model's at p = 0
    backbone.train()
    outs = []
    for seed in (1, 1, 2):
        torch.manual_seed(seed)
        outs.append(backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state)
    assert torch.equal(outs[0], outs[1]) and not torch.allclose(outs[0], outs[2])
    for m in list(backbone.modules()) + list(plain.modules()):
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    plain.train()
    grads = []
    for model in (backbone, plain):
        model.zero_grad()
        (model(input_ids=ids, attention_mask=mask.long()).last_hidden_state * valid).square().sum().backward()
        grads.append(model.encoder.layer[0].attention.self.query.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-4)


def test_attention_dropout_in_the_backbone_drops_at_its_rate():
    """With hidden dropout off, attention dropout alone makes train-mode outputs differ from
    eval mode; at p = 1 every attention weight is dropped, so the layer's attention context
    (the input of its output projection) is zero."""
    bb = _backbone()
    enc = PretrainedTextEncoder(bb.model, bb.hidden_size, 16)
    backbone = enc.backbone
    ids, mask = _batch()
    for name, m in backbone.named_modules():
        if isinstance(m, torch.nn.Dropout) and not name.endswith("attention.self.dropout"):
            m.p = 0.0
    backbone.eval()
    with torch.no_grad():
        ev = backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        backbone.train()
        tr = backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    assert not torch.allclose(ev, tr)
    captured = {}
    attn = backbone.encoder.layer[0].attention
    attn.self.dropout.p = 1.0
    attn.output.dense.register_forward_hook(lambda mod, inp, out: captured.setdefault("ctx", inp[0]))
    with torch.no_grad():
        backbone(input_ids=ids, attention_mask=mask.long())
    assert torch.equal(captured["ctx"], torch.zeros_like(captured["ctx"]))


_KEYS = SOFTMAX_TRANSPOSED_KEYS["AVX512"]


@pytest.mark.parametrize("capability, keys", [("AVX512", range(7, 16)), ("AVX2", range(0)), ("DEFAULT", range(0))])
def test_transposed_softmax_only_where_it_measured_faster(capability, keys, monkeypatch):
    """The transposed softmax won for 7-15 fp32 keys on AVX-512 and at no length on AVX2
    (attention_cpu_20261203-0713 / -1719): the choice follows torch's CPU capability."""
    monkeypatch.setattr(attention_module, "_cpu_capability", lambda: capability)
    assert transposed_softmax_keys() == keys
    w = torch.randn(2, 3, 13, 13)
    seen = []
    real = torch.Tensor.transpose
    monkeypatch.setattr(torch.Tensor, "transpose", lambda t, *a: seen.append(a) or real(t, *a))
    torch.testing.assert_close(softmax_keys(w), torch.softmax(w, -1))
    assert bool(seen) == (13 in keys)


@pytest.mark.parametrize("capability", ["AVX512", "AVX2"])
@pytest.mark.parametrize("K", [1, _KEYS[0], 13, _KEYS[-1], _KEYS[-1] + 1, 40])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_softmax_over_keys_equals_torch_softmax_for_short_and_long_rows(K, dtype, capability, monkeypatch):
    """softmax_keys takes the transposed view for short rows (on AVX-512 CPUs) and torch's own
    kernel otherwise: the same values and gradients either way, masked (-inf-like) entries
    included."""
    monkeypatch.setattr(attention_module, "_cpu_capability", lambda: capability)
    g = torch.Generator().manual_seed(K)
    w = torch.randn(3, 2, 6, K, generator=g).to(dtype)
    w[0, :, :, K // 2:] = torch.finfo(dtype).min
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    up = torch.randn(3, 2, 6, K, generator=g).to(dtype)
    mine, ref = softmax_keys(a), torch.softmax(b, dim=-1)
    (mine * up).sum().backward()
    (ref * up).sum().backward()
    tol = {"atol": 1e-6, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-2, "rtol": 1e-2}
    torch.testing.assert_close(mine, ref, **tol)
    torch.testing.assert_close(a.grad, b.grad, **tol)
    assert mine.shape == ref.shape
