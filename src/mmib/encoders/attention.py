"""Scaled dot-product attention that picks the faster kernel on CPU, for mmib's own
Transformers and (registered as a Hugging Face attention implementation) for text backbones.

On CPU ``scaled_dot_product_attention`` runs a flash-attention kernel, built for long
sequences. At the lengths of utterances it is slower than forming the weights with two
matrix products and a softmax in bf16, above all in its backward: forward + backward of one
bert-base layer's attention at 32 x 12 tokens took 17.2 ms fused vs 2.3 ms explicit
(``python benchmarks/attention_cpu.py``, ``benchmarks/results/attention_cpu_20261203-0310``).
With dropout it runs its unfused kernel (``_scaled_dot_product_attention_math``, masked by
``bernoulli_``) anyway. :func:`attention` therefore forms the weights itself on CPU where
the benchmark measured that faster and whenever there is dropout (:func:`explicit_on_cpu`),
with the masks of :mod:`mmib.encoders.dropout`, and calls the fused kernel everywhere else
(GPUs, long sequences).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from .dropout import keep_mask

LOW_PRECISION = (torch.bfloat16, torch.float16)
EXPLICIT_MAX_KEYS = {"low precision": 256, "fp32 with gradient": 32, "fp32 without gradient": 16}
"""Longest key sequence for which forming the weights beat the fused kernel on CPU
(``benchmarks/results/attention_cpu_20261203-0310``, 2-core AMD EPYC with avx512_bf16): in
bf16 up to 256 keys (training 32 x 12: 2.3 vs 17.2 ms per call); in fp32 the two are within
a few percent up to 64 keys with a gradient, and the fused kernel wins beyond. On a CPU without
bf16 instructions (AVX2 only, ``attention_cpu_20261203-1728``) the fused kernel won every bf16
case (32 x 12 forward + backward: 10.0 vs 29.8 ms), so there bf16 attention without dropout is
always fused; the fp32 limits held there too (explicit faster up to 64 keys with a gradient,
12 without)."""


SOFTMAX_TRANSPOSED_KEYS = {"AVX512": range(7, 16)}
"""Lengths of fp32 key rows for which :func:`softmax_keys` runs torch's softmax over the
transposed view on CPU, by torch's CPU capability (``torch.backends.cpu.get_cpu_capability()``);
none on any other. ``python benchmarks/attention_cpu.py --softmax-only``: on an AVX-512 CPU
(``attention_cpu_20261203-0713``) rows shorter than one 16-lane vector are slow in torch's
last-dimension kernel and the transposed view won every fp32 case for 7-15 keys; on an
AVX2-only CPU (``attention_cpu_20261203-1719``, 8 lanes) it won none, and took about twice
as long from 8 keys on (forward + backward at 32 x 5 x 13 x 13: 0.34 vs 0.17 ms). In bf16
the last-dimension kernel won at every length on both."""


def transposed_softmax_keys() -> range:
    """The fp32 row lengths that :func:`softmax_keys` takes through the transposed view on this CPU."""
    return SOFTMAX_TRANSPOSED_KEYS.get(_cpu_capability(), range(0))


@functools.lru_cache(maxsize=1)
def _native_bf16() -> bool:
    """Whether this CPU has bf16 dot-product or matrix instructions (AVX512-BF16, AMX)."""
    probes = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(p()) for p in probes if p is not None)


@functools.lru_cache(maxsize=1)
def _cpu_capability() -> str:
    return torch.backends.cpu.get_cpu_capability()  # fixed for the process (ATEN_CPU_CAPABILITY)


def softmax_keys(w: torch.Tensor) -> torch.Tensor:
    """``torch.softmax(w, -1)``. On an AVX-512 CPU, fp32 rows of 7-15 keys go through the
    transposed view, where the kernel for an inner dimension vectorises across the rows:
    torch's last-dimension kernel took 0.52 ms for (32, 12, 12, 12) weights and 0.10 ms for
    (32, 12, 16, 16), the transposed view 0.20 ms for the first (attention_cpu_20261203-0713)."""
    if w.device.type == "cpu" and w.dtype == torch.float32 and w.dim() >= 2 \
            and w.shape[-1] in transposed_softmax_keys():
        return torch.softmax(w.transpose(-1, -2), dim=-2).transpose(-1, -2)
    return torch.softmax(w, dim=-1)


def explicit_on_cpu(q: torch.Tensor, k: torch.Tensor, dropout: float) -> bool:
    """Whether :func:`attention` forms the weights itself for these inputs."""
    if q.device.type != "cpu":
        return False
    if dropout > 0.0:
        return True  # the fused kernel would run its unfused fallback, with bernoulli_ masks
    if q.dtype in LOW_PRECISION:
        if not _native_bf16():
            return False  # without bf16 instructions the fused kernel won at every length
        limit = EXPLICIT_MAX_KEYS["low precision"]
    elif torch.is_grad_enabled() and (q.requires_grad or k.requires_grad):
        limit = EXPLICIT_MAX_KEYS["fp32 with gradient"]
    else:
        limit = EXPLICIT_MAX_KEYS["fp32 without gradient"]
    return k.shape[-2] <= limit


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attend: torch.Tensor | None,
              dropout: float, scale: float | None = None) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v with dropout on the weights; (B, H, Q, D) inputs.

    ``attend``: None, a bool mask (True where a key may be attended) or an additive float
    mask, broadcast to (B, H, Q, K); ``scale`` defaults to 1 / sqrt(D)."""
    if dropout >= 1.0 or not explicit_on_cpu(q, k, dropout):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attend, dropout_p=dropout, scale=scale)
    return explicit_attention(q, k, v, attend, dropout, scale)


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attend: torch.Tensor | None,
                       dropout: float, scale: float | None = None) -> torch.Tensor:
    """:func:`attention` with the weights formed by two matrix products and a softmax, on any
    device (``0 <= dropout < 1``)."""
    w = (q @ k.transpose(-2, -1)) * (scale if scale is not None else 1.0 / math.sqrt(q.shape[-1]))
    if attend is not None:
        w = w.masked_fill(~attend, torch.finfo(w.dtype).min) if attend.dtype == torch.bool else w + attend
    w = softmax_keys(w)
    if dropout > 0.0:
        keep, factor = keep_mask(w.shape, dropout, w.device)
        w = w * keep * factor
    return w @ v


