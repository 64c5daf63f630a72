"""Speed options of the engine: mixed precision, torch.compile, CPU threads, fused Adam.

Each option is a ``train.*`` config field (docs/speed.md has the measurements behind the
defaults). Everything here is device-agnostic: the same calls work on CPU and CUDA.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import functools
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ..models.outputs import MIBOutput

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


BF16_UNITS = ("amx_bf16", "avx512_bf16")  # CPU flags of native bf16 matrix / dot-product instructions
CPU_BF16_ENV = "MMIB_CPU_BF16"  # 1 / 0: skip the probe and say whether this CPU should use bf16


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _matmul_gflops(dtype: torch.dtype, n: int = 768, reps: int = 4) -> float:
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    torch.nn.functional.linear(a, b)  # first call: kernel selection and packing
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.nn.functional.linear(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


@functools.lru_cache(maxsize=None)
def cpu_bf16_capability() -> tuple[bool, str]:
    """Whether bf16 autocast pays off on this CPU, and why: the CPU must have native bf16
    instructions (AMX or AVX512-BF16) and a bf16 matrix product measured here must run at
    least 1.5x as fast as fp32 (a ~50 ms probe, once per process). ``MMIB_CPU_BF16=1``/``0``
    decides instead of the probe (e.g. the same precision on every machine of a study)."""
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1", f"{CPU_BF16_ENV}={forced}"
    flags = cpu_flags()
    units = [u for u in BF16_UNITS if u in flags]
    if not units:
        why = "no amx_bf16 / avx512_bf16 flag" if flags else "its flags could not be read"
        return False, f"the CPU has no native bf16 matrix instructions ({why})"
    fp32, bf16 = _matmul_gflops(torch.float32), _matmul_gflops(torch.bfloat16)
    ratio = bf16 / fp32
    measured = f"a 768x768 bf16 matrix product ran {ratio:.1f}x as fast as fp32 ({bf16:.0f} vs {fp32:.0f} GFLOP/s)"
    if ratio < 1.5:
        return False, f"the CPU has {'+'.join(units)} but {measured}, below the 1.5x that pays for the casts"
    return True, f"the CPU has {'+'.join(units)} and {measured}"


def choose_precision(precision: str, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype for ``train.precision`` on ``device`` (None means plain fp32) and
    the reason, which the run records.

    ``auto`` picks bf16 on a CUDA device that supports it and on a CPU with native bf16
    matrix instructions where a measured bf16 product is clearly faster
    (:func:`cpu_bf16_capability`); fp32 elsewhere: on CPUs without them (AVX2-only, e.g.
    AMD Zen 3) a bf16 matmul runs ~100x slower than fp32. bf16 keeps test metrics within seed
    noise of fp32 (benchmarks/fast_vs_reference.py, docs/speed.md). fp16 needs loss
    scaling, which is only wired for CUDA.
    """
    if precision == "auto":
        if device.type == "cuda":
            name = torch.cuda.get_device_name(device)
            if torch.cuda.is_bf16_supported():
                return torch.bfloat16, f"auto: bf16 autocast, the GPU ({name}) supports bf16"
            return None, f"auto: fp32, the GPU ({name}) does not support bf16"
        if device.type == "cpu":
            ok, why = cpu_bf16_capability()
            return (torch.bfloat16, f"auto: bf16 autocast, {why}") if ok else (None, f"auto: fp32, {why}")
        return None, f"auto: fp32 on a {device.type} device"
    if precision not in _DTYPES:
        raise ValueError(f"train.precision: expected auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("train.precision = 'fp16' needs a CUDA device (fp16 training needs loss "
                         f"scaling, wired for CUDA only); the device is {device}. Use bf16 or fp32.")
    return _DTYPES[precision], f"train.precision = {precision!r}"


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of :func:`choose_precision`, without the reason."""
    return choose_precision(precision, device)[0]


@functools.lru_cache(maxsize=None)
def retain_freed_memory() -> bool:
    """Keep memory that torch frees inside the process for its next tensors (glibc only).

    By default glibc gives large blocks back to the kernel when they are freed, so the next
    step's tensors of the same size start on fresh pages, and each first touch of a page is a
    page fault. In a training step (gradients of every weight, bf16 copies of every weight
    under autocast, activations) that cost 10-20% of the time (docs/speed.md). This sets
    ``M_MMAP_MAX = 0`` (no separate mappings) and a 2 GiB ``M_TRIM_THRESHOLD`` with
    ``mallopt``: the process keeps its peak heap instead. Returns whether it was applied
    (not on macOS, Windows or musl); applied once per process."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl has no such function)
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
    ok = mallopt(M_MMAP_MAX, 0) == 1
    ok = mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1 and ok
    return mallopt(M_TOP_PAD, 64 << 20) == 1 and ok


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


__all__ = ["adam_options", "autocast", "choose_precision", "configure_threads", "cpu_bf16_capability",
           "float_outputs", "grad_scaler", "maybe_compile", "precision_name", "resolve_precision",
           "retain_freed_memory"]
