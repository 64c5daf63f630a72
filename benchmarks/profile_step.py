"""Where the time of a training step and of evaluation goes: ``torch.profiler`` tables.

    python benchmarks/profile_step.py --encoder bert-base-config --precision bf16
    python benchmarks/profile_step.py --encoder minilm --precision fp32 --top 25

Builds the default path (C-MIB + concat on MOSI-sized ``synth``, batch 32), runs a few
warm-up steps, then profiles ``--steps`` training steps on batches of median padded length
and one evaluation pass over ``--eval-utts`` test utterances. Prints the top operators by
self CPU time (the time spent in the operator itself, not its children) and writes the
tables to ``benchmarks/results/profile_<encoder>_<precision>_<date>.md`` with the machine.

The same steps and evaluation also run without the profiler, just before it, and both
timings are printed with the page faults per step (``getrusage``). The profiler keeps its
event records on the heap between torch's large buffers, so under it the heap grows and the
buffers land on fresh pages: page faults that a plain step does not have show up as time in
whichever operator first touches the memory (mostly ``aten::fill_`` and ``aten::copy_``).
Compare those rows with the plain timing before reading them as the step's own cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import COMMON, PATHS, machine_info  # noqa: E402


def _timed(fn, n: int) -> tuple[float, float]:
    """Seconds and minor page faults per call of ``fn()``, over ``n`` calls (``fn`` runs them)."""
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / n, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", default="bert-base-config")
    p.add_argument("--path", default="default", choices=sorted(PATHS))
    p.add_argument("--precision", default="", help="train.precision override (fp32, bf16, auto; '' = the path's)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--eval-utts", type=int, default=256)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--set", nargs="*", default=[], help="extra config overrides, e.g. train.compile=true")
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from torch.profiler import ProfilerActivity, profile

    from mmib import config as C
    from mmib.data import batch_order, collate
    from mmib.engine import Experiment
    from mmib.engine.loop import train_step
    from mmib.engine.seed import epoch_generator
    from mmib.engine.speed import precision_name

    overrides = COMMON + [f"model.text_encoder='{args.encoder}'"] + PATHS[args.path] + list(args.set)
    if args.precision:
        overrides.append(f"train.precision='{args.precision}'")
    cfg = C.apply_overrides(C.ExperimentConfig(), overrides)
    s = Experiment.build(cfg)
    dev = s.device
    train = s.examples("train")
    opt, _ = s.make_optimizer()
    order = batch_order(train, 32, shuffle=True, generator=epoch_generator(0, 0), bucket=cfg.data.bucket)
    full = sorted((b for b in order if len(b) == 32), key=lambda b: max(len(train[i].inputs["text"]) for i in b))
    mid = full[len(full) // 2 - (args.warmup + args.steps) // 2:][:args.warmup + args.steps]
    batches = [collate([train[i] for i in b], cfg.data.modalities, s.pad_to).to(dev) for b in mid]
    s.model.train()
    for b in batches[:args.warmup]:
        train_step(s.model, s.objective, opt, b, amp=s.amp)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])

    def steps() -> None:
        for b in batches[args.warmup:]:
            train_step(s.model, s.objective, opt, b, amp=s.amp)

    test = s.examples("test")[:args.eval_utts]
    s.predict(test[:32])
    plain_train, plain_train_faults = _timed(steps, args.steps)
    plain_eval, plain_eval_faults = _timed(lambda: s.predict(test), 1)
    with profile(activities=acts, record_shapes=True) as prof_train:
        train_s, train_faults = _timed(steps, args.steps)
    with profile(activities=acts, record_shapes=True) as prof_eval:
        eval_s, eval_faults = _timed(lambda: s.predict(test), 1)
    key = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    tables = {
        "train": prof_train.key_averages().table(sort_by=key, row_limit=args.top),
        "train_by_shape": prof_train.key_averages(group_by_input_shape=True).table(sort_by=key, row_limit=args.top),
        "eval": prof_eval.key_averages().table(sort_by=key, row_limit=args.top),
    }
    started = dt.datetime.now().astimezone()
    m = machine_info(dev)
    head = (f"# profile: {args.encoder}, path {args.path}, precision {precision_name(s.amp)}, "
            f"{started:%Y-%m-%d %H:%M %Z}\n\nMachine: {json.dumps(m)}\nOverrides: {overrides}\n"
            f"Training: {train_s:.3f} s per step (batch 32, padded length "
            f"{[tuple(b.inputs['text'].shape) for b in batches[args.warmup:]]}, under the profiler); "
            f"evaluation: {eval_s:.2f} s for {len(test)} utterances.\n"
            f"Without the profiler, just before: {plain_train:.3f} s per step, {plain_eval:.2f} s of evaluation. "
            f"Page faults: {plain_train_faults:,.0f} per step and {plain_eval_faults:,.0f} in evaluation without "
            f"the profiler, {train_faults:,.0f} and {eval_faults:,.0f} under it (time in the first operator that "
            "touches fresh memory, mostly fill_ and copy_; see the script's docstring).\n")
    text = head + "".join(f"\n## {k}\n\n```\n{v}\n```\n" for k, v in tables.items())
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"profile_{args.encoder}_{args.path}_{precision_name(s.amp)}_{started:%Y%m%d-%H%M}.md"
    (out / name).write_text(text)
    print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
