"""How fast the default path could be if everything but its matrix products were free.

    python benchmarks/matmul_floor.py --encoder bert-base-config

For the reference protocol and the default path (``benchmarks/speed.py``'s ``PATHS``; the
default in the precision ``auto`` picks here) this script, each in its own subprocess:

1. times plain training steps on the median-length full batch of 32 (no profiler) and one
   whole evaluation of the test split (``Setup.predict``, the path's own batching);
2. records every matrix product those run (``aten::mm``, ``addmm``, ``bmm``, ``baddbmm``,
   ``convolution``: shapes, strides, dtype, with a ``TorchDispatchMode``, so the backward
   pass's products and autocast's bf16 operands are seen as the kernels see them);
3. replays each distinct product alone on fresh tensors of the same layout, best of
   ``--repeats``, and sums them over the step (the evaluation);
4. times steps on the same batch cut to ``--batch-sizes`` utterances and fits a line: the
   cost of a step whatever its size (optimizer, weight casts, the per-operator overhead of
   eager PyTorch) and the cost per utterance.

That sum is the **matmul floor**: the time of the products alone, with warm caches and
nothing between them, so faster than any real step. The reference's measured step over the
default's floor is therefore an upper bound on the default path's speed-up on this machine
at its current amount of work; no kernel outside the products can move it. The square-matmul
peak of each dtype is measured in the same run for scale. Markdown + JSON with the machine go
to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import COMMON, PATHS, best_ms, machine_info, peak_matmul, write_results  # noqa: E402


def _layout(x):
    import torch

    if isinstance(x, torch.Tensor):
        return ("T", tuple(x.shape), tuple(x.stride()), str(x.dtype).replace("torch.", ""))
    if isinstance(x, (list, tuple)):
        return tuple(_layout(v) for v in x)
    return x


def recorder():
    """A dispatch mode that counts matrix products by (op, operand layouts, other args)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    ops = {aten.mm.default: "mm", aten.addmm.default: "addmm", aten.bmm.default: "bmm",
           aten.baddbmm.default: "baddbmm", aten.convolution.default: "convolution"}

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls: Counter = Counter()
            self.funcs: dict = {}

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in ops:
                key = (ops[func], _layout(args), _layout(tuple(sorted(kwargs.items()))))
                self.calls[key] += 1
                self.funcs[key[0]] = func
            return func(*args, **kwargs)

    return Record()


def _fresh(layout, device):
    import torch

    if isinstance(layout, tuple) and layout and layout[0] == "T":
        _, shape, stride, dtype = layout
        t = torch.empty_strided(shape, stride, dtype=getattr(torch, dtype), device=device)
        return t.normal_() if t.is_floating_point() else t.zero_()
    if isinstance(layout, tuple):
        return tuple(_fresh(v, device) for v in layout)
    return layout


