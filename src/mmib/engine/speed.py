"""Speed options of the engine: mixed precision, torch.compile, CPU threads, fused Adam.

Each option is a ``train.*`` config field (docs/speed.md has the measurements behind the
defaults). Everything here is device-agnostic: the same calls work on CPU and CUDA.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Iterator

import torch
from torch import nn

from ..models.outputs import MIBOutput

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``train.precision`` on ``device``; None means plain fp32.

    ``auto`` picks bf16 on a CUDA device that supports it and fp32 everywhere else: on CPUs
    without native bf16 instructions (AVX2-only, e.g. AMD Zen 3) a bf16 matmul runs ~100x
    slower than fp32 (measured by benchmarks/speed.py), so bf16 is opt-in on CPU.
    fp16 needs loss scaling, which is only wired for CUDA.
    """
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return None
    if precision not in _DTYPES:
        raise ValueError(f"train.precision: expected auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("train.precision = 'fp16' needs a CUDA device (fp16 training needs loss "
                         f"scaling, wired for CUDA only); the device is {device}. Use bf16 or fp32.")
    return _DTYPES[precision]


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device`` (a no-op context for fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> "torch.amp.GradScaler | None":
    """A loss scaler for fp16 on CUDA (fp16 gradients underflow without one); None otherwise."""
    if dtype == torch.float16 and device.type == "cuda":
        return torch.amp.GradScaler("cuda")
    return None


def _to_float(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.float() if x.is_floating_point() and x.dtype != torch.float32 else x
    if isinstance(x, dict):
        return {k: _to_float(v) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.replace(x, **{f.name: _to_float(getattr(x, f.name)) for f in dataclasses.fields(x)})
    return x


def float_outputs(out: MIBOutput) -> MIBOutput:
    """Every tensor of a model output in fp32, so that the objective (KL with log sigma,
    L1, cross-entropy) is computed in full precision after a mixed-precision forward."""
    return _to_float(out)


def configure_threads(num_threads: int) -> None:
    """``train.num_threads``: intra-op CPU threads (0 keeps torch's default, one per core)."""
    if num_threads > 0 and torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)


def maybe_compile(model: nn.Module, enabled: bool) -> nn.Module:
    """Compile ``model`` in place (``nn.Module.compile``, so parameter names and the
    state dict are unchanged) with dynamic shapes, since dynamic padding changes the
    sequence length from batch to batch."""
    if enabled:
        model.compile(dynamic=True)
    return model


def adam_options(fused: bool, params: list[nn.Parameter] | Iterator[nn.Parameter]) -> dict[str, Any]:
    """Keyword arguments for ``torch.optim.Adam``: the fused kernel when asked for and when
    every parameter is a floating tensor on CPU or CUDA (the update is the same Adam, in one
    pass over all parameters instead of a Python loop of small kernels)."""
    if not fused:
        return {}
    ok = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return {"fused": True} if ok else {}


__all__ = ["adam_options", "autocast", "configure_threads", "float_outputs", "grad_scaler",
           "maybe_compile", "precision_name", "resolve_precision"]
