"""Evaluation speed against how much padding an evaluation batch may add.

    python benchmarks/eval_batching.py --encoders minilm bert-base-config

With dynamic padding, ``predict`` sorts utterances by length and cuts them into batches of at
most ``train.eval_batch_size`` whose padding stays within ``train.eval_max_padding`` of their
real steps. A tight bound computes little padding but makes many small batches, and every
batch has a fixed cost (autocast casts every weight to bf16 once per batch; each operator
has its overhead). For each encoder this script builds the default path (C-MIB + concat,
MOSI-sized ``synth``, ``train.precision = auto``) once, then evaluates the test split with
each bound (``--max-padding``) and batch size (``--batch-sizes``), interleaved, ``--repeats``
times after one untimed pass each. It prints utterances per second (best and median), the
number of batches, padded steps per utterance, and the largest difference of the predictions
from the first setting's (the outputs do not depend on batching beyond rounding). Markdown +
JSON with the machine go to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import COMMON, machine_info, write_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoders", nargs="+", default=["minilm", "bert-base-config"])
    p.add_argument("--max-padding", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3, 0.5])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from mmib import config as C
    from mmib.data.batching import example_length, length_sorted_batches
    from mmib.engine import Experiment
    from mmib.engine.loop import predict
    from mmib.engine.speed import precision_name

    started = dt.datetime.now().astimezone()
    rows = []
    for enc in args.encoders:
        s = Experiment.build(C.apply_overrides(C.ExperimentConfig(), COMMON + [f"model.text_encoder='{enc}'"]))
        test = s.examples("test")
        lengths = [example_length(ex) for ex in test]
        settings = [(w, n) for n in args.batch_sizes for w in args.max_padding]

        def run(w: float, n: int):
            return predict(s.model, test, modalities=s.cfg.data.modalities, batch_size=n, pad_to=s.pad_to,
                           device=s.device, objective=s.objective, inference=s.cfg.model.inference,
                           amp=s.amp, max_padding=w)

        times: dict = {k: [] for k in settings}
        preds: dict = {}
        for k in settings:  # one untimed pass each: kernels for every new batch shape
            preds[k] = run(*k).pred
        for _ in range(args.repeats):
            for k in settings:
                t0 = time.perf_counter()
                run(*k)
                times[k].append(time.perf_counter() - t0)
        base = preds[settings[0]]
        for k in settings:
            batches = length_sorted_batches(test, k[1], k[0])
            padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
            rows.append({"encoder": enc, "precision": precision_name(s.amp), "max_padding": k[0], "batch_size": k[1],
                         "batches": len(batches), "padded_steps_per_utt": padded / len(test),
                         "real_steps_per_utt": sum(lengths) / len(test),
                         "best_utt_per_s": len(test) / min(times[k]),
                         "median_utt_per_s": len(test) / statistics.median(times[k]), "times_s": times[k],
                         "max_abs_pred_diff": float(np.abs(preds[k] - base).max())})
            r = rows[-1]
            print(f"{enc} max_padding {k[0]} batch {k[1]}: {r['batches']} batches, {r['padded_steps_per_utt']:.2f} "
                  f"padded steps/utt, {r['best_utt_per_s']:.0f} utt/s best, {r['median_utt_per_s']:.0f} median",
                  flush=True)

    m = machine_info(torch.device("cpu"))
    text = [f"# evaluation batching, {started:%Y-%m-%d %H:%M %Z}", "", f"Machine: {json.dumps(m)}", "",
            f"Test split of MOSI-sized synth ({len(test)} utterances, {rows[-1]['real_steps_per_utt']:.2f} real "
            f"steps each); best and median of {args.repeats} interleaved passes.", "",
            "| encoder | precision | eval_max_padding | batch size | batches | padded steps / utt | utt/s best "
            "| utt/s median | max abs pred diff |", "|---|---|---|---|---|---|---|---|---|"]
    text += [f"| {r['encoder']} | {r['precision']} | {r['max_padding']:g} | {r['batch_size']} | {r['batches']} "
             f"| {r['padded_steps_per_utt']:.2f} | {r['best_utt_per_s']:.0f} | {r['median_utt_per_s']:.0f} "
             f"| {r['max_abs_pred_diff']:.1e} |" for r in rows]
    write_results(args.out, f"eval_batching_{started:%Y%m%d-%H%M}", "\n".join(text) + "\n",
                  {"machine": m, "rows": rows, "settings": vars(args)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
