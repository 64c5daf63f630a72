"""What bf16 autocast's weight casts cost in a training step, on the model's own weights.

    python benchmarks/cast_cost.py --encoder bert-base-config

Under autocast every forward pass makes a bf16 copy of each matrix weight, and the backward
pass turns each weight's bf16 gradient back into fp32. This script builds the default path
(C-MIB + concat on MOSI-sized ``synth``, ``train.precision = bf16``), times plain training
steps at the median padded length (batch 32, no profiler), then times those two
conversions over the same weights (every parameter with two or more dimensions that
requires a gradient and is used by a matrix product, i.e. not the embedding tables) and the
optimizer step alone. Prints each as ms per step and as a share of the step, and writes
Markdown + JSON under ``benchmarks/results/`` with the machine.

These conversions are pure memory traffic (6 bytes per weight each way); removing them
needs bf16 weights kept in step with fp32 master weights inside the optimizer's own pass.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import COMMON, PATHS, best_ms, machine_info  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", default="bert-base-config")
    p.add_argument("--steps", type=int, default=4, help="timed training steps (after 3 untimed ones)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from mmib import config as C
    from mmib.data import batch_order, collate
    from mmib.engine import Experiment
    from mmib.engine.loop import train_step
    from mmib.engine.seed import epoch_generator

    overrides = COMMON + [f"model.text_encoder='{args.encoder}'"] + PATHS["default"] + ["train.precision='bf16'"]
    s = Experiment.build(C.apply_overrides(C.ExperimentConfig(), overrides))
    train = s.examples("train")
    opt, _ = s.make_optimizer()
    order = batch_order(train, 32, shuffle=True, generator=epoch_generator(0, 0), bucket=True)
    full = sorted((b for b in order if len(b) == 32), key=lambda b: max(len(train[i].inputs["text"]) for i in b))
    b = collate([train[i] for i in full[len(full) // 2]], s.cfg.data.modalities, s.pad_to).to(s.device)
    s.model.train()
    for _ in range(3):
        train_step(s.model, s.objective, opt, b, amp=s.amp)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        train_step(s.model, s.objective, opt, b, amp=s.amp)
    step_ms = (time.perf_counter() - t0) / args.steps * 1e3

    embeddings = {id(m.weight) for m in s.model.modules() if isinstance(m, torch.nn.Embedding)}
    weights = [w.detach() for w in s.model.parameters() if w.requires_grad and w.dim() >= 2 and id(w) not in embeddings]
    halves = [w.to(torch.bfloat16) for w in weights]
    fulls = [torch.empty_like(w) for w in weights]

    def to_bf16():
        for w in weights:
            w.to(torch.bfloat16)

    def to_fp32():
        for h, f in zip(halves, fulls):
            f.copy_(h)

    cast_ms = best_ms(to_bf16, args.repeats)
    back_ms = best_ms(to_fp32, args.repeats)
    opt_ms = best_ms(opt.step, args.repeats)
    n = sum(w.numel() for w in weights)
    rows = [("weights fp32 -> bf16 (forward)", cast_ms), ("gradients bf16 -> fp32 (backward)", back_ms),
            ("optimizer step", opt_ms)]
    started = dt.datetime.now().astimezone()
    m = machine_info(s.device)
    text = (f"# cast cost: {args.encoder}, default path, bf16 autocast, {started:%Y-%m-%d %H:%M %Z}\n\n"
            f"Machine: {json.dumps(m)}\n\n"
            f"Training step at padded length {tuple(b.inputs['text'].shape)}: {step_ms:.0f} ms (mean of {args.steps}, "
            f"no profiler). Matrix weights: {len(weights)} tensors, {n / 1e6:.1f} M values.\n\n"
            "| part | ms per step (best of %d) | share of the step |\n|---|---|---|\n" % args.repeats
            + "".join(f"| {k} | {v:.1f} | {v / step_ms:.1%} |\n" for k, v in rows))
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"cast_cost_{args.encoder}_{started:%Y%m%d-%H%M}"
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps({"machine": m, "encoder": args.encoder, "step_ms": step_ms,
                                                  "shape": list(b.inputs["text"].shape), "weights": len(weights),
                                                  "values": n, "parts_ms": dict(rows)}, indent=2))
    print(f"wrote {out / stem}.md and .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
