"""Evaluation with one autocast region around all batches vs a region per batch (``predict``).

    python benchmarks/eval_autocast.py --encoder bert-base-config --repeats 3

Under bf16 autocast every weight is cast to bf16 when first used in a region and the copy
is reused until the region ends. ``predict`` enters a region per batch; wrapping the
whole call in an outer region (nested regions do not clear the cache) casts each weight
once per evaluation. Measured 2026-12-02: no gain (docs/speed.md), so ``predict`` keeps its
per-batch regions. Same model and test utterances, interleaved repeats; prints utt/s of
each and writes JSON under ``benchmarks/results/``.
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
from speed import COMMON, machine_info  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", default="bert-base-config")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmib import config as C
    import torch

    from mmib.engine import Experiment

    cfg = C.apply_overrides(C.ExperimentConfig(), COMMON + [f"model.text_encoder='{args.encoder}'",
                                                            "train.precision='bf16'"])
    s = Experiment.build(cfg)
    test = s.examples("test")
    s.predict(test[:64])
    times: dict[str, list[float]] = {"one region": [], "a region per batch": []}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with torch.autocast(s.device.type, dtype=torch.bfloat16):
            s.predict(test)
        times["one region"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s.predict(test)
        times["a region per batch"].append(time.perf_counter() - t0)
    rates = {k: len(test) / min(v) for k, v in times.items()}
    for k, v in rates.items():
        print(f"{k:>20}: {v:7.1f} utt/s (best of {args.repeats}; {len(test)} utterances)")
    started = dt.datetime.now().astimezone()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    f = out / f"eval_autocast_{args.encoder}_{started:%Y%m%d-%H%M}.json"
    f.write_text(json.dumps({"date": started.isoformat(timespec="seconds"), "machine": machine_info(s.device),
                             "encoder": args.encoder, "seconds": times, "utt_per_s": rates,
                             "utterances": len(test)}, indent=1))
    print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
