"""Does the fast path learn as well as the reference protocol? Full training runs on synth.

    python benchmarks/fast_vs_reference.py                 # 3 seeds, MiniLM, ~10-15 CPU minutes
    python benchmarks/fast_vs_reference.py --seeds 0 1 2 3 4 --epochs 6
    python benchmarks/fast_vs_reference.py --encoder mpnet --paths fast --seeds 0 --n-train 512 --n-valid 128 \
        --n-test 256 --tag synth-mpnet     # one encoder's accuracy on a short run (any model.text_encoder)

For each training seed, trains C-MIB + concat with the pretrained MiniLM text encoder on a
reduced synth split (same data for every seed) with ``mmib``'s real training loop (``fit``:
model selection on valid, test of the selected epoch), under

* ``reference``: the reference protocol (fixed padding to 50, last-step pooling, no
  masks, unbucketed batches, one sampled z at evaluation, fp32, for-loop Adam);
* ``fast``: mmib's defaults (dynamic padding, buckets, masked pooling, mean z, fused Adam);
* ``frozen-cached``: the fast path with the text encoder frozen and cached - another model
  (the encoder does not fine-tune), shown for its cost/accuracy trade;
* ``frozen-cached-bf16`` / ``fast-bf16`` (on request, ``--paths``): the same with bf16 autocast;
  ``fast-fp32`` / ``frozen-cached-fp32``: pinned to fp32 (``auto`` precision depends on the
  machine). The accuracy check of bf16: ``--paths fast-fp32 fast-bf16 --compare fast-bf16 fast-fp32``.

Reports per path the mean and standard deviation over seeds of the test metrics and the
wall time per run, and whether A - B (``--compare``, default fast - reference) lies within seed noise: |mean difference|
<= 2 standard errors of the difference (sqrt(sd_a^2 / n + sd_b^2 / n)). Writes Markdown and
JSON under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import PATHS, machine_info  # noqa: E402  (the same protocol definitions as the speed benchmark)

ROOT = Path(__file__).resolve().parent
METRICS = ["MAE", "Corr", "Has0_acc_2", "Non0_acc_2", "Non0_F1_score", "Mult_acc_7"]
LOWER_IS_BETTER = {"MAE"}
RUNS = {"reference": PATHS["reference"], "fast": PATHS["default"], "frozen-cached": PATHS["cached"],
        # the accuracy effect of bf16 autocast, on the path where it is cheap enough to test on CPU
        "frozen-cached-bf16": PATHS["cached-bf16"], "fast-bf16": PATHS["default-bf16"],
        # train.precision = "auto" picks per machine; these pin it (the accuracy check of bf16)
        "fast-fp32": PATHS["default-fp32"], "frozen-cached-fp32": PATHS["cached-fp32"]}


def base_overrides(args: argparse.Namespace) -> list[str]:
    return [
        f"model.text_encoder='{args.encoder}'", "model.variant='cmib'", "model.fusion='concat'",
        f"data.synth.n_train={args.n_train}", f"data.synth.n_valid={args.n_valid}",
        f"data.synth.n_test={args.n_test}", "data.synth.seed=0",
        f"train.epochs={args.epochs}", "train.batch_size=32", "train.progress=false",
        "optim.lr=1e-3", "optim.text_lr=5e-5", "objective.beta=1e-3",  # configs/demo.toml
    ]


def run_one(path: str, seed: int, args: argparse.Namespace, out_dir: str, cache_dir: str) -> dict:
    from mmib import config as C
    from mmib.engine import fit

    cfg = C.apply_overrides(C.ExperimentConfig(), base_overrides(args) + RUNS[path] + [
        f"train.seed={seed}", f"out_dir='{out_dir}'", f"name='{path}-s{seed}'",
        f"train.cache_dir='{cache_dir}'"])
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    summary = fit(cfg).summary
    return {"path": path, "seed": seed, "seconds": time.perf_counter() - t0, "load_before": load,
            "best_epoch": summary["best_epoch"], "test": {k: summary["test"][k] for k in METRICS if k in summary["test"]}}


def aggregate(runs: list[dict], paths: list[str]) -> dict:
    agg: dict = {}
    for p in paths:
        rs = [r for r in runs if r["path"] == p]
        agg[p] = {"n": len(rs), "seconds": [float(np.mean([r["seconds"] for r in rs])),
                                            float(np.std([r["seconds"] for r in rs], ddof=1)) if len(rs) > 1 else 0.0]}
        for m in METRICS:
            v = [r["test"][m] for r in rs if m in r["test"]]
            if v:
                agg[p][m] = [float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0]
    return agg


def noise_check(agg: dict, a: str, b: str) -> dict[str, dict]:
    out = {}
    if a not in agg or b not in agg:
        return out
    n = min(agg[a]["n"], agg[b]["n"])
    for m in METRICS:
        if m in agg[a] and m in agg[b]:
            diff = agg[a][m][0] - agg[b][m][0]
            se = float(np.sqrt((agg[a][m][1] ** 2 + agg[b][m][1] ** 2) / max(n, 1)))
            out[m] = {"diff": diff, "se": se, "within_noise": abs(diff) <= 2 * se}
    return out


def markdown(agg: dict, check: dict, args: argparse.Namespace, started: dt.datetime, load: tuple,
             machine: dict) -> str:
    a, b = args.compare
    paths = list(agg)
    head = "| path | " + " | ".join(METRICS) + " | s per run |"
    rows = [head, "|" + "---|" * (len(METRICS) + 2)]
    for p in paths:
        cells = [f"{agg[p][m][0]:.3f} ± {agg[p][m][1]:.3f}" if m in agg[p] else "-" for m in METRICS]
        rows.append(f"| {p} | " + " | ".join(cells) + f" | {agg[p]['seconds'][0]:.0f} ± {agg[p]['seconds'][1]:.0f} |")
    if check:
        rows.append(f"| {a} - {b} | " + " | ".join(
            f"{check[m]['diff']:+.3f} ({'within' if check[m]['within_noise'] else 'OUTSIDE'} 2 SE = {2 * check[m]['se']:.3f})"
            if m in check else "-" for m in METRICS) + " | |")
    return "\n".join([
        f"# {a} vs {b} on synth, {started:%Y-%m-%d %H:%M %Z}", "",
        f"C-MIB + concat, text encoder {args.encoder}, synth (seed 0) train/valid/test = "
        f"{args.n_train}/{args.n_valid}/{args.n_test}, {args.epochs} epochs, lr 1e-3, text lr 5e-5, "
        f"beta 1e-3, batch 32; training seeds {args.seeds}; test metrics of the epoch selected on "
        f"valid loss (MIB convention; mean ± sd over seeds). 1-minute load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after (a shared machine: times are noisy). Machine: "
        f"{machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}.", "", *rows, ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n-train", type=int, default=640)
    p.add_argument("--n-valid", type=int, default=128)
    p.add_argument("--n-test", type=int, default=400)
    p.add_argument("--paths", nargs="+", default=["reference", "fast", "frozen-cached"], choices=list(RUNS))
    p.add_argument("--compare", nargs=2, default=["fast", "reference"], metavar=("A", "B"),
                   help="the two paths whose difference is checked against seed noise")
    p.add_argument("--out", default=str(ROOT / "results"))
    p.add_argument("--tag", default="", help="suffix of the result file names")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    paths = args.paths
    started = dt.datetime.now().astimezone()
    load0 = os.getloadavg()[0]
    runs = []
    with tempfile.TemporaryDirectory(prefix="mmib-fvr-") as tmp:
        for seed in args.seeds:
            for path in paths:
                r = run_one(path, seed, args, f"{tmp}/runs", f"{tmp}/cache")
                runs.append(r)
                print(f"seed {seed} {path:<14} {r['seconds']:6.0f}s  " +
                      "  ".join(f"{k} {v:.3f}" for k, v in r["test"].items()), flush=True)
    agg = aggregate(runs, paths)
    check = noise_check(agg, *args.compare)
    import torch

    machine = machine_info(torch.device("cpu"))
    text = markdown(agg, check, args, started, (load0, os.getloadavg()[0]), machine)
    print("\n" + text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.compare[0]}_vs_{args.compare[1]}_{started:%Y%m%d-%H%M}" + (f"_{args.tag}" if args.tag else "")
    (out / f"{stem}.json").write_text(json.dumps(
        {"date": started.isoformat(timespec="seconds"), "machine": machine, "settings": vars(args), "paths": {k: RUNS[k] for k in paths},
         "runs": runs, "aggregate": agg, "difference": {"a": args.compare[0], "b": args.compare[1], **check}},
        indent=1))
    (out / f"{stem}.md").write_text(text)
    print(f"wrote {out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
