"""C-MIB vs the no-IB baseline on `synth` with strongly noisy acoustic and visual channels.

The question (issue 5, paper Fig. 5): when two of three modalities carry heavy label-free
nuisance, does the information bottleneck help, and do the KL terms of the noisy
modalities fall further over training than the text one?

Every run is a normal ``mmib.engine.fit`` run (model selection on validation loss, test
metrics of the selected epoch) written under ``--out``; a finished run is reused, a
stopped one is resumed, so the script can be re-run after an interruption. The dataset
is the same for every run (``data.synth.seed`` = 0); ``train.seed`` varies the model
initialisation and the batch order.

Usage (the headline configuration of docs/results_synth.md; about 9 minutes on 2 busy
CPU cores)::

    python -W ignore experiments/synth_noise.py --out runs/synth_noise_minilm

The clean-channel control and the first (tiny-encoder) attempt of the same document::

    python -W ignore experiments/synth_noise.py --out runs/synth_noise_minilm_clean --noise 0 --betas 1e-3
    python -W ignore experiments/synth_noise.py --out runs/synth_noise --text-encoder tiny-config --no-freeze-text

Prints two markdown tables (test metrics as mean +/- std over seeds; KL per bottleneck
at the first and last epoch) and writes ``results.json`` next to the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from mmib import config as config_mod
from mmib.engine import fit


def base_overrides(args: argparse.Namespace) -> list[str]:
    return [
        f"model.text_encoder='{args.text_encoder}'",
        f"model.freeze_text_encoder={str(args.freeze_text).lower()}",
        f"data.synth.audio_noise={args.noise}",
        f"data.synth.visual_noise={args.noise}",
        f"data.synth.n_train={args.sizes[0]}",
        f"data.synth.n_valid={args.sizes[1]}",
        f"data.synth.n_test={args.sizes[2]}",
        f"train.epochs={args.epochs}",
        f"train.num_threads={args.threads}",
        "train.progress=false",
        f"optim.lr={args.lr}",
        f"optim.text_lr={args.text_lr}",
        f"out_dir='{args.out}'",
    ] + list(args.set)


def runs(args: argparse.Namespace) -> list[tuple[str, str, float, int]]:
    """(run name, variant, beta, seed) for every run of the comparison."""
    out = []
    for seed in args.seeds:
        out.append((f"noib-s{seed}", "noib", 0.0, seed))
        for beta in args.betas:
            out.append((f"cmib-b{beta:g}-s{seed}", "cmib", beta, seed))
    return out


def run_one(args: argparse.Namespace, name: str, variant: str, beta: float, seed: int) -> dict[str, Any]:
    run_dir = Path(args.out) / name
    if (run_dir / "summary.json").exists():
        return json.loads((run_dir / "summary.json").read_text())
    if (run_dir / "state.pt").exists():
        return fit(config_mod.ExperimentConfig(), run_dir=run_dir, resume=True).summary
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), base_overrides(args) + [
        f"name='{name}'", f"model.variant='{variant}'", f"objective.beta={beta}", f"train.seed={seed}"])
    return fit(cfg, run_dir=run_dir, overwrite=True).summary


def kl_curve(run_dir: Path) -> dict[str, list[float]]:
    """Mean training KL per bottleneck per epoch, from metrics.jsonl."""
    curves: dict[str, list[float]] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        for k, v in rec["train"].items():
            if k.startswith("kl/"):
                curves.setdefault(k[3:], []).append(v)
    return curves


def mean_std(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.3f} +/- {sd:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/synth_noise")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--betas", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1])
    p.add_argument("--noise", type=float, default=3.0, help="data.synth.audio_noise = visual_noise")
    p.add_argument("--sizes", type=int, nargs=3, default=[600, 150, 300], metavar=("TRAIN", "VALID", "TEST"))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--text-encoder", default="minilm",
                   help="minilm = the offline pretrained all-MiniLM-L6-v2 (default)")
    p.add_argument("--freeze-text", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the text encoder's weights fixed (default: frozen, for CPU time)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--text-lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every run, e.g. model.freeze_text_encoder=true")
    args = p.parse_args(argv)

    t0 = time.time()
    results: list[dict[str, Any]] = []
    for name, variant, beta, seed in runs(args):
        t = time.time()
        s = run_one(args, name, variant, beta, seed)
        row = {"name": name, "variant": variant, "beta": beta, "seed": seed,
               "best_epoch": s["best_epoch"], "test": s["test"], "kl": kl_curve(Path(args.out) / name)}
        results.append(row)
        print(f"# {name}: test MAE {s['test']['MAE']:.3f} Corr {s['test']['Corr']:.3f} "
              f"(best epoch {s['best_epoch'] + 1}, {time.time() - t:.0f}s)", file=sys.stderr, flush=True)
    Path(args.out, "results.json").write_text(json.dumps({"args": vars(args), "runs": results}, indent=2))

    print(f"configuration: {' '.join(base_overrides(args))}; seeds {args.seeds}\n")
    print("| model | beta | test MAE | test Corr | Acc2 (non0) | Acc7 | best epochs |")
    print("|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in results:
        groups.setdefault((r["variant"], r["beta"]), []).append(r)
    for (variant, beta), rs in groups.items():
        col = lambda k: mean_std([r["test"][k] for r in rs])  # noqa: E731
        print(f"| {variant} | {beta:g} | {col('MAE')} | {col('Corr')} | {col('Non0_acc_2')} | "
              f"{col('Mult_acc_7')} | {', '.join(str(r['best_epoch'] + 1) for r in rs)} |")

    print("\nTraining KL per bottleneck (epoch mean), mean over seeds: first epoch -> last epoch "
          "(ratio last/first)\n")
    print("| beta | text | audio | visual | fused |")
    print("|---|---|---|---|---|")
    for (variant, beta), rs in groups.items():
        if variant != "cmib":
            continue
        cells = []
        for m in ("text", "audio", "visual", "fused"):
            first = statistics.mean(r["kl"][m][0] for r in rs)
            last = statistics.mean(r["kl"][m][-1] for r in rs)
            cells.append(f"{first:.3f} -> {last:.3f} ({last / first:.3f})")
        print(f"| {beta:g} | " + " | ".join(cells) + " |")
    print("\nPer seed, last epoch: is a noisy modality's KL below the text one?\n")
    for (variant, beta), rs in groups.items():
        if variant != "cmib":
            continue
        below = {m: sum(r["kl"][m][-1] < r["kl"]["text"][-1] for r in rs) for m in ("audio", "visual")}
        print(f"- beta {beta:g}: audio < text in {below['audio']}/{len(rs)} seeds, "
              f"visual < text in {below['visual']}/{len(rs)} seeds")
    print(f"\ntotal time {time.time() - t0:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
