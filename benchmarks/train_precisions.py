"""Short ``mmib train`` runs of the demo in each precision: one table of time, memory and metrics.

    python benchmarks/train_precisions.py --device cuda                    # fp32 bf16 fp16 bf16+compile
    python benchmarks/train_precisions.py --device cpu --variants fp32 bf16 --epochs 1

Each variant is the real command line (``mmib train -c configs/demo.toml --set ...``) in its
own process on the MOSI-sized synth data with the pretrained MiniLM, so the run folder's
summary.json gives the test metrics and the recorded precision; the wall time of the
process and its peak memory (GPU: torch.cuda.max_memory_allocated, read back from the run's
metrics; CPU: the child's peak RSS) go beside them. fp16 uses a GradScaler (wired for CUDA
only). Writes Markdown + JSON under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import machine_info  # noqa: E402

VARIANTS = {
    "fp32": ["train.precision='fp32'"],
    "bf16": ["train.precision='bf16'"],
    "fp16": ["train.precision='fp16'"],
    "bf16+compile": ["train.precision='bf16'", "train.compile=true"],
    "auto": ["train.precision='auto'"],
}
METRICS = ["MAE", "Corr", "Non0_acc_2", "Mult_acc_7"]


def run_variant(name: str, args: argparse.Namespace, out_dir: str) -> dict:
    cmd = [sys.executable, "-m", "mmib", "train", "-c", str(ROOT.parent / "configs" / "demo.toml"), "-q",
           "--name", name.replace("+", "-"), "--out-dir", out_dir, "--device", args.device,
           "--epochs", str(args.epochs)] + [a for kv in VARIANTS[name] for a in ("--set", kv)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    row: dict = {"variant": name, "command": " ".join(cmd[1:]), "wall_s": wall,
                 "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20}
    if proc.returncode != 0:
        row["error"] = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]
        return row
    run = Path(out_dir) / name.replace("+", "-")
    summary = json.loads((run / "summary.json").read_text())
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    row.update({"precision": summary.get("precision", {}), "test": {m: summary["test"].get(m) for m in METRICS},
                "epoch_s": [e["seconds"] for e in epochs]})
    return row


def table(rows: list[dict]) -> str:
    head = "| variant | precision used | s per epoch (first, last) | wall s | peak RSS GB (max so far) | " + \
        " | ".join(METRICS) + " |"
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['variant']} | error: {r['error'][0][:100]} |")
            continue
        ep = r["epoch_s"]
        out.append(f"| {r['variant']} | {r['precision'].get('used', '?')} | {ep[0]:.1f}, {ep[-1]:.1f} | {r['wall_s']:.0f} "
                   f"| {r['peak_rss_gb']:.2f} | " + " | ".join(f"{r['test'][m]:.3f}" for m in METRICS) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--variants", nargs="+", default=["fp32", "bf16", "fp16", "bf16+compile"], choices=list(VARIANTS))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    import torch

    started = dt.datetime.now().astimezone()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmib-precisions-") as tmp:
        for v in args.variants:
            rows.append(run_variant(v, args, tmp))
            print(f"  {v:<14} " + (f"error: {rows[-1]['error'][0]}" if "error" in rows[-1] else
                                   f"{rows[-1]['wall_s']:.0f} s, MAE {rows[-1]['test']['MAE']:.3f}"), flush=True)
    m = machine_info(torch.device(args.device if args.device != "cuda" or torch.cuda.is_available() else "cpu"))
    text = "\n".join([f"# mmib train per precision, {started:%Y-%m-%d %H:%M %Z}", "",
                      f"Machine: {m['cpu']} ({' '.join(m['isa'])})" + (f", GPU {m['gpu']}" if "gpu" in m else "")
                      + f"; torch {m['torch']}. configs/demo.toml, {args.epochs} epochs, --device {args.device}.", "",
                      table(rows), ""])
    print("\n" + text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"train_precisions_{args.device.split(':')[0]}_{started:%Y%m%d-%H%M}"
    (out / f"{stem}.json").write_text(json.dumps({"date": started.isoformat(timespec="seconds"), "machine": m,
                                                  "settings": vars(args), "rows": rows}, indent=1))
    (out / f"{stem}.md").write_text(text)
    print(f"wrote {out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
