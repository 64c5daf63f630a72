"""``mmib predict``: per-utterance predictions for a data file or a JSON-lines file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


MEDIA = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".wav", ".flac", ".mp3", ".m4a", ".ogg", ".aac"}


def _is_manifest(path: str) -> bool:
    """A .csv / .jsonl whose first row names a ``media`` column (clips to extract)."""
    import json

    p = Path(path)
    if p.suffix.lower() not in (".csv", ".jsonl"):
        return False
    try:
        with open(p, encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return False
    if p.suffix.lower() == ".csv":
        return "media" in [c.strip() for c in first.strip().split(",")]
    if p.suffix.lower() == ".jsonl":
        try:
            return "media" in json.loads(first)
        except (json.JSONDecodeError, TypeError):
            return False
    return False


def _clip_rows(args: argparse.Namespace) -> list:
    """The clips to predict: one media file (with --text, --words) or a manifest."""
    from ..extract.manifest import read_manifest

    single = Path(args.input).suffix.lower() in MEDIA
    if single:
        if not Path(args.input).is_file():
            raise FileNotFoundError(f"{args.input}: clip not found")
        import csv
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            man = Path(d) / "clip.csv"
            with open(man, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["id", "media", "text", "words"])
                w.writerow([Path(args.input).stem, str(Path(args.input).resolve()), args.text or "",
                            args.words or ""])
            m = read_manifest(man, labeled=False)
    else:
        m = read_manifest(args.input, labeled=False)
    if m.bad:
        b = m.bad[0]
        hint = " (give the transcript with --text)" if single and "transcript" in b.reason else ""
        raise ValueError((f"{args.input}: {b.reason}" if single else b.line(str(m.path))) + hint)
    return m.rows


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..engine import Predictor
    from ..metrics import headline_keys
    from ..report import render_table
    from ..report.predictions import prediction_rows, write_rows

    model = Predictor.load(args.checkpoint, device=args.device)
    if args.input and (Path(args.input).suffix.lower() in MEDIA or _is_manifest(args.input)):
        examples = model.examples_from_clips(_clip_rows(args))
        source = args.input
    elif args.input and (args.format == "jsonl" or (args.format is None and args.input.endswith(".jsonl"))):
        examples = model.read_jsonl(args.input)
        source = args.input
    else:
        data = model.dataset(args.dataset, args.input, None if args.format in (None, "jsonl") else args.format)
        splits = ["train", "valid", "test"] if args.split == "all" else [args.split]
        examples = [ex for sp in splits for ex in data.split(sp)]
        source = f"{args.input or data.dataset} ({args.split} split)"
    p = model.predict(examples, inference=args.inference)
    rows = prediction_rows(p, model.task, model.label_names)
    meta = {"checkpoint": str(model.checkpoint), "input": source, "task": model.task,
            "label_names": model.label_names, "inference": args.inference or model.cfg.model.inference}
    text = write_rows(rows, args.out, meta)
    info = sys.stderr if not args.out else sys.stdout
    if not args.out:
        sys.stdout.write(text)
    else:
        print(f"wrote {len(rows)} predictions to {args.out}", file=info)
    if len(p.labels) and np.isfinite(p.labels).all():
        metrics = model.score(p)
        print(f"\nmetrics of these {len(rows)} predictions (convention {model.cfg.eval.convention}):\n"
              + render_table([(Path(model.checkpoint).parent.name, metrics)], headline_keys(metrics)), file=info)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict for a data file or a JSON-lines file of utterances")
    p.add_argument("checkpoint", help="a run directory or its best.safetensors")
    p.add_argument("input", nargs="?", help="data file (any format mmib reads), utterances .jsonl, a clip "
                                            "(.mp4, .wav, ...) or a manifest of clips (.csv / .jsonl with a "
                                            "media column; docs/own_data.md); omitted: the run's own dataset")
    p.add_argument("--text", help="the transcript of a single clip")
    p.add_argument("--words", help="word timings of a single clip (word:start:end ...), for runs aligned on words")
    p.add_argument("--dataset", help="dataset name for the data file (default: the run's)")
    p.add_argument("--format", help="data.format of the file (auto, converted or a reader name) or jsonl")
    p.add_argument("--split", default="test", choices=["train", "valid", "test", "all"],
                   help="split of a data file to predict (default test)")
    p.add_argument("-o", "--out", help="output .csv, .json or .jsonl (default: CSV on stdout)")
    p.add_argument("--inference", choices=["mean", "sample", "mc"], help="default: the run's model.inference")
    p.add_argument("--device", help="cpu, cuda, ... (default: the run's train.device)")
    p.set_defaults(func=cmd_predict)
