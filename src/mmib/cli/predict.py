"""``mmib predict``: per-utterance predictions for a data file, JSON lines, a clip or a manifest of clips.

The input is read by :mod:`mmib.inputs` (through ``Predictor.read``), the one input path every
front end of a trained model shares."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..engine import Predictor
    from ..metrics import headline_keys
    from ..report import render_table
    from ..report.predictions import prediction_rows, write_rows

    model = Predictor.load(args.checkpoint, device=args.device)
    splits = ("train", "valid", "test") if args.split == "all" else (args.split,)
    got = model.read(args.input, text=args.text, words=args.words, fmt=args.format, dataset=args.dataset,
                     splits=splits)
    for line in got.skipped:
        print(f"mmib predict: skipped {line}", file=sys.stderr)
    p = model.predict(got.examples, inference=args.inference)
    rows = prediction_rows(p, model.task, model.label_names)
    for row, seen in zip(rows, got.info):  # clips: the transcript used, and where it came from
        row["transcript"], row["transcript_source"] = seen["transcript"], seen["transcript_source"]
        if seen.get("asr_confidence") is not None:
            row["asr_confidence"] = seen["asr_confidence"]
            heard = "heard" if seen["transcript_source"] == "asr" else "aligned the given transcript to what it heard"
            print(f"mmib predict: {row['id']}: {heard}: {seen['transcript']!r} (confidence "
                  f"{seen['asr_confidence']:.2f})", file=sys.stderr)
    meta = {"checkpoint": str(model.checkpoint), "input": got.source, "task": model.task,
            "label_names": model.label_names, "inference": args.inference or model.cfg.model.inference}
    if got.skipped:
        meta["skipped"] = got.skipped
    text = write_rows(rows, args.out, meta)
    info = sys.stderr if not args.out else sys.stdout
    if not args.out:
        sys.stdout.write(text)
    else:
        print(f"wrote {len(rows)} predictions to {args.out}"
              + (f"; skipped {len(got.skipped)} clips (listed above)" if got.skipped else ""), file=info)
    if len(p.labels) and np.isfinite(p.labels).all():
        metrics = model.score(p)
        print(f"\nmetrics of these {len(rows)} predictions (convention {model.cfg.eval.convention}):\n"
              + render_table([(Path(model.checkpoint).parent.name, metrics)], headline_keys(metrics)), file=info)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict for a data file, JSON-lines utterances, a clip or a manifest of clips")
    p.add_argument("checkpoint", help="a run directory or its best.safetensors")
    p.add_argument("input", nargs="?", help="data file (any format mmib reads), utterances .jsonl, a clip "
                                            "(.mp4, .wav, ...) or a manifest of clips (.csv / .jsonl with a "
                                            "media column; docs/own_data.md); omitted: the run's own dataset")
    p.add_argument("--text", help="the transcript of a single clip (default: transcribed by the speech recogniser "
                                  "the run's data were extracted with)")
    p.add_argument("--words", help="word timings of a single clip (word:start:end ...), for runs aligned on words")
    p.add_argument("--dataset", help="dataset name for the data file (default: the run's)")
    p.add_argument("--format", help="data.format of the file (auto, converted or a reader name) or jsonl")
    p.add_argument("--split", default="test", choices=["train", "valid", "test", "all"],
                   help="split of a data file to predict (default test)")
    p.add_argument("-o", "--out", help="output .csv, .json or .jsonl (default: CSV on stdout)")
    p.add_argument("--inference", choices=["mean", "sample", "mc"], help="default: the run's model.inference")
    p.add_argument("--device", help="cpu, cuda, ... (default: the run's train.device)")
    p.set_defaults(func=cmd_predict)
