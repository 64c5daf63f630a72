"""Prediction speed of the onnxruntime backend against PyTorch, on the same exported model.

    python benchmarks/onnx_speed.py                      # MiniLM C-MIB, 686 test utterances
    python benchmarks/onnx_speed.py --encoder tiny-config --n-test 200 --repeats 2   # a quick look

Trains the default path (C-MIB + concat, pretrained MiniLM text encoder, ``synth`` data) for
one epoch on a few utterances (the weights do not change the speed), exports it with
``mmib export --onnx``, then, interleaved, ``--repeats`` times after one untimed pass each:

- ``split``: ``predict`` over a MOSI-sized test split (686 utterances by default), batched the
  same way by both (length-sorted, ``train.eval_batch_size`` = 128, fp32);
- ``batch32``: one padded batch of 32 utterances;
- ``single``: one utterance at a time (the median over ``--singles`` calls).

Both use the same number of threads (``--threads``, default: every core). It prints
utterances per second and milliseconds, the ratio, and the largest |PyTorch - onnxruntime|
over the split (predictions, heads, KLs). Markdown + JSON with the machine go to
``benchmarks/results/onnx_speed_<encoder>_<time>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import COMMON, machine_info, write_results  # noqa: E402


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--n-test", type=int, default=686, help="test utterances (MOSI's test split: 686)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--singles", type=int, default=50, help="single-utterance calls timed per repeat")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", default=str(ROOT / "results"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from mmib import config as C
    from mmib.engine import Predictor, fit
    from mmib.hub import export_run
    from mmib.runtime import OnnxPredictor

    torch.set_num_threads(args.threads)
    started = dt.datetime.now().astimezone()
    tmp = Path(tempfile.mkdtemp(prefix="onnx_speed_"))
    cfg = C.apply_overrides(C.ExperimentConfig(), COMMON + [
        f"model.text_encoder='{args.encoder}'", "train.epochs=1", "data.synth.n_train=32", "data.synth.n_valid=8",
        f"data.synth.n_test={args.n_test}", f"train.num_threads={args.threads}", f"out_dir='{tmp}'", "name='run'"])
    res = fit(cfg, run_dir=tmp / "run")
    t0 = time.perf_counter()
    out = export_run(res.run_dir, tmp / "export", onnx=True)
    export_s = time.perf_counter() - t0
    torch_model = Predictor.load(out, device="cpu")
    ort_model = OnnxPredictor.load(out, threads=args.threads)
    examples = res.experiment.examples("test")
    batch = examples[:32]
    padded_t, padded_o = torch_model.collate(batch), ort_model.pad(batch)

    a, b = torch_model.predict(examples), ort_model.predict(examples)
    diff = max([float(np.abs(a.pred - b.pred).max())] + [float(np.abs(a.heads[k] - b.heads[k]).max()) for k in a.heads]
               + [float(np.abs(a.kl[k] - b.kl[k]).max()) for k in a.kl])
    kl_scale = max(float(np.abs(v).max()) for v in a.kl.values())

    backends = {"torch": (torch_model, padded_t), "onnxruntime": (ort_model, padded_o)}
    times: dict[str, dict[str, list[float]]] = {n: {"split": [], "batch32": [], "single": []} for n in backends}
    for _ in range(args.repeats):
        for name, (model, padded) in backends.items():
            times[name]["split"].append(_timed(lambda: model.predict(examples)))
            model.predict(padded)
            times[name]["batch32"].append(_timed(lambda: model.predict(padded)))
            model.predict(examples[:1])
            one = [_timed(lambda i=i: model.predict([examples[i % len(examples)]])) for i in range(args.singles)]
            times[name]["single"].append(statistics.median(one))

    def summary(name: str) -> dict:
        t = times[name]
        return {"split_utt_per_s_best": len(examples) / min(t["split"]),
                "split_utt_per_s_median": len(examples) / statistics.median(t["split"]),
                "batch32_ms_best": 1000 * min(t["batch32"]), "batch32_ms_median": 1000 * statistics.median(t["batch32"]),
                "single_ms_best_median": 1000 * min(t["single"]), "raw_s": t}

    results = {n: summary(n) for n in backends}
    ratio = {k: results["onnxruntime"][k] / results["torch"][k] for k in ("split_utt_per_s_best", "split_utt_per_s_median")}
    ratio.update({k: results["torch"][k] / results["onnxruntime"][k]
                  for k in ("batch32_ms_best", "batch32_ms_median", "single_ms_best_median")})
    machine = machine_info(torch.device("cpu"))
    import onnxruntime

    machine.update({"onnxruntime": onnxruntime.__version__, "threads": args.threads,
                    "load_average_at_end": list(os.getloadavg())})
    lengths = [max(len(v) for v in ex.inputs.values()) for ex in examples]
    lines = [f"# onnxruntime vs PyTorch prediction ({args.encoder} C-MIB + concat, {len(examples)} utterances)", "",
             f"{machine['cpu']}, {args.threads} threads, torch {machine['torch']}, onnxruntime "
             f"{machine['onnxruntime']}; {started:%Y-%m-%d %H:%M %Z}; load average at the end "
             f"{machine['load_average_at_end'][0]:.2f}", "",
             f"Utterance lengths {min(lengths)}-{max(lengths)} steps (mean {statistics.mean(lengths):.1f}); "
             f"export took {export_s:.1f} s; max |torch - onnxruntime| over the split (predictions, heads, KLs): "
             f"{diff:.2e} (KL values up to {kl_scale:.3g})", "",
             "| backend | split utt/s (best / median) | batch of 32, ms (best / median) | one utterance, ms (median) |",
             "|---|---|---|---|"]
    for n, r in results.items():
        lines.append(f"| {n} | {r['split_utt_per_s_best']:.0f} / {r['split_utt_per_s_median']:.0f} | "
                     f"{r['batch32_ms_best']:.1f} / {r['batch32_ms_median']:.1f} | {r['single_ms_best_median']:.2f} |")
    lines += ["", f"onnxruntime / torch: split throughput x{ratio['split_utt_per_s_best']:.2f} (best), "
                  f"batch of 32 x{ratio['batch32_ms_best']:.2f} faster, one utterance x{ratio['single_ms_best_median']:.2f} faster", ""]
    stem = f"onnx_speed_{args.encoder}_{started:%Y%m%d-%H%M}"
    write_results(args.out, stem, "\n".join(lines), {
        "encoder": args.encoder, "n_test": len(examples), "repeats": args.repeats, "singles": args.singles,
        "export_seconds": export_s, "max_abs_diff": diff, "kl_max": kl_scale, "results": results, "ratios": ratio,
        "machine": machine, "started": started.isoformat()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
