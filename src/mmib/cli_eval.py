"""Evaluation commands: ``mmib repeat``, ``compare``, ``predict`` and ``plot`` (docs/evaluation.md).

``mmib train --seeds N`` is the same as ``mmib repeat --seeds N`` (it calls :func:`cmd_repeat`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli import add_config_args, config_from_args
from .config import set_value


def cmd_repeat(args: argparse.Namespace) -> int:
    """Train one config with several seeds; print and save mean ± std."""
    from .repeat import caption, parse_seeds, run_seeds, table

    cfg = config_from_args(args)
    if args.quiet:
        cfg = set_value(cfg, "train.progress", False)
    seeds = parse_seeds(args.seeds, cfg.train.seed)
    res = run_seeds(cfg, seeds, overwrite=args.overwrite, quiet=args.quiet)
    group = Path(res["group"])
    print(f"\n{caption(res)}\n")
    print(table([res]))
    if getattr(args, "markdown", False):
        print(table([res], markdown=True))
    print(f"saved {group / 'results.json'}, {group / 'results.csv'}, {group / 'results.md'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare, load_result, render

    report = compare([load_result(p) for p in args.paths], all_pairs=args.all_pairs)
    text = render(report, markdown=args.markdown)
    print(text, end="")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".json":
            out.write_text(json.dumps(report, indent=2))
        elif out.suffix == ".md":
            out.write_text(render(report, markdown=True))
        elif out.suffix == ".csv":
            out.write_text(_compare_csv(report))
        else:
            raise ValueError(f"--out {out}: expected a .json, .md or .csv file name")
        print(f"saved {out}")
    return 0


def _compare_csv(report: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = report["columns"]
    w.writerow(["name", "seeds"] + [f"{k} mean" for k in cols] + [f"{k} std" for k in cols])
    for r in report["results"]:
        w.writerow([r["name"], " ".join(map(str, r["seeds"]))] + [repr(r["mean"].get(k)) for k in cols]
                   + [repr(r["std"].get(k)) for k in cols])
    return buf.getvalue()


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from .metrics import compute, headline_keys
    from .predictor import Predictor, prediction_rows, write_rows
    from .report import render_table

    model = Predictor.load(args.checkpoint, device=args.device)
    source: str
    if args.input and (args.format == "jsonl" or (args.format is None and args.input.endswith(".jsonl"))):
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
        e = model.cfg.eval
        metrics = compute(model.task, p.pred, p.labels, model.label_names, convention=e.convention,
                          family=e.metrics, dataset=model.meta["data"]["dataset"], info=model.meta["data"])
        print(f"\nmetrics of these {len(rows)} predictions (convention {e.convention}):\n"
              + render_table([(Path(model.checkpoint).parent.name, metrics)], headline_keys(metrics)), file=info)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import PLOTS, plot_run

    what = tuple(x.strip() for x in args.only.split(",")) if args.only else PLOTS
    for f in plot_run(args.run_dir, args.out, compare=args.compare, what=what):
        print(f"wrote {f}")
    return 0


def add_repeat_args(p: argparse.ArgumentParser, *, default_seeds: str | None) -> None:
    p.add_argument("--seeds", default=default_seeds, metavar="N|LIST",
                   help="number of seeds starting at train.seed (e.g. 5), or a comma list (0,1,2); "
                        "runs go to <out_dir>/<name>/seed-<k>")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("repeat", help="train one config with several seeds; mean ± std as JSON, CSV, Markdown")
    add_config_args(p)
    add_repeat_args(p, default_seeds="5")
    p.add_argument("--overwrite", action="store_true", help="replace a group whose config differs")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=cmd_repeat)

    p = sub.add_parser("compare", help="runs or seed groups side by side, paired tests across seeds")
    p.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run directories or seed group directories")
    p.add_argument("--all-pairs", action="store_true", help="test every pair (default: each against the first)")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("-o", "--out", help="also save the comparison (.json, .csv or .md)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("predict", help="predict for a data file or a JSON-lines file of utterances")
    p.add_argument("checkpoint", help="a run directory or its best.safetensors")
    p.add_argument("input", nargs="?", help="data file (any format mmib reads) or utterances .jsonl; "
                                            "omitted: the run's own dataset (e.g. synth)")
    p.add_argument("--dataset", help="dataset name for the data file (default: the run's)")
    p.add_argument("--format", help="data.format of the file (auto, mmsa, magbert, mult, converted) or jsonl")
    p.add_argument("--split", default="test", choices=["train", "valid", "test", "all"],
                   help="split of a data file to predict (default test)")
    p.add_argument("-o", "--out", help="output .csv, .json or .jsonl (default: CSV on stdout)")
    p.add_argument("--inference", choices=["mean", "sample", "mc"], help="default: the run's model.inference")
    p.add_argument("--device", help="cpu, cuda, ... (default: the run's train.device)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("plot", help="learning curves, KL per bottleneck, t-SNE of the fused representation")
    p.add_argument("run_dir")
    p.add_argument("--compare", nargs="+", metavar="OTHER_RUN", help="more runs for side-by-side t-SNE panels "
                                                                     "(e.g. the same model without IB)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/plots)")
    p.add_argument("--only", help="comma list of curves, kl, tsne (default: all)")
    p.set_defaults(func=cmd_plot)
