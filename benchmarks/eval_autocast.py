"""Evaluation with one autocast region around all batches vs a region per batch (``predict``) vs bf16 weights.

    python benchmarks/eval_autocast.py --encoder bert-base-config --repeats 3

Under bf16 autocast every weight is cast to bf16 when first used in a region and the copy
is reused until the region ends. ``predict`` enters a region per batch; wrapping the
whole call in an outer region (nested regions do not clear the cache) casts each weight
once per evaluation. Measured 2026-12-02: no gain (docs/speed.md), so ``predict`` keeps its
per-batch regions. The third variant evaluates a bf16 copy of the model (per-batch
regions still cast the fp32 inputs), so no weight is cast at all; it also reports the
largest difference of its predictions from the autocast ones. Same test utterances,
interleaved repeats; prints utt/s of each and writes JSON under ``benchmarks/results/``.
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
    import copy

    import numpy as np

    fp32_model = s.model
    bf16_model = copy.deepcopy(fp32_model).to(torch.bfloat16)
    ref = s.predict(test).pred
    s.model = bf16_model
    s.predict(test[:64])
    diff = float(np.abs(s.predict(test).pred - ref).max())
    s.model = fp32_model
    times: dict[str, list[float]] = {"one region": [], "a region per batch": [], "bf16 weights": []}
    for _ in range(args.repeats):
        s.model = bf16_model
        t0 = time.perf_counter()
        s.predict(test)
        times["bf16 weights"].append(time.perf_counter() - t0)
        s.model = fp32_model
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
    print(f"bf16 weights vs autocast: largest difference of a prediction {diff:.2g}")
    started = dt.datetime.now().astimezone()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    f = out / f"eval_autocast_{args.encoder}_{started:%Y%m%d-%H%M}.json"
    f.write_text(json.dumps({"date": started.isoformat(timespec="seconds"), "machine": machine_info(s.device),
                             "encoder": args.encoder, "seconds": times, "utt_per_s": rates,
                             "bf16_weights_max_abs_diff": diff,
                             "utterances": len(test)}, indent=1))
    print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
