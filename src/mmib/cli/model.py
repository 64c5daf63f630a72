"""``mmib model summary``: the modules of a configured model and their parameter counts.

No data is read and no weights are downloaded: the model is built from the config with
the text encoder's architecture only (``bert-base-config`` reproduces the paper's Table XI).
Feature dims come from ``--audio-dim`` / ``--visual-dim`` / ``--text-dim`` or default to the
usual ones of the dataset the config names (``--dataset``; its spec in mmib.data.datasets).
"""

from __future__ import annotations

import argparse

from .common import add_config_args, config_from_args, explicitly_set


def cmd_summary(args: argparse.Namespace) -> int:
    from ..data.datasets import resolve as resolve_dataset
    from ..engine.shapes import build_unloaded, typical_dims
    from ..models.summary import count, summary_rows
    from ..objectives import build_objective
    from ..objectives.registry import is_trainable

    cfg, dims, out = typical_dims(config_from_args(args),
                                  explicit_text_encoder=explicitly_set(args, "model.text_encoder"),
                                  dims={"text": args.text_dim, "audio": args.audio_dim, "visual": args.visual_dim})
    if args.out_dim is not None:
        out = args.out_dim
    model = build_unloaded(cfg, dims, out)
    m = cfg.model
    used = {k: v for k, v in dims.items() if k in cfg.data.modalities}
    print(f"model: {m.variant} + {m.fusion} | text encoder {m.text_encoder} | d = {m.d} | "
          f"modalities {', '.join(cfg.data.modalities)} | dims {used} | output {out} | "
          f"dataset {resolve_dataset(cfg.data)[0]}")
    rows = summary_rows(model, args.depth)
    width = max([len(r[0]) + 2 * r[0].count(".") for r in rows] + [9])
    print(f"{'module':<{width}}  {'type':<24} {'parameters':>13}")
    for name, kind, n in rows:
        label = "  " * name.count(".") + name
        print(f"{label:<{width}}  {kind:<24} {n:>13,}")
    total = count(model)
    trainable = count(model, trainable_only=True)
    if trainable != total:
        print(f"trainable parameters: {trainable:,}")
    print(f"total parameters: {total:,}")
    if is_trainable(cfg.objective.constraint):
        est = build_objective(cfg, "regression", model.bottlenecks())
        print(f"estimator parameters: {count(est):,} ({cfg.objective.constraint}, one network per bottleneck: "
              "trained beside the model, not part of it, not used at prediction)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="inspect model architectures")
    msub = p.add_subparsers(dest="model_command", required=True)
    s = msub.add_parser("summary", help="modules and parameter counts of a configured model, ending "
                                        "with 'total parameters: N'")
    add_config_args(s)
    s.add_argument("--audio-dim", type=int, help="acoustic feature dim (default: the dataset's)")
    s.add_argument("--visual-dim", type=int, help="visual feature dim (default: the dataset's)")
    s.add_argument("--text-dim", type=int, help="text vector dim for the glove path (default 300)")
    s.add_argument("--out-dim", type=int, help="decoder width (default: from the dataset's task)")
    s.add_argument("--depth", type=int, default=3, help="module levels to list (default 3)")
    s.set_defaults(func=cmd_summary)