def replay(rec, device, repeats: int) -> dict:
    """Best-of time of each recorded product alone; totals by op and its FLOPs."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    by_op: dict = {}
    total_ms = total_flops = 0.0
    rows = []
    for key, count in rec.calls.items():
        name, args_l, kwargs_l = key
        func = rec.funcs[name]
        args = [_fresh(a, device) for a in args_l]
        kwargs = {k: _fresh(v, device) for k, v in kwargs_l}
        with torch.no_grad():
            counter = FlopCounterMode(display=False)
            with counter:
                func(*args, **kwargs)
            flops = counter.get_total_flops()
            ms = best_ms(lambda: func(*args, **kwargs), repeats)
        total_ms += ms * count
        total_flops += flops * count
        agg = by_op.setdefault(name, {"calls": 0, "ms": 0.0, "gflop": 0.0})
        agg["calls"] += count
        agg["ms"] += ms * count
        agg["gflop"] += flops * count / 1e9
        rows.append({"op": name, "shapes": [a[1] for a in args_l if isinstance(a, tuple) and a and a[0] == "T"],
                     "dtype": next((a[3] for a in args_l if isinstance(a, tuple) and a and a[0] == "T"), ""),
                     "calls": count, "ms_each": ms, "gflops": flops / ms / 1e6 if ms else 0.0})
    rows.sort(key=lambda r: -r["ms_each"] * r["calls"])
    return {"ms": total_ms, "gflop": total_flops / 1e9, "by_op": by_op, "top": rows[:12],
            "distinct": len(rec.calls)}


def run_path(path: str, args: argparse.Namespace) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mmib import config as C
    from mmib.data import batch_order, collate
    from mmib.engine import Experiment
    from mmib.engine.loop import train_step
    from mmib.engine.seed import epoch_generator
    from mmib.engine.speed import precision_name

    overrides = COMMON + [f"model.text_encoder='{args.encoder}'"] + PATHS[path]
    s = Experiment.build(C.apply_overrides(C.ExperimentConfig(), overrides))
    dev = s.device
    train = s.examples("train")
    opt, _ = s.make_optimizer()
    order = batch_order(train, 32, shuffle=True, generator=epoch_generator(0, 0), bucket=s.cfg.data.bucket)
    full = sorted((b for b in order if len(b) == 32), key=lambda b: max(len(train[i].inputs["text"]) for i in b))
    b = collate([train[i] for i in full[len(full) // 2]], s.cfg.data.modalities, s.pad_to).to(dev)
    s.model.train()
    for _ in range(args.warmup):
        train_step(s.model, s.objective, opt, b, amp=s.amp)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        train_step(s.model, s.objective, opt, b, amp=s.amp)
        times.append(time.perf_counter() - t0)
    rec = recorder()
    with rec:
        train_step(s.model, s.objective, opt, b, amp=s.amp)
    step_floor = replay(rec, dev, args.repeats)
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(s.model, s.objective, opt, b, amp=s.amp)
    step_floor["gflop_counted"] = counter.get_total_flops() / 1e9

    # the same batch cut to fewer utterances: a line through (batch size, step time) splits
    # the step into a cost per step (optimizer, weight casts, per-op overhead) and one per utterance
    by_batch = {}
    for n in sorted(set(args.batch_sizes)):
        sub = collate([train[i] for i in full[len(full) // 2][:n]], s.cfg.data.modalities, s.pad_to).to(dev)
        train_step(s.model, s.objective, opt, sub, amp=s.amp)
        best = float("inf")
        for _ in range(args.steps):
            t0 = time.perf_counter()
            train_step(s.model, s.objective, opt, sub, amp=s.amp)
            best = min(best, time.perf_counter() - t0)
        by_batch[n] = best * 1e3
    fit = {}
    if len(by_batch) >= 2:
        xs, ys = list(by_batch), list(by_batch.values())
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        fit = {"per_step_ms": my - slope * mx, "per_utt_ms": slope}

    test = s.examples("test")
    s.predict(test)  # warm-up: every evaluation batch shape once
    t0 = time.perf_counter()
    s.predict(test)
    eval_s = time.perf_counter() - t0
    rec = recorder()
    with rec:
        s.predict(test)
    eval_floor = replay(rec, dev, args.repeats)
    return {"path": path, "precision": precision_name(s.amp), "shape": list(b.inputs["text"].shape),
            "step_ms": min(times) * 1e3, "step_ms_all": [t * 1e3 for t in times], "step_floor": step_floor,
            "step_ms_by_batch": by_batch, "step_fit": fit,
            "eval_utts": len(test), "eval_ms": eval_s * 1e3, "eval_floor": eval_floor}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", default="bert-base-config")
    p.add_argument("--paths", nargs="+", default=["reference", "default"], choices=sorted(PATHS))
    p.add_argument("--steps", type=int, default=4, help="timed training steps (best counts)")
    p.add_argument("--warmup", type=int, default=4, help="untimed training steps first")
    p.add_argument("--repeats", type=int, default=5, help="replays of each distinct product (best counts)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 8, 32],
                   help="also time steps on the median batch cut to these sizes (cost per step vs per utterance)")
    p.add_argument("--out", default=str(ROOT / "results"))
    p.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        print("RESULT " + json.dumps(run_path(args.child, args)), flush=True)
        return 0

    import torch

    started = dt.datetime.now().astimezone()
    device = torch.device("cpu")
    peaks = {"fp32": peak_matmul(torch.float32, device), "bf16": peak_matmul(torch.bfloat16, device)}
    print("peak matmul GFLOP/s: " + ", ".join(f"{k} {v['gflops']}" for k, v in peaks.items()), flush=True)
    results = []
    for path in args.paths:
        cmd = [sys.executable, __file__, "--child", path, "--encoder", args.encoder, "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--repeats", str(args.repeats),
               "--batch-sizes", *map(str, args.batch_sizes)]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"{path}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        results.append(json.loads(lines[-1][len("RESULT "):]))
        r = results[-1]
        print(f"{path}: step {r['step_ms']:.0f} ms, its matmuls alone {r['step_floor']['ms']:.0f} ms; "
              f"evaluation {r['eval_ms']:.0f} ms, its matmuls alone {r['eval_floor']['ms']:.0f} ms", flush=True)
    m = machine_info(device)
    text = [f"# matmul floor: {args.encoder}, {started:%Y-%m-%d %H:%M %Z}", "",
            f"Machine: {json.dumps(m)}", "",
            "Square-matmul peak: " + ", ".join(f"{k} {v['gflops']} GFLOP/s" for k, v in peaks.items()) + ".", "",
            "| path | precision | batch | step ms | its matmuls alone ms | matmul GFLOP/s | % of dtype peak "
            "| rest of the step ms | eval ms | its matmuls alone ms | rest ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        f, e = r["step_floor"], r["eval_floor"]
        rate = f["gflop"] / f["ms"] * 1e3 if f["ms"] else 0.0
        peak = peaks.get(r["precision"], peaks["fp32"])["gflops"]
        text.append(f"| {r['path']} | {r['precision']} | {tuple(r['shape'])} | {r['step_ms']:.0f} | {f['ms']:.0f} "
                    f"| {rate:.0f} | {100 * rate / peak:.0f} | {r['step_ms'] - f['ms']:.0f} | {r['eval_ms']:.0f} "
                    f"| {e['ms']:.0f} | {r['eval_ms'] - e['ms']:.0f} |")
    by = {r["path"]: r for r in results}
    if "reference" in by:
        ref = by["reference"]
        text.append("")
        for r in results:
            if r["path"] == "reference":
                continue
            text.append(f"- {r['path']}: training step {ref['step_ms'] / r['step_ms']:.2f}x the reference's as "
                        f"measured; with everything but its matmuls free, at most "
                        f"**{ref['step_ms'] / r['step_floor']['ms']:.2f}x**. Evaluation "
                        f"{ref['eval_ms'] / r['eval_ms']:.2f}x as measured, at most "
                        f"**{ref['eval_ms'] / r['eval_floor']['ms']:.2f}x**.")
    text += ["", "Products recorded vs `FlopCounterMode` over the same step (a check that the recording saw "
             "every product): " + "; ".join(f"{r['path']} {r['step_floor']['gflop']:.1f} vs "
                                             f"{r['step_floor']['gflop_counted']:.1f} GFLOP" for r in results) + ".",
             "", "Training step time by batch size (the median batch cut short; best of "
             f"{args.steps}), and a line through them:", "",
             "| path | " + " | ".join(f"batch {n} ms" for n in sorted(set(args.batch_sizes))) + " | ms per step | ms per utterance |",
             "|---|" + "---|" * (len(set(args.batch_sizes)) + 2)]
    for r in results:
        fit = r["step_fit"]
        text.append(f"| {r['path']} | " + " | ".join(f"{v:.0f}" for v in r["step_ms_by_batch"].values())
                    + f" | {fit.get('per_step_ms', float('nan')):.0f} | {fit.get('per_utt_ms', float('nan')):.1f} |")
    for r in results:
        text += ["", f"## {r['path']}: the step's matmuls, by op", "",
                 "| op | calls | ms | GFLOP |", "|---|---|---|---|"]
        text += [f"| {k} | {v['calls']} | {v['ms']:.1f} | {v['gflop']:.1f} |" for k, v in r["step_floor"]["by_op"].items()]
        text += ["", "Largest products (ms each x calls):", "", "| op | shapes | dtype | calls | ms each | GFLOP/s |",
                 "|---|---|---|---|---|---|"]
        text += [f"| {t['op']} | {t['shapes']} | {t['dtype']} | {t['calls']} | {t['ms_each']:.2f} | {t['gflops']:.0f} |"
                 for t in r["step_floor"]["top"][:8]]
    write_results(args.out, f"matmul_floor_{args.encoder}_{started:%Y%m%d-%H%M}", "\n".join(text) + "\n",
                  {"machine": m, "peaks": peaks, "results": results,
                   "settings": {k: v for k, v in vars(args).items() if k != "child"}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
