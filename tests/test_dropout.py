"""The CPU dropout (encoders/dropout.py, used by the acoustic/visual Transformers): its mask keeps
each element with probability 1 - p, scales by 1 / (1 - p), follows torch's seed, and the
attention with dropout is softmax attention with that mask on its weights."""

import math

import pytest
import torch
import torch.nn.functional as F

from mmib.encoders.attention import attention
from mmib.encoders.dropout import Dropout, keep_mask
from mmib.encoders.sequence import EncoderLayer


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_keep_mask_keeps_one_minus_p_and_scales_back(p):
    torch.manual_seed(0)
    keep, scale = keep_mask((1000, 1000), p, torch.device("cpu"))
    assert keep.dtype == torch.bool and keep.shape == (1000, 1000)
    # binomial standard deviation at n = 1e6 is below 5e-4
    assert abs(keep.float().mean().item() - (1 - p)) < 3e-3
    p_used = round(p * 32768) / 32768
    assert abs(p_used - p) < 1.6e-5
    assert scale == pytest.approx(1 / (1 - p_used))


def test_keep_mask_follows_the_seed_and_odd_sizes():
    torch.manual_seed(3)
    a, _ = keep_mask((7, 13), 0.5, torch.device("cpu"))
    torch.manual_seed(3)
    b, _ = keep_mask((7, 13), 0.5, torch.device("cpu"))
    torch.manual_seed(4)
    c, _ = keep_mask((7, 13), 0.5, torch.device("cpu"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # both 16-bit halves of every 32-bit draw are used, and neither is constant
    torch.manual_seed(0)
    k, _ = keep_mask((200000,), 0.5, torch.device("cpu"))
    assert abs(k[0::2].float().mean().item() - 0.5) < 0.01 and abs(k[1::2].float().mean().item() - 0.5) < 0.01


def test_dropout_module_in_training_eval_and_its_gradient():
    x = torch.randn(64, 50, 30, requires_grad=True)
    d = Dropout(0.3)
    assert isinstance(d, torch.nn.Dropout) and d.p == 0.3
    d.eval()
    assert torch.equal(d(x), x)
    d.train()
    torch.manual_seed(1)
    y = d(x)
    torch.manual_seed(1)
    keep, scale = keep_mask(x.shape, 0.3, x.device)
    assert torch.allclose(y, x * keep * scale)
    dropped = (y == 0) & (x != 0)
    assert abs(dropped.float().mean().item() - 0.3) < 0.01
    y.sum().backward()
    assert torch.allclose(x.grad, keep.float() * scale)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_attention_matches_sdpa_without_dropout_and_masks_keys():
    torch.manual_seed(0)
    q, k, v = (torch.randn(4, 5, 9, 6) for _ in range(3))
    attend = torch.ones(4, 1, 1, 9, dtype=torch.bool)
    attend[:, ..., 6:] = False
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
    assert torch.allclose(attention(q, k, v, attend, 0.0), want, atol=1e-6)
    # with dropout: softmax weights over the attended keys only, masked by keep_mask, rescaled
    torch.manual_seed(5)
    got = attention(q, k, v, attend, 0.5)
    w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(6)).masked_fill(~attend, float("-inf")), dim=-1)
    torch.manual_seed(5)
    keep, scale = keep_mask(w.shape, 0.5, w.device)
    assert torch.allclose(got, (w * keep * scale) @ v, atol=1e-5)
    # a change in a masked-out key's value changes nothing
    v2 = v.clone()
    v2[..., 7, :] += 100.0
    torch.manual_seed(5)
    assert torch.allclose(attention(q, k, v2, attend, 0.5), got, atol=1e-5)


def test_encoder_layer_trains_with_the_mask_and_is_deterministic_in_eval():
    torch.manual_seed(0)
    layer = EncoderLayer(30, 5, attn_dropout=0.5, res_dropout=0.3, relu_dropout=0.3)
    x = torch.randn(8, 12, 30)
    attend = torch.ones(8, 1, 1, 12, dtype=torch.bool)
    layer.train()
    torch.manual_seed(2)
    a = layer(x, attend)
    torch.manual_seed(2)
    assert torch.equal(layer(x, attend), a)  # the seed decides every mask
    a.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())
    layer.eval()
    assert torch.equal(layer(x, attend), layer(x, attend))
    assert not torch.allclose(layer(x, attend), a)


def test_dropout_of_one_drops_everything_without_dividing_by_zero():
    x = torch.randn(4, 6, 10)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    q, k, v = (torch.randn(2, 5, 3, 2) for _ in range(3))
    assert torch.equal(attention(q, k, v, None, 1.0), torch.zeros_like(v))