HF_NAME = "mmib_sdpa"
"""The Hugging Face attention implementation :func:`use_fast_attention` installs."""


def _hf_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                  is_causal: bool | None = None, **kwargs):
    """Hugging Face's ``sdpa`` attention, with :func:`attention` where it is faster: the same
    inputs (B, H, T, D) and output (B, T, H, D)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    causal = is_causal if is_causal is not None else getattr(module, "is_causal", False)
    plain = (not causal and kwargs.get("position_bias") is None and kwargs.get("softcap") is None
             and getattr(module, "num_key_value_groups", 1) == 1 and query.shape[-1] == value.shape[-1])
    if not (plain and 0.0 <= dropout < 1.0 and explicit_on_cpu(query, key, dropout)):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    out = attention(query, key, value, attention_mask, dropout, scale=scaling)
    return out.transpose(1, 2).contiguous(), None


def _register_hf() -> bool:
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:  # an older transformers without the attention registry
        return False
    AttentionInterface.register(HF_NAME, _hf_attention)
    AttentionMaskInterface.register(HF_NAME, sdpa_mask)
    return True


def use_fast_attention(backbone: torch.nn.Module) -> bool:
    """Run a Hugging Face backbone that uses the ``sdpa`` attention implementation through
    :func:`attention` (the same mask, the same function); returns whether it was switched.
    The name lives in the model's config at run time only (Hugging Face does not save it)."""
    config = getattr(backbone, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or getattr(config, "is_encoder_decoder", False) \
            or getattr(config, "is_decoder", False) or not _register_hf():
        return False
    config._attn_implementation = HF_NAME
    return True


__all__ = ["EXPLICIT_MAX_KEYS", "HF_NAME", "SOFTMAX_TRANSPOSED_KEYS", "attention", "explicit_attention",
           "explicit_on_cpu", "softmax_keys", "transposed_softmax_keys",
           "use_fast_attention"]
