"""``mmib plot``: learning curves, KL per bottleneck, t-SNE of the fused representation, the
confusion matrix of a multi-class run."""

from __future__ import annotations

import argparse


def cmd_plot(args: argparse.Namespace) -> int:
    from ..report.plots import PLOTS, plot_run  # matplotlib: imported when plotting only

    if args.run_dir.endswith(".json"):  # a robustness result (mmib robustness -o FILE.json)
        import json
        from pathlib import Path

        from ..report.robustness import curves

        res = json.loads(Path(args.run_dir).read_text())
        if res.get("format") != "mmib-robustness-1":
            raise ValueError(f"{args.run_dir}: not a robustness result (mmib robustness -o FILE.json)")
        out = Path(args.out or Path(args.run_dir).with_suffix("")) / "robustness.png" if args.out else \
            Path(args.run_dir).with_suffix(".png")
        print(f"wrote {curves(res, out)}")
        return 0
    what = tuple(x.strip() for x in args.only.split(",")) if args.only else PLOTS
    plot_run(args.run_dir, args.out, compare=args.compare, what=what, log=lambda m: print(m, flush=True))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="learning curves, KL per bottleneck, t-SNE of the fused representation, "
                                       "confusion matrix")
    p.add_argument("run_dir", help="a run directory, a seed group, or a robustness .json (its curves)")
    p.add_argument("--compare", nargs="+", metavar="OTHER_RUN", help="more runs for side-by-side t-SNE panels "
                                                                     "(e.g. the same model without IB)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/plots)")
    p.add_argument("--only", help="comma list of curves, kl, tsne, confusion (default: all; confusion: "
                                  "multi-class runs)")
    p.set_defaults(func=cmd_plot)
