"""Attention on CPU: the fused kernel (``scaled_dot_product_attention``) vs weights formed
explicitly (two matrix products and a softmax, ``mmib.encoders.attention.explicit_attention``).

    python benchmarks/attention_cpu.py

bert-base's heads (12 x 64), 4,096 tokens per call split into sequences of T tokens (and the
median MOSI training batch, 32 x 12), fp32 and bf16, forward without gradient (evaluation)
and forward + backward (training), no dropout, a quarter of the sequences padded by a
quarter. Prints ms per call and writes Markdown + JSON under ``benchmarks/results/``.
``EXPLICIT_MAX_KEYS`` in ``encoders/attention.py`` comes from this table: the longest T at
which the explicit form was faster, per case.

A second table times the softmax of the explicit form alone, (32, H, T, T) weights for
bert-base's 12 heads and the acoustic/visual Transformers' 5: torch's last-dimension kernel
vs the same softmax over the transposed view (``encoders.attention.softmax_keys``), whose
``SOFTMAX_TRANSPOSED_KEYS`` (fp32 only, per torch CPU capability) are the lengths T at which
the transposed one won every fp32 case on a CPU of that capability. ``--softmax-only`` runs just that table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import best_ms, machine_info  # noqa: E402

from mmib.encoders.attention import (  # noqa: E402
    EXPLICIT_MAX_KEYS,
    SOFTMAX_TRANSPOSED_KEYS,
    explicit_attention,
)


def case(B: int, T: int, dtype: torch.dtype, grad: bool, repeats: int) -> dict:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, 12, T, 64, generator=g).to(dtype).requires_grad_(grad) for _ in range(3))
    mask = torch.ones(B, 1, T, T, dtype=torch.bool)
    mask[: max(1, B // 4), :, :, T - max(1, T // 4):] = False
    up = torch.randn(B, 12, T, 64, generator=g).to(dtype)

    def run(fn):
        def once():
            with torch.set_grad_enabled(grad):
                out = fn(q, k, v)
                if grad:
                    out.backward(up)
        return best_ms(once, repeats)

    fused = run(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask))
    explicit = run(lambda a, b, c: explicit_attention(a, b, c, mask, 0.0))
    return {"B": B, "T": T, "dtype": str(dtype).removeprefix("torch."), "grad": grad,
            "fused_ms": round(fused, 3), "explicit_ms": round(explicit, 3), "explicit_faster": explicit < fused}


def softmax_case(H: int, T: int, dtype: torch.dtype, grad: bool, repeats: int) -> dict:
    w = torch.randn(32, H, T, T, generator=torch.Generator().manual_seed(0)).to(dtype).requires_grad_(grad)
    up = torch.randn(32, H, T, T).to(dtype)

    def run(fn):
        def once():
            with torch.set_grad_enabled(grad):
                out = fn(w)
                if grad:
                    out.backward(up)
        return best_ms(once, repeats)

    last = run(lambda x: torch.softmax(x, dim=-1))
    transposed = run(lambda x: torch.softmax(x.transpose(-1, -2), dim=-2).transpose(-1, -2))
    return {"H": H, "T": T, "dtype": str(dtype).removeprefix("torch."), "grad": grad, "last_dim_ms": round(last, 3),
            "transposed_ms": round(transposed, 3), "transposed_faster": transposed < last}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[8, 16, 32, 48, 64, 128, 256, 512])
    p.add_argument("--softmax-lengths", type=int, nargs="+", default=[4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 20, 24, 32])
    p.add_argument("--softmax-only", action="store_true", help="only the softmax table")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = dt.datetime.now(dt.timezone.utc)
    shapes = [(32, 12)] + [(max(1, 4096 // T), T) for T in args.lengths]
    rows = [] if args.softmax_only else [case(B, T, dtype, grad, args.repeats) for grad in (False, True)
                                         for dtype in (torch.float32, torch.bfloat16) for B, T in shapes]
    head = "| pass | dtype | B x T | fused ms | explicit ms | explicit / fused |\n|---|---|---|---|---|---|"
    lines = [head] + [f"| {'fwd+bwd' if r['grad'] else 'fwd, no grad'} | {r['dtype']} | {r['B']} x {r['T']} | "
                      f"{r['fused_ms']:.2f} | {r['explicit_ms']:.2f} | {r['explicit_ms'] / r['fused_ms']:.2f} |"
                      for r in rows]
    wins = {}
    for r in rows:
        if r["B"] * r["T"] >= 4096 or r["T"] == 12:
            key = f"{r['dtype']} {'with' if r['grad'] else 'without'} gradient"
            if r["explicit_faster"]:
                wins[key] = max(wins.get(key, 0), r["T"])
    soft = [softmax_case(H, T, dtype, grad, args.repeats) for grad in (False, True)
            for dtype in (torch.float32, torch.bfloat16) for H in (12, 5) for T in args.softmax_lengths]
    soft_lines = ["| pass | dtype | weights | last-dim ms | transposed ms | transposed / last-dim |",
                  "|---|---|---|---|---|---|"] + [
        f"| {'fwd+bwd' if r['grad'] else 'fwd, no grad'} | {r['dtype']} | 32 x {r['H']} x {r['T']} x {r['T']} | "
        f"{r['last_dim_ms']:.3f} | {r['transposed_ms']:.3f} | {r['transposed_ms'] / r['last_dim_ms']:.2f} |"
        for r in soft]
    soft_win = {dtype: [T for T in sorted(args.softmax_lengths)
                        if all(r["transposed_faster"] for r in soft if r["T"] == T and r["dtype"] == dtype)]
                for dtype in ("float32", "bfloat16")}
    report = {"date": started.isoformat(timespec="seconds"), "machine": machine_info(torch.device("cpu")),
              "threads": torch.get_num_threads(), "rows": rows, "longest_T_explicit_faster": wins,
              "EXPLICIT_MAX_KEYS": EXPLICIT_MAX_KEYS, "softmax_rows": soft,
              "T_transposed_softmax_faster_everywhere": soft_win,
              "SOFTMAX_TRANSPOSED_KEYS": {k: list(v) for k, v in SOFTMAX_TRANSPOSED_KEYS.items()}}
    text = "\n".join([f"# attention on CPU, {started:%Y-%m-%d %H:%M} UTC", "",
                      f"Machine: {json.dumps(report['machine'])}; {report['threads']} threads.", "", *lines, "",
                      f"Longest T where the explicit form was faster: {json.dumps(wins)}.",
                      f"mmib's limits (encoders/attention.py EXPLICIT_MAX_KEYS): {json.dumps(EXPLICIT_MAX_KEYS)}.", "",
                      "## softmax of the weights", "", *soft_lines, "",
                      f"Lengths T at which the transposed softmax was faster in every case: {json.dumps(soft_win)} "
                      f"(encoders/attention.py SOFTMAX_TRANSPOSED_KEYS, fp32, by torch's CPU capability: "
                      f"{json.dumps(report['SOFTMAX_TRANSPOSED_KEYS'])}; this CPU: "
                      f"{torch.backends.cpu.get_cpu_capability()}).", ""])
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"attention_cpu_{started:%Y%m%d-%H%M}"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
